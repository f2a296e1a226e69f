"""Where one learner update's time goes, part by part, in this interpreter (docs/kernel.md's table).

    node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON tests/pyodide/run.mjs dist tests/pyodide/learner_profile.py [numpy]

Each figure is the minimum over 40 groups of 10 calls (a shared machine's load only ever adds time).
"""

import time

import numpy as np

from robotrain import kernel
from robotrain.config import Config
from robotrain.envs import make
from robotrain.learner import Learner
from robotrain.qnet import clip_scale, huber


def best_us(fn, groups=40, calls=10):
    for _ in range(calls):
        fn()
    best = float("inf")
    for _ in range(groups):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


for env_id in ("cartpole", "balancebot"):
    c = Config.for_env(env_id, algorithm="ddqn", batch_size=128)
    env = make(env_id, 1, 0)
    learner = Learner(c, env.obs_dim, env.num_actions)
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((20_000, 2 * env.obs_dim + 4)).astype(np.float32)
    rows[:, env.obs_dim] = rng.integers(0, env.num_actions, len(rows))
    learner.replay.add(rows)
    b = learner.replay.sample(128, learner.rng, c.n_step, c.gamma)
    q, cache = learner.q.forward_cached(b["obs"])
    n = len(q)
    parts = {
        "replay sample + n-step": lambda: learner.replay.sample(128, learner.rng, c.n_step, c.gamma),
        "forward (next_obs)": lambda: learner.q.forward(b["next_obs"]),
        "forward keeping activations (obs)": lambda: learner.q.forward_cached(b["obs"]),
        "backward": lambda: learner.q.backward(cache, np.zeros_like(q), learner.grad),
        "clip (norm)": lambda: clip_scale(learner.grad, c.max_grad_norm, learner.kernel),
        "Adam": lambda: learner.optimizer.step(learner.q.params, learner.grad, 1.0),
        "target, Huber, dq (numpy)": lambda: huber(q[np.arange(n), b["actions"]] - b["rewards"]),
        "whole update": lambda: learner.update(c.total_timesteps // 2),
    }
    print(f"{env_id} {learner.q.sizes} batch 128, {kernel.name()}:")
    for name, fn in parts.items():
        print(f"  {name:<36} {best_us(fn):8.1f} us")
