// The frame loop: the live robot or a replay, counters, worker tiles, charts and memory, drawn per frame or
// every few hundred ms; scalar curve samples go on while the tab is hidden.
import { formatBytes } from '../ui/format.js';
import { noteFrame } from '../schedule.js';
import { legendOf } from '../draw.js';

const STATS_EVERY_MS = 250;
const CHART_EVERY_MS = 1000;
const MEMORY_EVERY_MS = 2000;
const UA_MEMORY_EVERY_MS = 20_000;

/** ctx: {app, ui, ...} (main.js wires the page's parts into it); returns this part's functions. */
export function createFrameLoop(ctx) {
  const { app, ui } = ctx;
  function updateMemory(now) {
    const page = app.pyodide?._module?.HEAPU8?.length ?? null;
    const workers = app.pool ? app.pool.heapBytes : 0;
    const canMeasure = globalThis.crossOriginIsolated === true && typeof performance.measureUserAgentSpecificMemory === 'function';
    if (canMeasure && !app.uaMemory.busy && now - app.uaMemory.at > UA_MEMORY_EVERY_MS) {
      app.uaMemory.busy = true;
      app.uaMemory.at = now;
      performance.measureUserAgentSpecificMemory().then(
        (result) => {
          app.uaMemory.bytes = result.bytes;
          app.uaMemory.busy = false;
        },
        () => {
          app.uaMemory.busy = false;
        },
      );
    }
    const n = app.pool ? app.pool.size : 0;
    if (app.uaMemory.bytes != null) {
      app.memory = { source: 'measureUserAgentSpecificMemory', bytes: app.uaMemory.bytes, page_heap: page, workers_heap: workers };
      ui.showMemory(`Memory: ${formatBytes(app.uaMemory.bytes)} for the whole page (measured by the browser); Python heaps ${formatBytes(page)} here + ${formatBytes(workers)} in ${n} workers.`);
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

  function drawView(dt) {
    const t = app.trainer;
    if (!t || t.disposed) return;
    const r = app.replay;
    if (r) {
      if (r.playing) {
        const rate = Math.min(60, Math.max(15, 1 / (t.drawSpec.tau_s ?? t.drawSpec.dt_s ?? 0.02)));
        r.position = Math.min(r.length, r.position + dt * rate);
        r.frame = Math.floor(r.position);
        if (r.frame >= r.length) r.playing = false;
      }
      ui.drawRobot(Array.from(r.states.subarray(r.frame * r.dim, (r.frame + 1) * r.dim)), t.drawSpec);
      ui.showReplay(r);
      return;
    }
    ui.drawRobot(t.view.step(dt), t.drawSpec);
  }

  function frame(now) {
    noteFrame(now); // yields between the trainer's slices wait for an overdue frame (schedule.js)
    const dt = Math.min(0.1, (now - lastFrame) / 1000);
    lastFrame = now;
    frameTimes.push(now);
    while (frameTimes.length && now - frameTimes[0] > 1000) frameTimes.shift();
    app.fps = frameTimes.length > 1 ? ((frameTimes.length - 1) * 1000) / (now - frameTimes[0]) : 0;
    try {
      if (document.visibilityState !== 'hidden') {
        drawView(dt);
        app.framesDrawn += 1;
        if (now - lastStats >= STATS_EVERY_MS) {
          lastStats = now;
          const s = ctx.api.stats();
          sampleSeries(s, now);
          ui.showStats(s);
          ui.showWorkers(tilesOfRun(), {
            policyVersion: s.policy_version,
            spec: app.trainer?.drawSpec,
            mode: s.mode,
          });
          ui.setBudget(s);
          showLoading();
          if (!app.replay) ui.setViewMode(app.trainer?.watchOnly ? 'greedy policy of a run card, 60 FPS' : 'greedy policy, 60 FPS');
        }
        if (now - lastReplayList >= 5000 && document.activeElement?.id !== 'replay-pick') {
          lastReplayList = now;
          ctx.refreshReplayList();
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
      app.trainerError = `Display error: ${error.message}`;
      ctx.refreshMessage();
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
      episodes: Math.max(0, w.episodes - (app.tileBase?.get(w.id) ?? 0)),
      env_steps_per_s: running ? w.env_steps_per_s : null,
      state: running && w.state === 'idle' ? 'waiting' : w.state,
    }));
  }

  /** The caption under the live view: what is shown, what its marks mean, what a click does. */
  function liveCaption() {
    const t = app.trainer;
    const what = t.watchOnly ? 'the run card’s greedy policy' : 'the current greedy policy (no exploration)';
    return `${t.config.env_id}: ${what}, acting live. ${legendOf(t.drawSpec?.kind)} Click or drag on the robot to push it.`;
  }

  function sampleSeries(s, now = performance.now()) {
    const t = app.trainer;
    if (t && !t.disposed) app.curves.sampleSeries(s, { running: t.state === 'running', trainingMs: t.trainingMs }, now);
  }

  // Series samples go on while the tab is hidden (requestAnimationFrame stops there).
  setInterval(() => {
    if (document.visibilityState === 'hidden') sampleSeries(ctx.api.stats());
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
  return { drawView, frame, liveCaption, sampleSeries, showLoading, updateMemory };
}
