// The session: the page's Python, the worker pool and the trainer, (re)built for the current settings. It owns
// their lifecycle (boot, rebuild, start, pause, dispose) and reports through events; it calls no UI, message
// or persistence code, so what a change shows, keeps or saves is wired in main.js.
import { WorkerPool } from '../pool.js';
import { autoWorkerCount } from '../pool/limits.js';
import { Trainer } from '../trainer.js';
import { Curves } from '../training/curves.js';
import { loadRobotrain, compiledRuntime, pyTools, loadGlue, setKernelChoice } from '../pyhost.js';
import { faultsOf } from '../params.js';

const BASE_URL = new URL('../../', import.meta.url); // the site root (this file is js/app/session.js)
const WORKER_URL = new URL('../worker.js', import.meta.url);

/**
 * The events, and what a listener gets:
 * 'loading' {fraction, text}: how far loading Python has come; 'python-ready': app.glue and app.kernel are set;
 * 'error' {where: 'load' | 'run', text}: Python did not load, or the run or a worker failed;
 * 'pool' {size}: the pool was created, resized or dropped; 'worker-failed' record: a worker was declared dead
 * (record.recovered_ms null) or its slot is ready again;
 * 'replacing' {why}: the current run is about to be disposed (app.trainer is still it; why: what replaces it,
 * null when the run goes on in a new trainer); 'trainer' {restore}: a new trainer is set up (not started yet);
 * 'state': the run's state or counts changed; 'evaluated', 'diverged' (message), 'finished': the run's events.
 * Listeners run in the order they were added, synchronously, and their errors reach the caller.
 */
const EVENTS = ['loading', 'python-ready', 'error', 'pool', 'worker-failed', 'replacing', 'trainer', 'state', 'evaluated', 'diverged', 'finished'];

export class Session {
  #listeners = new Map(EVENTS.map((type) => [type, []]));
  #booting = null;

  /** app: the page's state (app/state.js); the session writes its Python, pool, trainer and curves fields. */
  constructor(app) {
    this.app = app;
  }

  on(type, listener) {
    const listeners = this.#listeners.get(type);
    if (!listeners) throw new Error(`Session has no "${type}" event`);
    listeners.push(listener);
  }

  #emit(type, detail) {
    for (const listener of this.#listeners.get(type)) listener(detail);
  }

  /** Load the page's Python once (later calls return the same promise); 'python-ready' when it is. */
  boot() {
    this.#booting ??= this.#load();
    return this.#booting;
  }

  async #load() {
    const { app } = this;
    this.#emit('loading', { fraction: 0.02, text: 'Loading Python on the page…' });
    setKernelChoice(app.settings.kernel); // the page's path and its workers' (they start after this)
    try {
      app.pyodide = await loadRobotrain(
        BASE_URL,
        (stage, fraction) => this.#emit('loading', { fraction: fraction * 0.5, text: `Loading Python on the page (${stage})…` }),
        { runtime: await compiledRuntime(BASE_URL), makeSnapshot: true }, // what the workers start from
      );
    } catch (error) {
      this.#emit('loading', { fraction: 0, text: 'Loading failed.' });
      this.#emit('error', { where: 'load', text: `Could not load Python on this page: ${error.message}` });
      return;
    }
    app.timings.python_ready_ms = Math.round(performance.now());
    app.timings.python_stages_ms = app.pyodide.robotrainStagesMs;
    app.tools = pyTools(app.pyodide);
    const kernelModule = app.pyodide.pyimport('robotrain.kernel');
    try {
      app.kernel = app.tools.toJSON(kernelModule.status());
    } finally {
      kernelModule.destroy();
    }
    app.glue = loadGlue(app.pyodide);
    this.#emit('python-ready');
  }

  /** How many workers the current settings ask for (0: main mode). */
  workerCount() {
    const { settings } = this.app;
    if (settings.mode === 'main') return 0;
    return settings.workers === 'auto' ? autoWorkerCount() : settings.workers;
  }

  /** Give the pool the workers the settings ask for (a run in progress goes on); returns their number. */
  fitPool() {
    const count = this.workerCount();
    this.ensurePool(count);
    return count;
  }

  /** Create, resize or drop the worker pool so that it has `size` workers (0: none). */
  ensurePool(size) {
    const { app } = this;
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
        onError: (error) => this.#emit('error', { where: 'run', text: `Worker problem: ${error.message}` }),
        onFailure: (record) => this.#emit('worker-failed', record),
        faults: faultsOf(app.settings),
      });
    } else if (size > 0 && app.pool.size !== size) {
      app.timings.workers_ready_ms = null;
      app.pool.resize(size);
    } else {
      return;
    }
    this.#emit('pool', { size });
  }

  /**
   * (Re)create the pool to the wanted size and a fresh trainer for the current settings (paused), or one that
   * restores `restore` (an autosave record). `why` (what replaced the run, null: nothing is replaced) goes
   * with 'replacing', so the replaced run can be kept for Undo.
   */
  rebuild({ restore = null, why = 'Settings changed' } = {}) {
    const { app } = this;
    const wasRunning = app.trainer?.state === 'running';
    this.#emit('replacing', { why });
    app.trainer?.dispose();
    app.trainer = null;
    this.fitPool();
    app.pool?.setFaults(faultsOf(app.settings));
    const curves = new Curves(restore);
    app.curves = curves;
    try {
      app.trainer = new Trainer({
        pyodide: app.pyodide,
        tools: app.tools,
        glue: app.glue,
        pool: app.pool,
        settings: app.settings,
        restore,
        callbacks: {
          onError: (error) => this.#emit('error', { where: 'run', text: `Training stopped: ${error.message}` }),
          onChange: () => this.#emit('state'),
          onIngested: (event) => curves.addIngest(event),
          onEvaluated: (event) => {
            curves.addEval(event);
            this.#emit('evaluated');
          },
          onDiverged: (message) => this.#emit('diverged', message),
          onFinished: () => this.#emit('finished'),
        },
      });
    } catch (error) {
      this.#emit('error', { where: 'run', text: `Could not set up training: ${error.message}` });
      return;
    }
    // The page's stop point: the budget in the settings (a restored run may have moved it since it started).
    const budget = app.settings.cfg.total_timesteps ?? app.core.defaults.total_timesteps;
    if (budget != null && budget !== app.trainer.config.total_timesteps) app.trainer.setStepBudget(budget);
    app.runSettings = app.settings;
    this.#emit('trainer', { restore });
    if (!restore && (wasRunning || app.pendingStart)) {
      app.pendingStart = false;
      app.trainer.start();
    }
  }

  /** Start (or resume) the run; before one is set up, it starts as soon as it is. False if it cannot start. */
  start() {
    const t = this.app.trainer;
    if (!t) {
      this.app.pendingStart = true;
      return true;
    }
    if (t.state === 'error' || t.watchOnly || t.finished) return false;
    t.start();
    return true;
  }

  /** Pause the run and forget a start asked for before it was set up; returns whether it was running. */
  pause() {
    this.app.pendingStart = false;
    return this.pauseRun();
  }

  /** Pause the run only: a start asked for while the page loads still happens once the settings are valid. */
  pauseRun() {
    const wasRunning = this.app.trainer?.state === 'running';
    this.app.trainer?.pause();
    return wasRunning;
  }

  /** Forget a start asked for before the run was set up. */
  cancelStart() {
    this.app.pendingStart = false;
  }
}
