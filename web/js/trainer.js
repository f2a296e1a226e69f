// The trainer: the main thread's Run (replay buffer + learner), the three training modes, evaluation and the
// live view. It reports through callbacks and never touches the page.
import { yieldTask, sleep, SliceBudget, RateMeter } from './schedule.js';
import { CancelledError } from './pool.js';
import { pythonErrorMessage } from './pyhost.js';

export const MODES = Object.freeze(['main', 'sync', 'async']);
const EVAL_STREAM = 1;
const LEARN_SLICE_MS = 6; // target length of one learning slice on the main thread
const LONG_SLICE_MS = 16; // slices longer than one 60 Hz frame are counted in stats()
const INGEST_SLICE_MS = 4; // async mode: stop ingesting queued results after this long, learn, then go on
// Async mode keeps every worker fed unless the learner is more than this many seconds of updates (at its
// measured speed) behind the data; without a bound the replay ratio collapses when actors outrun the learner.
const ASYNC_MAX_BACKLOG_S = 2;
const ASYNC_MIN_BACKLOG_UPDATES = 500;
// Async mode publishes after publish_every updates but not more often than this (workers only pick weights
// up when they start a task, so faster publication would only cost main-thread time).
const ASYNC_MIN_PUBLISH_INTERVAL_MS = 50;

// TEMPORARY glue until robotrain.viewer.Viewer lands in the Python core: a one-lane env played greedily
// with the published weights, auto-resetting. Same contract: Viewer(env_id, hidden_sizes, seed),
// set_weights(packed), step() -> list (one row of env.state).
const VIEWER_FALLBACK = `
from robotrain import codec
from robotrain.envs import make
from robotrain.qnet import QNetwork

class Viewer:
    def __init__(self, env_id, hidden_sizes, seed=0):
        self.env = make(env_id, 1, seed)
        self.net = QNetwork(self.env.obs_dim, self.env.num_actions, hidden_sizes)
        self.obs = self.env.reset()
    def set_weights(self, packed):
        self.net.set_params(codec.unpack_weights(packed, expected_params=len(self.net.params))[0])
    def step(self):
        action = self.net.forward(self.obs).argmax(axis=1)
        self.obs, _, terminated, truncated = self.env.step(action)
        row = self.env.state[0].tolist()
        if terminated[0] or truncated[0]:
            self.obs = self.env.reset()
        return row
`;

function viewerClass(pyodide) {
  try {
    return pyodide.pyimport('robotrain.viewer').Viewer;
  } catch {
    const namespace = pyodide.globals.get('dict')();
    pyodide.runPython(VIEWER_FALLBACK, { globals: namespace });
    const cls = namespace.get('Viewer');
    namespace.destroy();
    return cls;
  }
}

/** Turn anything thrown from Python or JS into an Error with a readable one-line message. */
function asError(error, what) {
  const wrapped = new Error(`${what}: ${pythonErrorMessage(error)}`);
  wrapped.cause = error;
  return wrapped;
}

export class Trainer {
  /**
   * pyodide, tools: the main thread's interpreter and pyTools(pyodide);
   * pool: a WorkerPool (null in 'main' mode); settings: {env, mode, seed, batch, lanes};
   * callbacks: {onError(error), onChange()}.
   */
  constructor({ pyodide, tools, pool, settings, callbacks = {} }) {
    if (!MODES.includes(settings.mode)) throw new Error(`unknown mode ${settings.mode}`);
    this.pyodide = pyodide;
    this.tools = tools;
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
    this.batches = 0;
    this.sincePublish = 0;
    this.publishedAt = 0;
    this.inflight = 0;
    this.arrivals = [];
    this.evalInFlight = false;
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
    this.curve = { episodes: [], evals: [] }; // what the chart shows, in ingest order (no Python call)
    this.busyMs = { ingest: 0, learn: 0, plan: 0, publish: 0, view: 0, local_episodes: 0 };
    this.startedAt = null;
    this.pendingEvalStep = null;
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
    const { pyodide, tools, settings } = this;
    const Config = this._keep(pyodide.pyimport('robotrain.config').Config);
    const overrides = { seed: settings.seed };
    if (settings.batch != null) overrides.batch_episodes = settings.batch;
    if (settings.lanes != null) overrides.lanes = settings.lanes;
    const forEnv = Config.for_env;
    let config;
    try {
      config = this._keep(forEnv.callKwargs(settings.env, overrides));
    } catch (error) {
      throw asError(error, 'configuration');
    } finally {
      forEnv.destroy();
    }
    this.config = tools.toJSON(config.to_dict());
    const Run = pyodide.pyimport('robotrain.run').Run;
    this.run = this._keep(Run(config));
    Run.destroy();
    this.envInfo = tools.toJSON(this.run.env_info());
    this.drawSpec = this.envInfo.draw_spec;
    const Viewer = viewerClass(pyodide);
    const hidden = tools.fromJSON(this.config.hidden_sizes);
    this.viewer = this._keep(Viewer(settings.env, hidden, settings.seed));
    Viewer.destroy();
    if (!this.pool) {
      const Actor = pyodide.pyimport('robotrain.actor').Actor;
      this.actor = this._keep(Actor(settings.env, settings.seed, this.config.lanes, hidden));
      Actor.destroy();
    }
    hidden.destroy();
    if (this.pool) {
      this.pool.cancel();
      this.pool.configure({
        env_id: settings.env,
        run_seed: settings.seed,
        lanes: this.config.lanes,
        hidden_sizes: this.config.hidden_sizes,
      });
    }
    this._publish();
  }

  // ---- control ---------------------------------------------------------------------------------

  start() {
    if (this.state === 'error' || this.state === 'disposed' || this.state === 'running') return;
    this.state = 'running';
    this.startedAt ??= performance.now();
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

  // ---- the pieces every mode uses ----------------------------------------------------------------

  _timed(what, fn) {
    const started = performance.now();
    try {
      return fn();
    } finally {
      this.busyMs[what] += performance.now() - started;
    }
  }

  _plan(n) {
    return this._timed('plan', () => this.tools.toJSON(this.run.plan_tasks(n)));
  }

  _planEval() {
    this.pendingEvalStep = this.counts.envSteps;
    return this._timed('plan', () => this.tools.toJSON(this.run.plan_eval()));
  }

  /** Run one task on a worker (or, in main mode, here); resolves with {packed: Float32Array} or {array}. */
  _execute(task, priority = false) {
    if (this.pool) return this.pool.submit(task, { priority });
    return yieldTask().then(() => {
      if (this._stopped) throw new CancelledError();
      const array = this._timed('local_episodes', () =>
        this.actor.run(task.first_id, task.stop_id, task.epsilon, task.stream),
      );
      return { array };
    });
  }

  /** One result into the replay buffer: a single copy into the wasm heap, then Run.ingest. */
  _ingest(result) {
    this._timed('ingest', () => this._ingestNow(result));
  }

  _ingestNow(result) {
    const array = result.array ?? this.tools.toNumpy(result.packed);
    let summary;
    try {
      summary = this.tools.toJSON(this.run.ingest(array));
    } catch (error) {
      throw asError(error, 'ingest');
    } finally {
      array.destroy();
    }
    if (summary.duplicate) return;
    for (const row of summary.episodes) this.curve.episodes.push(row);
    this.counts.episodes += summary.episodes.length;
    this.counts.envSteps += summary.transitions;
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
      this.curve.evals.push([this.pendingEvalStep, mean]);
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
    const done = this.run.learn(k);
    const ms = performance.now() - started;
    this.busyMs.learn += ms;
    this.budget.observe(done, ms);
    this.longestSliceMs = Math.max(this.longestSliceMs, ms);
    this.slices += 1;
    if (ms > LONG_SLICE_MS) this.longSlices += 1;
    return done;
  }

  /** Publish the learner's current weights to the workers (or the local actor) and the viewer. */
  _publish() {
    this._timed('publish', () => this._publishNow());
  }

  _publishNow() {
    const packed = this.run.weights_packed();
    try {
      if (this.pool) this.pool.setWeights(this.tools.fromNumpy(packed));
      else this.actor.set_weights(packed);
      this.viewer.set_weights(packed);
    } finally {
      packed.destroy();
    }
    this.sincePublish = 0;
    this.publishedAt = performance.now();
  }

  // ---- sync (and main) mode -------------------------------------------------------------------------

  async _syncLoop() {
    while (!this._stopped) {
      await this._gate();
      if (this._stopped) return;
      if (this.run.eval_due()) {
        const result = await this._execute(this._planEval(), true);
        if (this._stopped) return;
        this._ingestEval(result);
        continue;
      }
      const tasks = this._plan(this.config.batch_episodes);
      let results;
      if (this.pool) {
        results = await Promise.all(tasks.map((task) => this._execute(task)));
      } else {
        results = [];
        for (const task of tasks) {
          await this._gate();
          results.push(await this._execute(task));
        }
      }
      if (this._stopped) return;
      for (const result of results) this._ingest(result); // tasks come in id order
      this.onChange();
      await yieldTask();
      while (!this._stopped) {
        await this._gate();
        const due = this.run.updates_due;
        if (due <= 0 || this._stopped) break;
        this._learnSlice(due);
        await yieldTask();
      }
      if (this._stopped) return;
      this.batches += 1;
      if (this.batches % this.config.publish_every === 0) this._publish();
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

  _feed() {
    const target = 2 * this.pool.size;
    const backlog = Math.max(ASYNC_MIN_BACKLOG_UPDATES, (ASYNC_MAX_BACKLOG_S * 1000) / this.budget.msPerUnit);
    if (this.run.updates_due > backlog) return;
    while (this.inflight < target) {
      for (const task of this._plan(this.config.episodes_per_task)) {
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
  }

  _evaluateAsync() {
    const task = this._planEval();
    this.evalInFlight = true;
    this._execute(task, true).then(
      (result) => {
        this.evalInFlight = false;
        if (!this._stopped) this._arrived({ ...result, evaluation: true });
      },
      (error) => this._fail(error),
    );
  }

  async _asyncLoop() {
    while (!this._stopped) {
      await this._gate();
      if (this._stopped) return;
      const started = performance.now();
      let ingested = false;
      while (this.arrivals.length && performance.now() - started < INGEST_SLICE_MS) {
        const result = this.arrivals.shift();
        if (result.evaluation) this._ingestEval(result);
        else this._ingest(result);
        ingested = true;
      }
      if (ingested) this.onChange();
      if (!this.evalInFlight && this.run.eval_due()) this._evaluateAsync();
      this._feed();
      const due = this.run.updates_due;
      if (due > 0) {
        this.sincePublish += this._learnSlice(due);
        if (
          this.sincePublish >= this.config.publish_every &&
          performance.now() - this.publishedAt >= ASYNC_MIN_PUBLISH_INTERVAL_MS
        ) {
          this._publish();
        }
        await yieldTask();
      } else if (!this.arrivals.length) {
        await this._waitArrival(50);
      } else {
        await yieldTask();
      }
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
      main_thread_busy_ms: Object.fromEntries(Object.entries(this.busyMs).map(([k, v]) => [k, Math.round(v)])),
      training_wall_ms: this.startedAt === null ? 0 : Math.round(performance.now() - this.startedAt),
      updates_per_slice: this.budget.units,
      env_info: this.envInfo,
      config: this.config,
      error: this.error ? this.error.message : null,
    };
  }

  /** The chart's data without a Python call: episodes [[id, return, length]] and evals, in ingest order. */
  curveData() {
    return this.curve;
  }

  /** {episodes: [[id, return, length], ...] in id order, evals: [[env_step, mean_return], ...]}. */
  history() {
    if (this.disposed) return { episodes: [], evals: [] };
    return this.tools.toJSON(this.run.history());
  }
}
