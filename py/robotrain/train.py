"""Train from the command line under CPython: ``python -m robotrain.train --env cartpole --seed 0``.

The serial backend runs the actor and the learner in this process with the synchronous schedule of
``robotrain.run`` (the same one the page uses), so a seed gives the same curve here as in the page's sync mode
on the same platform. It prints progress with an ETA and can write a JSON summary:

    {"env", "seed", "solved", "solved_at_env_step", "stayed_solved", "wall_s", "eval": [[env_step, mean], ...],
     "env_steps", "episodes", "updates", "env_steps_per_s"}
"""

import argparse
import json
import sys
import time

import numpy as np

from . import codec, modelfile
from .actor import Actor
from .config import Config
from .envs import ENV_NAMES
from .run import Run
from .seeding import EVAL_STREAM

STAY_SOLVED_EVALS = 4  # evaluations after the first solved one that must also be solved


def train_serial(config: Config, progress=None, stop_when_stable: bool = False, max_steps: int | None = None,
                 init_params: np.ndarray | None = None) -> Run:
    """Train ``config`` in this process for ``max_steps`` env steps (default: its ``total_timesteps``).

    ``progress(run)`` is called after every batch. Running past ``total_timesteps`` keeps the end values of
    the epsilon and learning-rate schedules, which is how one checks that a solved policy stays solved.
    """
    max_steps = config.total_timesteps if max_steps is None else max_steps
    run = Run(config)
    if init_params is not None:
        run.learner.load_params(init_params)
    actor = Actor(config.env_id, config.seed, config.lanes, config.hidden_sizes)
    evaluator = Actor(config.env_id, config.seed, min(config.eval_episodes, 64), config.hidden_sizes)
    while run.env_steps < max_steps:
        sync_batch(run, actor, evaluator)
        if progress:
            progress(run)
        if stop_when_stable and stayed_solved(run) is not None:
            break
    return run


def sync_batch(run: Run, actor: Actor, evaluator: Actor) -> None:
    """One synchronous batch in this process, in the order every host keeps (see ``Run``): play the batch with
    the current weights, learn the updates earned by the batches before it, ingest it, evaluate if due."""
    actor.set_weights(run.weights_packed())
    results = [actor.run(task["first_id"], task["stop_id"], task["epsilon"], task["stream"]) for task in run.plan_tasks()]
    run.learn(run.updates_due)
    for packed in results:
        run.ingest(packed)
    if run.eval_due():
        task = run.plan_eval()
        evaluator.set_weights(run.weights_packed())
        run.ingest_eval(evaluator.run(task["first_id"], task["stop_id"], task["epsilon"], task["stream"]))


def evaluate(env_id: str, run_seed: int, hidden_sizes, params: np.ndarray, episodes: int = 20) -> float:
    """Mean greedy return of ``params`` over the run's ``episodes`` evaluation episodes (the ones Run uses)."""
    actor = Actor(env_id, run_seed, min(episodes, 64), hidden_sizes)
    actor.set_weights(codec.pack_weights(np.asarray(params, dtype=np.float32), 0))
    batch = codec.unpack_trajectories(actor.run(0, episodes, 0.0, EVAL_STREAM))
    return float(batch.episodes[:, 2].astype(np.float64).mean())


def stayed_solved(run: Run) -> bool | None:
    """True if the STAY_SOLVED_EVALS evaluations after the first solved one were all solved; None if not known yet."""
    threshold = run.env_info()["solved_threshold"]
    returns = [r for _, r in run.evals]
    first = next((i for i, r in enumerate(returns) if r >= threshold), None)
    if first is None or len(returns) < first + 1 + STAY_SOLVED_EVALS:
        return None
    return all(r >= threshold for r in returns[first + 1:first + 1 + STAY_SOLVED_EVALS])


def summary(run: Run, wall_s: float) -> dict:
    solved_at = run.solved_at()
    return {
        "env": run.config.env_id,
        "seed": run.config.seed,
        "solved": solved_at is not None,
        "solved_at_env_step": solved_at,
        "stayed_solved": stayed_solved(run),
        "wall_s": round(wall_s, 3),
        "eval": [[int(s), float(r)] for s, r in run.evals],
        "env_steps": run.env_steps,
        "episodes": run.episodes_ingested,
        "updates": run.learner.updates,
        "env_steps_per_s": round(run.env_steps / wall_s, 1) if wall_s > 0 else None,
        "config": run.config.to_dict(),
    }


class Progress:
    """One status line, rewritten in place on a terminal and printed every few seconds otherwise."""

    def __init__(self, total: int, stream=sys.stderr, every_s: float = 5.0):
        self.total, self.stream, self.every_s = total, stream, every_s
        self.t0 = time.monotonic()
        self.last = -every_s
        self.tty = stream.isatty()

    def __call__(self, run: Run) -> None:
        now = time.monotonic() - self.t0
        if not self.tty and now - self.last < self.every_s:
            return
        self.last = now
        done = min(run.env_steps, self.total)
        eta = now / done * (self.total - done) if done else float("nan")
        ev = f"{run.evals[-1][1]:.1f}" if run.evals else "-"
        line = (f"{done:>9,}/{self.total:,} steps {100 * done / self.total:5.1f}%  episodes {run.episodes_ingested:,}  "
                f"updates {run.learner.updates:,}  eval {ev}  {now:6.1f}s  ETA {eta:5.0f}s")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m robotrain.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="cartpole", choices=ENV_NAMES, help="environment")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--max-steps", type=int, default=None,
                   help="env steps to run (default: total_timesteps, the budget the schedules are built on)")
    p.add_argument("--json", metavar="FILE", help="write the summary JSON here")
    p.add_argument("--set", metavar="FIELD=VALUE", action="append", default=[],
                   help="override a Config field, e.g. --set learning_rate=5e-4 (repeatable)")
    p.add_argument("--stop-when-stable", action="store_true",
                   help=f"stop once solved and the next {STAY_SOLVED_EVALS} evaluations are solved too")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--save-model", metavar="FILE", help="save the trained model (the page's model-file format)")
    p.add_argument("--init-model", metavar="FILE", help="start from this model file's weights (same env and network)")
    p.add_argument("--backend", choices=("serial", "ray"), default="serial",
                   help="serial: actor and learner in this process; ray: actors on a Ray cluster")
    p.add_argument("--actors", type=int, default=2, help="ray: number of actor processes")
    p.add_argument("--address", default=None,
                   help="ray: cluster address (ray://host:port or auto); default starts a local Ray")
    p.add_argument("--mode", choices=("sync", "async"), default="sync", help="ray: synchronous or Ape-X style")
    args = p.parse_args(argv)
    overrides = {"seed": args.seed}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            p.error(f"--set needs FIELD=VALUE, got {item!r}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value
    try:
        config = Config.for_env(args.env, **overrides)
    except (TypeError, ValueError) as e:
        p.error(str(e))
    init_params = None
    if args.init_model:
        try:
            model = modelfile.load(args.init_model, expect_env=config.env_id)
        except (OSError, ValueError) as e:
            p.error(f"--init-model {args.init_model}: {e}")
        if tuple(model["config"].hidden_sizes) != config.hidden_sizes:
            p.error(f"--init-model: its hidden_sizes {model['config'].hidden_sizes} differ from {config.hidden_sizes}")
        init_params = model["params"]
    max_steps = config.total_timesteps if args.max_steps is None else args.max_steps
    progress = None if args.quiet else Progress(max_steps)
    t0 = time.monotonic()
    if args.backend == "ray":
        from .ray_backend import train_ray

        run = train_ray(config, actors=args.actors, address=args.address, mode=args.mode, progress=progress,
                        stop_when_stable=args.stop_when_stable, max_steps=max_steps, init_params=init_params)
    else:
        run = train_serial(config, progress, stop_when_stable=args.stop_when_stable, max_steps=max_steps,
                           init_params=init_params)
    wall = time.monotonic() - t0
    if progress:
        progress.close()
    out = summary(run, wall)
    if hasattr(run, "backend_stats"):
        out["ray"] = run.backend_stats
    print(f"{out['env']} seed {out['seed']}: solved={out['solved']} at {out['solved_at_env_step']} "
          f"stayed_solved={out['stayed_solved']} in {wall:.1f}s ({out['env_steps_per_s']} env steps/s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    if args.save_model:
        modelfile.save(args.save_model, config, run.learner.q.params, run.policy_version, run.env_steps)
        print(f"model saved to {args.save_model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
