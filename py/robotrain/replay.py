"""Replay buffer: a preallocated float32 ring whose rows are the codec's transition rows.

Because a row here is exactly a row of a packed trajectory batch (``codec.row_slices``), inserting a whole
batch is one slice copy (two when it wraps around the end of the ring), never a Python loop per transition.
"""

import numpy as np

from .codec import row_slices, row_width


class ReplayBuffer:
    """Ring of ``capacity`` transition rows, float32 ``(capacity, 2 * obs_dim + 4)``."""

    def __init__(self, capacity: int, obs_dim: int):
        if capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.obs_dim = int(obs_dim)
        self.rows = np.zeros((self.capacity, row_width(obs_dim)), dtype=np.float32)
        self.cols = row_slices(obs_dim)
        self.pos = 0  # next row to write
        self.size = 0  # rows holding data
        self.added = 0  # rows ever added

    def __len__(self) -> int:
        return self.size

    def add(self, rows: np.ndarray) -> None:
        """Append transition rows (T, W); only the newest ``capacity`` survive when T is larger."""
        if rows.ndim != 2 or rows.shape[1] != self.rows.shape[1]:
            raise ValueError(f"replay rows must have shape (T, {self.rows.shape[1]}), got {rows.shape}")
        n = len(rows)
        self.added += n
        if n >= self.capacity:
            self.rows[:] = rows[n - self.capacity:]
            self.pos, self.size = 0, self.capacity
            return
        first = min(n, self.capacity - self.pos)
        self.rows[self.pos:self.pos + first] = rows[:first]
        self.rows[:n - first] = rows[first:]
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draw ``batch_size`` rows uniformly with replacement; returns column views of one gathered block."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        block = self.rows[rng.integers(0, self.size, size=batch_size)]
        c = self.cols
        return {
            "obs": block[:, c["obs"]],
            "actions": block[:, c["action"]].astype(np.int64),
            "rewards": block[:, c["reward"]],
            "next_obs": block[:, c["next_obs"]],
            "terminated": block[:, c["terminated"]],
            "truncated": block[:, c["truncated"]],
        }
