// No control loses work silently. The page's one rule: whatever replaces the current run with a fresh one
// (another robot, seed or hyperparameter, Reset, R, a loaded model or run card, a resumed autosave) keeps the
// replaced run in memory until the next replacement, and the bar above the controls offers Undo. A mode change
// continues the run under the new schedule; the worker count and the step budget change it in place.
// A kept run is what autosave writes (Run.to_bytes, the curves, the settings it ran with), so Undo restores it
// exactly as resuming after a reload does.
import { integer } from '../ui/format.js';

/** ctx: {app, ui, ...} (main.js wires the page's parts into it); returns this part's functions. */
export function createUndo(ctx) {
  const { app, ui } = ctx;

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

  /** Before a fresh run replaces the current one (`why`: what replaced it): keep the current one for Undo. */
  function keepForUndo(why) {
    let kept = null;
    try {
      kept = recordOfRun();
    } catch (error) {
      ctx.notice(`The replaced run could not be kept for Undo: ${error.message}`, 'error');
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
    app.trainer?.pause();
    app.pendingStart = false;
    applySettings(kept.record.settings);
    ctx.rebuild({ restore: kept.record, why: 'Undo' });
    if (app.trainer) ctx.notice(`Back to the previous run (${kept.label}); press Start to go on.`);
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
    app.trainer.pause();
    ctx.rebuild({ restore: { ...kept.record, settings: app.settings }, why: null });
    if (!app.trainer) {
      // The run could not be set up in the new mode: it is kept, so Undo brings it back in its old mode.
      app.kept = { ...kept, why: `Mode changed to ${mode}` };
      ui.showUndo(`Mode changed to ${mode}, but this run could not continue in it (see the message). The run (${kept.label}) is kept in memory.`);
      return true;
    }
    if (wasRunning && !app.trainer.finished) app.trainer.start();
    ctx.notice(`Now in ${mode} mode; the run goes on where it was (${integer(app.trainer.counts.envSteps)} env steps).`);
    return true;
  }

  function applySettings(settings) {
    app.settings = { ...app.settings, ...settings, cfg: { ...(settings.cfg ?? {}) }, autostart: false };
    app.inputErrors.clear();
    ctx.refreshSpecs();
    ctx.updateURL();
    ui.showSettings(app.settings);
  }

  return { applySettings, continueInMode, forgetKept, keepForUndo, undo };
}
