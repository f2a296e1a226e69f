// Messages between the page (pool.js) and an actor worker (worker.js).
//
// Requests, page -> worker:   {id, type, ...fields}
// Replies,  worker -> page:   {id, ok: true, result} | {id, ok: false, error: {name, message, stack}}
// Events,   worker -> page:   {event, ...fields} (no id): load progress, boot finished, boot failed, live.

export const MSG = Object.freeze({
  INIT: 'init', // {env_id, run_seed, lanes, hidden_sizes} -> {} ; (re)creates the worker's Actor
  SET_WEIGHTS: 'set_weights', // {serial, weights: Float32Array} or {serial, sab: SharedArrayBuffer} -> {serial}
  RUN: 'run', // {first_id, stop_id, epsilon, stream} -> {packed: Float32Array (transferred), ms, weights_serial, heap_bytes}
  PING: 'ping', // {} -> {booted, actor, weights_serial}
});

export const EVENT = Object.freeze({
  PROGRESS: 'progress', // {stage, fraction}
  BOOTED: 'booted', // {ms}: Pyodide + numpy + robotrain imported
  BOOT_FAILED: 'boot_failed', // {error}
  // While a task runs, a few times per second: {request, state: one env.state row (lane 0), steps: env steps
  // played so far in this task, ms: time since the task started, policy_version, heap_bytes}.
  LIVE: 'live',
});

/** A plain, structured-clone-safe description of any thrown value. */
export function errorToJSON(error) {
  if (error instanceof Error) {
    return { name: error.name || 'Error', message: String(error.message), stack: String(error.stack || '') };
  }
  return { name: 'Error', message: String(error), stack: '' };
}

/** Turn an error description from a reply back into an Error. */
export function errorFromJSON(json, prefix = '') {
  const error = new Error(prefix + (json?.message ?? 'unknown error'));
  error.name = json?.name || 'Error';
  if (json?.stack) error.remoteStack = json.stack;
  return error;
}

// Weights shared through a SharedArrayBuffer (only when the page is cross-origin isolated).
// Layout: Int32 control words [seq, serial, length, 0] then float32 data. The writer makes seq odd while it
// writes and even again after (a sequence lock); a reader retries until it sees the same even seq around
// its copy.
export const SAB_CONTROL_BYTES = 16;

export function sabCreate(capacityFloats) {
  return new SharedArrayBuffer(SAB_CONTROL_BYTES + 4 * capacityFloats);
}

export function sabCapacity(sab) {
  return (sab.byteLength - SAB_CONTROL_BYTES) / 4;
}

export function sabWrite(sab, serial, weights) {
  const control = new Int32Array(sab, 0, 4);
  const data = new Float32Array(sab, SAB_CONTROL_BYTES, sabCapacity(sab));
  Atomics.add(control, 0, 1);
  data.set(weights);
  Atomics.store(control, 2, weights.length);
  Atomics.store(control, 1, serial);
  Atomics.add(control, 0, 1);
}

export function sabSerial(sab) {
  return Atomics.load(new Int32Array(sab, 0, 4), 1);
}

/** Copy the current weights out of the SAB with `copy(view)`; returns the serial that was copied. */
export function sabRead(sab, copy) {
  const control = new Int32Array(sab, 0, 4);
  for (let attempt = 0; attempt < 100000; attempt++) {
    const before = Atomics.load(control, 0);
    if (before & 1) continue;
    const serial = Atomics.load(control, 1);
    const length = Atomics.load(control, 2);
    copy(new Float32Array(sab, SAB_CONTROL_BYTES, length));
    if (Atomics.load(control, 0) === before) return serial;
  }
  throw new Error('weights buffer stayed busy; giving up');
}
