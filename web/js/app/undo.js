// No control loses work silently. The page's one rule: whatever replaces the current run with a fresh one
// (another robot, seed or hyperparameter, Reset, R, a loaded model or run card, a resumed autosave) keeps the
// replaced run in memory until the next replacement, and the bar above the controls offers Undo. A mode change
// continues the run under the new schedule; the worker count and the step budget change it in place.
// A kept run is what autosave writes (Run.to_bytes, the curves, the settings it ran with), so Undo restores it
// exactly as resuming after a reload does. Owns app.kept.
import { integer } from '../ui/format.js';

/**
 * app: the page's state (app/state.js); ui: the page's controls; session: app/session.js; notice(text, kind):
 * app/messages.js; applySettings(settings): app/settings.js.
 */
export function createUndo({ app, ui, session, notice, applySettings }) {
  /** The current run as a restorable record (autosave's shape), or null when there is nothing worth keeping. */
  function recordOfRun() {
    const t = app.trainer;
    if (!t || t.disposed || t.watchOnly || t.counts.episodes === 0) return null;
    const settings = app.runSettings ?? app.settings;
    const record = { version: 1, saved_at: Date.now(), reason: 'kept', settings, ...t.snapshot(), ...app.curves.toJSON() };
    const best = t.stats().best_eval_return;
    const label = `${t.config.env_id}, ${settings.mode}, seed ${t.config.seed}: ${integer(t.counts.envSteps)} env steps${best == null ? '' : `, best evaluation ${best.toFixed(1)}`}`;
    return { record, label };
  }

  /**
   * The session's 'replacing': a fresh run replaces the current one (`why`: what replaced it; null: the same run
   * goes on in a new trainer), so the current one is kept for Undo.
   */
  function keepForUndo({ why }) {
    if (!why) return;
    let kept = null;
    try {
      kept = recordOfRun();
    } catch (error) {
      notice(`The replaced run could not be kept for Undo: ${error.message}`, 'error');
    }
    if (!kept) return;
    app.kept = { ...kept, why };
    ui.showUndo(`${why}: a fresh run started. The previous run (${kept.label}) is kept in memory until the next change that starts a fresh run.`);
  }

  /** Bring the kept run back (the current one is kept in its place, so Undo again swaps back). */
  function undo() {
    const kept = app.kept;
    if (!kept || !app.core) return false;
    app.kept = null;
    ui.showUndo(null);
    session.pause();
    applySettings(kept.record.settings);
    session.rebuild({ restore: kept.record, why: 'Undo' });
    if (app.trainer) notice(`Back to the previous run (${kept.label}); press Start to go on.`);
    return Boolean(app.trainer);
  }

  /** Drop the kept run (frees its memory). */
  function forgetKept() {
    app.kept = null;
    ui.showUndo(null);
  }

  /** Switch mode under the current run: the same run, restored into a trainer with the new schedule. */
  function continueInMode(mode) {
    const wasRunning = app.trainer?.state === 'running';
    let kept = null;
    try {
      kept = recordOfRun();
    } catch {
      return false; // no snapshot of this run: the caller starts a fresh one (and offers Undo if it can)
    }
    if (!kept) return false;
    session.pauseRun();
    session.rebuild({ restore: { ...kept.record, settings: app.settings }, why: null });
    if (!app.trainer) {
      // The run could not be set up in the new mode: it is kept, so Undo brings it back in its old mode.
      app.kept = { ...kept, why: `Mode changed to ${mode}` };
      ui.showUndo(`Mode changed to ${mode}, but this run could not continue in it (see the message). The run (${kept.label}) is kept in memory.`);
      return true;
    }
    if (wasRunning) session.start(); // unless the run is finished
    notice(`Now in ${mode} mode; the run goes on where it was (${integer(app.trainer.counts.envSteps)} env steps).`);
    return true;
  }

  return { continueInMode, forgetKept, keepForUndo, undo };
}
