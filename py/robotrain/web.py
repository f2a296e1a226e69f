"""The page's Python on its main thread: what web/js calls through Pyodide, each in one call.

Every function takes and returns plain values, JSON text, numpy arrays or robotrain objects, so one PyProxy
call does what would otherwise take many. The JS side holds no Python source; these functions are tested under
CPython (tests/test_web.py) like the rest of the core. What every interpreter and the workers call is in
``robotrain.webhost``, which imports only what a worker needs.
"""

import json

import numpy as np

from . import modelfile
from .config import Config
from .envs import ENV_NAMES
from .evaluation import evaluate
from .run import Run
from .schedule import Schedule
from .viewer import replay_states

def _bytes(data) -> bytes:
    """Bytes from a JS Uint8Array/ArrayBuffer proxy (``to_bytes``) or from bytes already."""
    return data.to_bytes() if hasattr(data, "to_bytes") else bytes(data)


# ---- configuration ------------------------------------------------------------------------------------

def env_names() -> str:
    return json.dumps(list(ENV_NAMES))


def make_config(env_id: str, overrides_json: str) -> Config:
    return Config.for_env(env_id, **json.loads(overrides_json))


def check_config(env_id: str, overrides_json: str) -> str:
    """'' if the overrides make a valid Config, else the ValueError text ('field: problem')."""
    try:
        Config.for_env(env_id, **json.loads(overrides_json))
        return ""
    except (ValueError, TypeError) as e:
        return str(e)


def env_defaults(env_id: str, algorithm: str | None = None) -> str:
    """The env's default Config for ``algorithm`` (None: the env's default algorithm) as JSON."""
    return json.dumps(Config.for_env(env_id, algorithm=algorithm).to_dict())


def field_specs(env_id: str, algorithm: str | None = None) -> str:
    return json.dumps(Config.field_specs(env_id, algorithm))


# ---- runs, model files --------------------------------------------------------------------------------

def run_from_bytes(data) -> Run:
    return Run.from_bytes(_bytes(data))


def run_to_bytes(run: Run) -> bytes:
    return run.to_bytes()


def save_model(run: Run) -> str:
    return modelfile.dumps(run.config, run.learner.q.params, run.policy_version, run.env_steps)


_loaded = {}  # the last model file load_model validated, for apply_model


def load_model(data, expect_env: str) -> str:
    """Validate a model file (bytes from JS or a str); keep it for apply_model; return its facts as JSON."""
    raw = data if isinstance(data, str) else _bytes(data)
    m = modelfile.loads(raw, expect_env or None)
    _loaded.clear()
    _loaded.update(m)
    return json.dumps({"config": m["config"].to_dict(), "policy_version": m["policy_version"],
                       "env_steps": m["env_steps"], "env_id": m["env_id"]})


def apply_model(run: Run) -> None:
    """Load the weights of the model file ``load_model`` validated last into ``run``'s learner."""
    if not _loaded:
        raise ValueError("no model file has been loaded")
    run.learner.load_params(_loaded["params"])


def evaluate_now(run: Run) -> float:
    """Mean greedy return of the current weights over the run's evaluation episodes (same seeds as its evals)."""
    c = run.config
    return float(evaluate(c.env_id, c.seed, c.hidden_sizes, run.learner.q.params, c.eval_episodes, c.layer_norm))


# ---- the schedule ---------------------------------------------------------------------------------------

def new_schedule(run: Run, mode: str) -> Schedule:
    """The page's schedule: 'main' mode (no workers) keeps the sync order."""
    return Schedule(run, "sync" if mode == "main" else mode)


def next_command(commands) -> str | None:
    """The next command of a schedule generator as JSON text; None when it has no more."""
    command = next(commands, None)
    return None if command is None else json.dumps(command)


# ---- the live view and replays -------------------------------------------------------------------------

def view_state(viewer) -> list:
    return viewer.env.state[0].tolist()


def push(viewer, impulse: float) -> str:
    before = viewer.env.state[0].tolist()
    viewer.push(float(impulse))
    return json.dumps({"before": before, "after": viewer.env.state[0].tolist(), "index": int(viewer.env.push_index)})


def replay(env_id: str, run_seed: int, episode_id: int, actions) -> tuple:
    """An episode re-simulated from its actions (uint8 bytes): (float32 states flattened, state dim)."""
    a = np.frombuffer(_bytes(actions), dtype=np.uint8).astype(np.int64)
    states = replay_states(env_id, int(run_seed), int(episode_id), a)
    return states.astype(np.float32).ravel(), states.shape[1]
