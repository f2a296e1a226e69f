"""PQN, parallelised Q-learning (Gallici et al., "Simplifying Deep Temporal Difference Learning", ICLR 2025),
the learner half, as in CleanRL's ``pqn.py``: no replay buffer, no target network, LayerNorm in the Q-network.

The actors play fixed-length segments of ``num_envs`` persistent environments (``robotrain.actor``); once a
rollout's worth of segments (``num_envs`` lanes x ``num_steps`` steps) has been ingested, the rollout earns
``update_epochs x num_minibatches`` updates. Its first update computes the Q(lambda) targets with the current
network, backwards along each lane:

    boot_t = (1 - terminated_t) * max_a Q(s'_t, a)           # a truncated episode bootstraps from its true s'
    G_t    = r_t + gamma * boot_t                             # at the rollout's last step or an episode's end
    G_t    = r_t + gamma * (lambda * G_{t+1} + (1 - lambda) * boot_t)   # otherwise

then every epoch shuffles the rollout and steps on each minibatch with L = mean((Q(s_t, a_t) - G_t)^2), the
gradient clipped to ``max_grad_norm``, Adam at the linearly annealed learning rate (the Double DQN learner's).
"""

from collections import deque

import numpy as np

from . import codec
from .blas import single_threaded_blas_once
from .config import Config
from .learner import LEARNER_STREAM  # the learner's own generator: initial weights, here minibatch shuffles
from .qnet import Adam, QNetwork, clip_scale


def q_lambda_returns(rewards, terminated, truncated, next_max_q, gamma: float, lam: float) -> np.ndarray:
    """Q(lambda) targets (L, T) for L lanes of T steps in time order (all arrays (L, T)); see the module doc."""
    boot = (1.0 - terminated) * next_max_q
    returns = np.empty(rewards.shape, dtype=np.float32)
    returns[:, -1] = rewards[:, -1] + gamma * boot[:, -1]
    for t in range(rewards.shape[1] - 2, -1, -1):
        cut = (terminated[:, t] + truncated[:, t]) > 0  # the episode ended at step t: G_{t+1} is another one's
        blend = lam * returns[:, t + 1] + (1.0 - lam) * boot[:, t]
        returns[:, t] = rewards[:, t] + gamma * np.where(cut, boot[:, t], blend)
    return returns


class PQNLearner:
    """Holds the Q-network, Adam and the rollouts not yet learned from; ``update`` runs one minibatch step."""

    def __init__(self, config: Config, obs_dim: int, num_actions: int):
        single_threaded_blas_once()
        self.config = config
        self.obs_dim = obs_dim
        self.rng = np.random.default_rng([config.seed, LEARNER_STREAM])
        self.q = QNetwork(obs_dim, num_actions, config.hidden_sizes, self.rng, layer_norm=True)
        self.optimizer = Adam(len(self.q.params), config.learning_rate)
        self.grad = np.zeros_like(self.q.params)
        # On the SIMD kernel (the network's passes run there), an update is one call: see update.
        o = self.optimizer
        self.fused = (self.q.kernel.pqn_step(self.grad, o.m, o.v, o.beta1, o.beta2, o.eps)
                      if self.q.kernel is not None else None)
        self.cols = codec.row_slices(obs_dim)
        self.pending = []  # segments' transitions (lanes, num_steps, W) not yet making up a whole rollout
        self.rollouts = deque()  # whole rollouts (num_envs, num_steps, W) not yet learned from, oldest first
        self.earned = 0  # updates earned by every whole rollout so far
        self.updates = 0
        self.last_loss = float("nan")
        # The rollout being learned from: its rows (N, W), targets (N,), this epoch's order (N,) and its step.
        self.rows = self.returns = self.order = None
        self.step = 0

    @property
    def policy_version(self) -> int:
        """Version of the weights: the number of updates applied to them."""
        return self.updates

    @property
    def updates_per_rollout(self) -> int:
        return self.config.update_epochs * self.config.num_minibatches

    @property
    def stored(self) -> int:
        """Transitions held and not yet fully learned from."""
        held = sum(len(p) * p.shape[1] for p in self.pending) + sum(r.shape[0] * r.shape[1] for r in self.rollouts)
        return held + (0 if self.rows is None else len(self.rows))

    def load_params(self, params: np.ndarray) -> None:
        self.q.set_params(params)

    def ingest_segment(self, transitions: np.ndarray) -> None:
        """Take one segment's transitions (lanes, num_steps, W); a whole rollout earns its updates."""
        c = self.config
        if transitions.ndim != 3 or transitions.shape[1] != c.num_steps or transitions.shape[2] != codec.row_width(self.obs_dim):
            raise ValueError(f"segment transitions have shape {transitions.shape}; this run needs "
                             f"(lanes, {c.num_steps}, {codec.row_width(self.obs_dim)})")
        self.pending.append(np.array(transitions, dtype=np.float32))
        if sum(len(p) for p in self.pending) >= c.num_envs:
            self.rollouts.append(np.concatenate(self.pending))
            self.pending = []
            self.earned += self.updates_per_rollout

    @property
    def updates_due(self) -> int:
        return self.earned - self.updates

    def learning_rate(self, env_steps: int) -> float:
        c = self.config
        frac = min(1.0, env_steps / c.total_timesteps)
        return c.learning_rate + frac * (c.end_learning_rate - c.learning_rate)

    def _start_rollout(self) -> None:
        """Targets for the oldest whole rollout, from the current network."""
        c, cols = self.config, self.cols
        roll = self.rollouts.popleft()
        lanes, steps, width = roll.shape
        rows = roll.reshape(lanes * steps, width)
        next_max = self.q.forward(rows[:, cols["next_obs"]]).max(axis=1).reshape(lanes, steps)
        returns = q_lambda_returns(roll[:, :, cols["reward"]], roll[:, :, cols["terminated"]],
                                   roll[:, :, cols["truncated"]], next_max, c.gamma, c.q_lambda)
        self.rows, self.returns, self.step = rows, returns.ravel(), 0

    def update(self, env_steps: int) -> float:
        """One minibatch step of the rollout being learned from; returns the loss."""
        c, cols = self.config, self.cols
        if self.updates_due <= 0:
            raise ValueError("no update is due: ingest a whole rollout first")
        if self.rows is None:
            self._start_rollout()
        n = len(self.rows)
        size = n // c.num_minibatches  # as CleanRL: rows beyond num_minibatches x size sit out this epoch
        k = self.step % c.num_minibatches
        if k == 0:
            self.order = self.rng.permutation(n).astype(np.int64)  # int32 in Pyodide; the kernel reads int64
        o = self.optimizer
        o.lr = self.learning_rate(env_steps)
        if self.fused is not None:  # the same step in one kernel call (robotrain.kernel.PQNStep)
            step_size, bc2 = o.advance()
            loss = self.fused(self.rows, self.returns, self.order, k * size, size, c.max_grad_norm, step_size, bc2)
        else:
            idx = self.order[k * size:(k + 1) * size]
            batch = self.rows[idx]
            actions = batch[:, cols["action"]].astype(np.int64)
            q, cache = self.q.forward_cached(batch[:, cols["obs"]])
            td = q[np.arange(size), actions] - self.returns[idx]
            loss = float(np.mean(td * td))
            dq = np.zeros_like(q)
            dq[np.arange(size), actions] = (2.0 / size) * td
            self.q.backward(cache, dq, self.grad)
            _, scale = clip_scale(self.grad, c.max_grad_norm)
            o.step(self.q.params, self.grad, scale)
        self.updates += 1
        self.step += 1
        if self.step == self.updates_per_rollout:
            self.rows = self.returns = self.order = None
        self.last_loss = loss
        return loss

    def weights_packed(self) -> np.ndarray:
        return codec.pack_weights(self.q.params, self.policy_version)

    # ---- the last good state and files (robotrain.run) -----------------------------------------------

    def snapshot(self) -> tuple:
        """A copy of what a divergence rolls back: weights and Adam's moments."""
        o = self.optimizer
        return self.q.params.copy(), o.m.copy(), o.v.copy(), o.t, self.updates

    def restore(self, snap: tuple) -> None:
        q, m, v, t, _ = snap
        self.q.params[:] = q
        self.optimizer.m[:] = m
        self.optimizer.v[:] = v
        self.optimizer.t = t

    def finite(self) -> bool:
        return bool(np.isfinite(self.q.params).all())

    def state_arrays(self) -> tuple[dict, dict]:
        """Arrays and JSON facts a saved run needs beyond the weights and Adam (``Run.to_bytes``)."""
        width = codec.row_width(self.obs_dim)
        pending = np.concatenate(self.pending) if self.pending else np.zeros((0, self.config.num_steps, width), np.float32)
        rollouts = np.stack(self.rollouts) if self.rollouts else np.zeros((0, self.config.num_envs, self.config.num_steps, width), np.float32)
        arrays = {"pqn_pending": pending, "pqn_rollouts": rollouts}
        if self.rows is not None:
            arrays.update(pqn_rows=self.rows, pqn_returns=self.returns, pqn_order=self.order)
        return arrays, {"earned": self.earned, "step": self.step}

    def load_state_arrays(self, z, meta: dict) -> None:
        c = self.config
        pending, rollouts = z["pqn_pending"], z["pqn_rollouts"]
        if pending.shape[1:] != (c.num_steps, codec.row_width(self.obs_dim)) or rollouts.shape[1:] != (c.num_envs, *pending.shape[1:]):
            raise ValueError("saved PQN rollouts do not fit the config")
        self.pending = [pending] if len(pending) else []
        self.rollouts = deque(np.array(r) for r in rollouts)
        self.earned, self.step = int(meta["earned"]), int(meta["step"])
        if "pqn_rows" in z:
            self.rows, self.returns = np.array(z["pqn_rows"]), np.array(z["pqn_returns"])
            self.order = np.array(z["pqn_order"], dtype=np.int64)  # as update makes it, whatever saved it
