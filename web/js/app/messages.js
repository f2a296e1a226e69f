// The page's message line, notices and buttons, from the page's state (app) and status; whether the current
// run has learned (the solved line, its announcement, the end-of-run summary); what the session's events say.
// Owns app.loadError and app.trainerError.
import { solvedSummary, solvedText, solvedAnnouncement, runSummaryText } from '../ui/solved.js';

/** app: the page's state (app/state.js); ui: the page's controls (ui.js). */
export function createMessages({ app, ui }) {
  let solvedAnnounced = false; // the current run's first solved evaluation was announced

  function status() {
    if (app.inputErrors.size) return 'invalid';
    if (app.loadError || app.trainerError) return 'error';
    if (!app.trainer) return 'loading';
    if (app.trainer.watchOnly) return 'watching';
    if (app.trainer.state === 'running') return 'running';
    if (app.trainer.finished) return 'finished';
    if (app.trainer.state === 'paused') return 'paused';
    if (app.trainer.state === 'error') return 'error';
    return 'ready';
  }

  function refreshMessage() {
    const errors = [...app.inputErrors.values()];
    if (app.loadError) errors.push(app.loadError);
    if (app.trainerError) errors.push(app.trainerError);
    if (errors.length) {
      const many = app.inputErrors.size > 1;
      if (app.inputErrors.size) errors.push(`Nothing was started. Fix the value${many ? 's' : ''} above (in the URL or the controls).`);
      ui.showMessage(errors, 'error');
    } else {
      ui.showMessage(app.notes, 'note');
    }
    refreshButtons();
  }

  function refreshButtons() {
    const s = status();
    const coreReady = app.core !== null;
    const hasRun = app.trainer !== null && !app.trainer.disposed;
    ui.setButtons({
      start: hasRun && (s === 'ready' || s === 'paused'),
      pause: s === 'running',
      reset: app.trainer !== null || (coreReady && !app.inputErrors.size),
      controls: coreReady || app.inputErrors.size > 0,
      files: coreReady && hasRun,
      save: hasRun,
    });
  }

  function notice(text, kind = 'note') {
    ui.showNotice(text, kind);
  }

  const threshold = () => app.trainer?.envInfo?.solved_threshold ?? null;

  /** The current run's solved summary (ui/solved.js), from the evaluations the chart shows. */
  function solved() {
    return solvedSummary(app.curves.curve.evals, threshold());
  }

  /** An evaluation came in: the first solved one is announced once per run. */
  function evaluated() {
    const summary = solved();
    showSolved(summary);
    if (!summary.solved || solvedAnnounced) return;
    solvedAnnounced = true;
    notice(solvedAnnouncement(summary, threshold(), app.trainer.config.env_id), 'success');
  }

  /** The solved line under the bars (none before the run has a trainer, or while watching a run card). */
  function showSolved(summary = solved()) {
    const t = app.trainer;
    if (!t || t.disposed || threshold() === null) ui.showSolved(null);
    else ui.showSolved(solvedText(summary, threshold()), summary.solved ? (summary.below ? 'wobbly' : 'solved') : 'not-yet');
  }

  /** The notice at the end of a run: its length, and whether it solved the env and stayed solved. */
  function finishedText() {
    const t = app.trainer;
    return runSummaryText(solved(), threshold(), { envSteps: t.counts.envSteps, seconds: t.trainingMs / 1000, budget: t.stopAt });
  }

  /** The session's 'error': Python did not load ('load'), or the run or a worker failed ('run'). */
  function showError({ where, text }) {
    if (where === 'load') app.loadError = text;
    else app.trainerError = text;
    refreshMessage();
  }

  /** The run is being replaced: its notices (its end, a saved model) and its error are not the next run's. */
  function runReplaced() {
    ui.showNotice(null);
    solvedAnnounced = false;
    app.trainerError = null;
  }

  /** A new run is set up: a restored run that was solved is not announced again. */
  function runReady() {
    solvedAnnounced = solved().solved;
    showSolved();
    refreshMessage();
  }

  /** A worker was declared dead (recovered_ms null) or its slot is ready again. */
  function workerFailed(record) {
    const what = record.injected ? ` (injected ${record.injected})` : '';
    if (record.recovered_ms === null) {
      notice(`Worker ${record.worker} failed${what}: ${record.reason}. Its task runs again with the same episodes; a replacement is starting.`);
    } else {
      notice(`Worker ${record.worker} is back ${(record.recovered_ms / 1000).toFixed(1)} s after its failure${what}${record.replacement && record.replacement !== 'new worker' ? ' (a spare took over)' : ''}; nothing was lost.`);
    }
  }

  function diverged(message) {
    notice(`Training paused: the learner diverged (${message}). The last good weights are back; press Start to go on, or lower learning_rate.`, 'error');
    refreshButtons();
  }

  function finished() {
    notice(finishedText());
    refreshButtons();
  }

  return { diverged, evaluated, finished, notice, refreshButtons, refreshMessage, runReady, runReplaced, showError, solved, status, workerFailed };
}
