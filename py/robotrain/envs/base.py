"""The vector-environment contract every robotrain environment follows.

An environment holds ``num_envs`` independent lanes in one float64 state array ``state`` of shape
``(num_envs, state_dim)``. Its dynamics are written once, batched over lanes; a single environment is
``num_envs=1``. ``step`` never resets a lane: the caller decides which lanes start a new episode with
``reset(mask, seeds)``. That keeps the true next observation of a finished episode available and lets an
actor give each lane the seed of the episode id it is about to play.

Each lane owns a ``np.random.Generator`` used only for its initial states. ``reset(mask, seeds)`` replaces the
generators of the lanes it resets with ``np.random.default_rng(seed)``, which is exactly the generator
Gymnasium's ``env.reset(seed=seed)`` creates, so a lane reset with seed ``s`` starts where Gymnasium does.
"""

import numpy as np


class VectorEnv:
    """Base class: lane bookkeeping, argument checking and the reset/step contract.

    Subclasses set the class attributes below and implement ``_initial_state(rng) -> (state_dim,)``,
    ``_advance(actions) -> (reward, terminated)`` (updates ``self.state`` for all lanes in place) and
    ``_observe(state) -> (n, obs_dim) float32``; ``draw_spec()`` describes how to draw a state.
    """

    name: str = ""
    obs_dim: int = 0
    state_dim: int = 0
    num_actions: int = 0
    max_steps: int = 0  # truncation limit, in steps
    solved_threshold: float = 0.0  # mean greedy return over 20 episodes that counts as solved
    push_index: int = 0  # state column that ``push`` disturbs (an angular velocity, rad/s)

    def __init__(self, num_envs: int = 1, seed: int = 0):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.num_envs = int(num_envs)
        self.state = np.zeros((self.num_envs, self.state_dim), dtype=np.float64)
        self.elapsed = np.zeros(self.num_envs, dtype=np.int64)  # steps since each lane's reset
        self.rngs = [np.random.default_rng([int(seed), lane]) for lane in range(self.num_envs)]
        self._obs = np.zeros((self.num_envs, self.obs_dim), dtype=np.float32)

    def reset(self, mask=None, seeds=None) -> np.ndarray:
        """Start new episodes in the lanes where ``mask`` is true (all lanes when ``mask`` is None).

        ``seeds``, if given, holds one integer per reset lane (in lane order) and re-seeds those lanes.
        Returns the observation of every lane, float32 ``(num_envs, obs_dim)``.
        """
        lanes = self._lanes(mask)
        if seeds is not None:
            seeds = np.ravel(seeds).tolist()
            if len(seeds) != len(lanes):
                raise ValueError(f"reset got {len(seeds)} seeds for {len(lanes)} lanes")
            for lane, seed in zip(lanes, seeds):
                if not isinstance(seed, int) or seed < 0:
                    raise ValueError(f"{self.name}: reset seeds must be non-negative integers, got {seed!r}")
                self.rngs[lane] = np.random.default_rng(seed)
        for lane in lanes:
            self.state[lane] = self._initial_state(self.rngs[lane])
        self.elapsed[lanes] = 0
        self._obs[lanes] = self._observe_initial(self.state[lanes])
        return self._obs.copy()

    def restore(self, lanes, states, elapsed, seeds) -> None:
        """Put ``lanes`` (index array) back into saved states: rows of ``state`` (float, ``(len(lanes),
        state_dim)``), steps since their reset, and fresh generators from ``seeds`` (one entry per lane, anything
        ``np.random.default_rng`` takes). A PQN segment that continues an episode starts here."""
        lanes = np.asarray(lanes, dtype=np.int64)
        states = np.asarray(states, dtype=np.float64)
        if states.shape != (len(lanes), self.state_dim):
            raise ValueError(f"{self.name}: restore needs states of shape ({len(lanes)}, {self.state_dim}), got {states.shape}")
        if not np.all(np.isfinite(states)):
            raise ValueError(f"{self.name}: restore states must be finite")
        self.state[lanes] = states
        self.elapsed[lanes] = elapsed
        for lane, seed in zip(lanes.tolist(), seeds):
            self.rngs[lane] = np.random.default_rng(seed)
        self._obs[lanes] = self._observe(self.state[lanes])

    def step(self, actions):
        """Advance every lane by one step with integer ``actions`` of shape ``(num_envs,)``.

        Returns ``(obs, reward, terminated, truncated)``: float32 ``(n, obs_dim)``, float32 ``(n,)``,
        bool ``(n,)``, bool ``(n,)``. ``obs`` is the true next observation; no lane is reset here.
        """
        actions = self.check_actions(actions)
        reward, terminated = self._advance(actions)
        self.elapsed += 1
        truncated = self.elapsed >= self.max_steps
        self._obs[:] = self._observe(self.state)
        return self._obs.copy(), reward.astype(np.float32), terminated, truncated

    def observe(self) -> np.ndarray:
        """The last observation of every lane (as returned by the latest reset or step)."""
        return self._obs.copy()

    def check_actions(self, actions) -> np.ndarray:
        """Return ``actions`` as int64 ``(num_envs,)`` or raise ``ValueError`` naming what is wrong."""
        a = np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(f"{self.name}: actions must have shape ({self.num_envs},), got {a.shape}")
        if a.dtype.kind not in "iu":
            raise ValueError(f"{self.name}: actions must be integers, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= self.num_actions):
            raise ValueError(
                f"{self.name}: actions must be in [0, {self.num_actions}), got values from {a.min()} to {a.max()}"
            )
        return a.astype(np.int64, copy=False)

    def push(self, lanes, impulse):
        """Disturb lanes: add ``impulse`` to state column ``push_index`` (an angular velocity, rad/s).

        This is the page's "push the robot": the policy then has to recover.

        ``lanes`` is a lane index, an array of lane indices or a bool mask of shape ``(num_envs,)``;
        ``impulse`` is a number or one number per selected lane. The lanes' observations are refreshed.
        """
        idx = self._push_lanes(lanes)
        try:
            imp = np.asarray(impulse, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: push impulse must be a number or numbers, got {impulse!r}") from None
        if imp.ndim > 1 or (imp.ndim == 1 and imp.shape != idx.shape):
            raise ValueError(f"{self.name}: push impulse must be a number or shape {idx.shape}, got shape {imp.shape}")
        if not np.all(np.isfinite(imp)):
            raise ValueError(f"{self.name}: push impulse must be finite, got {impulse!r}")
        self.state[idx, self.push_index] += imp
        self._obs[idx] = self._observe(self.state[idx])

    def _push_lanes(self, lanes) -> np.ndarray:
        """The lane indices selected by ``lanes`` (index, index array or bool mask), or ``ValueError``."""
        a = np.asarray(lanes)
        if a.dtype == np.bool_:
            if a.shape != (self.num_envs,):
                raise ValueError(f"{self.name}: push mask must have shape ({self.num_envs},), got {a.shape}")
            return np.flatnonzero(a)
        if a.dtype.kind not in "iu" or a.ndim > 1:
            raise ValueError(f"{self.name}: push lanes must be a lane index, index array or bool mask, got {lanes!r}")
        if a.size and (a.min() < 0 or a.max() >= self.num_envs):
            raise ValueError(f"{self.name}: push lanes must be in [0, {self.num_envs}), got {lanes!r}")
        idx = np.atleast_1d(a).astype(np.int64)
        if np.unique(idx).size != idx.size:
            raise ValueError(f"{self.name}: push lanes must not repeat, got {lanes!r}")
        return idx

    def draw_spec(self) -> dict:
        """JSON-safe description of how to draw one row of ``state``; see each environment."""
        raise NotImplementedError

    def _lanes(self, mask) -> np.ndarray:
        if mask is None:
            return np.arange(self.num_envs)
        m = np.asarray(mask)
        if m.shape != (self.num_envs,) or m.dtype != np.bool_:
            raise ValueError(f"{self.name}: reset mask must be bool with shape ({self.num_envs},), got {m.dtype} {m.shape}")
        return np.flatnonzero(m)

    def _observe_initial(self, state: np.ndarray) -> np.ndarray:
        """Observation right after reset; differs from ``_observe`` only where the reference env does."""
        return self._observe(state)

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _advance(self, actions: np.ndarray):
        raise NotImplementedError

    def _observe(self, state: np.ndarray) -> np.ndarray:
        raise NotImplementedError
