// The trainer: the main thread's Run (replay buffer + learner) and the host side of robotrain.schedule: it
// carries out the schedule's commands (play on the workers or here, learn in slices, ingest, publish, evaluate),
// and keeps the live view. It reports through callbacks and never touches the page.
import { yieldTask, sleep, SliceBudget, RateMeter, frameWaitStats } from './schedule.js';
import { CancelledError } from './pool.js';
import { pythonErrorMessage } from './pyhost.js';
import { TaskSizer } from './sizing.js';
import { episodesWithActions } from './wire/codec.js';

export const MODES = Object.freeze(['main', 'sync', 'async']);
const EVAL_STREAM = 1;
const LEARN_SLICE_MS = 6; // target length of one learning slice on the main thread
const LONG_SLICE_MS = 16; // slices longer than one 60 Hz frame are counted in stats()
const INGEST_SLICE_MS = 4; // async mode: stop ingesting queued results after this long, learn, then go on
const ASYNC_DEPTH = 2; // async mode: tasks in flight per worker
const LOCAL_SLICE_MS = 6; // main mode: target length of one slice of episode play on the main thread
const RECENT_EPISODES = 1000; // finished training episodes kept (with their actions) for replay
const SERIES_EVERY_MS = 1000; // one sample of the scalar curves (loss, epsilon, throughput) per second
const MAX_SERIES = 20000; // samples kept; beyond this every other one is dropped
// Per-episode rows of the return curve kept; beyond this every other one is dropped, so an hours-long run's
// memory stays flat (the chart draws at most 2,000 points; its moving average then spans more episodes).
export const MAX_CURVE_EPISODES = 20000;

/** Turn anything thrown from Python or JS into an Error with a readable one-line message. */
function asError(error, what) {
  const wrapped = new Error(`${what}: ${pythonErrorMessage(error)}`);
  wrapped.cause = error;
  return wrapped;
}

export class Trainer {
  /**
   * pyodide, tools: the main thread's interpreter and pyTools(pyodide);
   * pool: a WorkerPool (null in 'main' mode); settings: {env, mode, seed, batch, lanes, sizing};
   * callbacks: {onError(error), onChange()}.
   */
  constructor({ pyodide, tools, glue, pool, settings, restore = null, callbacks = {} }) {
    if (!MODES.includes(settings.mode)) throw new Error(`unknown mode ${settings.mode}`);
    this.pyodide = pyodide;
    this.tools = tools;
    this.glue = glue;
    this.restore = restore;
    this.pool = settings.mode === 'main' ? null : pool;
    this.settings = { ...settings };
    this.onError = callbacks.onError ?? (() => {});
    this.onChange = callbacks.onChange ?? (() => {});
    this.state = 'ready'; // ready | running | paused | error | disposed
    this.error = null;
    this.budget = new SliceBudget({ targetMs: LEARN_SLICE_MS, initialMsPerUnit: 3 });
    this.longestSliceMs = 0;
    this.slices = 0;
    this.longSlices = 0;
    this.inflight = 0;
    this.arrivals = [];
    this.resumeWaiters = [];
    this.arrivalWaiters = [];
    this.loopStarted = false;
    this.proxies = [];
    this.viewAccumulator = 0;
    this.lastViewState = null;
    this.staleness = { sum: 0, count: 0, max: 0 };
    this.newestResultVersion = -1; // highest policy version an ingested result was played with
    this.episodeRate = new RateMeter(10000);
    this.stepRate = new RateMeter(10000);
    this.counts = { episodes: 0, envSteps: 0 };
    // What the charts show, in ingest order (no Python call): episodes [id, return, length, env steps after,
    // training seconds], evals [env_step, mean_return, training seconds], series [training seconds, env steps,
    // loss, epsilon, episodes/min, env-steps/s, updates/s], lag {versions behind: ingested results}.
    this.curve = { episodes: [], evals: [], series: [], lag: {} };
    this.recent = []; // last RECENT_EPISODES finished episodes {id, length, ret, terminated, actions}
    this.best = null;
    this.trainedMs = 0; // training wall time before this session (restored runs)
    this.lastSeriesAt = 0;
    this.watchOnly = false;
    this.localBudget = new SliceBudget({ targetMs: LOCAL_SLICE_MS, initialMsPerUnit: 2, maxUnits: 100000 });
    this.longestLocalSliceMs = 0;
    this.busyMs = { ingest: 0, learn: 0, plan: 0, publish: 0, view: 0, local_episodes: 0 };
    this.startedAt = null;
    this.activeMs = 0;
    this.runningSince = null;
    this.pendingEvalStep = null;
    this.episodesInFlight = 0;
    this.divergence = null; // message of the last divergence (rolled back; training paused)
    try {
      this._build();
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  _keep(proxy) {
    this.proxies.push(proxy);
    return proxy;
  }

  _build() {
    const { pyodide, tools, glue, settings } = this;
    const overrides = { ...(settings.cfg ?? {}), seed: settings.seed };
    if (settings.batch != null) overrides.batch_episodes = settings.batch;
    if (settings.lanes != null) overrides.lanes = settings.lanes;
    let config;
    try {
      if (this.restore) {
        this.run = this._keep(glue.run_from_bytes(this.restore.run));
        config = this._keep(this.run.config);
      } else {
        config = this._keep(glue.make_config(settings.env, JSON.stringify(overrides)));
        const Run = pyodide.pyimport('robotrain.run').Run;
        this.run = this._keep(Run(config));
        Run.destroy();
      }
    } catch (error) {
      throw asError(error, this.restore ? 'saved run' : 'configuration');
    }
    this.config = tools.toJSON(config.to_dict());
    this.schedule = this._keep(glue.new_schedule(this.run, settings.mode));
    this.nextCommand = this._keep(glue.next_command);
    // Task sizing (sizing.js): 'auto' unless the settings say 'fixed'; lanes given by the user stay fixed.
    this.sizer = new TaskSizer({
      adaptive: settings.sizing !== 'fixed',
      episodes: this.config.episodes_per_task,
      lanes: settings.lanes ?? null,
      defaultLanes: this.config.lanes,
    });
    this.envInfo = tools.toJSON(this.run.env_info());
    this.drawSpec = this.envInfo.draw_spec;
    const Viewer = pyodide.pyimport('robotrain.viewer').Viewer;
    const hidden = tools.fromJSON(this.config.hidden_sizes);
    this.viewer = this._keep(Viewer(this.config.env_id, hidden, this.config.seed));
    Viewer.destroy();
    if (!this.pool) {
      const Actor = pyodide.pyimport('robotrain.actor').Actor;
      this.actor = this._keep(Actor(this.config.env_id, this.config.seed, this.config.lanes, hidden));
      Actor.destroy();
    }
    hidden.destroy();
    this.lostBeforeRestore = 0;
    if (this.restore) {
      const s = tools.toJSON(this.run.stats());
      this.counts = { episodes: s.episodes, envSteps: s.env_steps };
      // Ids that were in flight when the run was saved are not played again after a restore.
      this.lostBeforeRestore = s.episodes_issued - s.episodes_ingested;
      const curve = this.restore.curve ?? {};
      this.curve = { episodes: curve.episodes ?? [], evals: curve.evals ?? [], series: curve.series ?? [], lag: curve.lag ?? {} };
      this.recent = this.restore.recent ?? [];
      this.best = this.restore.best ?? null;
      this.trainedMs = this.restore.trainedMs ?? 0;
    }
    if (this.pool) {
      this.pool.cancel();
      this.pool.configure({
        env_id: this.config.env_id,
        run_seed: this.config.seed,
        lanes: this.config.lanes,
        hidden_sizes: this.config.hidden_sizes,
      });
    }
    this._publish();
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
    this._publish();
  }

  /** Watch only: no training (a run card's policy); start() does nothing. */
  setWatchOnly(curve) {
    this.watchOnly = true;
    if (curve) this.curve = { episodes: curve.episodes ?? [], evals: curve.evals ?? [], series: curve.series ?? [], lag: curve.lag ?? {} };
    this.onChange();
  }

  /** Apply a push (rad/s on the robot's main angular velocity) to the live robot; returns {before, after, index}. */
  push(impulse) {
    return JSON.parse(this.glue.push(this.viewer, impulse));
  }

  /** The live robot's current state row (no step). */
  viewState() {
    const row = this.glue.view_state(this.viewer);
    try {
      return row.toJs();
    } finally {
      row.destroy();
    }
  }

  viewInfo() {
    return this.tools.toJSON(this.viewer.info());
  }

  /** Re-simulate a recorded episode: {states: Float32Array (T+1)*dim, dim, length, episode}. */
  replay(episode) {
    const out = this.glue.replay(this.config.env_id, this.config.seed, episode.id, episode.actions);
    try {
      const flat = out.get(0);
      const states = this.tools.fromNumpy(flat);
      flat.destroy();
      const dim = out.get(1);
      return { states, dim, length: states.length / dim - 1, episode };
    } finally {
      out.destroy();
    }
  }

  /** The finished episode with this id among the recent ones (or the best); null if not kept. */
  findEpisode(id) {
    if (id === 'best') return this.best;
    return this.recent.find((e) => e.id === id) ?? (this.best?.id === id ? this.best : null);
  }

  /** Mean greedy return of the current weights over this run's evaluation episodes (blocks for a moment). */
  evaluateNow() {
    return this.glue.evaluate_now(this.run);
  }

  /** The model file (JSON text) of the current weights. */
  modelText() {
    return this.glue.save_model(this.run);
  }

  /** The whole training state as bytes (Run.to_bytes), plus the JS-side curves, for autosave. */
  snapshot() {
    const bytes = this.glue.run_to_bytes(this.run);
    let run;
    try {
      run = bytes.toJs();
    } finally {
      bytes.destroy();
    }
    return {
      run,
      curve: this.curve,
      recent: this.recent,
      best: this.best,
      trainedMs: this.trainingMs,
      counts: { episodes: this.counts.episodes, env_steps: this.counts.envSteps },
    };
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
      const loop = { main: () => this._syncLoop(), sync: () => this._syncLoop(), async: () => this._asyncLoop() };
      loop[this.settings.mode]().catch((error) => this._fail(error));
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

  _fail(error) {
    if (this.disposed || error instanceof CancelledError) return;
    this.state = 'error';
    this.error = error instanceof Error ? error : new Error(String(error));
    this.pool?.cancel();
    this.onError(this.error);
    this.onChange();
  }

  /** Resolves when training may go on (immediately while running); rejects nothing, check `disposed`. */
  _gate() {
    if (this.state === 'running' || this.disposed || this.state === 'error') return Promise.resolve();
    return new Promise((resolve) => this.resumeWaiters.push(resolve));
  }

  get _stopped() {
    return this.disposed || this.state === 'error';
  }

  get budgetReached() {
    return this.counts.envSteps >= this.config.total_timesteps;
  }

  /** At the step budget: pause for good (the run is finished). Returns true when it stopped. */
  _checkBudget() {
    if (!this.budgetReached || this.state !== 'running') return false;
    this.pause();
    this.finished = true;
    this.onFinished?.();
    return true;
  }

  // ---- the pieces every mode uses ----------------------------------------------------------------

  _timed(what, fn) {
    const started = performance.now();
    try {
      return fn();
    } finally {
      this.busyMs[what] += performance.now() - started;
    }
  }

  /** The schedule's next command from `commands` (a Python generator), or null when it has no more. */
  _next(commands) {
    const text = this._timed('plan', () => this.nextCommand(commands));
    return text == null ? null : JSON.parse(text);
  }

  /** A play command's tasks, each with the lanes the sizer picks. */
  _tasks(command) {
    for (const task of command.tasks) task.lanes = this.sizer.lanesFor(task.stop_id - task.first_id);
    return command.tasks;
  }

  /** An evaluate command's task (the workers hold the published weights it names). */
  _evalTask(command) {
    this.pendingEvalStep = this.counts.envSteps;
    const task = command.task;
    task.lanes = this.sizer.lanesFor(task.stop_id - task.first_id, { remember: false });
    return task;
  }

  /** Run one task on a worker (or, in main mode, here); resolves with {packed: Float32Array} or {array}. */
  _execute(task, priority = false) {
    // Training episodes in flight: planned, not yet ingested, not given up on. episodes_lost in stats() is
    // what is issued and neither ingested nor in flight.
    const episodes = task.stream === EVAL_STREAM ? 0 : task.stop_id - task.first_id;
    this.episodesInFlight += episodes;
    const running = this.pool ? this.pool.submit(task, { priority }) : this._runLocal(task);
    return running.then(
      (result) => {
        if (episodes > 0 && result.ms != null) this.sizer.observe(episodes, result.ms);
        return { ...result, inFlight: episodes };
      },
      (error) => {
        this.episodesInFlight -= episodes;
        throw error;
      },
    );
  }

  /** Main mode: play a task on this thread in slices of about LOCAL_SLICE_MS (Actor.begin/advance/finish). */
  async _runLocal(task) {
    await yieldTask();
    if (this._stopped) throw new CancelledError();
    if (task.lanes) this.actor.set_lanes(task.lanes);
    this.actor.begin(task.first_id, task.stop_id, task.epsilon, task.stream);
    for (;;) {
      await this._gate();
      if (this._stopped) throw new CancelledError();
      const k = this.localBudget.units;
      const started = performance.now();
      const done = this.actor.advance(k);
      const ms = performance.now() - started;
      this.busyMs.local_episodes += ms;
      this.localBudget.observe(k, ms);
      this.longestLocalSliceMs = Math.max(this.longestLocalSliceMs, ms);
      if (done) break;
      await yieldTask();
    }
    return { array: this._timed('local_episodes', () => this.actor.finish()) };
  }

  /** One result into the replay buffer: a single copy into the wasm heap, then Run.ingest. */
  _ingest(result) {
    this._timed('ingest', () => this._ingestNow(result));
  }

  _ingestNow(result) {
    this.episodesInFlight -= result.inFlight ?? 0;
    const array = result.array ?? this.tools.toNumpy(result.packed);
    const packed = result.packed ?? this.tools.fromNumpy(array);
    let summary;
    try {
      summary = this.tools.toJSON(this.run.ingest(array));
    } catch (error) {
      throw asError(error, 'ingest');
    } finally {
      array.destroy();
    }
    if (summary.duplicate) return;
    const seconds = this.trainingMs / 1000;
    let steps = this.counts.envSteps;
    for (const [id, ret, length] of summary.episodes) {
      steps += length;
      this.curve.episodes.push([id, ret, length, steps, Math.round(seconds * 10) / 10]);
    }
    const rows = this.curve.episodes;
    if (rows.length > MAX_CURVE_EPISODES) {
      this.curve.episodes = rows.filter((_, i) => i % 2 === 0 || i === rows.length - 1);
    }
    for (const episode of episodesWithActions(packed)) {
      this.recent.push(episode);
      if (!this.best || episode.ret > this.best.ret) this.best = episode;
    }
    if (this.recent.length > RECENT_EPISODES) this.recent.splice(0, this.recent.length - RECENT_EPISODES);
    this.curve.lag[summary.staleness] = (this.curve.lag[summary.staleness] ?? 0) + 1;
    this.counts.episodes += summary.episodes.length;
    this.counts.envSteps += summary.transitions;
    this.sizer.observeSteps(summary.episodes.length, summary.transitions);
    this.staleness.sum += summary.staleness;
    this.staleness.count += 1;
    this.staleness.max = Math.max(this.staleness.max, summary.staleness);
    this.newestResultVersion = Math.max(this.newestResultVersion, summary.policy_version);
    const now = performance.now();
    this.episodeRate.sample(this.counts.episodes, now);
    this.stepRate.sample(this.counts.envSteps, now);
  }

  _ingestEval(result) {
    const array = result.array ?? this.tools.toNumpy(result.packed);
    try {
      const mean = this._timed('ingest', () => this.run.ingest_eval(array));
      this.curve.evals.push([this.pendingEvalStep, mean, Math.round(this.trainingMs / 100) / 10]);
    } catch (error) {
      throw asError(error, 'evaluation');
    } finally {
      array.destroy();
    }
    this.onChange();
  }

  /** One learning slice of at most `limit` updates, sized to take about LEARN_SLICE_MS. */
  _learnSlice(limit) {
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
    this._publish();
    this.pause();
    this.onDiverged?.(this.divergence);
  }

  /** Test hook: put a NaN into the learner's online weights (the next learning slice must roll back). */
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
  _publish() {
    this.schedule.publish().destroy();
    this._publishNow();
  }

  /** Send the learner's current weights to the workers (or the local actor) and the viewer. */
  _publishNow() {
    this._timed('publish', () => this._sendWeights());
  }

  _sendWeights() {
    const packed = this.run.weights_packed();
    try {
      if (this.pool) this.pool.setWeights(this.tools.fromNumpy(packed));
      else this.actor.set_weights(packed);
      this.viewer.set_weights(packed);
    } finally {
      packed.destroy();
    }
  }

  // ---- sync (and main) mode -------------------------------------------------------------------------

  /**
   * Sync mode: episodes per task so that each worker gets one task of the batch and plays all its episodes
   * on its lanes at once (fewer, fuller tasks: less per-task overhead and a shorter batch); main mode with
   * adaptive sizing plays the whole batch as one task. The split does not change the curve: episodes depend
   * only on their ids.
   */
  _syncEpisodesPerTask() {
    if (!this.pool && !this.sizer.adaptive) return this.config.episodes_per_task;
    return Math.max(1, Math.ceil(this.config.batch_episodes / Math.max(1, this.pool?.size ?? 1)));
  }

  /** Learn up to `updates` updates in slices of about LEARN_SLICE_MS, yielding to the page between them. */
  async _learnUpTo(updates) {
    let left = updates;
    while (left > 0 && !this._stopped) {
      await this._gate(); // a divergence pauses: the rest waits for a restart
      if (this._stopped) return;
      const done = this._learnSlice(left);
      if (done === 0 && this.state === 'running') return; // nothing more is due
      left -= done;
      await yieldTask();
    }
  }

  /** Main mode: the batch's tasks on this thread, one after the other. */
  async _playHere(tasks) {
    const results = [];
    for (const task of tasks) {
      await this._gate();
      results.push(await this._execute(task));
    }
    return results;
  }

  async _syncLoop() {
    while (!this._stopped) {
      this._checkBudget();
      await this._gate();
      if (this._stopped) return;
      const commands = this.schedule.sync_batch(this._syncEpisodesPerTask());
      try {
        await this._syncBatch(commands);
      } finally {
        commands.destroy();
      }
    }
  }

  /** One sync batch: batch k plays (with the weights published after batch k - 1) while this thread learns. */
  async _syncBatch(commands) {
    let tasks = [];
    let playing = null;
    for (let command = this._next(commands); command && !this._stopped; command = this._next(commands)) {
      if (command.op === 'play') {
        tasks = this._tasks(command);
        playing = this.pool ? Promise.all(tasks.map((task) => this._execute(task))) : null;
        playing?.catch(() => {}); // a failure is rethrown by the ingest's await, after the learning slices
      } else if (command.op === 'learn') {
        await this._learnUpTo(command.updates);
      } else if (command.op === 'ingest') {
        const results = playing ? await playing : await this._playHere(tasks);
        if (this._stopped) return;
        for (const result of results) this._ingest(result); // tasks come in id order
        this.onChange();
        await yieldTask();
      } else if (command.op === 'publish') {
        this._publishNow();
      } else if (command.op === 'evaluate') {
        const result = await this._execute(this._evalTask(command), true);
        if (this._stopped) return;
        this._ingestEval(result);
      } else {
        throw new Error(`unknown command ${command.op}`);
      }
    }
  }

  // ---- async (Ape-X) mode -----------------------------------------------------------------------

  _waitArrival(ms) {
    return Promise.race([new Promise((resolve) => this.arrivalWaiters.push(resolve)), sleep(ms)]);
  }

  _arrived(result) {
    this.arrivals.push(result);
    for (const resolve of this.arrivalWaiters.splice(0)) resolve();
  }

  _playAsync(tasks) {
    for (const task of tasks) {
      this.inflight += 1;
      this._execute(task).then(
        (result) => {
          this.inflight -= 1;
          if (!this._stopped) this._arrived(result);
        },
        (error) => {
          this.inflight -= 1;
          this._fail(error);
        },
      );
    }
  }

  _evaluateAsync(task) {
    this._execute(task, true).then(
      (result) => {
        if (!this._stopped) this._arrived({ ...result, evaluation: true });
      },
      (error) => this._fail(error),
    );
  }

  /** Ingest what has arrived, for at most INGEST_SLICE_MS. */
  _ingestArrivals() {
    const started = performance.now();
    let ingested = false;
    while (this.arrivals.length && performance.now() - started < INGEST_SLICE_MS) {
      const result = this.arrivals.shift();
      if (result.evaluation) this._ingestEval(result);
      else this._ingest(result);
      ingested = true;
    }
    if (ingested) this.onChange();
  }

  async _asyncLoop() {
    while (!this._stopped) {
      this._checkBudget();
      await this._gate();
      if (this._stopped) return;
      // Once learning starts the learner sets the pace (train_frequency env steps per update): tasks hold what
      // it consumes in about 100 ms (sizing.js).
      const learning = this.counts.envSteps >= this.config.learning_starts;
      this.sizer.setLearnerPace(learning ? (this.config.train_frequency * 1000) / this.budget.msPerUnit : null);
      const free = this.budgetReached ? 0 : Math.max(0, ASYNC_DEPTH * this.pool.size - this.inflight);
      const commands = this.schedule.async_step(
        free, this.sizer.episodesPerTask(), this.budget.msPerUnit / 1000, this.budget.units, !this.budgetReached,
      );
      let learned = false;
      try {
        for (let command = this._next(commands); command && !this._stopped; command = this._next(commands)) {
          if (command.op === 'ingest') this._ingestArrivals();
          else if (command.op === 'evaluate') this._evaluateAsync(this._evalTask(command));
          else if (command.op === 'play') this._playAsync(this._tasks(command));
          else if (command.op === 'learn') learned = this._learnSlice(command.updates) > 0 || learned;
          else if (command.op === 'publish') this._publishNow();
          else throw new Error(`unknown command ${command.op}`);
        }
      } finally {
        commands.destroy();
      }
      if (learned || this.arrivals.length) await yieldTask();
      else await this._waitArrival(50);
    }
  }

  // ---- live view, stats, history ------------------------------------------------------------------

  /** Advance the live robot by `seconds` of simulated time (real time); return the state row to draw. */
  viewStep(seconds) {
    if (this.disposed) return this.lastViewState;
    const dt = this.drawSpec.tau_s ?? this.drawSpec.dt_s ?? 0.02;
    const rate = Math.min(60, Math.max(15, 1 / dt)); // env steps per second of wall time
    this.viewAccumulator = Math.min(this.viewAccumulator + seconds * rate, 4);
    if (this.lastViewState === null) this.viewAccumulator = Math.max(this.viewAccumulator, 1);
    const started = performance.now();
    while (this.viewAccumulator >= 1) {
      this.viewAccumulator -= 1;
      const row = this.viewer.step();
      this.lastViewState = typeof row?.toJs === 'function' ? row.toJs() : row;
      row?.destroy?.();
    }
    this.busyMs.view += performance.now() - started;
    return this.lastViewState;
  }

  /** JSON-safe training statistics (the page adds fps and the worker list). */
  stats() {
    const run = this.disposed ? {} : this.tools.toJSON(this.run.stats());
    return {
      state: this.state,
      mode: this.settings.mode,
      episodes: run.episodes ?? 0,
      env_steps: run.env_steps ?? 0,
      updates: run.updates ?? 0,
      policy_version: run.policy_version ?? 0,
      episodes_per_min: this.state === 'running' ? this.episodeRate.perSecond() * 60 : 0,
      env_steps_per_s: this.state === 'running' ? this.stepRate.perSecond() : 0,
      epsilon: run.epsilon ?? null,
      loss: run.loss ?? null,
      updates_per_s: this.state === 'running' ? run.updates_per_s ?? 0 : 0,
      step_budget: this.config.total_timesteps,
      finished: Boolean(this.finished),
      watch_only: this.watchOnly,
      recent_episodes: this.recent.length,
      best_episode: this.best ? { id: this.best.id, return: this.best.ret, length: this.best.length } : null,
      longest_local_slice_ms: Math.round(this.longestLocalSliceMs * 100) / 100,
      last_eval_return: run.last_eval_return ?? null,
      best_eval_return: run.best_eval_return ?? null,
      solved_at_env_step: run.solved_at_env_step ?? null,
      staleness: {
        mean: this.staleness.count ? this.staleness.sum / this.staleness.count : 0,
        max: this.staleness.max,
        recent_mean: run.mean_staleness ?? 0,
      },
      replay_size: run.replay_size ?? 0,
      newest_result_policy_version: this.newestResultVersion,
      longest_learn_slice_ms: Math.round(this.longestSliceMs * 100) / 100,
      learn_slices: this.slices,
      learn_slices_over_16ms: this.longSlices,
      frame_waits: frameWaitStats(),
      main_thread_busy_ms: Object.fromEntries(Object.entries(this.busyMs).map(([k, v]) => [k, Math.round(v)])),
      training_wall_ms: Math.round(this.trainingMs),
      updates_per_slice: this.budget.units,
      env_info: this.envInfo,
      config: this.config,
      error: this.error ? this.error.message : null,
      episodes_issued: run.episodes_issued ?? 0,
      episodes_in_flight: this.episodesInFlight,
      episodes_lost: this.disposed ? 0 : (run.episodes_issued ?? 0) - (run.episodes_ingested ?? 0) - this.episodesInFlight - this.lostBeforeRestore,
      episodes_duplicated: run.episodes_duplicated ?? 0,
      task_sizing: this.sizer.describe(),
      duplicates_dropped: run.duplicates_dropped ?? 0,
      divergences: run.divergences ?? 0,
      last_divergence: this.divergence,
    };
  }

  /** The charts' data without a Python call (see this.curve). */
  curveData() {
    return this.curve;
  }

  /** Add one sample of the scalar curves from `s` (this.stats()) at most once per SERIES_EVERY_MS. */
  sampleSeries(s, now = performance.now()) {
    if (this.state !== 'running' || now - this.lastSeriesAt < SERIES_EVERY_MS) return;
    this.lastSeriesAt = now;
    const series = this.curve.series;
    series.push([
      Math.round(this.trainingMs / 100) / 10,
      s.env_steps,
      s.loss,
      s.epsilon,
      Math.round(s.episodes_per_min * 10) / 10,
      Math.round(s.env_steps_per_s * 10) / 10,
      Math.round(s.updates_per_s * 10) / 10,
    ]);
    if (series.length > MAX_SERIES) this.curve.series = series.filter((_, i) => i % 2 === 0 || i === series.length - 1);
  }

  /** {episodes: [[id, return, length], ...] in id order, evals: [[env_step, mean_return], ...]}. */
  history() {
    if (this.disposed) return { episodes: [], evals: [] };
    return this.tools.toJSON(this.run.history());
  }
}
