// A pool of actor workers. Idle workers pull tasks from one queue (no round-robin); each worker has a Map of
// its pending requests, so a worker that dies can hand its unfinished tasks back to the queue.
//
// Failure handling: a worker is declared dead when it fires `error` or `messageerror`, fails to boot, sends
// a result that is not the whole answer to its task, stays silent for HEARTBEAT_TIMEOUT_MS while it owes a
// reply (a running task sends a live frame or a heartbeat at least every 250 ms), or runs a task past its
// deadline (DEADLINE_FACTOR x the p95 of recent task times per episode). A dead worker is terminated, its
// requests are rejected, its task goes back to the front of the queue with the same episode ids, and its
// slot takes a booted spare (instant) or starts a new worker. After the first failure the pool keeps one
// spare booted, so later replacements need no Pyodide start.
import {
  MSG,
  EVENT,
  errorFromJSON,
  sabCreate,
  sabCapacity,
  sabWrite,
  faultFor,
} from './protocol.js';
import { checkTrajectories, transitionCount } from './wire/codec.js';
import { shareRuntime } from './pyhost.js';

export const MIN_WORKERS = 1;
export const MAX_WORKERS = 16;
// A task whose worker died this many times is failed instead of re-queued: a task that kills every worker
// must not loop forever. Injected faults draw afresh per attempt, so at a fault rate p the chance that one
// task fails this often is p**8 (3e-5 per task at p = 0.27).
const MAX_TASK_ATTEMPTS = 8;
const MAX_BOOT_FAILURES = 3; // consecutive boot failures of one slot (or of the spare) before it is given up
const RATE_WINDOW_MS = 30000; // per-worker env-steps/s over the tasks finished in this window
const WATCHDOG_EVERY_MS = 250; // how often busy workers are checked for silence and deadlines
// A worker that owes a reply and says nothing for this long is hung: HEARTBEAT_TIMEOUT_MS, or SILENCE_FACTOR x
// the longest gap healthy workers left recently (the last SILENCE_GAPS_KEPT gaps between messages while a reply
// was owed), up to MAX_SILENCE_MS. Healthy workers beat every 250 ms; on busy cores (a slow engine, spares
// booting beside them) they were measured silent for 2 s and more, and a fixed 2 s limit killed them.
const HEARTBEAT_TIMEOUT_MS = 2000;
const SILENCE_FACTOR = 2;
const SILENCE_GAPS_KEPT = 256;
const MAX_SILENCE_MS = 10_000;
// The main thread itself may stall (a long learning slice, a hidden tab's 1 s timer clamp): messages then
// wait in the queue, so silence is only judged once checks have run without a gap longer than this.
const STALL_MS = 1500;
const SETTLE_AFTER_STALL_MS = 500; // and only this long after such a gap, when queued messages have arrived
// Task deadline: DEADLINE_FACTOR x p95 of the recent ms per episode (per stream) x the task's episodes, but
// never under DEADLINE_MIN_MS; until DEADLINE_MIN_SAMPLES tasks of a stream are measured, FIRST_DEADLINE_MS.
// The factor leaves room for a 'slow' fault (10x) on a task that itself ran 2-3x its p95 (busy cores, longer
// episodes as the policy learns): at 20, one such task in a 2,000-episode run was killed. Hangs are found by
// the heartbeat; the deadline is for a worker that beats but never finishes.
const DEADLINE_FACTOR = 40;
const DEADLINE_MIN_MS = 10_000;
const FIRST_DEADLINE_MS = 120_000;
const DEADLINE_MIN_SAMPLES = 8;
const TASK_TIMES_KEPT = 64; // recent task times per stream that the p95 is taken over
// A worker that has not booted after this long is stuck (12 workers booting at once on 2 busy cores take
// ~60 s; one boot alone ~5 s).
const BOOT_DEADLINE_MS = 240_000;
const FAILURES_KEPT = 500; // failure records kept for stats() (the counters keep counting past it)
// Booted spare workers kept once a worker has failed (1) or while faults are injected (faultSpares): a
// replacement then needs only a new actor (~0.1 s), not a Pyodide start (2-20 s, by load). Each failure that
// finds no booted spare (a burst used them up) keeps one more, up to MAX_SPARES (~100 MB each).
// Faults switched on: two spares, one more per 4 workers (failures come in proportion to the workers), and no
// task is handed out until they have booted. Measured (8 workers, 2 cores): with 2 spares started beside the
// first tasks, failures in the first seconds found only booting spares (~6 s); with 2 booted first, a burst
// of 4 failures in 7 s still outran them (a spare boots in ~4 s beside 8 busy workers).
const MAX_SPARES = 4;
const faultSpares = (workers) => Math.min(MAX_SPARES, 2 + Math.floor(workers / 4));

/** Rejection reason of tasks dropped by cancel(); callers can ignore it. */
export class CancelledError extends Error {
  constructor() {
    super('task cancelled');
    this.name = 'CancelledError';
  }
}

/** The default worker count: half the logical cores, between 1 and 12. */
export function autoWorkerCount() {
  const cores = Number(globalThis.navigator?.hardwareConcurrency) || 2;
  return Math.min(12, Math.max(1, Math.floor(cores / 2)));
}

/** Env steps per second of the last finished task (0 if none). */
function lastRate(log) {
  const last = log[log.length - 1];
  return last && last[2] > 0 ? Math.round((last[1] * 1000) / last[2]) : 0;
}

function p95(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))];
}

const wallClock = () => performance.timeOrigin + performance.now();

export class WorkerPool {
  /**
   * size: number of workers; workerURL: URL of worker.js;
   * onChange(): called whenever worker states or counts change; onError(error): problems not tied to a task;
   * onFailure(record): a worker was declared dead (record.recovered_ms is filled in once its slot is ready);
   * faults: null or {crash, hang, slow, seed} (probabilities per task attempt, see protocol.faultFor).
   */
  constructor({ size, workerURL, onChange = () => {}, onError = () => {}, onFailure = () => {}, faults = null }) {
    this.workerURL = workerURL;
    // Workers start from a one-line blob: module that imports worker.js. A worker loaded from a URL takes its
    // Content-Security-Policy only from that response's headers, and a static host may send none (the page's
    // meta tag does not reach it); a worker started from a blob: URL inherits the page's policy, meta tag
    // included (HTML's policy container), so the workers run under the page's policy on any host.
    this.bootstrapURL = URL.createObjectURL(
      new Blob([`import ${JSON.stringify(new URL(workerURL, globalThis.location?.href).href)};\n`], { type: 'text/javascript' }),
    );
    this.onChange = onChange;
    this.onError = onError;
    this.onFailure = onFailure;
    this.slots = [];
    this.queue = [];
    this.nextRequestId = 1;
    this.initArgs = null;
    this.initSerial = 0; // bumps at every configure(); a worker is usable once it acknowledged the latest
    this.weights = null; // {serial, data: Float32Array}
    this.weightsSerial = 0;
    this.shared = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
    this.sab = null;
    this.closed = false;
    this.faults = null;
    this.spares = []; // booted (or booting) workers that no slot uses yet: {worker, booted, bootMs, heapBytes}
    this.spareTarget = 0;
    this.awaitingSpares = false; // faults on: tasks wait until the spares have booted (see faultSpares)
    this.silenceGaps = []; // recent gaps between a busy worker's messages, ms (see silenceLimitMs)
    this.spareBootFailures = 0;
    this.taskTimes = new Map(); // stream -> recent ms per episode
    this.failures = []; // the last FAILURES_KEPT failure records
    this.counters = { failures: 0, recovered: 0, requeued: 0, tasks_failed: 0, late_results_dropped: 0, bad_results: 0, task_errors: 0, faults_injected: 0, page_stalls: 0, longest_stall_ms: 0 };
    this.faultsInjected = { crash: 0, hang: 0, slow: 0 };
    this.lastCheck = performance.now();
    this.responsiveSince = this.lastCheck;
    this.watchdog = setInterval(() => this._check(), WATCHDOG_EVERY_MS);
    this.resize(size);
    this.setFaults(faults); // after the workers, so spares do not slow down the first boots
  }

  get size() {
    return this.slots.length;
  }

  /** Number of workers that have booted and hold an actor for the current configuration. */
  get readyCount() {
    return this.slots.filter((s) => this._ready(s)).length;
  }

  /** Mean load progress over all workers, 0..1. */
  get progress() {
    if (!this.slots.length) return 1;
    return this.slots.reduce((sum, s) => sum + (s.booted ? 1 : s.progress), 0) / this.slots.length;
  }

  /** Inject faults into tasks from now on: null or {crash, hang, slow, seed}; a spare is kept while on. */
  setFaults(faults) {
    const on = faults && (faults.crash > 0 || faults.hang > 0 || faults.slow > 0);
    this.faults = on ? { crash: faults.crash || 0, hang: faults.hang || 0, slow: faults.slow || 0, seed: faults.seed || 0 } : null;
    if (on) {
      this._wantSpares(faultSpares(this.slots.length));
      this.awaitingSpares = !this._sparesBooted();
    }
  }

  /** JSON-safe per-worker summary for stats(); `live: true` adds the state row of the episode being played. */
  describe({ live = false } = {}) {
    const now = performance.now();
    return this.slots.map((s) => {
      const recent = s.stepLog.filter(([t]) => now - t < RATE_WINDOW_MS);
      const steps = recent.reduce((sum, [, n]) => sum + n, 0);
      const since = recent.length ? recent[0][0] - recent[0][2] : now;
      const out = {
        id: s.id,
        state: this._state(s),
        episodes: s.episodes,
        env_steps: s.envSteps,
        env_steps_per_s: steps > 0 ? Math.round((steps * 1000) / Math.max(1, now - since)) : lastRate(s.stepLog),
        failures: s.failures,
        restarts: s.restarts,
        tasks: s.tasks,
        load_progress: s.booted ? 1 : Math.round(s.progress * 100) / 100,
        boot_ms: s.bootMs === null ? null : Math.round(s.bootMs),
        boot_stages_ms: s.bootStages ? Object.fromEntries(Object.entries(s.bootStages).map(([k, v]) => [k, Math.round(v)])) : null,
        policy_version: s.policyVersion,
        heap_bytes: s.heapBytes,
      };
      if (live) out.live_state = s.liveState;
      return out;
    });
  }

  /**
   * Failure detection and recovery figures: counters, the recent failure records, what the pool holds now
   * (to show nothing grows over a long run) and the current task deadline per stream.
   */
  reliability() {
    const recoveries = this.failures.filter((f) => f.recovered_ms !== null).map((f) => f.recovered_ms);
    let pending = 0;
    for (const s of this.slots) pending += s.pending.size;
    return {
      ...this.counters,
      faults: this.faults ? { ...this.faults } : null,
      faults_injected_by_kind: { ...this.faultsInjected },
      recovery_ms_max: recoveries.length ? Math.round(Math.max(...recoveries)) : null,
      recovery_ms_mean: recoveries.length ? Math.round(recoveries.reduce((a, b) => a + b, 0) / recoveries.length) : null,
      recent_failures: this.failures.slice(-50),
      held: {
        slots: this.slots.length,
        spares: this.spares.length,
        spare_target: this.spareTarget,
        workers: this.slots.filter((s) => s.worker).length + this.spares.length,
        pending_requests: pending,
        queued_tasks: this.queue.length,
        timers: this.watchdog === null ? 0 : 1,
        awaiting_spares: this.awaitingSpares,
      },
      silence_limit_ms: Math.round(this.silenceLimitMs()),
      deadline_ms: Object.fromEntries([...this.taskTimes.keys()].map((stream) => [stream, Math.round(this._deadline(stream, 1))])),
    };
  }

  /** Sum of the workers' Python (wasm) heaps, bytes. */
  get heapBytes() {
    return this.slots.reduce((sum, s) => sum + (s.heapBytes ?? 0), 0) + this.spares.reduce((sum, s) => sum + (s.heapBytes ?? 0), 0);
  }

  _ready(slot) {
    return slot.booted && !slot.gaveUp && Boolean(this.initArgs) && slot.configured === this.initSerial;
  }

  _state(slot) {
    if (slot.gaveUp) return 'failed';
    if (!slot.booted) return slot.failures > 0 ? 'restarting' : 'starting';
    if (slot.configured !== this.initSerial || !this.initArgs) return slot.failures > 0 && slot.configured === -1 ? 'restarting' : 'starting';
    return slot.running > 0 ? 'running' : 'idle';
  }

  /** Grow or shrink to `size` workers (shrinking terminates the highest ids; their tasks are re-queued). */
  resize(size) {
    while (this.slots.length < size) {
      const slot = this._newSlot(this.slots.length);
      this.slots.push(slot);
      this._attach(slot, this._startWorker(`robotrain-actor-${slot.id}`));
    }
    while (this.slots.length > size) {
      const slot = this.slots.pop();
      slot.worker?.terminate();
      slot.worker = null;
      this.queue.unshift(...this._takePending(slot, new WorkerDied(`worker ${slot.id} was removed`)));
    }
    this.onChange();
    this._pump();
  }

  _newSlot(id) {
    return {
      id,
      worker: null,
      booted: false,
      progress: 0,
      bootMs: null,
      bootStages: null, // {stage: ms} of this slot's worker's boot (worker.js)
      configured: -1,
      pending: new Map(),
      running: 0,
      task: null, // {entry, started, deadline} of the running task
      lastHeard: performance.now(),
      episodes: 0,
      envSteps: 0,
      stepLog: [], // [finished at, env steps, ms] per task
      liveState: null,
      policyVersion: null,
      heapBytes: null,
      tasks: 0,
      failures: 0,
      restarts: 0,
      bootFailures: 0,
      weightsSerial: -1,
      sabSent: null,
      gaveUp: false,
      recovering: null, // the failure record waiting for this slot to be ready again
    };
  }

  _startWorker(name) {
    const worker = new Worker(this.bootstrapURL, { type: 'module', name });
    shareRuntime(worker, new URL('../', this.workerURL)); // the worker waits for it before loading Pyodide
    return worker;
  }

  /** Wire `worker` to `slot` (a fresh one, or a booted spare whose boot facts come along). */
  _attach(slot, worker, spare = null) {
    slot.worker = worker;
    slot.booted = spare?.booted ?? false;
    slot.progress = spare?.booted ? 1 : spare?.progress ?? 0;
    slot.bootMs = spare?.bootMs ?? null;
    slot.bootStages = spare?.bootStages ?? null;
    slot.heapBytes = spare?.heapBytes ?? null;
    slot.lastHeard = performance.now();
    slot.spawnedAt = slot.lastHeard;
    worker.onmessage = (event) => this._onMessage(slot, worker, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this._onWorkerDied(slot, worker, `worker ${slot.id} crashed: ${event.message || 'error event'}`, 'crash');
    };
    worker.onmessageerror = () => this._onWorkerDied(slot, worker, `worker ${slot.id}: a message could not be decoded`, 'crash');
  }

  /**
   * Give `slot` a worker: a booted spare if there is one, else the spare furthest into its boot, else a new
   * one; returns which ('spare', 'booting spare', 'new worker'). Taking a booting spare instead of starting
   * another worker keeps one Pyodide start per failure on a machine whose cores are already busy.
   */
  _giveWorker(slot) {
    if (this.spares.length) {
      const best = this.spares.reduce((a, b) => (b.booted && !a.booted) || (b.booted === a.booted && b.progress > a.progress) ? b : a);
      this.spares.splice(this.spares.indexOf(best), 1);
      this._attach(slot, best.worker, best);
      if (best.booted && this.initArgs) this._sendInit(slot);
      else if (best.booted) this._recovered(slot);
      this._topUpSpares();
      return best.booted ? 'spare' : 'booting spare';
    }
    this._attach(slot, this._startWorker(`robotrain-actor-${slot.id}`));
    return 'new worker';
  }

  // ---- spares ----------------------------------------------------------------------------------

  _sparesBooted() {
    return this.spares.length >= this.spareTarget && this.spares.every((spare) => spare.booted);
  }

  _wantSpares(n) {
    this.spareTarget = Math.max(this.spareTarget, n);
    this._topUpSpares();
  }

  _topUpSpares() {
    if (this.closed || this.spareBootFailures >= MAX_BOOT_FAILURES) return;
    if (this.slots.some((s) => !s.booted && s.failures === 0)) return; // first boots go first (BOOTED retries)
    while (this.spares.length < this.spareTarget) this._addSpare(this._startWorker('robotrain-actor-spare'));
  }

  _addSpare(worker, progress = 0) {
    const spare = { worker, booted: false, progress, bootMs: null, heapBytes: null };
    worker.onmessage = (event) => this._onSpareMessage(spare, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this._dropSpare(spare, `a spare worker crashed while starting: ${event.message || 'error event'}`);
    };
    worker.onmessageerror = null;
    this.spares.push(spare);
  }

  _onSpareMessage(spare, message) {
    if (!this.spares.includes(spare)) return;
    if (message.event === EVENT.PROGRESS) spare.progress = message.fraction;
    else if (message.event === EVENT.BOOTED) {
      spare.booted = true;
      spare.bootMs = message.ms;
      spare.bootStages = message.stages ?? null;
      spare.heapBytes = message.heap_bytes ?? null;
      this.spareBootFailures = 0;
      if (this.awaitingSpares && this._sparesBooted()) {
        this.awaitingSpares = false;
        this._pump();
      }
      // A slot still waiting for its replacement to boot takes this spare; its own worker, still booting,
      // becomes a spare in turn (no boot work is thrown away).
      const waiting = this.slots.find((s) => s.worker && !s.booted && !s.gaveUp && s.failures > 0);
      if (waiting) {
        this._addSpare(waiting.worker, waiting.progress);
        waiting.worker = null;
        if (waiting.recovering) waiting.recovering.replacement = 'spare booted later';
        this._giveWorker(waiting);
        this.onChange();
      }
    } else if (message.event === EVENT.BOOT_FAILED) {
      this._dropSpare(spare, `a spare worker could not load Python: ${message.error?.message}`);
    }
  }

  _dropSpare(spare, reason) {
    const index = this.spares.indexOf(spare);
    if (index < 0) return;
    this.spares.splice(index, 1);
    spare.worker.terminate();
    this.spareBootFailures += 1;
    if (this.spareBootFailures >= MAX_BOOT_FAILURES) {
      this.awaitingSpares = false; // go on without them rather than wait for ever
      this.onError(new Error(`${reason}; no more spare workers`));
      this._pump();
    } else this._topUpSpares();
  }

  // ---- configuration and weights -------------------------------------------------------------

  /** Give every worker a (new) actor: {env_id, run_seed, lanes, hidden_sizes}. Drops old weights. */
  configure(initArgs) {
    this.initArgs = { ...initArgs };
    this.initSerial += 1;
    this.weights = null;
    this.taskTimes.clear(); // another env or lane count: earlier task times say nothing about the new ones
    for (const slot of this.slots) if (slot.booted) this._sendInit(slot);
    this.onChange();
  }

  _sendInit(slot) {
    const serial = this.initSerial;
    slot.weightsSerial = -1;
    slot.sabSent = null;
    this._request(slot, MSG.INIT, this.initArgs).then(
      () => {
        if (serial !== this.initSerial) return;
        slot.configured = serial;
        slot.bootFailures = 0;
        this._recovered(slot);
        this.onChange();
        this._pump();
      },
      (error) => {
        if (serial === this.initSerial && !(error instanceof WorkerDied)) this.onError(error);
      },
    );
  }

  /** Publish a packed weight vector (Float32Array, owned by the pool from now on) to every worker. */
  setWeights(data) {
    this.weightsSerial += 1;
    this.weights = { serial: this.weightsSerial, data };
    if (this.shared) {
      if (!this.sab || sabCapacity(this.sab) < data.length) this.sab = sabCreate(data.length);
      sabWrite(this.sab, this.weightsSerial, data);
    }
  }

  // ---- tasks ------------------------------------------------------------------------------------

  /**
   * Queue a task {first_id, stop_id, epsilon, stream, lanes?}; resolves with {packed: Float32Array, ms, worker}
   * (a checked, complete result for exactly this task's episode ids) once, or rejects once.
   * `priority` puts it at the front of the queue (evaluations).
   */
  submit(task, { priority = false } = {}) {
    return new Promise((resolve, reject) => {
      const entry = { task, attempts: 0, settled: false };
      entry.resolve = (value) => {
        if (entry.settled) return false;
        entry.settled = true;
        resolve(value);
        return true;
      };
      entry.reject = (error) => {
        if (entry.settled) return;
        entry.settled = true;
        reject(error);
      };
      if (this.closed) {
        entry.reject(new CancelledError());
        return;
      }
      if (priority) this.queue.unshift(entry);
      else this.queue.push(entry);
      this._pump();
    });
  }

  /** Reject every queued task with CancelledError (tasks already running finish normally). */
  cancel() {
    const dropped = this.queue.splice(0);
    for (const entry of dropped) entry.reject(new CancelledError());
  }

  terminate() {
    this.closed = true;
    clearInterval(this.watchdog);
    this.watchdog = null;
    this.cancel();
    for (const slot of this.slots) {
      slot.worker?.terminate();
      slot.worker = null;
      for (const entry of this._takePending(slot, new CancelledError())) entry.reject(new CancelledError());
    }
    for (const spare of this.spares) spare.worker.terminate();
    this.spares = [];
    this.slots = [];
    URL.revokeObjectURL(this.bootstrapURL);
  }

  _idle(slot) {
    return this._ready(slot) && slot.running === 0 && this.weights;
  }

  _pump() {
    if (this.closed || this.awaitingSpares) return;
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (this._idle(slot)) this._dispatch(slot, this.queue.shift());
    }
  }

  _deadline(stream, episodes) {
    const times = this.taskTimes.get(stream) ?? [];
    if (times.length < DEADLINE_MIN_SAMPLES) return FIRST_DEADLINE_MS;
    return Math.max(DEADLINE_MIN_MS, DEADLINE_FACTOR * p95(times) * episodes);
  }

  _recordTaskTime(stream, ms, episodes) {
    if (!(ms > 0) || episodes < 1) return;
    let times = this.taskTimes.get(stream);
    if (!times) this.taskTimes.set(stream, (times = []));
    times.push(ms / episodes);
    if (times.length > TASK_TIMES_KEPT) times.shift();
  }

  _dispatch(slot, entry) {
    if (this.shared) {
      if (slot.sabSent !== this.sab) {
        slot.sabSent = this.sab;
        this._request(slot, MSG.SET_WEIGHTS, { serial: this.weights.serial, sab: this.sab }).catch((e) => this._setWeightsFailed(e));
      }
    } else if (slot.weightsSerial !== this.weights.serial) {
      const copy = this.weights.data.slice();
      slot.weightsSerial = this.weights.serial;
      this._request(slot, MSG.SET_WEIGHTS, { serial: this.weights.serial, weights: copy }, [copy.buffer]).catch((e) =>
        this._setWeightsFailed(e),
      );
    }
    slot.running += 1;
    const { first_id, stop_id, epsilon, stream, lanes } = entry.task;
    const episodes = stop_id - first_id;
    const fault = faultFor(this.faults, entry.task, entry.attempts);
    const started = performance.now();
    slot.task = { entry, started, deadline: started + this._deadline(stream ?? 0, episodes) };
    slot.lastHeard = Math.max(slot.lastHeard, started);
    this.onChange();
    const worker = slot.worker;
    this._request(slot, MSG.RUN, { first_id, stop_id, epsilon, stream, lanes, fault }, [], entry).then(
      (result) => {
        if (worker !== slot.worker) return; // its worker was declared dead meanwhile; the task was re-queued
        const problem = checkTrajectories(result?.packed, entry.task);
        if (problem) {
          this.counters.bad_results += 1;
          this._onWorkerDied(slot, worker, `worker ${slot.id} sent an incomplete result (${problem})`, 'bad result', entry);
          return;
        }
        slot.running -= 1;
        slot.task = null;
        slot.tasks += 1;
        if (!stream) slot.episodes += episodes;
        const steps = transitionCount(result.packed);
        slot.envSteps += steps;
        slot.stepLog.push([performance.now(), steps, result.ms ?? 0]);
        if (slot.stepLog.length > 64) slot.stepLog.shift();
        this._recordTaskTime(stream ?? 0, result.ms, episodes);
        if (result.heap_bytes) slot.heapBytes = result.heap_bytes;
        if (result.policy_version != null) slot.policyVersion = result.policy_version;
        if (!entry.resolve({ ...result, worker: slot.id })) this.counters.late_results_dropped += 1;
        this.onChange();
        this._pump();
      },
      (error) => {
        if (error instanceof WorkerDied) return; // the entry was re-queued or failed by _onWorkerDied
        // The task threw in the worker. The worker's state is unknown: replace it and run the task again
        // elsewhere; a task that always throws fails after MAX_TASK_ATTEMPTS with the worker's message.
        this.counters.task_errors += 1;
        this._onWorkerDied(slot, worker, error.message, 'task error', entry);
      },
    );
  }

  _setWeightsFailed(error) {
    if (!(error instanceof WorkerDied)) this.onError(error);
  }

  _request(slot, type, fields, transfer = [], entry = null) {
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { type, resolve, reject, entry, sent: performance.now() });
      try {
        slot.worker.postMessage({ id, type, ...fields }, transfer);
      } catch (error) {
        slot.pending.delete(id);
        reject(error);
      }
    });
  }

  _onMessage(slot, worker, message) {
    if (worker !== slot.worker) {
      // A message from a worker that was already declared dead (terminate() normally stops them all).
      if (message?.ok && message.result?.packed) this.counters.late_results_dropped += 1;
      return;
    }
    const now = performance.now();
    if (slot.booted && slot.pending.size > 0) {
      this.silenceGaps.push(now - Math.max(slot.lastHeard, this._owedSince(slot), this.responsiveSince));
      if (this.silenceGaps.length > SILENCE_GAPS_KEPT) this.silenceGaps.shift();
    }
    slot.lastHeard = now;
    if (message.event === EVENT.PROGRESS) {
      slot.progress = message.fraction;
      this.onChange();
      return;
    }
    if (message.event === EVENT.LIVE) {
      slot.liveState = message.state;
      slot.policyVersion = message.policy_version;
      slot.heapBytes = message.heap_bytes;
      return;
    }
    if (message.event === EVENT.HEARTBEAT) return;
    if (message.event === EVENT.FAULT) {
      this.counters.faults_injected += 1;
      this.faultsInjected[message.kind] = (this.faultsInjected[message.kind] ?? 0) + 1;
      slot.faultAt = message.at_ms;
      slot.faultKind = message.kind;
      return;
    }
    if (message.event === EVENT.BOOTED) {
      slot.booted = true;
      slot.heapBytes = message.heap_bytes ?? null;
      slot.bootMs = message.ms;
      slot.bootStages = message.stages ?? null;
      slot.progress = 1;
      if (this.initArgs) this._sendInit(slot);
      else this._recovered(slot);
      this._topUpSpares();
      this.onChange();
      return;
    }
    if (message.event === EVENT.BOOT_FAILED) {
      slot.bootFailures += 1;
      this._onWorkerDied(slot, worker, `worker ${slot.id} could not load Python: ${message.error?.message}`, 'boot');
      return;
    }
    const pending = slot.pending.get(message.id);
    if (!pending) return;
    slot.pending.delete(message.id);
    if (message.ok) {
      if (pending.type === MSG.RUN) {
        // A task answered whole: the fault it announced (only 'slow' ones answer) is over, so a later
        // failure of this worker is not put down to it.
        slot.faultAt = null;
        slot.faultKind = null;
      }
      pending.resolve(message.result);
    } else pending.reject(errorFromJSON(message.error, `worker ${slot.id}, ${pending.type}: `));
  }

  /** Reject every pending request of `slot` with `error`; return the task entries they carried. */
  _takePending(slot, error) {
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    slot.running = 0;
    slot.task = null;
    const entries = [];
    for (const p of pending) {
      p.reject(error instanceof WorkerDied ? error : new WorkerDied(error.message));
      if (p.entry && !p.entry.settled) entries.push(p.entry);
    }
    return entries;
  }

  // ---- failure detection ------------------------------------------------------------------------

  /** When `slot`'s oldest unanswered request was sent (performance.now() ms); call only with requests pending. */
  _owedSince(slot) {
    return Math.min(...[...slot.pending.values()].map((p) => p.sent));
  }

  /** How long a worker that owes a reply may stay silent before it is declared hung, ms. */
  silenceLimitMs() {
    const longest = this.silenceGaps.reduce((a, b) => Math.max(a, b), 0);
    return Math.min(MAX_SILENCE_MS, Math.max(HEARTBEAT_TIMEOUT_MS, SILENCE_FACTOR * longest));
  }

  /** Watchdog: busy workers that went silent, tasks past their deadline. */
  _check() {
    if (this.closed) return;
    const now = performance.now();
    const gap = now - this.lastCheck;
    if (gap > STALL_MS) {
      // The page stalled or slept: nobody could answer meanwhile, so deadlines move by the lost time.
      this.responsiveSince = now;
      for (const slot of this.slots) if (slot.task) slot.task.deadline += gap;
      this.counters.page_stalls += 1;
      this.counters.longest_stall_ms = Math.max(this.counters.longest_stall_ms, Math.round(gap));
    }
    this.lastCheck = now;
    if (now - this.responsiveSince < SETTLE_AFTER_STALL_MS) return;
    const silenceLimit = this.silenceLimitMs();
    for (const slot of this.slots) {
      if (slot.worker && !slot.booted && now - slot.spawnedAt > BOOT_DEADLINE_MS) {
        slot.bootFailures += 1;
        this._onWorkerDied(slot, slot.worker, `worker ${slot.id} did not start within ${BOOT_DEADLINE_MS / 1000} s`, 'boot');
        continue;
      }
      if (!slot.worker || !slot.booted || slot.pending.size === 0) continue;
      const silentMs = now - Math.max(slot.lastHeard, this._owedSince(slot), this.responsiveSince - SETTLE_AFTER_STALL_MS);
      if (silentMs > silenceLimit) {
        this._onWorkerDied(slot, slot.worker, `worker ${slot.id} stopped answering (no heartbeat for ${(silentMs / 1000).toFixed(1)} s)`, 'hang');
      } else if (slot.task && now > slot.task.deadline) {
        const s = ((now - slot.task.started) / 1000).toFixed(1);
        this._onWorkerDied(slot, slot.worker, `worker ${slot.id} ran one task for ${s} s, past its deadline`, 'deadline');
      }
    }
  }

  /**
   * A worker failed: terminate it, re-queue its unfinished tasks (front of the queue, same ids), reject its
   * other requests, and give the slot a spare or a new worker.
   */
  _onWorkerDied(slot, worker, reason, kind = 'crash', answered = null) {
    if (worker !== slot.worker || this.closed) return;
    worker.terminate();
    const detected = performance.now();
    slot.failures += 1;
    this.counters.failures += 1;
    const requeue = [];
    const entries = this._takePending(slot, new WorkerDied(reason));
    // `answered`: the task whose reply (an error or a broken result) was the failure; no longer pending.
    if (answered && !answered.settled) entries.push(answered);
    for (const entry of entries) {
      entry.attempts += 1;
      if (entry.attempts >= MAX_TASK_ATTEMPTS) {
        this.counters.tasks_failed += 1;
        entry.reject(new Error(`${reason} (this task failed ${entry.attempts} times)`));
      } else requeue.push(entry);
    }
    this.counters.requeued += requeue.length;
    this.queue.unshift(...requeue);
    const record = {
      worker: slot.id,
      kind,
      reason,
      injected: slot.faultKind ?? null,
      detected_at_ms: Math.round(detected),
      // From the injected fault (announced by the worker just before it) to its detection here, ms.
      detection_ms: slot.faultAt ? Math.round(wallClock() - slot.faultAt) : null,
      requeued_tasks: requeue.length,
      recovered_ms: null, // from detection until the slot's worker is ready again
      replacement: null, // 'spare' (booted), 'booting spare', 'new worker' or 'spare booted later'
    };
    slot.faultAt = null;
    slot.faultKind = null;
    this.failures.push(record);
    if (this.failures.length > FAILURES_KEPT) this.failures.shift();
    slot.worker = null;
    slot.booted = false;
    slot.progress = 0;
    slot.configured = -1;
    slot.weightsSerial = -1;
    slot.sabSent = null;
    slot.liveState = null;
    slot.recovering = record;
    if (slot.bootFailures >= MAX_BOOT_FAILURES) {
      slot.gaveUp = true;
      slot.recovering = null;
      this.onError(new Error(`${reason}; gave up after ${slot.bootFailures} attempts`));
    } else {
      slot.restarts += 1;
      this._wantSpares(this.faults ? faultSpares(this.slots.length) : 1);
      const spareWasReady = this.spares.some((spare) => spare.booted);
      record.replacement = this._giveWorker(slot);
      if (!spareWasReady) this._wantSpares(Math.min(MAX_SPARES, this.spareTarget + 1));
    }
    this.onFailure(record);
    this.onChange();
    this._pump();
  }

  /** The slot is usable again: close its failure record with the recovery time. */
  _recovered(slot) {
    const record = slot.recovering;
    if (!record) return;
    slot.recovering = null;
    record.recovered_ms = Math.round(performance.now() - record.detected_at_ms);
    this.counters.recovered += 1;
    this.onFailure(record);
  }
}

/** Rejection of requests whose worker died (their tasks are handled by the pool, callers can ignore it). */
class WorkerDied extends Error {
  constructor(message) {
    super(message);
    this.name = 'WorkerDied';
  }
}
