"""The flat float32 layouts that cross a boundary (worker <-> page, actor <-> learner, Ray object store, files).

This is the only module that knows these layouts; JavaScript moves the buffers and reads a few header fields.
Every buffer starts with the same 16-float header; integers are stored as exact float32 integers, which is why
they must stay below 2**24.

| header index | field |
|---|---|
| 0 | MAGIC |
| 1 | FORMAT |
| 2 | KIND (KIND_TRAJECTORIES or KIND_WEIGHTS) |
| 3 | HEADER_LEN |
| 4 | total length of the buffer, floats |
| 5 | policy version |
| 6.. | kind-specific, below; unused fields are 0 |

Trajectory batch: header[6] = E episodes, [7] = T transitions, [8] = D observation size, [9] = W row width.
Then E episode rows ``[episode_id, length, return, terminated]`` and T transition rows (layout ``ROW_*``),
the transitions of each episode contiguous and in episode-table order.

Weight vector: header[6] = P parameters, then the P parameters.
"""

from dataclasses import dataclass

import numpy as np

MAGIC = 7254.0
FORMAT = 1
KIND_TRAJECTORIES = 1
KIND_WEIGHTS = 2
HEADER_LEN = 16
EPISODE_COLS = 4  # episode_id, length, return, terminated (0/1)
MAX_INT = 2**24  # float32 holds every integer below this exactly

H_MAGIC, H_FORMAT, H_KIND, H_HEADER_LEN, H_TOTAL, H_VERSION = range(6)
H_EPISODES, H_TRANSITIONS, H_OBS_DIM, H_ROW_WIDTH = 6, 7, 8, 9
H_PARAMS = 6


def row_width(obs_dim: int) -> int:
    """Floats per transition row: obs, action, reward, next_obs, terminated, truncated."""
    return 2 * obs_dim + 4


def row_slices(obs_dim: int) -> dict[str, slice | int]:
    """Column positions inside a transition row (shared with the replay buffer, whose rows are these rows)."""
    d = obs_dim
    return {"obs": slice(0, d), "action": d, "reward": d + 1, "next_obs": slice(d + 2, 2 * d + 2),
            "terminated": 2 * d + 2, "truncated": 2 * d + 3}


@dataclass(frozen=True)
class TrajectoryBatch:
    """An unpacked trajectory batch; arrays are views into the buffer it came from."""

    policy_version: int
    episodes: np.ndarray  # float32 (E, 4): episode_id, length, return, terminated
    transitions: np.ndarray  # float32 (T, W)
    obs_dim: int

    @property
    def episode_ids(self) -> np.ndarray:
        return self.episodes[:, 0].astype(np.int64)


def _header(kind: int, total: int, version: int) -> np.ndarray:
    _check_int("policy version", version)
    h = np.zeros(HEADER_LEN, dtype=np.float32)
    h[[H_MAGIC, H_FORMAT, H_KIND, H_HEADER_LEN, H_TOTAL, H_VERSION]] = [MAGIC, FORMAT, kind, HEADER_LEN, total, version]
    return h


def _check_int(what: str, value) -> None:
    if not 0 <= int(value) < MAX_INT:
        raise ValueError(f"{what} {value} does not fit the codec (must be in [0, 2**24))")


def pack_trajectories(episodes: np.ndarray, transitions: np.ndarray, obs_dim: int, policy_version: int) -> np.ndarray:
    """Pack an episode table (E, 4) and transition rows (T, W) into one float32 buffer."""
    episodes = np.asarray(episodes, dtype=np.float32)
    transitions = np.asarray(transitions, dtype=np.float32)
    w = row_width(obs_dim)
    if episodes.ndim != 2 or episodes.shape[1] != EPISODE_COLS:
        raise ValueError(f"episode table must have shape (E, {EPISODE_COLS}), got {episodes.shape}")
    if transitions.ndim != 2 or transitions.shape[1] != w:
        raise ValueError(f"transitions must have shape (T, {w}) for obs_dim {obs_dim}, got {transitions.shape}")
    if episodes.size and int(episodes[:, 1].sum()) != len(transitions):
        raise ValueError(f"episode lengths sum to {int(episodes[:, 1].sum())} but there are {len(transitions)} transitions")
    for eid in episodes[:, 0]:
        _check_int("episode id", eid)
    total = HEADER_LEN + episodes.size + transitions.size
    _check_int("buffer length", total)
    out = np.empty(total, dtype=np.float32)
    out[:HEADER_LEN] = _header(KIND_TRAJECTORIES, total, policy_version)
    out[[H_EPISODES, H_TRANSITIONS, H_OBS_DIM, H_ROW_WIDTH]] = [len(episodes), len(transitions), obs_dim, w]
    out[HEADER_LEN:HEADER_LEN + episodes.size] = episodes.ravel()
    out[HEADER_LEN + episodes.size:] = transitions.ravel()
    return out


def _check_header(buf, kind: int) -> np.ndarray:
    if not isinstance(buf, np.ndarray) or buf.dtype != np.float32 or buf.ndim != 1:
        raise ValueError(f"codec buffer must be a 1-D float32 array, got {type(buf).__name__} {getattr(buf, 'dtype', '')}")
    if len(buf) < HEADER_LEN:
        raise ValueError(f"codec buffer is truncated: {len(buf)} floats, the header alone is {HEADER_LEN}")
    h = buf[:HEADER_LEN]
    if h[H_MAGIC] != MAGIC:
        raise ValueError(f"codec buffer has a bad magic number {h[H_MAGIC]!r} (expected {MAGIC})")
    if h[H_FORMAT] != FORMAT or h[H_HEADER_LEN] != HEADER_LEN:
        raise ValueError(f"codec buffer has format {h[H_FORMAT]!r}, header {h[H_HEADER_LEN]!r}; this build reads format {FORMAT}")
    if h[H_KIND] != kind:
        raise ValueError(f"codec buffer holds kind {h[H_KIND]!r}, expected {kind}")
    if h[H_TOTAL] != len(buf):
        raise ValueError(f"codec buffer length {len(buf)} does not match its header ({h[H_TOTAL]!r}): truncated or padded")
    return h


def unpack_trajectories(buf: np.ndarray) -> TrajectoryBatch:
    """Check and unpack a trajectory batch; ``ValueError`` names what is wrong with a corrupt buffer."""
    h = _check_header(buf, KIND_TRAJECTORIES)
    n_ep, n_tr, d, w = (int(h[i]) for i in (H_EPISODES, H_TRANSITIONS, H_OBS_DIM, H_ROW_WIDTH))
    if d < 1 or w != row_width(d):
        raise ValueError(f"trajectory batch has obs_dim {d} and row width {w}; expected width {row_width(d)}")
    if HEADER_LEN + n_ep * EPISODE_COLS + n_tr * w != len(buf):
        raise ValueError(f"trajectory batch sizes ({n_ep} episodes, {n_tr} transitions) do not add up to {len(buf)} floats")
    episodes = buf[HEADER_LEN:HEADER_LEN + n_ep * EPISODE_COLS].reshape(n_ep, EPISODE_COLS)
    transitions = buf[HEADER_LEN + n_ep * EPISODE_COLS:].reshape(n_tr, w)
    if not (np.all(np.isfinite(episodes)) and np.all(np.isfinite(transitions))):
        raise ValueError("trajectory batch contains NaN or Inf")
    if int(episodes[:, 1].sum()) != n_tr or np.any(episodes[:, 1] < 1):
        raise ValueError("trajectory batch episode lengths do not match its transitions")
    return TrajectoryBatch(int(h[H_VERSION]), episodes, transitions, d)


def pack_weights(params: np.ndarray, policy_version: int) -> np.ndarray:
    """Pack a flat float32 parameter vector with its policy version."""
    params = np.asarray(params)
    if params.dtype != np.float32 or params.ndim != 1:
        raise ValueError(f"weights must be a 1-D float32 vector, got {params.dtype} {params.shape}")
    total = HEADER_LEN + len(params)
    _check_int("buffer length", total)
    out = np.empty(total, dtype=np.float32)
    out[:HEADER_LEN] = _header(KIND_WEIGHTS, total, policy_version)
    out[H_PARAMS] = len(params)
    out[HEADER_LEN:] = params
    return out


def unpack_weights(buf: np.ndarray, expected_params: int | None = None) -> tuple[np.ndarray, int]:
    """Return ``(params, policy_version)``; ``ValueError`` on a corrupt buffer, wrong length or NaN/Inf."""
    h = _check_header(buf, KIND_WEIGHTS)
    n = int(h[H_PARAMS])
    if HEADER_LEN + n != len(buf):
        raise ValueError(f"weight vector says {n} parameters but carries {len(buf) - HEADER_LEN}")
    if expected_params is not None and n != expected_params:
        raise ValueError(f"weight vector has {n} parameters; this network needs {expected_params}")
    params = buf[HEADER_LEN:]
    if not np.all(np.isfinite(params)):
        raise ValueError("weight vector contains NaN or Inf")
    return params, int(h[H_VERSION])
