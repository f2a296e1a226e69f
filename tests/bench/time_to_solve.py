"""Time to solve: from navigation to the first greedy evaluation at the env's threshold, per env, algorithm,
mode, worker count and seed (the page's defaults otherwise)."""

from __future__ import annotations

import statistics

from tests.bench.session import Session, wait


def solve(session: Session) -> dict:
    """Time from navigation to the first solved greedy evaluation, per env, algorithm, mode, worker count and
    seed (page defaults otherwise)."""
    rows = []
    for env, seeds, cap in session.plan.solve_runs:
        # Balancebot's async run (minutes, and no target) only when --modes asks for it.
        modes = [m for m in session.plan.solve_modes if env != "balancebot" or m != "async" or session.plan.modes_given]
        runs = [(a, m, w, seed) for a in session.plan.solve_algorithms for m in modes for w in session.plan.solve_workers
                for seed in seeds if not (m == "main" and w)]
        for algorithm, mode, workers, seed in runs:
            rows.append(solve_row(session, env, algorithm, mode, workers, seed, cap))
    medians = {}
    for key in dict.fromkeys(r["key"] for r in rows):
        times = [r["from_navigation_s"] for r in rows if r["key"] == key]
        medians[key] = statistics.median(times) if None not in times else None
    return {"rows": rows, "median_from_navigation_s": medians}


def solve_row(session: Session, env: str, algorithm: str | None, mode: str, workers: int | None, seed: int,
              cap: float) -> dict:
    """One run from navigation (``algorithm``/``workers`` None: the page's default) until solved or ``cap`` s."""
    params = {"env": env, "mode": mode, "seed": seed, "autostart": 1, **session.plan.solve_settings}
    if algorithm:
        params["algorithm"] = algorithm
    if workers:
        params["workers"] = workers
    session.progress.step(f"{env} time to solve, {algorithm or 'default algorithm'}, {mode}, {workers or 'auto'} "
                          f"workers, seed {seed}")
    tab = session.open(params)
    try:
        s = wait(tab, f"s.solved != null || s.finished || performance.now() > {cap * 1000}", cap + 60, "solved",
                 poll_ms=250)
    except Exception:  # noqa: BLE001 - a run that did not solve within the cap is a figure, not an error
        s = tab.run("return robotrain.stats();")
    session.close(tab)
    solved = s.get("solved")
    # Medians group the runs that differ only in their seed ("cartpole/sync", "cartpole/sync/pqn/2w").
    key = "/".join([env, mode, *([algorithm] if algorithm else []), *([f"{workers}w"] if workers else []),
                    *(f"{k}={v}" for k, v in session.plan.solve_settings.items())])
    row = {"env": env, "algorithm": s["config"]["algorithm"] if s.get("config") else algorithm, "mode": mode,
           "settings": session.plan.solve_settings,
           "workers": len(s["workers"]), "seed": seed, "key": key, "kernel": s.get("kernel"),
           "solved": solved is not None, "cap_s": cap, "budget_reached": bool(s.get("finished")),
           "from_navigation_s": round(solved["page_ms"] / 1000, 1) if solved else None,
           "training_s": round(solved["training_ms"] / 1000, 1) if solved else None,
           "env_steps": solved["env_steps"] if solved else s["env_steps"],
           "updates": solved["updates"] if solved else s["updates"],
           "python_ready_s": round((s["timings"].get("python_ready_ms") or 0) / 1000, 1),
           "python_stages_ms": s["timings"].get("python_stages_ms"),  # the page's boot, by stage
           # The main thread's learning slices (JS -> Python calls included), ms per update.
           "learn_ms_per_update": round(s["main_thread_busy_ms"]["learn"] / max(1, s["updates"]), 3),
           "fps": s.get("fps"),
           # Where the training time went (at the end of the run, not at the solve), s.
           "breakdown_s": {"training": round(s["training_wall_ms"] / 1000, 1),
                           "learn": round(s["main_thread_busy_ms"]["learn"] / 1000, 1),
                           "ingest": round(s["main_thread_busy_ms"]["ingest"] / 1000, 1),
                           "wait_batch": round(s["sync_waits_ms"]["batch"] / 1000, 1),
                           "wait_evaluation": round(s["sync_waits_ms"]["evaluation"] / 1000, 1),
                           # The workers' own time in finished tasks (evaluations included), summed.
                           "workers_busy": round(sum(w.get("busy_ms", 0) for w in s["workers"]) / 1000, 1)}}
    session.progress.done(f"{env} {row['algorithm']} {mode} ({row['workers']} workers) seed {seed}: " + (
        f"solved {row['from_navigation_s']} s after navigation ({row['training_s']} s training, "
        f"{row['env_steps']:,} env steps, {row['updates']:,} updates)" if solved else
        "the step budget ended unsolved" if row["budget_reached"] else f"not solved within {cap} s")
        + f"; time at the end, s: {row['breakdown_s']}")
    return row
