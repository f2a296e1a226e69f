"""Actor throughput benchmark: env steps per second (policy forward + physics + packing) for K lanes.

    python -m robotrain.bench --json actor_bench.json [--lanes 1 64] [--envs cartpole acrobot balancebot]

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
from .actor import Actor
from .config import Config
from .envs import ENV_NAMES
from .qnet import QNetwork

EPSILON = 0.1  # exploration during the benchmark


def actor_steps_per_s(env_id: str, lanes: int, min_steps: int = 20_000, repeats: int = 5, seed: int = 0) -> dict:
    """Median env steps/s of ``Actor.run`` with ``lanes`` lanes, over ``repeats`` timed tasks."""
    cfg = Config.for_env(env_id)
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m robotrain.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", nargs="+", default=list(ENV_NAMES), choices=ENV_NAMES)
    p.add_argument("--lanes", nargs="+", type=int, default=[1, 64])
    p.add_argument("--min-steps", type=int, default=20_000, help="transitions per timed task")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", metavar="FILE", help="write the results here")
    args = p.parse_args(argv)
    out = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
           "epsilon": EPSILON, "actor": {}}
    for env_id in args.envs:
        row = {}
        for k in args.lanes:
            row[str(k)] = actor_steps_per_s(env_id, k, args.min_steps, args.repeats)
            print(f"{env_id:>10}  K={k:<4} {row[str(k)]['env_steps_per_s']:>10,.0f} env steps/s", flush=True)
        if len(args.lanes) > 1:
            lo, hi = str(min(args.lanes)), str(max(args.lanes))
            row["speedup"] = row[hi]["env_steps_per_s"] / row[lo]["env_steps_per_s"]
            print(f"{env_id:>10}  K={hi} vs K={lo}: {row['speedup']:.1f}x per env step", flush=True)
        out["actor"][env_id] = row
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
