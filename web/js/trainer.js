// The trainer: the main thread's Run (replay buffer + learner) and the host side of robotrain.schedule: it
// carries out the schedule's commands (play on the workers or here, learn in slices, ingest, publish, evaluate),
// and keeps the live view. It reports through the callbacks it is given (what it ingested, evaluated, how it
// stopped) and never touches the page or the charts.
import { SliceBudget, RateMeter } from './schedule.js';
import { CancelledError } from './pool/queue.js';
import { pythonErrorMessage } from './pyhost.js';
import { MODES } from './training/modes.js';
import { asyncLoop, syncLoop } from './training/loops.js';
import { trainerSnapshot, trainerStats } from './training/report.js';
import { buildTrainer } from './training/setup.js';
import { executeTask, ingestEvaluation, ingestResult } from './training/results.js';

const LEARN_SLICE_MS = 6; // target length of one learning slice on the main thread
const LONG_SLICE_MS = 16; // slices longer than one 60 Hz frame are counted in stats()
const LOCAL_SLICE_MS = 6; // main mode: target length of one slice of episode play on the main thread

export class Trainer {
  /**
   * pyodide, tools: the main thread's interpreter and pyTools(pyodide);
   * pool: a WorkerPool (null in 'main' mode); settings: {env, mode, seed, batch, lanes, sizing};
   * callbacks: {onError(error), onChange(), onIngested({rows: [[id, return, length]], envStepsBefore, seconds,
   * staleness, packed}), onEvaluated({step, mean, seconds}), onDiverged(message), onFinished()}.
   */
  constructor({ pyodide, tools, glue, pool, settings, restore = null, callbacks = {} }) {
    if (!MODES.includes(settings.mode)) throw new Error(`unknown mode ${settings.mode}`);
    this.pyodide = pyodide;
    this.tools = tools;
    this.glue = glue;
    this.restore = restore;
    this.pool = settings.mode === 'main' ? null : pool;
    this.settings = { ...settings };
    const nothing = () => {};
    this.onError = callbacks.onError ?? nothing;
    this.onChange = callbacks.onChange ?? nothing;
    this.onIngested = callbacks.onIngested ?? nothing;
    this.onEvaluated = callbacks.onEvaluated ?? nothing;
    this.onDiverged = callbacks.onDiverged ?? nothing;
    this.onFinished = callbacks.onFinished ?? nothing;
    this.state = 'ready'; // ready | running | paused | error | disposed
    this.error = null;
    this.budget = new SliceBudget({ targetMs: LEARN_SLICE_MS, initialMsPerUnit: 3 });
    this.longestSliceMs = 0;
    this.slices = 0;
    this.longSlices = 0;
    this.inflight = 0;
    this.arrivals = [];
    this.evaluating = null; // sync mode: the evaluation in flight beside the batches after it (training/loops.js)
    this.resumeWaiters = [];
    this.arrivalWaiters = [];
    this.loopStarted = false;
    this.proxies = [];
    this.staleness = { sum: 0, count: 0, max: 0 };
    // When the first greedy evaluation reached the env's threshold in this page: ms since navigation (the
    // benchmark's time to solve), training ms, env steps and updates; null until then.
    this.solved = null;
    this.groupLanes = null; // PQN: lanes per group the run was last regrouped to (training/loops.js)
    this.newestResultVersion = -1; // highest policy version an ingested result was played with
    this.episodeRate = new RateMeter(10000);
    this.stepRate = new RateMeter(10000);
    this.counts = { episodes: 0, envSteps: 0 };
    this.trainedMs = 0; // training wall time before this session (restored runs)
    this.watchOnly = false;
    this.localBudget = new SliceBudget({ targetMs: LOCAL_SLICE_MS, initialMsPerUnit: 2, maxUnits: 100000 });
    this.longestLocalSliceMs = 0;
    this.busyMs = { ingest: 0, learn: 0, plan: 0, publish: 0, local_episodes: 0 };
    // Sync mode: time the loop waited, ms, with nothing to learn: for the batch's results, for an evaluation.
    this.waitedMs = { batch: 0, evaluation: 0 };
    this.startedAt = null;
    this.activeMs = 0;
    this.runningSince = null;
    this.pendingEvalStep = null;
    this.episodesInFlight = 0;
    this.divergence = null; // message of the last divergence (rolled back; training paused)
    try {
      buildTrainer(this);
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Keep a PyProxy until dispose() destroys it. */
  keep(proxy) {
    this.proxies.push(proxy);
    return proxy;
  }

  /** Training wall time so far, ms (including the time before a restore). */
  get trainingMs() {
    return this.trainedMs + (this.startedAt === null ? 0 : this._activeMs());
  }

  _activeMs() {
    return this.activeMs + (this.state === 'running' && this.runningSince !== null ? performance.now() - this.runningSince : 0);
  }

  /** Replace the learner's weights with the last model validated by glue.load_model, and publish them. */
  applyLoadedModel() {
    this.glue.apply_model(this.run);
    this.publish();
  }

  /** Watch only: no training (a run card's policy); start() does nothing. */
  setWatchOnly() {
    this.watchOnly = true;
    this.onChange();
  }

  /** Mean greedy return of the current weights over this run's evaluation episodes (blocks for a moment). */
  evaluateNow() {
    return this.glue.evaluate_now(this.run);
  }

  /** The model file (JSON text) of the current weights. */
  modelText() {
    return this.glue.save_model(this.run);
  }

  /** The whole training state as bytes (Run.to_bytes), for autosave. */
  snapshot() {
    return trainerSnapshot(this);
  }

  // ---- control ---------------------------------------------------------------------------------

  start() {
    if (this.state === 'error' || this.state === 'disposed' || this.state === 'running' || this.watchOnly) return;
    if (this.budgetReached) return;
    this.state = 'running';
    this.startedAt ??= performance.now();
    this.runningSince = performance.now();
    this.episodeRate.reset();
    this.stepRate.reset();
    for (const resolve of this.resumeWaiters.splice(0)) resolve();
    if (!this.loopStarted) {
      this.loopStarted = true;
      const loop = this.settings.mode === 'async' ? asyncLoop : syncLoop;
      loop(this).catch((error) => this.fail(error));
    }
    this.onChange();
  }

  pause() {
    if (this.state !== 'running') return;
    this.activeMs += performance.now() - this.runningSince;
    this.runningSince = null;
    this.state = 'paused';
    this.onChange();
  }

  dispose() {
    if (this.state === 'disposed') return;
    this.state = 'disposed';
    for (const resolve of this.resumeWaiters.splice(0)) resolve();
    for (const resolve of this.arrivalWaiters.splice(0)) resolve();
    this.pool?.cancel();
    for (const proxy of this.proxies.splice(0).reverse()) {
      try {
        proxy.destroy();
      } catch {
        /* already destroyed */
      }
    }
  }

  get disposed() {
    return this.state === 'disposed';
  }

  fail(error) {
    if (this.disposed || error instanceof CancelledError) return;
    this.state = 'error';
    this.error = error instanceof Error ? error : new Error(String(error));
    this.pool?.cancel();
    this.onError(this.error);
    this.onChange();
  }

  /** Resolves when training may go on (immediately while running); rejects nothing, check `disposed`. */
  gate() {
    if (this.state === 'running' || this.disposed || this.state === 'error') return Promise.resolve();
    return new Promise((resolve) => this.resumeWaiters.push(resolve));
  }

  get stopped() {
    return this.disposed || this.state === 'error';
  }

  // Where the run stops: the page's budget, else total_timesteps (which the schedules stay built on, as with --max-steps).
  get stopAt() {
    return this.stepBudget ?? this.config.total_timesteps;
  }

  setStepBudget(steps) { // a finished run below its new stop point may be started again
    this.stepBudget = steps;
    this.finished = this.budgetReached; // a run with steps (the page moves the stop point of those only)
    this.onChange();
  }

  get budgetReached() {
    return this.counts.envSteps >= this.stopAt;
  }

  /** At the step budget: pause for good (the run is finished). Returns true when it stopped. */
  checkBudget() {
    if (!this.budgetReached || this.state !== 'running') return false;
    this.pause();
    this.finished = true;
    this.onFinished();
    return true;
  }

  // ---- what the loops (training/loops.js) drive: commands, tasks, ingest, learning, publication -------

  /** fn(), its time added to busyMs[what]. */
  timed(what, fn) {
    const started = performance.now();
    try {
      return fn();
    } finally {
      this.busyMs[what] += performance.now() - started;
    }
  }

  /** The schedule's next command from `commands` (a Python generator), or null when it has no more. */
  commandFrom(commands) {
    const text = this.timed('plan', () => this.nextCommand(commands));
    return text == null ? null : JSON.parse(text);
  }

  /** A play command's tasks, each with the lanes the sizer picks (a segment plays its lane group's lanes). */
  tasksOf(command) {
    const episodeTasks = command.tasks.filter((task) => task.kind !== 'segment');
    for (const task of episodeTasks) task.lanes = this.sizer.lanesFor(task.stop_id - task.first_id);
    return command.tasks;
  }

  /** An evaluate command's task (the workers hold the published weights it names). */
  evalTaskOf(command) {
    this.pendingEvalStep = this.counts.envSteps;
    const task = command.task;
    task.lanes = this.sizer.lanesFor(task.stop_id - task.first_id, { remember: false });
    // Sync mode lets it run beside later batches, which publish newer weights: it carries the published ones
    // (the version the command names) and a worker plays them on its evaluation actor.
    if (this.pool) task.weights = this.pool.publishedWeights();
    return task;
  }

  /** PQN, between rollouts: `lanes` lanes per group (null: the config's grouping stays). */
  regroup(lanes) {
    if (lanes == null || lanes === this.groupLanes) return;
    if (this.run.regroup(lanes)) this.groupLanes = lanes; // false while a rollout is half in: the next batch
  }

  /** Run one task on a worker (or, in main mode, here); resolves with {packed: Float32Array} or {array}. */
  execute(task, priority = false) {
    return executeTask(this, task, priority);
  }

  /** One result into the replay buffer or rollout: a single copy into the wasm heap, then Run.ingest. */
  ingest(result) {
    this.timed('ingest', () => ingestResult(this, result));
  }

  ingestEval(result) {
    ingestEvaluation(this, result);
  }

  /** One learning slice of at most `limit` updates, sized to take about LEARN_SLICE_MS. */
  learnSlice(limit) {
    const k = Math.min(limit, this.budget.units);
    const started = performance.now();
    let done;
    try {
      done = this.run.learn(k);
    } catch (error) {
      if (error?.type !== 'Diverged') throw error;
      this._diverged(pythonErrorMessage(error));
      return 0;
    }
    const ms = performance.now() - started;
    this.busyMs.learn += ms;
    this.budget.observe(done, ms);
    this.longestSliceMs = Math.max(this.longestSliceMs, ms);
    this.slices += 1;
    if (ms > LONG_SLICE_MS) this.longSlices += 1;
    return done;
  }

  /** The learner diverged and Python rolled it back: publish the good weights, pause, tell the page. */
  _diverged(message) {
    this.divergence = message.replace(/^[\w.]*Diverged: /, '');
    this.publish();
    this.pause();
    this.onDiverged(this.divergence);
  }

  /** Test hook: put a NaN into the learner's online weights (the next learning slice or publication rolls back). */
  injectNaN() {
    const params = this.run.learner.q.params;
    const view = params.getBuffer('f32');
    try {
      view.data[0] = NaN;
    } finally {
      view.release();
      params.destroy();
    }
  }

  /** Publish the learner's current weights outside the schedule's order (start, a loaded model, a rollback). */
  publish() {
    this.schedule.publish().destroy();
    this.publishNow();
  }

  /** Send the learner's current weights to the workers (or the local actor) and the viewer. */
  publishNow() {
    try {
      this.timed('publish', () => this._sendWeights());
    } catch (error) {
      if (error?.type !== 'Diverged') throw error;
      this._diverged(pythonErrorMessage(error)); // rolled back: publishes the good weights, pauses
    }
  }

  _sendWeights() {
    const packed = this.run.weights_packed();
    try {
      if (this.pool) this.pool.setWeights(this.tools.fromNumpy(packed));
      else this.actor.set_weights(packed);
      this.view.setWeights(packed);
    } finally {
      packed.destroy();
    }
  }

  // ---- stats, history ------------------------------------------------------------------------------

  /** JSON-safe training statistics (the page adds fps and the worker list). */
  stats() {
    return trainerStats(this);
  }

  /** {episodes: [[id, return, length], ...] in id order, evals: [[env_step, mean_return], ...]}. */
  history() {
    if (this.disposed) return { episodes: [], evals: [] };
    return this.tools.toJSON(this.run.history());
  }
}
