"""Ray throughput benchmark (not a test): ``python -m robotrain.cluster.bench --json ray_bench.json``.

Rollout throughput with learning off per actor count (interleaved windows, so load from other processes hits
every count alike), training throughput in sync and async mode, and what one driver's learner sustains.
Figures: docs/cluster.md.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import ray

from .. import codec, modelfile
from ..actor import Actor
from ..config import Config
from ..run import Run
from .trainer import RayTrainer, init_ray


def _machine_cpu_s() -> float | None:
    """CPU seconds all processes of this machine have used so far (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields_ = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields_[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class _RolloutBench:
    """``actors`` actors playing tasks with fixed weights, learning off; ``window(s)`` measures s seconds of it.

    Each window also records the CPU seconds the actors, the driver and the whole machine used, so contention
    from other processes shows up (``other_cpu_s``) instead of hiding in the figure.
    """

    def __init__(self, env_id: str, actors: int, episodes_per_task: int, epsilon: float, params=None):
        cfg = Config.for_env(env_id, algorithm="ddqn", start_e=epsilon, end_e=epsilon,
                             episodes_per_task=episodes_per_task, buffer_size=200_000, total_timesteps=100_000_000,
                             eval_interval=10_000_000)
        self.actors = actors
        self.trainer = RayTrainer(cfg, actors=actors, mode="async", learn=False, init_params=params)
        self.trainer.wait_ready()
        run = self.trainer.run
        while run.env_steps < 20_000 * actors:  # warm-up: every actor has played tasks
            self.trainer.train(max_steps=run.env_steps + 10_000)

    def _actor_cpu(self) -> float:
        return sum(i["cpu_s"] for i in ray.get([h.info.remote() for h in self.trainer.handles]))

    def window(self, seconds: float) -> dict:
        """``seconds`` of rollouts; counts what was ingested by the deadline (the drain after it is not timed)."""
        t, run = self.trainer, self.trainer.run
        s0, tasks0, a0, d0, m0 = run.env_steps, t.c.results, self._actor_cpu(), time.process_time(), _machine_cpu_s()
        t0 = time.monotonic()
        deadline, end = t0 + seconds, []

        def stop(r):
            if time.monotonic() < deadline:
                return False
            if not end:
                end.append((time.monotonic(), r.env_steps, t.c.results, self._actor_cpu(), time.process_time(),
                            _machine_cpu_s()))
            return True

        t.train(stop=stop, max_steps=10**12)
        t1, s1, tasks1, a1, d1, m1 = end[0]
        dt, steps, tasks = t1 - t0, s1 - s0, tasks1 - tasks0
        actor_cpu, driver_cpu = a1 - a0, d1 - d0
        out = {"actors": self.actors, "env_steps_per_s": round(steps / dt, 1), "seconds": round(dt, 2),
               "env_steps": steps, "tasks": tasks, "transitions_per_task": round(steps / max(tasks, 1), 1),
               "actor_cpu_s": round(actor_cpu, 2), "driver_cpu_s": round(driver_cpu, 2),
               "env_steps_per_actor_cpu_s": round(steps / max(actor_cpu, 1e-9), 1),
               "driver_cpu_ms_per_task": round(1000 * driver_cpu / max(tasks, 1), 3)}
        if m0 is not None and m1 is not None:
            # Everything else the machine ran meanwhile (Ray's own daemons use ~0.03 CPU s per s of this).
            out["other_cpu_s"] = round(max(0.0, (m1 - m0) - actor_cpu - driver_cpu), 2)
        return out

    def close(self):
        self.trainer.close()


def rollout_scaling(env_id: str, actor_counts, seconds: float, repeats: int, episodes_per_task: int,
                    epsilon: float, params=None) -> dict:
    """Interleaved windows (1, 2, 1, 2, ...) so load from other processes hits every actor count alike."""
    benches = {n: _RolloutBench(env_id, n, episodes_per_task, epsilon, params) for n in actor_counts}
    try:
        windows = {n: [] for n in actor_counts}
        for _ in range(repeats):
            for n in actor_counts:
                windows[n].append(benches[n].window(seconds))
    finally:
        for b in benches.values():
            b.close()
    out = {}
    for n, ws in windows.items():
        rates = sorted(w["env_steps_per_s"] for w in ws)
        out[str(n)] = {"env_steps_per_s": rates[len(rates) // 2], "windows": ws}
    return out


def _training_rate(env_id: str, actors: int, mode: str, steps: int, seed: int = 0) -> dict:
    cfg = Config.for_env(env_id, algorithm="ddqn", seed=seed)
    trainer = RayTrainer(cfg, actors=actors, mode=mode)
    try:
        trainer.wait_ready()  # actor start-up is not throughput
        trainer.train(max_steps=steps)
        s = trainer.stats()
        return {"actors": actors, "mode": mode, "env_steps": trainer.run.env_steps, "wall_s": round(trainer.wall_s, 2),
                **{k: s[k] for k in ("env_steps_per_s", "updates_per_s", "mean_staleness", "learn_s",
                                     "rollout_wait_s", "max_update_backlog")}}
    finally:
        trainer.close()


def _learner_limit(env_id: str, seconds: float = 3.0) -> dict:
    """What one driver sustains: learner updates/s and ingest transitions/s (codec unpack + replay add)."""
    cfg = Config.for_env(env_id, algorithm="ddqn", buffer_size=200_000)
    run = Run(cfg)
    actor = Actor(env_id, cfg.seed, cfg.lanes, cfg.hidden_sizes)
    actor.set_weights(run.weights_packed())
    template = codec.unpack_trajectories(actor.run(0, 64, 0.1))  # real episodes, re-labelled below
    table = template.episodes.astype(np.float64)
    n_eps, transitions = len(table), template.transitions

    def batch(first):
        t = table.copy()
        t[:, 0] = np.arange(first, first + n_eps)
        return codec.pack_trajectories(t, transitions, template.obs_dim, 0)

    # Ingest: batches of ~len(transitions) rows, ids issued as the schedule would.
    packed = []
    for _ in range(400):
        first = run.plan_tasks(n_eps)[0]["first_id"]
        packed.append(batch(first))
    rows, t0 = 0, time.perf_counter()
    for p in packed:
        run.ingest(p)
        rows += int(p[codec.H_TRANSITIONS])
        if time.perf_counter() - t0 > seconds:
            break
    ingest_rate = rows / (time.perf_counter() - t0)
    # Updates on the filled buffer.
    run.env_steps = max(run.env_steps, cfg.learning_starts + 10**7)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += run.learn(50)
    update_rate = n / (time.perf_counter() - t0)
    return {"updates_per_s": round(update_rate, 1), "ingest_transitions_per_s": round(ingest_rate, 1),
            "transitions_per_batch": len(transitions), "batch_size": cfg.batch_size,
            "train_frequency": cfg.train_frequency,
            "env_steps_per_s_at_schedule_ratio": round(update_rate * cfg.train_frequency, 1)}


def bench(env_id: str = "cartpole", actor_counts=(1, 2), seconds: float = 4.0, episodes_per_task: int = 64,
          epsilon: float = 0.1, train_steps: int = 20_000, address: str | None = None, model: str | None = None,
          repeats: int = 5, training: bool = True) -> dict:
    """Rollout throughput (learning off) and training throughput (sync and async) per actor count, and the
    learner's own limits. ``model`` (a model file) gives the rollouts trained weights (realistic episode
    lengths); without it they use the initial random network, as ``robotrain.bench`` does."""
    params = modelfile.load(model, expect_env=env_id)["params"] if model else None
    # The rollout measurement keeps every actor count's actors alive at once (idle ones use no CPU).
    started = init_ray(address, max(sum(actor_counts), os.cpu_count() or 1))
    out = {"env": env_id, "python": platform.python_version(), "numpy": np.__version__, "ray": ray.__version__,
           "machine": platform.machine(), "cpus": os.cpu_count(), "load_avg_at_start": list(os.getloadavg()),
           "rollout": {}, "training": {}, "episodes_per_task": episodes_per_task, "epsilon": epsilon,
           "rollout_weights": model or "initial random network"}
    try:
        out["rollout"] = rollout_scaling(env_id, actor_counts, seconds, repeats, episodes_per_task, epsilon, params)
        for n in actor_counts:
            r = out["rollout"][str(n)]
            w = r["windows"][len(r["windows"]) // 2]
            print(f"rollout  {n} actor(s): {r['env_steps_per_s']:>10,.0f} env steps/s, median of {repeats} windows "
                  f"(learning off; {w['env_steps_per_actor_cpu_s']:,.0f} per actor CPU s, driver "
                  f"{w['driver_cpu_ms_per_task']:.2f} ms CPU per task of {w['transitions_per_task']:,.0f} transitions, "
                  f"other processes {w.get('other_cpu_s', float('nan')):.1f} CPU s)", flush=True)
        lo, hi = str(min(actor_counts)), str(max(actor_counts))
        out["rollout_speedup"] = round(out["rollout"][hi]["env_steps_per_s"] / out["rollout"][lo]["env_steps_per_s"], 2)
        pairs = [b["env_steps_per_s"] / a["env_steps_per_s"]
                 for a, b in zip(out["rollout"][lo]["windows"], out["rollout"][hi]["windows"])]
        out["rollout_speedup_per_window_pair"] = [round(x, 2) for x in pairs]
        print(f"rollout  {hi} vs {lo} actors: {out['rollout_speedup']:.2f}x (medians; window pairs "
              f"{', '.join(f'{x:.2f}' for x in pairs)})", flush=True)
        for mode in ("sync", "async") if training else ():
            for n in actor_counts:
                r = _training_rate(env_id, n, mode, train_steps)
                out["training"][f"{mode}-{n}"] = r
                print(f"training {mode:>5} {n} actor(s): {r['env_steps_per_s']:>8,.0f} env steps/s, "
                      f"{r['updates_per_s']:,.0f} updates/s, staleness {r['mean_staleness']:.1f}", flush=True)
        out["learner"] = _learner_limit(env_id)
        lim = out["learner"]
        print(f"learner: {lim['updates_per_s']:,.0f} updates/s (= {lim['env_steps_per_s_at_schedule_ratio']:,.0f} "
              f"env steps/s at train_frequency {lim['train_frequency']}), ingest "
              f"{lim['ingest_transitions_per_s']:,.0f} transitions/s", flush=True)
        ws = out["rollout"][lo]["windows"]
        per_actor = statistics.median(w["env_steps_per_actor_cpu_s"] for w in ws)
        # The driver's CPU per task (receive + ingest) bounds how many tasks/s one driver can take at all.
        driver_steps_per_s = statistics.median(1000 * w["transitions_per_task"] / max(w["driver_cpu_ms_per_task"], 1e-6)
                                               for w in ws)
        out["actor_env_steps_per_core_s"] = per_actor
        out["actors_until_learner_saturates"] = {
            "at_schedule_ratio": round(lim["env_steps_per_s_at_schedule_ratio"] / per_actor, 2),
            "receive_and_ingest_only": round(min(lim["ingest_transitions_per_s"], driver_steps_per_s) / per_actor, 1),
        }
        sat = out["actors_until_learner_saturates"]
        print(f"one actor core: {per_actor:,.0f} env steps/s; one learner keeps up with ~{sat['at_schedule_ratio']} "
              f"actor cores at the schedule's replay ratio, ~{sat['receive_and_ingest_only']} receiving and ingesting "
              f"only", flush=True)
    finally:
        out["load_avg_at_end"] = list(os.getloadavg())
        if started:
            ray.shutdown()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m robotrain.cluster.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="cartpole")
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2], help="actor counts to measure")
    p.add_argument("--seconds", type=float, default=4.0, help="length of one timed rollout window")
    p.add_argument("--repeats", type=int, default=5, help="rollout windows per actor count (interleaved)")
    p.add_argument("--rollout-only", action="store_true", help="skip the training measurements")
    p.add_argument("--episodes-per-task", type=int, default=64)
    p.add_argument("--train-steps", type=int, default=20_000, help="env steps of each training measurement")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--model", metavar="FILE", help="rollouts use this model file's weights (default: random init)")
    p.add_argument("--json", metavar="FILE", help="write the results here")
    args = p.parse_args(argv)
    out = bench(args.env, tuple(args.actors), args.seconds, args.episodes_per_task, train_steps=args.train_steps,
                address=args.address, model=args.model,
                repeats=args.repeats, training=not args.rollout_only)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
