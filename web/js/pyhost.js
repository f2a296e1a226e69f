// Loading robotrain into a Pyodide interpreter, and moving buffers in and out of it.
// Used by the actor workers and by the main thread alike.

const PACKAGE_DIR = '/home/pyodide/robotrain_pkg';

const RUNTIME_WASM = 'pyodide/pyodide.asm.wasm';
let runtimeModule = null;

/**
 * The Pyodide runtime (pyodide.asm.wasm, about 9 MB) compiled once on this thread: a WebAssembly.Module that
 * every worker instantiates instead of fetching and compiling its own (one copy of the compiled code, measured
 * about 13 MB less per worker in Chromium). Resolves to null if compiling fails (each worker then compiles).
 */
export function compiledRuntime(baseURL) {
  runtimeModule ??= WebAssembly.compileStreaming(fetch(new URL(RUNTIME_WASM, baseURL))).catch(() => null);
  return runtimeModule;
}

// The page's memory snapshot of a bare interpreter (Python started, no numpy yet; about 20 MB), taken by the
// page's own loadRobotrain({makeSnapshot: true}); null if it could not be made. A worker restores it in well
// under a second instead of starting Python from scratch (measured ~0.8-1.1 s against ~9.9 s for the page's
// bare start on the loaded 2-core machine). Pyodide 0.27 snapshots keep only the wasm heap and the JS handle
// table, not dynamically loaded libraries, so numpy is loaded after the restore, not snapshotted.
let snapshotReady;
const pageSnapshot = new Promise((resolve) => {
  snapshotReady = resolve;
});

/**
 * Send a new worker its boot kit: the compiled runtime and the page's snapshot (structured-cloned, so each
 * worker gets its own copy). The worker waits for it (receiveRuntime) before loading Pyodide.
 */
export function shareRuntime(worker, baseURL) {
  Promise.all([compiledRuntime(baseURL), pageSnapshot]).then(([module, snapshot]) =>
    worker.postMessage({ bootRuntime: module, bootSnapshot: snapshot }),
  );
}

/**
 * In a worker: a promise of the boot kit {runtime, snapshot} sent by shareRuntime (either may be null). Call it
 * before setting self.onmessage: this listener runs first and keeps the boot message away from the worker's
 * own protocol handler.
 */
export function receiveRuntime() {
  return new Promise((resolve) => {
    const listener = (event) => {
      if (!event.data || !('bootRuntime' in event.data)) return;
      event.stopImmediatePropagation();
      self.removeEventListener('message', listener);
      resolve({ runtime: event.data.bootRuntime, snapshot: event.data.bootSnapshot ?? null });
    };
    self.addEventListener('message', listener);
  });
}

/**
 * Run `load` (loadPyodide) so that its one fetch + instantiateStreaming of the runtime uses `runtime`, a
 * compiled WebAssembly.Module, instead (Pyodide 0.27 has no option for it). Both hooks undo themselves once used.
 */
async function withRuntime(runtime, wasmURL, load) {
  if (!runtime) return load();
  const { instantiateStreaming } = WebAssembly;
  const realFetch = globalThis.fetch;
  const restore = () => {
    WebAssembly.instantiateStreaming = instantiateStreaming;
    globalThis.fetch = realFetch;
  };
  globalThis.fetch = (resource, init) =>
    String(resource) === wasmURL ? Promise.resolve(new Response(new Uint8Array(0))) : realFetch(resource, init);
  WebAssembly.instantiateStreaming = async (source, imports) => {
    restore();
    return { module: runtime, instance: await WebAssembly.instantiate(runtime, imports) };
  };
  try {
    return await load();
  } finally {
    restore();
  }
}

/**
 * Load Pyodide + numpy + robotrain from the site root `baseURL` (a URL ending in '/').
 * onProgress(stage, fraction) is called as loading advances; `runtime` is a compiled pyodide.asm.wasm
 * (compiledRuntime) or null; `snapshot` a bare-interpreter snapshot to restore instead of starting Python;
 * `makeSnapshot` takes that snapshot for the workers (the page does). Returns the pyodide object.
 */
export async function loadRobotrain(baseURL, onProgress = () => {}, { runtime = null, snapshot = null, makeSnapshot = false } = {}) {
  const started = performance.now();
  onProgress('runtime', 0.05);
  let pyodide;
  try {
    const { loadPyodide } = await import(new URL('pyodide/pyodide.mjs', baseURL).href);
    pyodide = await withRuntime(runtime, new URL(RUNTIME_WASM, baseURL).href, () =>
      loadPyodide({
        indexURL: new URL('pyodide/', baseURL).href,
        stdout: (line) => console.log(`[python] ${line}`),
        stderr: (line) => console.log(`[python stderr] ${line}`),
        ...(snapshot ? { _loadSnapshot: snapshot } : {}),
        ...(makeSnapshot ? { _makeSnapshot: true } : {}),
      }),
    );
    if (makeSnapshot) snapshotReady(pyodide.makeMemorySnapshot());
    if (snapshot) {
      // The restored heap is a copy: free the 20 MB snapshot now (Pyodide keeps its options for the interpreter's
      // lifetime, and an idle worker may not collect garbage for a long time). transfer(0) frees the bytes at once.
      if (pyodide._api?.config) pyodide._api.config._loadSnapshot = null;
      snapshot.buffer.transfer?.(0);
    }
  } finally {
    if (makeSnapshot) snapshotReady(null); // no-op once resolved; otherwise workers start without a snapshot
  }
  onProgress('numpy', 0.6);
  await pyodide.loadPackage('numpy', { messageCallback: () => {}, errorCallback: (m) => console.log(m) });
  onProgress('robotrain', 0.85);
  const response = await fetch(new URL('py/robotrain.zip', baseURL));
  if (!response.ok) throw new Error(`could not fetch py/robotrain.zip: HTTP ${response.status}`);
  pyodide.unpackArchive(await response.arrayBuffer(), 'zip', { extractDir: PACKAGE_DIR });
  pyodide.runPython(`import sys\nif ${JSON.stringify(PACKAGE_DIR)} not in sys.path: sys.path.insert(0, ${JSON.stringify(PACKAGE_DIR)})\nimport numpy, robotrain`);
  trimPackageFiles(pyodide);
  onProgress('ready', 1);
  pyodide.robotrainLoadMs = performance.now() - started;
  return pyodide;
}

// Every interpreter holds numpy's unpacked files in its in-memory file system (about 12 MB, as JS arrays).
// Once numpy is imported, most are never read again: Pyodide has already loaded every extension module (dlopen
// of the same path finds the loaded library) and imported modules are not re-read. Those files are truncated
// (they must still exist for the import system's lookups); headers, stubs and sources are removed.
const TRIM = `
import os, sys
def _trim(loaded):
    import numpy
    imported = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    drop = (".pyi", ".h", ".pxd", ".c", ".a", ".pyx", ".md", ".rst", ".template", ".build", ".pc")
    freed = 0
    for folder, _, names in os.walk(os.path.dirname(numpy.__file__)):
        for name in names:
            path = os.path.join(folder, name)
            size = os.path.getsize(path)
            if name.endswith(drop):
                os.remove(path)
            elif (name.endswith(".so") and path in loaded) or (name.endswith(".py") and path in imported):
                os.truncate(path, 0)
            else:
                continue
            freed += size
    return freed
`;

function trimPackageFiles(pyodide) {
  const namespace = pyodide.globals.get('dict')();
  try {
    pyodide.runPython(TRIM, { globals: namespace });
    const loaded = pyodide.toPy(Object.keys(pyodide._module.LDSO?.loadedLibsByName ?? {}));
    try {
      pyodide.trimmedBytes = namespace.get('_trim')(loaded);
    } finally {
      loaded.destroy();
    }
  } finally {
    namespace.destroy();
  }
}

/** Helpers bound to one interpreter. Every PyProxy they create is destroyed before they return. */
export function pyTools(pyodide) {
  const np = pyodide.pyimport('numpy');
  const json = pyodide.pyimport('json');
  const float32 = np.float32;
  return {
    np,
    /** A new numpy float32 array holding a copy of `f32` (one memcpy into the wasm heap). */
    toNumpy(f32) {
      const array = np.empty(f32.length, float32);
      const view = array.getBuffer('f32');
      try {
        view.data.set(f32);
      } finally {
        view.release();
      }
      return array;
    },
    /** A JS-owned Float32Array copy of a contiguous numpy float32 array (the proxy is not destroyed). */
    fromNumpy(array) {
      const view = array.getBuffer('f32');
      try {
        return view.data.slice();
      } finally {
        view.release();
      }
    },
    /** JSON-safe JS value of a Python object (through json.dumps); destroys `proxy` if asked. */
    toJSON(proxy, destroy = true) {
      try {
        return JSON.parse(json.dumps(proxy));
      } finally {
        if (destroy && proxy && typeof proxy.destroy === 'function') proxy.destroy();
      }
    },
    /** A Python object built from a JSON-safe JS value (lists, dicts, numbers, strings). */
    fromJSON(value) {
      return json.loads(JSON.stringify(value));
    },
    /** Call fn(...args) then destroy every PyProxy argument. */
    callAndFree(fn, ...args) {
      try {
        return fn(...args);
      } finally {
        for (const arg of args) if (arg && typeof arg.destroy === 'function') arg.destroy();
      }
    },
  };
}

/** Turn a Python exception (PythonError) into a short Error whose message is the exception line. */
export function pythonErrorMessage(error) {
  const text = String(error?.message ?? error);
  if (error?.type) {
    const lines = text.trim().split('\n');
    return lines[lines.length - 1];
  }
  return text;
}

// Small Python helpers for the page's main thread: everything that would otherwise take many PyProxy calls.
const GLUE = `
import json
import numpy as np
from robotrain import modelfile
from robotrain.config import Config
from robotrain.run import Run
from robotrain.viewer import Viewer, replay_states

def make_config(env_id, overrides_json):
    return Config.for_env(env_id, **json.loads(overrides_json))

def check_config(env_id, overrides_json):
    """'' if the overrides make a valid Config, else the ValueError text ('field: problem')."""
    try:
        Config.for_env(env_id, **json.loads(overrides_json))
        return ""
    except (ValueError, TypeError) as e:
        return str(e)

def env_defaults(env_id):
    return json.dumps(Config.for_env(env_id).to_dict())

def field_specs(env_id):
    return json.dumps(Config.field_specs(env_id))

def run_from_bytes(data):
    return Run.from_bytes(data.to_bytes())

def run_to_bytes(run):
    return run.to_bytes()

def save_model(run):
    return modelfile.dumps(run.config, run.learner.q.params, run.policy_version, run.env_steps)

_loaded = {}

def load_model(data, expect_env):
    """Validate a model file (bytes from JS or a str); keep it for apply_model; return its facts as JSON."""
    raw = data if isinstance(data, str) else data.to_bytes()
    m = modelfile.loads(raw, expect_env or None)
    _loaded.clear()
    _loaded.update(m)
    return json.dumps({"config": m["config"].to_dict(), "policy_version": m["policy_version"],
                       "env_steps": m["env_steps"], "env_id": m["env_id"]})

def apply_model(run, viewer):
    run.learner.load_params(_loaded["params"])
    return True

def evaluate_now(run):
    """Mean greedy return of the current weights over the run's evaluation episodes (same seeds as its evals)."""
    from robotrain.train import evaluate
    c = run.config
    return float(evaluate(c.env_id, c.seed, c.hidden_sizes, run.learner.q.params, c.eval_episodes))

def params_equal_loaded(run):
    return bool(np.array_equal(run.learner.q.params, _loaded["params"]))

def view_state(viewer):
    return viewer.env.state[0].tolist()

def push(viewer, impulse):
    before = viewer.env.state[0].tolist()
    viewer.push(float(impulse))
    return json.dumps({"before": before, "after": viewer.env.state[0].tolist(), "index": int(viewer.env.push_index)})

def replay(env_id, run_seed, episode_id, actions):
    a = np.frombuffer(actions.to_bytes(), dtype=np.uint8).astype(np.int64)
    states = replay_states(env_id, int(run_seed), int(episode_id), a)
    return states.astype(np.float32).ravel(), states.shape[1]
`;

/** The page's helper functions (a dict of Python callables); get one with glue.get(name). */
export function loadGlue(pyodide) {
  const namespace = pyodide.globals.get('dict')();
  pyodide.runPython(GLUE, { globals: namespace });
  return namespace;
}
