// Loading robotrain into a Pyodide interpreter, and moving buffers in and out of it.
// Used by the actor workers and by the main thread alike.

const PACKAGE_DIR = '/home/pyodide/robotrain_pkg';

/**
 * Load Pyodide + numpy + robotrain from the site root `baseURL` (a URL ending in '/').
 * onProgress(stage, fraction) is called as loading advances; returns the pyodide object.
 */
export async function loadRobotrain(baseURL, onProgress = () => {}) {
  const started = performance.now();
  onProgress('runtime', 0.05);
  const { loadPyodide } = await import(new URL('pyodide/pyodide.mjs', baseURL).href);
  const pyodide = await loadPyodide({
    indexURL: new URL('pyodide/', baseURL).href,
    stdout: (line) => console.log(`[python] ${line}`),
    stderr: (line) => console.log(`[python stderr] ${line}`),
  });
  onProgress('numpy', 0.6);
  await pyodide.loadPackage('numpy', { messageCallback: () => {}, errorCallback: (m) => console.log(m) });
  onProgress('robotrain', 0.85);
  const response = await fetch(new URL('py/robotrain.zip', baseURL));
  if (!response.ok) throw new Error(`could not fetch py/robotrain.zip: HTTP ${response.status}`);
  pyodide.unpackArchive(await response.arrayBuffer(), 'zip', { extractDir: PACKAGE_DIR });
  pyodide.runPython(`import sys\nif ${JSON.stringify(PACKAGE_DIR)} not in sys.path: sys.path.insert(0, ${JSON.stringify(PACKAGE_DIR)})\nimport numpy, robotrain`);
  onProgress('ready', 1);
  pyodide.robotrainLoadMs = performance.now() - started;
  return pyodide;
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
