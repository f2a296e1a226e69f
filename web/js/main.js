// Entry point: reads the settings, loads the page's Python, starts the worker pool and the trainer, runs the
// frame loop (live robot, counters, chart) and exposes window.robotrain for scripts and tests.
import { createUI } from './ui.js';
import { WorkerPool, autoWorkerCount, MAX_WORKERS } from './pool.js';
import { Trainer } from './trainer.js';
import { loadRobotrain, pyTools } from './pyhost.js';
import { parseURL, parseSetting, checkWithCore, toQuery } from './params.js';

const BASE_URL = new URL('../', import.meta.url);
const WORKER_URL = new URL('./worker.js', import.meta.url);
const STATS_EVERY_MS = 250;
const CHART_EVERY_MS = 1000;

const app = {
  settings: null,
  inputErrors: new Map(), // setting name -> message, for values that are not usable
  notes: [],
  trainerError: null,
  loadError: null,
  pyodide: null,
  tools: null,
  core: null, // {envNames, specs}
  pool: null,
  trainer: null,
  pendingStart: false,
  timings: { page_start_ms: Math.round(performance.now()), python_ready_ms: null, workers_ready_ms: null },
  fps: 0,
};

const ui = createUI(document, {
  onStart: () => api.start(),
  onPause: () => api.pause(),
  onReset: () => api.reset(),
  onSetting: (name, raw) => changeSetting(name, raw),
});

// ---- messages and status ---------------------------------------------------------------------------

function status() {
  if (app.inputErrors.size) return 'invalid';
  if (app.loadError || app.trainerError) return 'error';
  if (!app.trainer) return 'loading';
  if (app.trainer.state === 'running') return 'running';
  if (app.trainer.state === 'paused') return 'paused';
  if (app.trainer.state === 'error') return 'error';
  return 'ready';
}

function refreshMessage() {
  const errors = [...app.inputErrors.values()];
  if (app.loadError) errors.push(app.loadError);
  if (app.trainerError) errors.push(app.trainerError);
  if (errors.length) {
    if (app.inputErrors.size) errors.push('Nothing was started. Fix the value above (in the URL or the controls).');
    ui.showMessage(errors, 'error');
  } else {
    ui.showMessage(app.notes, 'note');
  }
  refreshButtons();
}

function refreshButtons() {
  const s = status();
  const coreReady = app.core !== null;
  ui.setButtons({
    start: app.trainer !== null && (s === 'ready' || s === 'paused'),
    pause: s === 'running',
    reset: app.trainer !== null || (coreReady && !app.inputErrors.size),
    controls: coreReady || app.inputErrors.size > 0,
  });
}

window.addEventListener('error', (event) => {
  app.loadError = `Unexpected error: ${event.message}`;
  refreshMessage();
});
window.addEventListener('unhandledrejection', (event) => {
  app.loadError = `Unexpected error: ${event.reason?.message ?? event.reason}`;
  refreshMessage();
});

// ---- settings ---------------------------------------------------------------------------------

function workerCount(settings) {
  if (settings.mode === 'main') return 0;
  return settings.workers === 'auto' ? autoWorkerCount() : settings.workers;
}

function coreErrors(settings, source) {
  if (!app.core) return [];
  return checkWithCore(settings, app.core, source);
}

function changeSetting(name, raw) {
  const { value, error } = parseSetting(name, raw);
  app.inputErrors.delete(name);
  ui.markInvalid(name, Boolean(error));
  if (error) {
    app.inputErrors.set(name, `${labelOf(name)}: ${error.message}`);
    app.trainer?.pause();
    app.pendingStart = false;
    refreshMessage();
    return;
  }
  app.settings = { ...app.settings, [name]: value };
  for (const problem of coreErrors(app.settings, 'Setting')) {
    app.inputErrors.set(problem.param, problem.message);
    ui.markInvalid(problem.param, true);
  }
  history.replaceState(null, '', `${location.pathname}${toQuery(app.settings)}`);
  ui.showSettings(app.settings);
  for (const param of app.inputErrors.keys()) ui.markInvalid(param, true);
  refreshMessage();
  if (app.inputErrors.size) {
    app.trainer?.pause();
    return;
  }
  if (!app.core) {
    boot();
    return;
  }
  rebuild();
}

function labelOf(name) {
  return { env: 'Robot', workers: 'Workers', mode: 'Mode', seed: 'Seed', batch: 'Batch', lanes: 'Lanes' }[name] ?? name;
}

// ---- loading and (re)building ---------------------------------------------------------------------

let booting = null;

function boot() {
  booting ??= (async () => {
    ui.setLoading(0.02, 'Loading Python on the page…');
    try {
      app.pyodide = await loadRobotrain(BASE_URL, (stage, fraction) =>
        ui.setLoading(fraction * 0.5, `Loading Python on the page (${stage})…`),
      );
    } catch (error) {
      app.loadError = `Could not load Python on this page: ${error.message}`;
      ui.setLoading(0, 'Loading failed.');
      refreshMessage();
      return;
    }
    app.timings.python_ready_ms = Math.round(performance.now());
    app.tools = pyTools(app.pyodide);
    app.core = {
      envNames: app.tools.toJSON(app.pyodide.runPython('from robotrain.envs import ENV_NAMES; list(ENV_NAMES)')),
      specs: app.tools.toJSON(app.pyodide.runPython('from robotrain.config import Config; Config.field_specs()')),
    };
    ui.setChoices({ envNames: app.core.envNames });
    for (const problem of coreErrors(app.settings, 'URL parameter')) {
      app.inputErrors.set(problem.param, problem.message);
      ui.markInvalid(problem.param, true);
    }
    ui.showSettings(app.settings);
    for (const param of app.inputErrors.keys()) ui.markInvalid(param, true);
    refreshMessage();
    if (!app.inputErrors.size) rebuild();
  })();
  return booting;
}

/** (Re)create the pool to the wanted size and a fresh trainer for the current settings (paused). */
function rebuild() {
  const wasRunning = app.trainer?.state === 'running';
  app.trainer?.dispose();
  app.trainer = null;
  app.trainerError = null;
  ui.clearHistory();
  const size = workerCount(app.settings);
  if (size === 0 && app.pool) {
    app.pool.terminate();
    app.pool = null;
  } else if (size > 0 && !app.pool) {
    app.timings.workers_ready_ms = null;
    app.pool = new WorkerPool({
      size,
      workerURL: WORKER_URL,
      onChange: () => {
        if (app.pool && app.timings.workers_ready_ms === null && app.pool.readyCount === app.pool.size) {
          app.timings.workers_ready_ms = Math.round(performance.now());
        }
      },
      onError: (error) => {
        app.trainerError = `Worker problem: ${error.message}`;
        refreshMessage();
      },
    });
  } else if (size > 0 && app.pool.size !== size) {
    app.timings.workers_ready_ms = null;
    app.pool.resize(size);
  }
  try {
    app.trainer = new Trainer({
      pyodide: app.pyodide,
      tools: app.tools,
      pool: app.pool,
      settings: app.settings,
      callbacks: {
        onError: (error) => {
          app.trainerError = `Training stopped: ${error.message}`;
          refreshMessage();
        },
        onChange: () => refreshButtons(),
      },
    });
  } catch (error) {
    app.trainerError = `Could not set up training: ${error.message}`;
    refreshMessage();
    return;
  }
  ui.setCaption(`${app.settings.env}: the current greedy policy, acting live.`);
  if (wasRunning || app.pendingStart) {
    app.pendingStart = false;
    app.trainer.start();
  }
  refreshMessage();
}

// ---- frame loop -----------------------------------------------------------------------------------

let lastFrame = performance.now();
let lastStats = 0;
let lastChart = 0;
const frameTimes = [];

function frame(now) {
  const dt = Math.min(0.1, (now - lastFrame) / 1000);
  lastFrame = now;
  frameTimes.push(now);
  while (frameTimes.length && now - frameTimes[0] > 1000) frameTimes.shift();
  app.fps = frameTimes.length > 1 ? ((frameTimes.length - 1) * 1000) / (now - frameTimes[0]) : 0;
  try {
    if (app.trainer && !app.trainer.disposed) {
      ui.drawRobot(app.trainer.viewStep(dt), app.trainer.drawSpec);
    }
    if (now - lastStats >= STATS_EVERY_MS) {
      lastStats = now;
      const s = api.stats();
      ui.showStats(s);
      ui.showWorkers(s.workers);
      showLoading(s);
    }
    if (app.trainer && now - lastChart >= CHART_EVERY_MS) {
      lastChart = now;
      ui.showHistory(app.trainer.curveData(), app.trainer.envInfo.solved_threshold);
    }
  } catch (error) {
    app.trainerError = `Display error: ${error.message}`;
    refreshMessage();
  }
  requestAnimationFrame(frame);
}

function showLoading(s) {
  if (!app.core) return;
  if (!app.pool) {
    ui.setLoading(1, 'Ready (main thread only).');
    return;
  }
  const ready = app.pool.readyCount;
  const total = app.pool.size;
  if (ready === total) ui.setLoading(1, `Workers ready: ${ready} of ${total}.`);
  else ui.setLoading(0.5 + 0.5 * app.pool.progress, `Starting workers: ${ready} of ${total} ready…`);
}

// ---- window.robotrain ------------------------------------------------------------------------------

const api = {
  /** Start (or resume) training; while the page is still loading, training starts as soon as it can. */
  start() {
    if (app.inputErrors.size || app.loadError) return false;
    if (!app.trainer) {
      app.pendingStart = true;
      return true;
    }
    if (app.trainer.state === 'error') return false;
    app.trainer.start();
    refreshButtons();
    return true;
  },
  pause() {
    app.pendingStart = false;
    app.trainer?.pause();
    refreshButtons();
  },
  /** Drop the run (replay buffer, network, history) and set up a fresh one with the same settings, paused. */
  reset() {
    app.pendingStart = false;
    if (!app.core || app.inputErrors.size) return;
    if (app.trainer) app.trainer.pause();
    rebuild();
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
      last_eval_return: null,
      best_eval_return: null,
      config: null,
      ...base,
      state: status(),
      mode: app.settings.mode,
      fps: Math.round(app.fps * 10) / 10,
      workers: app.pool ? app.pool.describe() : [],
      workers_ready: app.pool ? app.pool.readyCount : 0,
      weights_transport: app.pool ? (app.pool.shared ? 'SharedArrayBuffer' : 'copy') : 'local',
      cross_origin_isolated: globalThis.crossOriginIsolated === true,
      settings: { ...app.settings },
      errors: [...app.inputErrors.values(), app.loadError, app.trainerError].filter(Boolean),
      timings: { ...app.timings },
    };
  },
  history() {
    return app.trainer && !app.trainer.disposed ? app.trainer.history() : { episodes: [], evals: [] };
  },
};
window.robotrain = Object.freeze(api);

// ---- start-up ------------------------------------------------------------------------------------

{
  const { settings, errors, notes } = parseURL(location.search);
  app.settings = settings;
  app.notes = notes;
  app.pendingStart = settings.autostart;
  ui.setChoices({ envNames: [settings.env], maxWorkers: MAX_WORKERS, autoWorkers: autoWorkerCount() });
  ui.showSettings(settings);
  for (const error of errors) {
    app.inputErrors.set(error.param, error.message);
    ui.markInvalid(error.param, true);
  }
  refreshMessage();
  requestAnimationFrame(frame);
  if (!app.inputErrors.size) boot();
  else ui.setLoading(0, 'Not started.');
}
