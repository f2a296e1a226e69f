// An actor worker: its own Pyodide + numpy + robotrain, running whole episodes on request.
// Started as a module worker by pool.js; speaks the protocol in protocol.js.
import { MSG, EVENT, errorToJSON, sabRead, sabSerial, SLOW_FACTOR } from './protocol.js';
import { loadRobotrain, pyTools, pythonErrorMessage, receiveRuntime } from './pyhost.js';

const BASE_URL = new URL('../', import.meta.url);

let tools = null;
let ActorClass = null;
let actor = null; // plays training tasks with the published weights
let evaluator = null; // plays evaluation tasks with the weights each one carries (made at the first)
let actorArgs = null; // INIT's fields, for the evaluator
let weightsSerial = -1; // serial of the weights the actor holds (pool-wide counter, not the policy version)
let sharedWeights = null; // SharedArrayBuffer when the page is cross-origin isolated
let pyodideRef = null;
let webhost = null; // robotrain.webhost: the workers' Python helpers
let liveRow = null; // Python function: the actor's lane-0 state row
const LIVE_EVERY_MS = 250; // live events while a task runs
const ADVANCE_STEPS = 16; // vector steps between checks of the clock

const heapBytes = () => pyodideRef?._module?.HEAPU8?.length ?? 0;

// The page's compiled Pyodide runtime and interpreter snapshot, which pool.js sends once the page has them
// (listening starts here, before self.onmessage is set, so the boot message never reaches the protocol handler).
const bootKit = receiveRuntime();

const booting = (async () => {
  const started = performance.now();
  const kit = await bootKit;
  const waited = performance.now() - started;
  const pyodide = await loadRobotrain(
    BASE_URL,
    (stage, fraction) => self.postMessage({ event: EVENT.PROGRESS, stage, fraction }),
    kit,
  );
  kit.snapshot = null; // the interpreter holds its own copy now; this one (20 MB) can be collected
  tools = pyTools(pyodide);
  pyodideRef = pyodide;
  ActorClass = pyodide.pyimport('robotrain.actor').Actor;
  webhost = pyodide.pyimport('robotrain.webhost');
  liveRow = webhost.live_row;
  // Where the boot time went, ms: waiting for the page's boot kit, loadRobotrain's stages, the actor's import.
  const stages = { wait_for_page: Math.round(waited), ...pyodide.robotrainStagesMs };
  stages.actor_import = Math.round(performance.now() - started - waited - pyodide.robotrainLoadMs);
  self.postMessage({ event: EVENT.BOOTED, ms: performance.now() - started, heap_bytes: heapBytes(), stages });
})();
booting.catch((error) => self.postMessage({ event: EVENT.BOOT_FAILED, error: errorToJSON(error) }));

/** Copy a packed weight vector (Float32Array) into `player`'s network (actor.py Actor.set_weights). */
function loadWeights(player, f32) {
  const array = tools.toNumpy(f32);
  try {
    player.set_weights(array);
  } finally {
    array.destroy();
  }
}

function setWeights(f32, serial) {
  loadWeights(actor, f32);
  weightsSerial = serial;
}

function refreshFromShared() {
  if (!sharedWeights) return;
  const serial = sabSerial(sharedWeights);
  if (serial === weightsSerial || serial <= 0) return;
  let array = null;
  const copied = sabRead(sharedWeights, (view) => {
    if (array && array.size !== view.length) {
      array.destroy();
      array = null;
    }
    array ??= tools.np.empty(view.length, tools.np.float32);
    const buffer = array.getBuffer('f32');
    buffer.data.set(view);
    buffer.release();
  });
  try {
    actor.set_weights(array);
  } finally {
    array.destroy();
  }
  weightsSerial = copied;
}

// ---- injected faults (fault_crash, fault_hang, fault_slow; the pool decides, see protocol.faultFor) ----

/** Thrown to leave a request without any reply (the worker is crashing or hanging on purpose). */
class NoReply extends Error {}

/** Make the injected crash or hang happen now; never returns. */
function injectFault(fault) {
  self.postMessage({ event: EVENT.FAULT, kind: fault.kind, at_ms: performance.timeOrigin + performance.now() });
  if (fault.kind === 'hang') webhost.hang();
  if (fault.variant === 'close') self.close();
  else {
    setTimeout(() => {
      throw new Error('injected crash (fault_crash)');
    });
  }
  throw new NoReply();
}

/** A 'slow' fault: hold the finished result (SLOW_FACTOR - 1) x as long again, beating like a busy worker. */
async function slowDown(id, elapsedMs) {
  self.postMessage({ event: EVENT.FAULT, kind: 'slow', at_ms: performance.timeOrigin + performance.now() });
  const until = performance.now() + (SLOW_FACTOR - 1) * elapsedMs;
  while (performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(LIVE_EVERY_MS, until - performance.now())));
    self.postMessage({ event: EVENT.HEARTBEAT, request: id });
  }
}

function requireActor() {
  if (!actor) throw new Error('worker has no actor yet (INIT first)');
  return actor;
}

function makeActor({ env_id, run_seed, lanes, hidden_sizes, layer_norm }) {
  const hidden = tools.fromJSON(hidden_sizes);
  try {
    return ActorClass(env_id, run_seed, lanes, hidden, Boolean(layer_norm));
  } finally {
    hidden.destroy();
  }
}

/** The evaluation actor, holding `weights` (a packed vector that names its policy version). */
function evaluatorWith(weights) {
  requireActor();
  evaluator ??= makeActor(actorArgs);
  loadWeights(evaluator, weights);
  return evaluator;
}

const handlers = {
  [MSG.INIT]({ env_id, run_seed, lanes, hidden_sizes, layer_norm }) {
    actor?.destroy();
    evaluator?.destroy();
    actor = evaluator = null;
    weightsSerial = -1;
    actorArgs = { env_id, run_seed, lanes, hidden_sizes, layer_norm };
    actor = makeActor(actorArgs);
    return {};
  },
  [MSG.SET_WEIGHTS]({ serial, weights, sab }) {
    requireActor();
    if (sab) {
      sharedWeights = sab;
      refreshFromShared();
    } else {
      sharedWeights = null;
      setWeights(weights, serial);
    }
    return { serial: weightsSerial };
  },
  async [MSG.RUN]({ id, task: { weights, ...task }, lanes, fault }) {
    requireActor();
    refreshFromShared();
    // An evaluation brings its own weights: the training actor keeps the published ones.
    const player = weights ? evaluatorWith(weights) : actor;
    if (lanes != null) player.set_lanes(lanes); // a segment plays on its lane table's lanes, whatever this says
    const started = performance.now();
    const pyTask = tools.fromJSON(task);
    try {
      player.begin_task(pyTask);
    } finally {
      pyTask.destroy();
    }
    let lastLive = -Infinity; // the first chunk of every task sends one, so even short tasks show up
    let vectorSteps = 0;
    const breaks = fault && fault.kind !== 'slow';
    while (!player.advance(ADVANCE_STEPS)) {
      if (breaks && vectorSteps === fault.chunk * ADVANCE_STEPS) injectFault(fault);
      vectorSteps += ADVANCE_STEPS;
      const now = performance.now();
      if (now - lastLive >= LIVE_EVERY_MS) {
        lastLive = now;
        const row = liveRow(player);
        self.postMessage({
          event: EVENT.LIVE,
          request: id,
          state: row.toJs(),
          steps: vectorSteps,
          ms: now - started,
          policy_version: player.policy_version,
          heap_bytes: heapBytes(),
        });
        row.destroy();
      }
    }
    if (breaks) injectFault(fault); // the task ended before the chosen chunk
    const out = player.finish();
    let packed;
    try {
      packed = tools.fromNumpy(out);
    } finally {
      out.destroy();
    }
    if (fault?.kind === 'slow') await slowDown(id, performance.now() - started);
    return {
      result: { packed, ms: performance.now() - started, weights_serial: weightsSerial, heap_bytes: heapBytes(), policy_version: player.policy_version },
      transfer: [packed.buffer],
    };
  },
};

self.onmessage = async (event) => {
  const { id, type } = event.data;
  try {
    await booting;
    const handler = handlers[type];
    if (!handler) throw new Error(`unknown message type ${JSON.stringify(type)}`);
    const value = await handler(event.data);
    if (value && value.transfer) {
      self.postMessage({ id, ok: true, result: value.result }, value.transfer);
    } else {
      self.postMessage({ id, ok: true, result: value });
    }
  } catch (error) {
    if (error instanceof NoReply) return;
    const json = errorToJSON(error);
    if (error?.type) json.message = pythonErrorMessage(error); // a Python exception: keep its last line
    self.postMessage({ id, ok: false, error: json });
  }
};
