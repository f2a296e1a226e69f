"""Replay buffer: a preallocated float32 ring whose rows are the codec's transition rows.

Because a row here is exactly a row of a packed trajectory batch (``codec.row_slices``), inserting a whole
batch is one slice copy (two when it wraps around the end of the ring), never a Python loop per transition.

Batches always hold whole episodes, so the transitions of one episode sit in consecutive rows (modulo the
ring). That lets ``sample`` build n-step returns by looking ahead up to n - 1 rows, stopping at the row that
ends the episode: rows after a sampled one in its episode are newer, so they are never overwritten first.
"""

import numpy as np

from . import kernel as simd
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
        self.kernel = simd.active()  # the same transitions, gathered in one C call (robotrain.kernel)

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

    def sample(self, batch_size: int, rng: np.random.Generator, n_step: int = 1, gamma: float = 0.99) -> dict[str, np.ndarray]:
        """Draw ``batch_size`` transitions uniformly with replacement, as n-step transitions.

        Returns obs, actions, the discounted reward sum over up to ``n_step`` steps, the observation after
        them (``next_obs``), whether the episode terminated within them, and ``discount`` = gamma ** k for the
        k steps taken (the factor on the bootstrap value). With ``n_step=1`` these are the stored rows.
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        c = self.cols
        idx = rng.integers(0, self.size, size=batch_size)
        if self.kernel is not None:
            out, discount = self.kernel.replay_gather(self.rows, idx, self.obs_dim, n_step, gamma)
            return {"obs": out[:, c["obs"]], "actions": out[:, c["action"]].astype(np.int64),
                    "rewards": out[:, c["reward"]], "next_obs": out[:, c["next_obs"]],
                    "terminated": out[:, c["terminated"]], "truncated": out[:, c["truncated"]], "discount": discount}
        first = self.rows[idx]
        rewards = first[:, c["reward"]].copy()
        last = first
        alive = (first[:, c["terminated"]] == 0) & (first[:, c["truncated"]] == 0)  # episode goes on after step
        discount = np.full(batch_size, gamma, dtype=np.float32)
        for k in range(1, n_step):
            # Steps beyond the newest row cannot belong to a sampled episode: it would have ended first.
            nxt = self.rows[(idx + k) % self.capacity]
            rewards += np.where(alive, discount * nxt[:, c["reward"]], 0.0).astype(np.float32)
            last = np.where(alive[:, None], nxt, last)
            discount = np.where(alive, discount * gamma, discount).astype(np.float32)
            alive &= (nxt[:, c["terminated"]] == 0) & (nxt[:, c["truncated"]] == 0)
        return {
            "obs": first[:, c["obs"]],
            "actions": first[:, c["action"]].astype(np.int64),
            "rewards": rewards,
            "next_obs": last[:, c["next_obs"]],
            "terminated": last[:, c["terminated"]],
            "truncated": last[:, c["truncated"]],
            "discount": discount,
        }
