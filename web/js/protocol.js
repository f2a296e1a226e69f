// Messages between the page (pool.js) and an actor worker (worker.js).
//
// Requests, page -> worker:   {id, type, ...fields}
// Replies,  worker -> page:   {id, ok: true, result} | {id, ok: false, error: {name, message, stack}}
// Events,   worker -> page:   {event, ...fields} (no id): load progress, boot finished, boot failed, live.

export const MSG = Object.freeze({
  INIT: 'init', // {env_id, run_seed, lanes, hidden_sizes, layer_norm} -> {} ; (re)creates the worker's Actor
  SET_WEIGHTS: 'set_weights', // {serial, weights: Float32Array} or {serial, sab: SharedArrayBuffer} -> {serial}
  // {task: a task as robotrain.run plans it (episodes {first_id, stop_id, epsilon, stream} or a PQN segment
  // {kind: 'segment', segment_id, lane_table, steps, epsilon, id_stride}), lanes (optional, episode tasks: play
  // on this many lanes), fault: null | {kind, variant, chunk}} ->
  // {packed: Float32Array (transferred), ms, weights_serial, heap_bytes, policy_version}
  RUN: 'run',
});

export const EVENT = Object.freeze({
  PROGRESS: 'progress', // {stage, fraction}
  BOOTED: 'booted', // {ms, heap_bytes, stages: {name: ms}}: Pyodide + numpy + robotrain imported
  BOOT_FAILED: 'boot_failed', // {error}
  // While a task runs, a few times per second: {request, state: one env.state row (lane 0), steps: env steps
  // played so far in this task, ms: time since the task started, policy_version, heap_bytes}.
  LIVE: 'live',
  HEARTBEAT: 'heartbeat', // {request}: a task is still being worked on (sent while nothing else is, >= 4 per s)
  // {kind, at_ms: performance.timeOrigin + performance.now()}: an injected fault is about to happen. The pool
  // uses it only to measure detection and recovery times, never to detect the fault.
  FAULT: 'fault',
});

// Fault injection (fault_crash, fault_hang, fault_slow in the URL). Whether a task attempt faults is a pure
// function of (fault seed, stream, first episode id or segment id, attempt), so a run with the same settings meets the same
// faults whichever worker runs which task, and a retried task gets a fresh, equally reproducible draw.
export const SLOW_FACTOR = 10; // a 'slow' task takes this many times as long as it really needed

/** 32-bit integer hash (the finalizer of MurmurHash3), for reproducible uniform draws. */
function mix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform draws in [0, 1) from a list of non-negative integers. */
function draws(words, n) {
  let h = 0x9e3779b9;
  for (const w of words) h = mix32(h ^ mix32((w >>> 0) + 0x7f4a7c15));
  const out = [];
  for (let i = 0; i < n; i++) {
    h = mix32(h + 0x6d2b79f5);
    out.push(h / 2 ** 32);
  }
  return out;
}

/**
 * The fault (or null) for one attempt of a task. `faults` = {crash, hang, slow, seed} with probabilities
 * in [0, 1]. Returns {kind, variant, chunk}: a crash either throws ('throw') or closes the worker ('close');
 * `chunk` is how many chunks of play happen first (0..3), so faults land mid-task.
 */
export function faultFor(faults, { first_id, segment_id, stream = 0 }, attempt) {
  if (!faults) return null;
  const [u, v, w] = draws([faults.seed ?? 0, stream ?? 0, first_id ?? segment_id, attempt], 3);
  const chunk = Math.floor(w * 4);
  if (u < faults.crash) return { kind: 'crash', variant: v < 0.5 ? 'throw' : 'close', chunk };
  if (u < faults.crash + faults.hang) return { kind: 'hang', variant: 'python-loop', chunk };
  if (u < faults.crash + faults.hang + faults.slow) return { kind: 'slow', variant: `x${SLOW_FACTOR}`, chunk };
  return null;
}

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

// How long a reader waits for a write in progress. A write takes microseconds, but the page's thread can be
// descheduled in the middle of one on a loaded machine (docs/tuning.md: a fixed ~1 ms of spinning was not enough).
const SAB_READ_TIMEOUT_MS = 5000;

/** Copy the current weights out of the SAB with `copy(view)`; returns the serial that was copied. */
export function sabRead(sab, copy) {
  const control = new Int32Array(sab, 0, 4);
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    const before = Atomics.load(control, 0);
    if (!(before & 1)) {
      const serial = Atomics.load(control, 1);
      const length = Atomics.load(control, 2);
      copy(new Float32Array(sab, SAB_CONTROL_BYTES, length));
      if (Atomics.load(control, 0) === before) return serial;
    }
    if (attempt >= 1000) {
      if (performance.now() - started > SAB_READ_TIMEOUT_MS) break;
      // Let the writer run: sleep 1 ms (workers may block; this is only called in workers).
      Atomics.wait(control, 3, 0, 1);
    }
  }
  throw new Error(`weights buffer stayed busy for ${SAB_READ_TIMEOUT_MS / 1000} s; giving up`);
}
