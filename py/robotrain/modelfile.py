"""The model file: one JSON document with a trained Q-network, its config and its versions.

The same file moves between the page (save / load buttons), the CPython trainer and the Ray backend:

    {"format": "robotrain-model", "format_version": 1, "robotrain": "0.1.0",
     "env_id": "cartpole", "obs_dim": 4, "num_actions": 2, "hidden_sizes": [64, 64],
     "policy_version": 12345, "env_steps": 50000, "config": {...Config.to_dict()...},
     "params_f32_b64": "<base64 of the little-endian float32 parameter vector>", "params_sha256": "<hex>"}

Loading treats the file as data only: a size limit, JSON parsing, and checks of every field (format, env,
shape, length, checksum, finite values); anything wrong raises ``ValueError`` naming the problem.
"""

import base64
import hashlib
import json

import numpy as np

from . import __version__
from .config import Config
from .envs import make
from .qnet import layer_sizes, num_params

FORMAT = "robotrain-model"
FORMAT_VERSION = 1
MAX_BYTES = 50 * 1024 * 1024  # larger files are refused before parsing


def dumps(config: Config, params: np.ndarray, policy_version: int, env_steps: int = 0) -> str:
    """Serialize a model; ``params`` is the flat float32 parameter vector."""
    params = np.ascontiguousarray(params, dtype="<f4")
    env = make(config.env_id, 1, 0)
    raw = params.tobytes()
    return json.dumps({
        "format": FORMAT, "format_version": FORMAT_VERSION, "robotrain": __version__,
        "env_id": config.env_id, "obs_dim": env.obs_dim, "num_actions": env.num_actions,
        "hidden_sizes": list(config.hidden_sizes), "policy_version": int(policy_version),
        "env_steps": int(env_steps), "config": config.to_dict(),
        "params_f32_b64": base64.b64encode(raw).decode("ascii"), "params_sha256": hashlib.sha256(raw).hexdigest(),
    })


def loads(data, expect_env: str | None = None) -> dict:
    """Parse and validate a model file (str or bytes); returns config, params and versions.

    ``expect_env`` rejects a model trained on another environment.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if len(data) > MAX_BYTES:
            raise ValueError(f"model file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES / 2**20:.0f} MB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("model file is not text: expected a robotrain JSON model file") from None
    if not isinstance(data, str):
        raise ValueError(f"model file must be text or bytes, got {type(data).__name__}")
    if len(data) > MAX_BYTES:
        raise ValueError(f"model file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES / 2**20:.0f} MB")
    if not data.strip():
        raise ValueError("model file is empty")
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as e:
        raise ValueError(f"model file is not valid JSON (truncated or corrupt?): {e.msg} at character {e.pos}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a robotrain model file (missing \"format\": \"robotrain-model\")")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"model file format_version {doc.get('format_version')!r}; this version reads {FORMAT_VERSION}")
    config = Config.from_dict(_field(doc, "config", dict))
    env_id = _field(doc, "env_id", str)
    if env_id != config.env_id:
        raise ValueError(f"model file says env {env_id!r} but its config says {config.env_id!r}")
    if expect_env is not None and env_id != expect_env:
        raise ValueError(f"model file is for env {env_id!r}, not {expect_env!r}")
    env = make(env_id, 1, 0)
    if _field(doc, "obs_dim", int) != env.obs_dim or _field(doc, "num_actions", int) != env.num_actions:
        raise ValueError(f"model file shape obs_dim={doc['obs_dim']}, num_actions={doc['num_actions']} does not fit "
                         f"{env_id} (obs_dim={env.obs_dim}, num_actions={env.num_actions})")
    if list(_field(doc, "hidden_sizes", list)) != list(config.hidden_sizes):
        raise ValueError("model file hidden_sizes disagree with its config")
    try:
        raw = base64.b64decode(_field(doc, "params_f32_b64", str), validate=True)
    except ValueError:
        raise ValueError("model file parameters are not valid base64") from None
    expected = num_params(layer_sizes(env.obs_dim, config.hidden_sizes, env.num_actions), config.layer_norm)
    if len(raw) != 4 * expected:
        raise ValueError(f"model file carries {len(raw) // 4} parameters; hidden sizes {list(config.hidden_sizes)} "
                         f"({config.algorithm}) need {expected}")
    if hashlib.sha256(raw).hexdigest() != _field(doc, "params_sha256", str):
        raise ValueError("model file parameters fail their sha256 check (corrupt)")
    params = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(params)):
        raise ValueError("model file parameters contain NaN or Inf")
    version = _field(doc, "policy_version", int)
    steps = _field(doc, "env_steps", int)
    if version < 0 or steps < 0:
        raise ValueError("model file policy_version and env_steps must be non-negative")
    return {"config": config, "params": params, "policy_version": version, "env_steps": steps, "env_id": env_id}


def _field(doc: dict, name: str, kind: type):
    value = doc.get(name)
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ValueError(f"model file field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def save(path: str, config: Config, params: np.ndarray, policy_version: int, env_steps: int = 0) -> None:
    with open(path, "w") as f:
        f.write(dumps(config, params, policy_version, env_steps))


def load(path: str, expect_env: str | None = None) -> dict:
    with open(path, "rb") as f:
        head = f.read(MAX_BYTES + 1)
    return loads(head, expect_env)
