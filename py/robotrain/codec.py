"""The flat float32 layouts that cross a boundary (worker <-> page, actor <-> learner, Ray object store, files).

This is the only module that knows these layouts; JavaScript moves the buffers and reads a few header fields.
Every buffer starts with the same 16-float header; integers are stored as exact float32 integers, which is why
they must stay below 2**24.

| header index | field |
|---|---|
| 0 | MAGIC |
| 1 | FORMAT |
| 2 | KIND (KIND_TRAJECTORIES, KIND_WEIGHTS or KIND_SEGMENT) |
| 3 | HEADER_LEN |
| 4 | total length of the buffer, floats |
| 5 | policy version |
| 6.. | kind-specific, below; unused fields are 0 |

Trajectory batch: header[6] = E episodes, [7] = T transitions, [8] = D observation size, [9] = W row width.
Then E episode rows ``[episode_id, length, return, terminated]`` and T transition rows (layout ``ROW_*``),
the transitions of each episode contiguous and in episode-table order.

Weight vector: header[6] = P parameters, then the P parameters.

Segment (PQN's unit of work: ``steps`` steps of each of a lane group's ``lanes`` persistent environments):
header[6] = E episodes that ended in it, [7] = T = lanes x steps transitions, [8] = D, [9] = W, [10] = lanes,
[11] = S lane-table width, [12] = segment id, [13] = steps. Then E episode rows (as above; an episode's length and
return are the whole episode's, earlier segments included), the lane table at the segment's end (lanes rows of
``LANE_*`` columns: what the next segment of the group starts from) and the T transition rows, lane-major: lane
0's steps in time order, then lane 1's, so a lane's episodes follow each other in its rows.
"""

from dataclasses import dataclass

import numpy as np

MAGIC = 7254.0
FORMAT = 1
KIND_TRAJECTORIES = 1
KIND_WEIGHTS = 2
KIND_SEGMENT = 3
HEADER_LEN = 16
EPISODE_COLS = 4  # episode_id, length, return, terminated (0/1)
MAX_INT = 2**24  # float32 holds every integer below this exactly

H_MAGIC, H_FORMAT, H_KIND, H_HEADER_LEN, H_TOTAL, H_VERSION = range(6)
H_EPISODES, H_TRANSITIONS, H_OBS_DIM, H_ROW_WIDTH = 6, 7, 8, 9
H_PARAMS = 6
H_LANES, H_LANE_COLS, H_SEGMENT_ID, H_STEPS = 10, 11, 12, 13
# Lane table columns: the episode the lane plays (or starts next), its steps so far (0: not started, reset it from
# its seed), its return so far, then the environment's state row (float32 here; a segment starts from it exactly).
LANE_EPISODE, LANE_ELAPSED, LANE_RETURN, LANE_STATE = 0, 1, 2, 3


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


def lane_cols(state_dim: int) -> int:
    """Floats per lane-table row: episode id, elapsed steps, return so far, the state row."""
    return LANE_STATE + int(state_dim)


@dataclass(frozen=True)
class Segment:
    """An unpacked segment; arrays are views into the buffer it came from."""

    policy_version: int
    segment_id: int
    episodes: np.ndarray  # float32 (E, 4): the episodes that ended in this segment
    lanes: np.ndarray  # float32 (L, S): the lane table at the segment's end
    transitions: np.ndarray  # float32 (L, steps, W), lane-major
    obs_dim: int


def pack_segment(episodes: np.ndarray, lanes: np.ndarray, transitions: np.ndarray, obs_dim: int,
                 segment_id: int, policy_version: int) -> np.ndarray:
    """Pack a segment: episode table (E, 4), end lane table (L, S) and transitions (L, steps, W)."""
    episodes = np.asarray(episodes, dtype=np.float32).reshape(-1, EPISODE_COLS)
    lanes = np.asarray(lanes, dtype=np.float32)
    transitions = np.asarray(transitions, dtype=np.float32)
    w = row_width(obs_dim)
    if lanes.ndim != 2 or lanes.shape[1] <= LANE_STATE:
        raise ValueError(f"lane table must have shape (L, > {LANE_STATE}), got {lanes.shape}")
    if transitions.ndim != 3 or transitions.shape[0] != len(lanes) or transitions.shape[2] != w:
        raise ValueError(f"transitions must have shape ({len(lanes)}, steps, {w}), got {transitions.shape}")
    _check_int("segment id", segment_id)
    for eid in np.concatenate([episodes[:, 0], lanes[:, LANE_EPISODE]]):
        _check_int("episode id", eid)
    total = HEADER_LEN + episodes.size + lanes.size + transitions.size
    _check_int("buffer length", total)
    out = np.empty(total, dtype=np.float32)
    out[:HEADER_LEN] = _header(KIND_SEGMENT, total, policy_version)
    out[[H_EPISODES, H_TRANSITIONS, H_OBS_DIM, H_ROW_WIDTH, H_LANES, H_LANE_COLS, H_SEGMENT_ID, H_STEPS]] = [
        len(episodes), transitions.shape[0] * transitions.shape[1], obs_dim, w, len(lanes), lanes.shape[1],
        segment_id, transitions.shape[1]]
    at = HEADER_LEN
    for part in (episodes, lanes, transitions):
        out[at:at + part.size] = part.ravel()
        at += part.size
    return out


def unpack_segment(buf: np.ndarray) -> Segment:
    """Check and unpack a segment; ``ValueError`` names what is wrong with a corrupt buffer."""
    h = _check_header(buf, KIND_SEGMENT)
    n_ep, n_tr, d, w, n_lanes, s, seg, steps = (int(h[i]) for i in (
        H_EPISODES, H_TRANSITIONS, H_OBS_DIM, H_ROW_WIDTH, H_LANES, H_LANE_COLS, H_SEGMENT_ID, H_STEPS))
    if d < 1 or w != row_width(d):
        raise ValueError(f"segment has obs_dim {d} and row width {w}; expected width {row_width(d)}")
    if n_lanes < 1 or steps < 1 or s <= LANE_STATE or n_tr != n_lanes * steps:
        raise ValueError(f"segment has {n_lanes} lanes x {steps} steps, lane width {s} and {n_tr} transitions: inconsistent")
    if HEADER_LEN + n_ep * EPISODE_COLS + n_lanes * s + n_tr * w != len(buf):
        raise ValueError(f"segment sizes ({n_ep} episodes, {n_lanes} lanes, {n_tr} transitions) do not add up to {len(buf)} floats")
    at = HEADER_LEN
    episodes = buf[at:at + n_ep * EPISODE_COLS].reshape(n_ep, EPISODE_COLS)
    at += episodes.size
    lanes = buf[at:at + n_lanes * s].reshape(n_lanes, s)
    transitions = buf[at + lanes.size:].reshape(n_lanes, steps, w)
    if not np.all(np.isfinite(buf[HEADER_LEN:])):
        raise ValueError("segment contains NaN or Inf")
    if np.any(episodes[:, 1] < 1):
        raise ValueError("segment has an episode of length < 1")
    return Segment(int(h[H_VERSION]), seg, episodes, lanes, transitions, d)


def kind_of(buf) -> int:
    """The KIND of a codec buffer whose header is valid (``ValueError`` otherwise)."""
    if not isinstance(buf, np.ndarray) or buf.dtype != np.float32 or buf.ndim != 1 or len(buf) < HEADER_LEN:
        raise ValueError("not a codec buffer: need a 1-D float32 array with a header")
    kind = int(buf[H_KIND])
    _check_header(buf, kind)
    return kind
