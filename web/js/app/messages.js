// The page's message line, notices and buttons, from the page's state (app) and status; whether the current
// run has learned (the solved line, its announcement, the end-of-run summary).
import { solvedSummary, solvedText, solvedAnnouncement, runSummaryText } from '../ui/solved.js';

/** ctx: {app, ui, ...} (main.js wires the page's parts into it); returns this part's functions. */
export function createMessages(ctx) {
  const { app, ui } = ctx;
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
    if (!summary.solved || app.solvedAnnounced) return;
    app.solvedAnnounced = true;
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
  return { evaluated, finishedText, notice, refreshButtons, refreshMessage, showSolved, solved, status };
}
