// A pool of actor workers. Idle workers pull tasks from one queue (no round-robin); each worker has a Map of
// its pending requests, so a worker that dies can hand its unfinished tasks back to the queue.
import { MSG, EVENT, errorFromJSON, sabCreate, sabCapacity, sabWrite } from './protocol.js';

export const MIN_WORKERS = 1;
export const MAX_WORKERS = 16;
const MAX_TASK_ATTEMPTS = 3; // a task whose worker died this many times is failed instead of re-queued
const MAX_BOOT_FAILURES = 3; // consecutive boot failures of one slot before it is given up
const RATE_WINDOW_MS = 30000; // per-worker env-steps/s over the tasks finished in this window

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

export class WorkerPool {
  /**
   * size: number of workers; workerURL: URL of worker.js;
   * onChange(): called whenever worker states or counts change; onError(error): problems not tied to a task.
   */
  constructor({ size, workerURL, onChange = () => {}, onError = () => {} }) {
    this.workerURL = workerURL;
    this.onChange = onChange;
    this.onError = onError;
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
    this.resize(size);
  }

  get size() {
    return this.slots.length;
  }

  /** Number of workers that have booted and hold an actor for the current configuration. */
  get readyCount() {
    return this.slots.filter((s) => s.configured === this.initSerial && s.booted && this.initArgs).length;
  }

  get bootedCount() {
    return this.slots.filter((s) => s.booted).length;
  }

  /** Mean load progress over all workers, 0..1. */
  get progress() {
    if (!this.slots.length) return 1;
    return this.slots.reduce((sum, s) => sum + (s.booted ? 1 : s.progress), 0) / this.slots.length;
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
        tasks: s.tasks,
        load_progress: s.booted ? 1 : Math.round(s.progress * 100) / 100,
        boot_ms: s.bootMs === null ? null : Math.round(s.bootMs),
        policy_version: s.policyVersion,
        heap_bytes: s.heapBytes,
      };
      if (live) out.live_state = s.liveState;
      return out;
    });
  }

  /** Sum of the workers' Python (wasm) heaps, bytes. */
  get heapBytes() {
    return this.slots.reduce((sum, s) => sum + (s.heapBytes ?? 0), 0);
  }

  _state(slot) {
    if (slot.gaveUp) return 'failed';
    if (!slot.booted) return slot.failures > 0 ? 'restarting' : 'starting';
    if (slot.configured !== this.initSerial || !this.initArgs) return 'starting';
    return slot.running > 0 ? 'running' : 'idle';
  }

  /** Grow or shrink to `size` workers (shrinking terminates the highest ids; their tasks are re-queued). */
  resize(size) {
    while (this.slots.length < size) this.slots.push(this._newSlot(this.slots.length));
    while (this.slots.length > size) {
      const slot = this.slots.pop();
      slot.worker.terminate();
      this._failPending(slot, new Error(`worker ${slot.id} was removed`));
    }
    this.onChange();
    this._pump();
  }

  _newSlot(id, previous = null) {
    const slot = {
      id,
      worker: null,
      booted: false,
      progress: 0,
      bootMs: null,
      configured: -1,
      pending: new Map(),
      running: 0,
      episodes: previous?.episodes ?? 0,
      envSteps: previous?.envSteps ?? 0,
      stepLog: [], // [finished at, env steps, ms] per task
      liveState: null,
      policyVersion: null,
      heapBytes: null,
      tasks: previous?.tasks ?? 0,
      failures: previous?.failures ?? 0,
      bootFailures: previous?.bootFailures ?? 0,
      weightsSerial: -1,
      sabSent: null,
      gaveUp: false,
    };
    this._spawn(slot);
    return slot;
  }

  _spawn(slot) {
    const worker = new Worker(this.workerURL, { type: 'module', name: `robotrain-actor-${slot.id}` });
    slot.worker = worker;
    worker.onmessage = (event) => this._onMessage(slot, worker, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this._onWorkerDied(slot, worker, `worker ${slot.id} crashed: ${event.message || 'error event'}`);
    };
    worker.onmessageerror = () => this._onWorkerDied(slot, worker, `worker ${slot.id}: a message could not be decoded`);
  }

  /** Give every worker a (new) actor: {env_id, run_seed, lanes, hidden_sizes}. Drops old weights. */
  configure(initArgs) {
    this.initArgs = { ...initArgs };
    this.initSerial += 1;
    this.weights = null;
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

  /**
   * Queue a task {first_id, stop_id, epsilon, stream}; resolves with {packed: Float32Array, ms, worker}.
   * `priority` puts it at the front of the queue (evaluations).
   */
  submit(task, { priority = false } = {}) {
    return new Promise((resolve, reject) => {
      const entry = { task, resolve, reject, attempts: 0 };
      if (priority) this.queue.unshift(entry);
      else this.queue.push(entry);
      this._pump();
    });
  }

  /** Number of tasks waiting for a worker. */
  get queued() {
    return this.queue.length;
  }

  /** Reject every queued task with CancelledError (tasks already running finish normally). */
  cancel() {
    const dropped = this.queue.splice(0);
    for (const entry of dropped) entry.reject(new CancelledError());
  }

  terminate() {
    this.closed = true;
    this.cancel();
    for (const slot of this.slots) {
      slot.worker.terminate();
      this._failPending(slot, new CancelledError());
    }
    this.slots = [];
  }

  _idle(slot) {
    return slot.booted && !slot.gaveUp && slot.running === 0 && slot.configured === this.initSerial && this.weights;
  }

  _pump() {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (this._idle(slot)) this._dispatch(slot, this.queue.shift());
    }
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
    this.onChange();
    const { first_id, stop_id, epsilon, stream } = entry.task;
    this._request(slot, MSG.RUN, { first_id, stop_id, epsilon, stream }, [], entry).then(
      (result) => {
        slot.running -= 1;
        slot.tasks += 1;
        if (entry.task.stream === 0 || entry.task.stream === undefined) slot.episodes += stop_id - first_id;
        const steps = result.packed?.[7] ?? 0;
        slot.envSteps += steps;
        slot.stepLog.push([performance.now(), steps, result.ms ?? 0]);
        if (slot.stepLog.length > 64) slot.stepLog.shift();
        if (result.heap_bytes) slot.heapBytes = result.heap_bytes;
        if (result.policy_version != null) slot.policyVersion = result.policy_version;
        entry.resolve({ ...result, worker: slot.id });
        this.onChange();
        this._pump();
      },
      (error) => {
        if (error instanceof WorkerDied) return; // the entry was re-queued or failed by _onWorkerDied
        slot.running -= 1;
        entry.reject(error);
        this.onChange();
        this._pump();
      },
    );
  }

  _setWeightsFailed(error) {
    if (!(error instanceof WorkerDied)) this.onError(error);
  }

  _request(slot, type, fields, transfer = [], entry = null) {
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { type, resolve, reject, entry });
      try {
        slot.worker.postMessage({ id, type, ...fields }, transfer);
      } catch (error) {
        slot.pending.delete(id);
        reject(error);
      }
    });
  }

  _onMessage(slot, worker, message) {
    if (worker !== slot.worker) return; // a message from a worker that was already replaced
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
    if (message.event === EVENT.BOOTED) {
      slot.booted = true;
      slot.heapBytes = message.heap_bytes ?? null;
      slot.bootMs = message.ms;
      slot.progress = 1;
      if (this.initArgs) this._sendInit(slot);
      this.onChange();
      return;
    }
    if (message.event === EVENT.BOOT_FAILED) {
      slot.bootFailures += 1;
      this._onWorkerDied(slot, worker, `worker ${slot.id} could not load Python: ${message.error?.message}`);
      return;
    }
    const pending = slot.pending.get(message.id);
    if (!pending) return;
    slot.pending.delete(message.id);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(errorFromJSON(message.error, `worker ${slot.id}, ${pending.type}: `));
  }

  _failPending(slot, error) {
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of pending) {
      if (p.entry) p.entry.reject(error);
      p.reject(new WorkerDied(error.message));
    }
  }

  /** A worker crashed: re-queue its unfinished tasks (front of the queue, same ids) and start a replacement. */
  _onWorkerDied(slot, worker, reason) {
    if (worker !== slot.worker || this.closed) return;
    worker.terminate();
    slot.failures += 1;
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    const requeue = [];
    for (const p of pending) {
      p.reject(new WorkerDied(reason));
      if (!p.entry) continue;
      p.entry.attempts += 1;
      if (p.entry.attempts >= MAX_TASK_ATTEMPTS) p.entry.reject(new Error(`${reason} (task failed ${p.entry.attempts} times)`));
      else requeue.push(p.entry);
    }
    this.queue.unshift(...requeue);
    slot.running = 0;
    slot.booted = false;
    slot.progress = 0;
    slot.configured = -1;
    slot.weightsSerial = -1;
    slot.sabSent = null;
    if (slot.bootFailures >= MAX_BOOT_FAILURES) {
      slot.gaveUp = true;
      this.onError(new Error(`${reason}; gave up after ${slot.bootFailures} attempts`));
    } else {
      this._spawn(slot);
    }
    this.onChange();
    this._pump();
  }
}

/** Rejection of requests whose worker died (their tasks are handled by the pool, callers can ignore it). */
class WorkerDied extends Error {
  constructor(message) {
    super(message);
    this.name = 'WorkerDied';
  }
}
