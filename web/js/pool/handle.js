// One worker slot of the pool: its worker, boot facts, pending requests, running task and counters, and its
// state, one of WorkerState (as Gymnasium's AsyncState names what a vector env is waiting for).

export const MAX_BOOT_FAILURES = 3; // consecutive boot failures of one slot (or of the spares) before giving up

export const WorkerState = Object.freeze({
  STARTING: 'starting', // its worker is loading Python, or waits for an actor of the current configuration
  RESTARTING: 'restarting', // the same after a failure (a replacement is on its way)
  IDLE: 'idle', // ready for a task
  RUNNING: 'running', // playing a task
  FAILED: 'failed', // given up after repeated boot failures
});

/** A new slot `id`, no worker yet. */
export function newHandle(id) {
  return {
    id,
    worker: null,
    booted: false,
    warm: false, // a task of its worker has answered (the first one may be slow: watchdog.js)
    progress: 0,
    bootMs: null,
    bootStages: null, // {stage: ms} of this slot's worker's boot (worker.js)
    configured: -1, // the configuration serial its worker's actor was made for (-1: none)
    pending: new Map(), // request id -> {type, resolve, reject, entry, sent}
    running: 0,
    task: null, // {entry, started, deadline} of the running task
    lastHeard: performance.now(),
    spawnedAt: performance.now(),
    episodes: 0,
    envSteps: 0,
    stepLog: [], // [finished at, env steps, ms] per task
    busyMs: 0, // the workers' own time in the tasks they finished (result.ms), evaluations included
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
    faultAt: null, // wall-clock ms of the fault its worker announced, if any
    faultKind: null,
  };
}

/** The state of `handle` while the pool's configuration has serial `configSerial` (null: none given yet). */
export function stateOf(handle, configSerial) {
  if (handle.gaveUp) return WorkerState.FAILED;
  if (!handle.booted) return handle.failures > 0 ? WorkerState.RESTARTING : WorkerState.STARTING;
  if (configSerial === null || handle.configured !== configSerial) {
    return handle.failures > 0 && handle.configured === -1 ? WorkerState.RESTARTING : WorkerState.STARTING;
  }
  return handle.running > 0 ? WorkerState.RUNNING : WorkerState.IDLE;
}

/** Ready for tasks of the current configuration (idle or running). */
export function isReady(handle, configSerial) {
  const state = stateOf(handle, configSerial);
  return state === WorkerState.IDLE || state === WorkerState.RUNNING;
}

const wallClock = () => performance.timeOrigin + performance.now();

/**
 * The failure record of `handle`'s worker (reported by stats().reliability and onFailure), taken when it is
 * declared dead at `detected` (performance.now() ms); the handle forgets the fault its worker announced.
 */
export function failureRecord(handle, { kind, reason, requeued, detected, owed }) {
  const record = {
    worker: handle.id,
    kind,
    reason,
    injected: handle.faultKind ?? null,
    detected_at_ms: Math.round(detected),
    // From the injected fault (announced by the worker just before it) to its detection here, ms.
    detection_ms: handle.faultAt ? Math.round(wallClock() - handle.faultAt) : null,
    requeued_tasks: requeued,
    // What the worker owed (request types, oldest first) and whether no task of it had answered yet (the
    // watchdog's longer first-task limit applied: its silence may be start-up work, the engine compiling).
    owed,
    first_task: !handle.warm,
    recovered_ms: null, // from detection until the slot's worker is ready again
    replacement: null, // 'spare' (booted), 'booting spare', 'new worker' or 'spare booted later'
  };
  handle.faultAt = null;
  handle.faultKind = null;
  return record;
}

/** The handle's worker is gone: nothing booted, configured or shown any more. */
export function forgetWorker(handle) {
  handle.worker = null;
  handle.booted = false;
  handle.progress = 0;
  handle.configured = -1;
  handle.liveState = null;
}
