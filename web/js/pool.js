// A pool of actor workers. Idle workers pull tasks from one queue (no round-robin); each worker has a Map of
// its pending requests, so a worker that dies can hand its unfinished tasks back to the queue.
//
// Failure handling: a worker is declared dead when it fires `error` or `messageerror`, fails to boot, sends
// a result that is not the whole answer to its task, stays silent too long while it owes a reply (a running
// task sends a live frame or a heartbeat at least every 250 ms), or runs a task past its deadline (both in
// pool/watchdog.js). A dead worker is terminated, its
// requests are rejected, its task goes back to the front of the queue with the same episode ids, and its
// slot takes a booted spare (instant) or starts a new worker. After the first failure the pool keeps one
// spare booted, so later replacements need no Pyodide start.
//
// The parts, as workerpool splits them: pool/handle.js (a slot per worker, its WorkerState), pool/watchdog.js
// (silence and deadlines, pure functions of a handle and the time), pool/spares.js, pool/weights.js (weight
// distribution), pool/messages.js (a worker's messages), pool/failures.js (the watchdog's pass, a dead worker's
// tasks re-queued and its slot refilled); this file keeps the queue, dispatch and the workers' lifecycle.
import { MSG, faultFor } from './protocol.js';
import { checkResult, transitionCount } from './wire/codec.js';
import { workerStarter } from './runtime/workers.js';
import { WorkerState, isReady, newHandle, stateOf } from './pool/handle.js';
import { TaskTimes, silenceLimitMs } from './pool/watchdog.js';
import { Spares, faultSpares } from './pool/spares.js';
import { Weights } from './pool/weights.js';
import { CancelledError, TaskQueue, WorkerDied } from './pool/queue.js';
import { describeHandles, reliabilityReport } from './pool/report.js';
import { recovered, takePending, watch, workerDied } from './pool/failures.js';
import { handleMessage } from './pool/messages.js';

const WATCHDOG_EVERY_MS = 250; // how often busy workers are checked for silence and deadlines

export class WorkerPool {
  /**
   * size: number of workers; workerURL: URL of worker.js;
   * onChange(): called whenever worker states or counts change; onError(error): problems not tied to a task;
   * onFailure(record): a worker was declared dead (record.recovered_ms is filled in once its slot is ready);
   * faults: null or {crash, hang, slow, seed} (probabilities per task attempt, see protocol.faultFor).
   */
  constructor({ size, workerURL, onChange = () => {}, onError = () => {}, onFailure = () => {}, faults = null }) {
    this.workerURL = workerURL;
    this.starter = workerStarter(workerURL); // served or opened from disk (runtime/workers.js)
    this.onChange = onChange;
    this.onError = onError;
    this.onFailure = onFailure;
    this.slots = [];
    this.queue = new TaskQueue();
    this.nextRequestId = 1;
    this.initArgs = null;
    this.initSerial = 0; // bumps at every configure(); a worker is usable once it acknowledged the latest
    this.weights = new Weights();
    this.closed = false;
    this.faults = null;
    this.spares = new Spares({
      startWorker: (name) => this._startWorker(name),
      // The slots' first boots go first (a spare is started once they have booted).
      canStart: () => !this.closed && !this.slots.some((s) => !s.booted && s.failures === 0),
      onBooted: () => this._spareBooted(),
      onGiveUp: (reason) => {
        this.awaitingSpares = false; // go on without them rather than wait for ever
        this.onError(new Error(`${reason}; no more spare workers`));
        this._pump();
      },
    });
    this.awaitingSpares = false; // faults on: tasks wait until the spares have booted (see faultSpares)
    this.silenceGaps = []; // recent gaps between a busy worker's messages, ms (see silenceLimitMs)
    this.taskTimes = new TaskTimes(); // stream -> recent ms per episode
    this.failures = []; // the last FAILURES_KEPT failure records
    this.counters = { failures: 0, recovered: 0, requeued: 0, tasks_failed: 0, late_results_dropped: 0, bad_results: 0, task_errors: 0, faults_injected: 0, page_stalls: 0, longest_stall_ms: 0 };
    this.faultsInjected = { crash: 0, hang: 0, slow: 0 };
    this.lastCheck = performance.now();
    this.responsiveSince = this.lastCheck;
    this.watchdog = setInterval(() => watch(this), WATCHDOG_EVERY_MS);
    this.resize(size);
    this.setFaults(faults); // after the workers, so spares do not slow down the first boots
  }

  get size() {
    return this.slots.length;
  }

  /** Whether weights reach the workers through one SharedArrayBuffer (the page is cross-origin isolated). */
  get shared() {
    return this.weights.shared;
  }

  /** The configuration serial tasks need (null before configure()). */
  get _config() {
    return this.initArgs ? this.initSerial : null;
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
      this.spares.want(faultSpares(this.slots.length));
      this.awaitingSpares = !this.spares.allBooted();
    }
  }

  /** JSON-safe per-worker summary for stats(); `live: true` adds the state row of the episode being played. */
  describe({ live = false } = {}) {
    return describeHandles(this.slots, this._config, { live });
  }

  /** Failure detection and recovery figures (pool/report.js). */
  reliability() {
    return reliabilityReport(this);
  }

  /** Sum of the workers' Python (wasm) heaps, bytes. */
  get heapBytes() {
    return this.slots.reduce((sum, s) => sum + (s.heapBytes ?? 0), 0) + this.spares.heapBytes;
  }

  _ready(slot) {
    return isReady(slot, this._config);
  }

  /** Grow or shrink to `size` workers (shrinking terminates the highest ids; their tasks are re-queued). */
  resize(size) {
    while (this.slots.length < size) {
      const slot = newHandle(this.slots.length);
      this.slots.push(slot);
      this._attach(slot, this._startWorker(`robotrain-actor-${slot.id}`));
    }
    while (this.slots.length > size) {
      const slot = this.slots.pop();
      slot.worker?.terminate();
      slot.worker = null;
      this.queue.requeue(takePending(slot, new WorkerDied(`worker ${slot.id} was removed`)));
    }
    this.onChange();
    this._pump();
  }

  _startWorker(name) {
    return this.starter.start(name);
  }

  /** Wire `worker` to `slot` (a fresh one, or a booted spare whose boot facts come along). */
  _attach(slot, worker, spare = null) {
    slot.worker = worker;
    slot.booted = spare?.booted ?? false;
    slot.warm = false; // no task of this worker has answered yet (see watchdog.js FIRST_TASK_SILENCE_MS)
    slot.progress = spare?.booted ? 1 : spare?.progress ?? 0;
    slot.bootMs = spare?.bootMs ?? null;
    slot.bootStages = spare?.bootStages ?? null;
    slot.heapBytes = spare?.heapBytes ?? null;
    slot.lastHeard = performance.now();
    slot.spawnedAt = slot.lastHeard;
    worker.onmessage = (event) => handleMessage(this, slot, worker, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      workerDied(this, slot, worker, `worker ${slot.id} crashed: ${event.message || 'error event'}`, 'crash');
    };
    worker.onmessageerror = () => workerDied(this, slot, worker, `worker ${slot.id}: a message could not be decoded`, 'crash');
  }

  /**
   * Give `slot` a worker: a booted spare if there is one, else the spare furthest into its boot, else a new
   * one; returns which ('spare', 'booting spare', 'new worker'). Taking a booting spare instead of starting
   * another worker keeps one Pyodide start per failure on a machine whose cores are already busy.
   */
  _giveWorker(slot) {
    const best = this.spares.takeBest();
    if (best) {
      this._attach(slot, best.worker, best);
      if (best.booted && this.initArgs) this._sendInit(slot);
      else if (best.booted) recovered(this, slot);
      this.spares.topUp();
      return best.booted ? 'spare' : 'booting spare';
    }
    this._attach(slot, this._startWorker(`robotrain-actor-${slot.id}`));
    return 'new worker';
  }

  // ---- spares ----------------------------------------------------------------------------------

  /** A spare finished booting: tasks held for the spares may go; a slot still booting its replacement takes it. */
  _spareBooted() {
    if (this.awaitingSpares && this.spares.allBooted()) {
      this.awaitingSpares = false;
      this._pump();
    }
    // Its own worker, still booting, becomes a spare in turn (no boot work is thrown away).
    const waiting = this.slots.find((s) => s.worker && !s.booted && !s.gaveUp && s.failures > 0);
    if (waiting) {
      this.spares.add(waiting.worker, waiting.progress);
      waiting.worker = null;
      if (waiting.recovering) waiting.recovering.replacement = 'spare booted later';
      this._giveWorker(waiting);
      this.onChange();
    }
  }

  // ---- configuration and weights -------------------------------------------------------------

  /** Give every worker a (new) actor: {env_id, run_seed, lanes, hidden_sizes, layer_norm}. Drops old weights. */
  configure(initArgs) {
    this.initArgs = { ...initArgs };
    this.initSerial += 1;
    this.weights.clear();
    this.taskTimes.clear(); // another env or lane count: earlier task times say nothing about the new ones
    for (const slot of this.slots) if (slot.booted) this._sendInit(slot);
    this.onChange();
  }

  _sendInit(slot) {
    const serial = this.initSerial;
    this.weights.forget(slot);
    this._request(slot, MSG.INIT, this.initArgs).then(
      () => {
        if (serial !== this.initSerial) return;
        slot.configured = serial;
        slot.bootFailures = 0;
        recovered(this, slot);
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
    this.weights.set(data);
  }

  /** The newest published weight vector (read only: a new publication replaces it, never changes it). */
  publishedWeights() {
    return this.weights.current?.data ?? null;
  }

  // ---- tasks ------------------------------------------------------------------------------------

  /**
   * Queue a task (episodes {first_id, stop_id, epsilon, stream, lanes?} or a PQN segment, as robotrain.run plans
   * them); resolves with {packed: Float32Array, ms, worker} (a checked, complete result for exactly this task's
   * episode ids or segment) once, or rejects once.
   * `priority` puts it at the front of the queue (evaluations).
   */
  submit(task, { priority = false } = {}) {
    if (this.closed) return Promise.reject(new CancelledError());
    const result = this.queue.add(task, priority);
    this._pump();
    return result;
  }

  /** Reject every queued task with CancelledError (tasks already running finish normally). */
  cancel() {
    this.queue.cancel();
  }

  terminate() {
    this.closed = true;
    clearInterval(this.watchdog);
    this.watchdog = null;
    this.cancel();
    for (const slot of this.slots) {
      slot.worker?.terminate();
      slot.worker = null;
      for (const entry of takePending(slot, new CancelledError())) entry.reject(new CancelledError());
    }
    this.spares.terminate();
    this.slots = [];
    this.starter.close();
  }

  _idle(slot) {
    return stateOf(slot, this._config) === WorkerState.IDLE && this.weights.current !== null;
  }

  _pump() {
    if (this.closed || this.awaitingSpares) return;
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (this._idle(slot)) this._dispatch(slot, this.queue.shift());
    }
  }

  _dispatch(slot, entry) {
    this.weights.sendTo(slot, (type, fields, transfer) => this._request(slot, type, fields, transfer))?.catch((e) => this._setWeightsFailed(e));
    slot.running += 1;
    const { lanes, ...task } = entry.task;
    const segment = task.kind === 'segment';
    const episodes = segment ? 0 : task.stop_id - task.first_id; // a segment's episodes are counted as they end
    // Task times per stream and episode; a segment's per segment (they are all alike).
    const timing = segment ? ['segment', 1] : [task.stream ?? 0, episodes];
    const fault = faultFor(this.faults, task, entry.attempts);
    const started = performance.now();
    slot.task = { entry, started, deadline: started + this.taskTimes.deadline(...timing) };
    slot.lastHeard = Math.max(slot.lastHeard, started);
    this.onChange();
    const worker = slot.worker;
    this._request(slot, MSG.RUN, { task, lanes, fault }, [], entry).then(
      (result) => {
        if (worker !== slot.worker) return; // its worker was declared dead meanwhile; the task was re-queued
        const problem = checkResult(result?.packed, task);
        if (problem) {
          this.counters.bad_results += 1;
          workerDied(this, slot, worker, `worker ${slot.id} sent an incomplete result (${problem})`, 'bad result', entry);
          return;
        }
        slot.running -= 1;
        slot.task = null;
        slot.tasks += 1;
        if (!task.stream) slot.episodes += episodes;
        const steps = transitionCount(result.packed);
        slot.envSteps += steps;
        slot.busyMs += result.ms ?? 0;
        slot.stepLog.push([performance.now(), steps, result.ms ?? 0]);
        if (slot.stepLog.length > 64) slot.stepLog.shift();
        this.taskTimes.record(timing[0], result.ms, timing[1]);
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
        workerDied(this, slot, worker, error.message, 'task error', entry);
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

  // ---- failure detection ------------------------------------------------------------------------

  /** How long a worker that owes a reply may stay silent before it is declared hung, ms. */
  silenceLimitMs() {
    return silenceLimitMs(this.silenceGaps);
  }

}
