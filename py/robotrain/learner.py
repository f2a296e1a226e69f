"""The learner: replay buffer, Double DQN updates, target network, Adam, the update counter and policy version.

One update, as in CleanRL's ``dqn.py`` with van Hasselt et al.'s Double DQN target:

    a*  = argmax_a Q_online(s', a)
    y   = r + gamma * (1 - terminated) * Q_target(s', a*)      # truncation still bootstraps

with n-step returns (``n_step`` > 1): r is the discounted sum of up to n rewards, s' the state after them,
and gamma becomes gamma ** k for the k steps taken before the episode ended or n ran out.
    L   = mean Huber(Q_online(s, a) - y)

then the gradient is clipped to ``max_grad_norm`` and Adam steps with a linearly annealed learning rate.
Every ``target_network_frequency`` updates the target moves towards the online net by ``tau``.
"""

import numpy as np

from . import codec
from . import kernel as simd
from .blas import single_threaded_blas_once
from .config import Config
from .qnet import Adam, QNetwork, clip_scale, huber
from .replay import ReplayBuffer

LEARNER_STREAM = 7  # seed stream of the learner's own generator (initial weights, replay sampling)


class Learner:
    def __init__(self, config: Config, obs_dim: int, num_actions: int):
        single_threaded_blas_once()
        self.config = config
        self.rng = np.random.default_rng([config.seed, LEARNER_STREAM])
        self.q = QNetwork(obs_dim, num_actions, config.hidden_sizes, self.rng)
        self.target = QNetwork(obs_dim, num_actions, config.hidden_sizes)
        self.target.params[:] = self.q.params
        self.optimizer = Adam(len(self.q.params), config.learning_rate)
        self.grad = np.zeros_like(self.q.params)
        self.kernel = simd.active()
        self.replay = ReplayBuffer(config.buffer_size, obs_dim)
        self.updates = 0
        self.last_loss = float("nan")

    @property
    def policy_version(self) -> int:
        """Version of the online weights: the number of updates applied to them."""
        return self.updates

    def load_params(self, params: np.ndarray) -> None:
        """Start from given weights (online and target); ``ValueError`` if they do not fit."""
        self.q.set_params(params)
        self.target.params[:] = self.q.params

    def ingest(self, batch: codec.TrajectoryBatch) -> None:
        if batch.obs_dim != self.replay.obs_dim:
            raise ValueError(f"trajectory batch has obs_dim {batch.obs_dim}; this learner's env has {self.replay.obs_dim}")
        self.replay.add(batch.transitions)

    def learning_rate(self, env_steps: int) -> float:
        c = self.config
        frac = min(1.0, env_steps / c.total_timesteps)
        return c.learning_rate + frac * (c.end_learning_rate - c.learning_rate)

    def update(self, env_steps: int) -> float:
        """One gradient step on a uniformly sampled batch; returns the TD loss."""
        c = self.config
        b = self.replay.sample(c.batch_size, self.rng, c.n_step, c.gamma)
        n = c.batch_size
        next_online = self.q.forward(b["next_obs"])
        next_target = self.target.forward(b["next_obs"])
        best = next_online.argmax(axis=1)
        bootstrap = next_target[np.arange(n), best]
        y = b["rewards"] + b["discount"] * (1.0 - b["terminated"]) * bootstrap
        q, inputs = self.q.forward_cached(b["obs"])
        td = q[np.arange(n), b["actions"]] - y
        loss, dtd = huber(td)
        dq = np.zeros_like(q)
        dq[np.arange(n), b["actions"]] = dtd
        self.q.backward(inputs, dq, self.grad)
        _, scale = clip_scale(self.grad, c.max_grad_norm, self.kernel)
        self.optimizer.lr = self.learning_rate(env_steps)
        self.optimizer.step(self.q.params, self.grad, scale)
        self.updates += 1
        if self.updates % c.target_network_frequency == 0:
            if self.kernel is not None:  # the same float32 operations in one pass (robotrain.kernel)
                self.kernel.soft_update(self.target.params, self.q.params, c.tau)
            else:
                self.target.params *= 1.0 - c.tau
                self.target.params += c.tau * self.q.params
        self.last_loss = loss
        return loss

    def weights_packed(self) -> np.ndarray:
        return codec.pack_weights(self.q.params, self.policy_version)

    @property
    def stored(self) -> int:
        """Transitions held (the replay buffer's fill)."""
        return len(self.replay)

    # ---- the last good state and files (robotrain.run) -----------------------------------------------

    def snapshot(self) -> tuple:
        """A copy of what a divergence rolls back: online and target weights, Adam's moments."""
        o = self.optimizer
        return self.q.params.copy(), self.target.params.copy(), o.m.copy(), o.v.copy(), o.t, self.updates

    def restore(self, snap: tuple) -> None:
        q, target, m, v, t, _ = snap
        self.q.params[:] = q
        self.target.params[:] = target
        self.optimizer.m[:] = m
        self.optimizer.v[:] = v
        self.optimizer.t = t

    def finite(self) -> bool:
        return bool(np.isfinite(self.q.params).all() and np.isfinite(self.target.params).all())

    def state_arrays(self) -> tuple[dict, dict]:
        """Arrays and JSON facts a saved run needs beyond the weights and Adam (``Run.to_bytes``)."""
        rb = self.replay
        return ({"target": self.target.params, "replay": rb.rows[:rb.size]},
                {"replay_pos": rb.pos, "replay_size": rb.size, "replay_added": rb.added})

    def load_state_arrays(self, z, meta: dict) -> None:
        rb = self.replay
        self.target.set_params(z["target"])
        replay = z["replay"]
        if replay.shape[1:] != rb.rows.shape[1:] or len(replay) != meta["replay_size"] or len(replay) > rb.capacity:
            raise ValueError("replay buffer does not fit the config")
        rb.rows[:len(replay)] = replay
        rb.pos, rb.size, rb.added = meta["replay_pos"], meta["replay_size"], meta["replay_added"]
