// The frame loop: the robot view (app/view.js), counters, worker tiles, charts and memory, drawn per frame or
// every few hundred ms; scalar curve samples go on while the tab is hidden. Owns app.fps, app.framesDrawn and
// app.memory.
import { formatBytes } from '../ui/format.js';
import { noteFrame } from '../schedule.js';

const STATS_EVERY_MS = 250;
const CHART_EVERY_MS = 1000;
const MEMORY_EVERY_MS = 2000;
const UA_MEMORY_EVERY_MS = 20_000;

/**
 * app: the page's state (app/state.js); ui: the page's controls; view: app/view.js; stats():
 * window.robotrain.stats(); showError({where, text}): app/messages.js.
 */
export function createFrameLoop({ app, ui, view, stats, showError }) {
  const uaMemory = { bytes: null, at: 0, busy: false }; // the browser's last whole-page measurement
  let tileBase = null; // worker id -> its episodes when the current run began (tiles count this run's)

  function updateMemory(now) {
    const page = app.pyodide?._module?.HEAPU8?.length ?? null;
    const workers = app.pool ? app.pool.heapBytes : 0;
    const canMeasure = globalThis.crossOriginIsolated === true && typeof performance.measureUserAgentSpecificMemory === 'function';
    if (canMeasure && !uaMemory.busy && now - uaMemory.at > UA_MEMORY_EVERY_MS) {
      uaMemory.busy = true;
      uaMemory.at = now;
      performance.measureUserAgentSpecificMemory().then(
        (result) => {
          uaMemory.bytes = result.bytes;
          uaMemory.busy = false;
        },
        () => {
          uaMemory.busy = false;
        },
      );
    }
    const n = app.pool ? app.pool.size : 0;
    if (uaMemory.bytes != null) {
      app.memory = { source: 'measureUserAgentSpecificMemory', bytes: uaMemory.bytes, page_heap: page, workers_heap: workers };
      ui.showMemory(`Memory: ${formatBytes(uaMemory.bytes)} for the whole page (measured by the browser); Python heaps ${formatBytes(page)} here + ${formatBytes(workers)} in ${n} workers.`);
    } else {
      app.memory = { source: 'python heaps', bytes: (page ?? 0) + workers, page_heap: page, workers_heap: workers };
      ui.showMemory(`Memory: ${formatBytes((page ?? 0) + workers)} of Python heaps (${formatBytes(page)} on the page + ${formatBytes(workers)} in ${n} workers).${canMeasure ? '' : ' The browser’s whole-page figure needs cross-origin isolation.'}`);
    }
  }

  let lastFrame = performance.now();
  let lastStats = 0;
  let lastChart = 0;
  let lastMemory = 0;
  let lastReplayList = 0;
  const frameTimes = [];

  function frame(now) {
    noteFrame(now); // yields between the trainer's slices wait for an overdue frame (schedule.js)
    const dt = Math.min(0.1, (now - lastFrame) / 1000);
    lastFrame = now;
    frameTimes.push(now);
    while (frameTimes.length && now - frameTimes[0] > 1000) frameTimes.shift();
    app.fps = frameTimes.length > 1 ? ((frameTimes.length - 1) * 1000) / (now - frameTimes[0]) : 0;
    try {
      if (document.visibilityState !== 'hidden') {
        view.draw(dt);
        app.framesDrawn += 1;
        if (now - lastStats >= STATS_EVERY_MS) {
          lastStats = now;
          const s = stats();
          sampleSeries(s, now);
          ui.showStats(s);
          ui.showWorkers(tilesOfRun(), {
            policyVersion: s.policy_version,
            spec: app.trainer?.drawSpec,
            mode: s.mode,
          });
          ui.setBudget(s);
          showLoading();
          if (!view.replaying()) ui.setViewMode(app.trainer?.watchOnly ? 'greedy policy of a run card, 60 FPS' : 'greedy policy, 60 FPS');
        }
        if (now - lastReplayList >= 5000 && document.activeElement?.id !== 'replay-pick') {
          lastReplayList = now;
          view.refreshReplayList();
        }
        if (now - lastMemory >= MEMORY_EVERY_MS) {
          lastMemory = now;
          updateMemory(now);
        }
        if (app.trainer && now - lastChart >= CHART_EVERY_MS) {
          lastChart = now;
          ui.showCurves(app.curves.curve, app.trainer.envInfo.solved_threshold);
        }
      }
    } catch (error) {
      showError({ where: 'run', text: `Display error: ${error.message}` });
    }
    requestAnimationFrame(frame);
  }

  /**
   * The pool's workers as this run's tiles: episodes since the run began (the pool outlives runs), no rate
   * unless the run trains, and "waiting" rather than "idle" for a worker between tasks of a running run.
   */
  function tilesOfRun() {
    if (!app.pool) return [];
    const running = app.trainer?.state === 'running';
    return app.pool.describe({ live: true }).map((w) => ({
      ...w,
      episodes: Math.max(0, w.episodes - (tileBase?.get(w.id) ?? 0)),
      env_steps_per_s: running ? w.env_steps_per_s : null,
      state: running && w.state === 'idle' ? 'waiting' : w.state,
    }));
  }

  function sampleSeries(s, now = performance.now()) {
    const t = app.trainer;
    if (t && !t.disposed) app.curves.sampleSeries(s, { running: t.state === 'running', trainingMs: t.trainingMs }, now);
  }

  // Series samples go on while the tab is hidden (requestAnimationFrame stops there).
  setInterval(() => {
    if (document.visibilityState === 'hidden') sampleSeries(stats());
  }, 1000);

  function showLoading() {
    if (!app.core) return;
    if (app.inputErrors.size) {
      ui.setLoading(1, 'Not started: the settings above need fixing.');
      return;
    }
    if (!app.pool) {
      ui.setLoading(1, 'Ready (main thread only).');
      return;
    }
    const ready = app.pool.readyCount;
    const total = app.pool.size;
    if (ready === total) ui.setLoading(1, `Workers ready: ${ready} of ${total}.`);
    else ui.setLoading(0.5 + 0.5 * app.pool.progress, `Starting workers: ${ready} of ${total} ready…`);
  }
  /** The session's 'pool': a worker id the pool no longer has counts from 0 if it comes back. */
  function poolResized({ size }) {
    for (const id of [...(tileBase?.keys() ?? [])]) if (id >= size) tileBase.delete(id);
  }

  /** The run is being replaced: its charts go with it. */
  function runReplaced() {
    ui.clearHistory();
  }

  /** A new run is set up: what each worker played before is the baseline of its tile. */
  function runReady() {
    tileBase = new Map((app.pool?.describe() ?? []).map((w) => [w.id, w.episodes]));
  }

  /** Draw from the next frame on, for the page's life. */
  function start() {
    requestAnimationFrame(frame);
  }

  return { poolResized, runReady, runReplaced, start };
}
