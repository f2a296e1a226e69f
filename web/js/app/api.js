// window.robotrain: what scripts and tests drive the page with (the page's buttons call it too). Owns
// app.pushes.
import { returnData } from '../charts.js';

/**
 * app: the page's state (app/state.js); ui: the page's controls; session, messages, persistence, undo, tabs,
 * view: the parts in app/ of those names.
 */
export function createAPI({ app, ui, session, messages, persistence, undo, tabs, view }) {
  const api = {
    /** Start (or resume) training; while the page is still loading, training starts as soon as it can. */
    start() {
      if (app.inputErrors.size || app.loadError) return false;
      return session.start();
    },
    pause() {
      if (session.pause()) persistence.autosave('pause');
    },
    /**
     * Set up a fresh run with the same settings, paused; the replaced run is kept in memory for undo() until the
     * next fresh run (app/undo.js).
     */
    reset() {
      session.cancelStart();
      if (!app.core || app.inputErrors.size) return;
      session.pause();
      session.rebuild({ why: 'Reset' });
    },
    /** Make this tab the owner of the autosaved run (the tab that owned it pauses); resolves to true. */
    takeOver() {
      return tabs.takeOver();
    },
    /** Bring back the run the last fresh run replaced (the current one is kept in its place); false if none. */
    undo() {
      return undo.undo();
    },
    stats() {
      const base = app.trainer && !app.trainer.disposed ? app.trainer.stats() : {};
      return {
        episodes: 0,
        env_steps: 0,
        updates: 0,
        policy_version: 0,
        episodes_per_min: 0,
        env_steps_per_s: 0,
        updates_per_s: 0,
        last_eval_return: null,
        best_eval_return: null,
        config: null,
        ...base,
        state: messages.status(),
        mode: app.settings.mode,
        fps: Math.round(app.fps * 10) / 10,
        workers: app.pool ? app.pool.describe() : [],
        workers_ready: app.pool ? app.pool.readyCount : 0,
        reliability: app.pool ? app.pool.reliability() : null,
        weights_transport: app.pool ? (app.pool.shared ? 'SharedArrayBuffer' : 'copy') : 'local',
        kernel: app.kernel?.kernel ?? null, // 'wasm-simd' or 'numpy': the Q-network's code on this page and its workers
        kernel_status: app.kernel ?? null,
        cross_origin_isolated: globalThis.crossOriginIsolated === true,
        settings: { ...app.settings, cfg: { ...app.settings.cfg } },
        errors: [...app.inputErrors.values(), app.loadError, app.trainerError].filter(Boolean),
        timings: { ...app.timings },
        autosave: { ...app.autosave },
        memory: { ...app.memory },
        hidden: { hidden: document.visibilityState === 'hidden', last_ms: app.hidden.last_ms, count: app.hidden.count },
        frames_drawn: app.framesDrawn,
        pushes: app.pushes,
        resume_offered: app.offer !== null,
        owns_autosave: app.ownsAutosave, // this tab owns the autosave slot (another tab may own it: app/tabs.js)
        other_tab: app.otherTab, // the owning tab's run, as it last said, while another tab owns the slot
        kept_run: app.kept ? { why: app.kept.why, label: app.kept.label } : null, // what undo() brings back
        solved_summary: app.trainer ? messages.solved() : null, // ui/solved.js: the words under the bars
        loaded_model: app.lastModel,
        theme: app.theme,
        chart_ms: Math.round(ui.charts.lastDrawMs * 10) / 10,
        chart_x: ui.charts.xAxis,
        curve_rows: app.curves.curve.episodes.length,
        recent_episodes: app.curves.recent.length,
        best_episode: app.curves.best ? { id: app.curves.best.id, return: app.curves.best.ret, length: app.curves.best.length } : null,
      };
    },
    history() {
      return app.trainer && !app.trainer.disposed ? app.trainer.history() : { episodes: [], evals: [] };
    },
    /** The model file text of the current weights (what Save model downloads). */
    modelText() {
      return app.trainer ? app.trainer.modelText() : null;
    },
    /** Load a model file or run card given as text (what Load does with a file); {ok, error?}. */
    loadText(text, name = 'model.json') {
      return persistence.loadBytes(new TextEncoder().encode(text), name);
    },
    autosave() {
      return persistence.autosave('script');
    },
    resume(yes = true) {
      return persistence.answerResume(yes);
    },
    shareLink: () => persistence.shareLink(),
    runCard() {
      return app.trainer ? persistence.runCard() : null;
    },
    /** Greedy evaluation of the current weights on this run's evaluation seeds: {mean_return} or {error}. */
    evaluate() {
      if (!app.trainer || app.trainer.disposed) return { error: 'no run yet' };
      try {
        return { mean_return: app.trainer.evaluateNow() };
      } catch (error) {
        return { error: persistence.cleanPythonError(error) };
      }
    },
    /** Test hook: a NaN in the learner's weights; the next learning slice rolls back and pauses. */
    testInjectNaN() {
      if (!app.trainer || app.trainer.disposed) return false;
      app.trainer.injectNaN();
      return true;
    },
    /** Push the live robot: adds `impulse` rad/s to its main angular velocity; {before, after, index} or {error}. */
    push(impulse) {
      if (!app.trainer || app.trainer.disposed) return { error: 'no robot yet' };
      try {
        const result = app.trainer.view.push(impulse);
        app.pushes += 1;
        return result;
      } catch (error) {
        return { error: persistence.cleanPythonError(error) };
      }
    },
    // The robot view (app/view.js): replay a finished episode ('best' or an id among the last 1,000), move
    // through it, back to live; what the view shows now.
    replay: (id) => view.replay(id),
    replaySeek: (frame) => view.replaySeek(frame),
    replayStop: () => view.replayStop(),
    viewState: () => view.viewState(),
    /** Time to build the return chart's data for n synthetic episodes, ms (the charts' downsampling). */
    benchCharts(n = 100000) {
      const episodes = [];
      let steps = 0;
      for (let i = 0; i < n; i++) {
        const length = 10 + (i % 490);
        steps += length;
        episodes.push([i, length, length, steps, i / 10]);
      }
      const curve = { episodes, evals: [[steps / 2, 250, n / 20]], series: [], lag: {} };
      const started = performance.now();
      const { data } = returnData(curve, 475, 3);
      const ms = performance.now() - started;
      const chartMs = ui.charts.update({ ...curve, series: [] }, 475);
      ui.charts.rebuild();
      return { data_ms: ms, draw_ms: chartMs, points: data[0].length };
    },
  };
  return api;
}
