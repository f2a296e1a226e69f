"""Train from the command line under CPython: ``python -m robotrain.train --env cartpole --seed 0``.

The serial backend (``robotrain.serial``) runs the actor and the learner in this process, ``--backend ray``
(``robotrain.cluster``) runs the actors on Ray; both execute ``robotrain.schedule``, as the page does, so a
seed gives the same sync curve here as in the page on the same platform. It prints progress with an ETA and
can write a JSON summary:

    {"env", "seed", "mode", "solved", "solved_at_env_step", "stayed_solved", "wall_s",
     "eval": [[env_step, mean], ...], "env_steps", "episodes", "updates", "env_steps_per_s",
     "history": {"episodes": [[id, return, length], ...], "evals": [[env_step, mean], ...]}, "config"}

``history`` is what ``robotrain.history()`` returns in the page, so any two runs can be compared.
"""

import argparse
import json
import sys
import time

from . import modelfile
from .config import Config
from .envs import ENV_NAMES
from .evaluation import STAY_SOLVED_EVALS, stayed_solved
from .run import Run
from .schedule import MODES
from .serial import train_serial


def summary(run: Run, wall_s: float, mode: str = "sync") -> dict:
    solved_at = run.solved_at()
    return {
        "env": run.config.env_id,
        "seed": run.config.seed,
        "mode": mode,
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
        "history": run.history(),
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
    p.add_argument("--mode", choices=MODES, default="sync", help="synchronous batches or Ape-X style (robotrain.schedule)")
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
        if model["config"].layer_norm != config.layer_norm:
            p.error(f"--init-model: it was trained with {model['config'].algorithm}, whose network differs from "
                    f"{config.algorithm}'s (LayerNorm)")
        init_params = model["params"]
    max_steps = config.total_timesteps if args.max_steps is None else args.max_steps
    progress = None if args.quiet else Progress(max_steps)
    t0 = time.monotonic()
    if args.backend == "ray":
        from .cluster import train_ray

        run = train_ray(config, actors=args.actors, address=args.address, mode=args.mode, progress=progress,
                        stop_when_stable=args.stop_when_stable, max_steps=max_steps, init_params=init_params)
    else:
        run = train_serial(config, progress, stop_when_stable=args.stop_when_stable, max_steps=max_steps,
                           init_params=init_params, mode=args.mode)
    wall = time.monotonic() - t0
    if progress:
        progress.close()
    out = summary(run, wall, args.mode)
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
