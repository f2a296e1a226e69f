"""Actor and learner benchmarks: env steps per second for K lanes, and milliseconds per learner update.

    python -m robotrain.bench --json actor_bench.json [--lanes 1 64] [--envs cartpole acrobot balancebot]
    python -m robotrain.bench --learner [--batches 32 128 512]   # ms per Double DQN update, this interpreter

Runs the real ``Actor`` (the code every worker runs) with the default network of each env and random
initial weights at epsilon 0.1, so the policy is neither trivial nor trained. Each figure is the median of
``--repeats`` timed tasks after one warm-up task; a task plays whole episodes until at least ``--min-steps``
transitions were produced. Also runs unchanged in Pyodide, which is how the page measures its own figure.
"""

import argparse
import json
import platform
import statistics
import sys
import time

import numpy as np

from . import codec
from . import kernel as simd
from .actor import Actor
from .config import Config
from .envs import ENV_NAMES, make
from .learner import Learner
from .qnet import QNetwork

EPSILON = 0.1  # exploration during the benchmark
REPLAY_ROWS = 20_000  # synthetic transitions the learner benchmark samples from


def actor_steps_per_s(env_id: str, lanes: int, min_steps: int = 20_000, repeats: int = 5, seed: int = 0) -> dict:
    """Median env steps/s of ``Actor.run`` with ``lanes`` lanes, over ``repeats`` timed tasks."""
    cfg = Config.for_env(env_id, algorithm="ddqn")  # whole episodes, as Actor.run plays them
    actor = Actor(env_id, seed, lanes, cfg.hidden_sizes)
    net = QNetwork(actor.env.obs_dim, actor.env.num_actions, cfg.hidden_sizes, np.random.default_rng(seed))
    actor.set_weights(codec.pack_weights(net.params, 0))
    next_id = 0
    rates = []
    for i in range(repeats + 1):
        steps, t0 = 0, time.perf_counter()
        while steps < min_steps:
            # At least one episode per lane so every lane is busy for most of the task.
            packed = actor.run(next_id, next_id + max(lanes, 1) * 2, EPSILON)
            next_id += max(lanes, 1) * 2
            steps += int(packed[codec.H_TRANSITIONS])
        if i:  # the first task warms caches and allocators
            rates.append(steps / (time.perf_counter() - t0))
    return {"env_steps_per_s": statistics.median(rates), "runs": [round(r, 1) for r in rates]}


def learner_ms_per_update(env_id: str, batch_size: int, kernel: str = "auto", updates: int = 40, repeats: int = 7,
                          seed: int = 0) -> dict:
    """Median milliseconds per ``Learner.update`` (sampling, n-step returns, Double DQN target, backward, clipping,
    Adam, soft target update) for ``env_id``'s default network at ``batch_size``, over ``repeats`` timed runs of
    ``updates`` updates after a warm-up run, with the ``kernel`` path (robotrain.kernel.select). The replay holds
    random transitions: the cost of an update does not depend on what the numbers mean."""
    before = simd.status()["choice"]
    path = simd.select(kernel)
    try:
        cfg = Config.for_env(env_id, algorithm="ddqn", seed=seed, batch_size=batch_size)
        env = make(env_id, 1, seed)
        learner = Learner(cfg, env.obs_dim, env.num_actions)
        rng = np.random.default_rng(seed)
        rows = rng.standard_normal((REPLAY_ROWS, codec.row_width(env.obs_dim))).astype(np.float32)
        cols = codec.row_slices(env.obs_dim)
        rows[:, cols["action"]] = rng.integers(0, env.num_actions, REPLAY_ROWS)
        rows[:, cols["terminated"]] = rng.random(REPLAY_ROWS) < 0.01
        rows[:, cols["truncated"]] = 0.0
        learner.replay.add(rows)
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            for _ in range(updates):
                learner.update(cfg.total_timesteps // 2)
            if i:  # the first run warms the engine's code tiers and numpy's allocator
                times.append((time.perf_counter() - t0) / updates * 1000)
    finally:
        simd.select(before)
    return {"ms": statistics.median(times), "runs_ms": [round(t, 4) for t in times], "kernel": path,
            "hidden_sizes": list(cfg.hidden_sizes)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m robotrain.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", nargs="+", default=list(ENV_NAMES), choices=ENV_NAMES)
    p.add_argument("--lanes", nargs="+", type=int, default=[1, 64])
    p.add_argument("--min-steps", type=int, default=20_000, help="transitions per timed task")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--learner", action="store_true", help="time learner updates instead of actors")
    p.add_argument("--batches", nargs="+", type=int, default=[32, 128, 512], help="batch sizes (--learner)")
    p.add_argument("--json", metavar="FILE", help="write the results here")
    args = p.parse_args(argv)
    out = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()}
    out.update(learner_table(args) if args.learner else actor_table(args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


def learner_table(args) -> dict:
    table = {}
    for env_id in args.envs:
        table[env_id] = {}
        for batch in args.batches:
            row = learner_ms_per_update(env_id, batch)
            table[env_id][str(batch)] = row
            print(f"{env_id:>10}  batch {batch:<5} {row['ms']:8.3f} ms per update ({row['kernel']})", flush=True)
    return {"learner_ms": table}


def actor_table(args) -> dict:
    table = {}
    for env_id in args.envs:
        row = {}
        for k in args.lanes:
            row[str(k)] = actor_steps_per_s(env_id, k, args.min_steps, args.repeats)
            print(f"{env_id:>10}  K={k:<4} {row[str(k)]['env_steps_per_s']:>10,.0f} env steps/s", flush=True)
        if len(args.lanes) > 1:
            lo, hi = str(min(args.lanes)), str(max(args.lanes))
            row["speedup"] = row[hi]["env_steps_per_s"] / row[lo]["env_steps_per_s"]
            print(f"{env_id:>10}  K={hi} vs K={lo}: {row['speedup']:.1f}x per env step", flush=True)
        table[env_id] = row
    return {"epsilon": EPSILON, "actor": table}


if __name__ == "__main__":
    sys.exit(main())
