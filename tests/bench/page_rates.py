"""The page's own figures, learning off and on: start-up of one worker and of a pool, rollout throughput (sync
and async, per worker count), memory per worker count, task sizes, training throughput and frame rate."""

from __future__ import annotations

import statistics
import time

from tests.bench.memory import settled_pss_mb
from tests.bench.plan import Plan
from tests.bench.session import Session, wait

# Learning off: no update ever (learning_starts beyond any run), no evaluation, a budget nobody reaches, and
# one fixed batch of 384 episodes so every worker count runs the same work: only the number of workers changes
# between rows. Task sizing is the page's default (adaptive, sizing.js); async tasks start at 16 episodes.
# Double DQN's whole-episode tasks, which the sizing governs (cartpole's default, PQN, plays fixed segments).
ROLLOUT_CFG = {
    "algorithm": "ddqn",
    "batch": 384,
    "episodes_per_task": 16,
    "learning_starts": 100_000_000,
    "eval_interval": 10_000_000,
    "total_timesteps": 100_000_000,
}
# Async task sizes compared with the adaptive sizing (learning off, 1 worker): (episodes per task, lanes).
# (2, 8) is the config's default; the others are what a user tuning by hand would try (256 is the largest task
# the sizer makes).
FIXED_SIZES = [(2, 8), (16, 8), (16, 16), (64, 64), (256, 64)]

# Counts ingested by the trainer at page time (ms since navigation).
SAMPLE_JS = "const s = robotrain.stats(); return [performance.now(), s.env_steps, s.episodes, s.updates];"

# Frame recorder: every requestAnimationFrame interval for `ms` milliseconds.
FRAMES_JS = """
const gaps = [];
let last = null;
await new Promise((resolve) => {
  const end = performance.now() + {ms};
  const tick = (now) => {
    if (last !== null) gaps.push(now - last);
    last = now;
    if (now < end) requestAnimationFrame(tick); else resolve();
  };
  requestAnimationFrame(tick);
});
return gaps;
"""


def set_mode(tab, mode: str) -> None:
    """Switch the page's mode through its own control (the pool is kept; the trainer is rebuilt)."""
    tab.run(f"const el = document.getElementById('mode'); el.value = '{mode}';"
            "el.dispatchEvent(new Event('change', {bubbles: true})); return true;")


def measure_rates(tab, plan: Plan) -> dict:
    """Median env-steps/s and episodes/min over plan.windows windows after a warm-up (page clock)."""
    time.sleep(plan.warmup_s)
    samples = [tab.run(SAMPLE_JS)]
    for _ in range(plan.windows):
        time.sleep(plan.window_s)
        samples.append(tab.run(SAMPLE_JS))
    steps, episodes, updates = [], [], []
    for a, b in zip(samples, samples[1:]):
        dt = (b[0] - a[0]) / 1000
        steps.append((b[1] - a[1]) / dt)
        episodes.append((b[2] - a[2]) * 60 / dt)
        updates.append((b[3] - a[3]) / dt)
    return {
        "env_steps_per_s": round(statistics.median(steps), 1),
        "episodes_per_min": round(statistics.median(episodes), 1),
        "updates_per_s": round(statistics.median(updates), 1),
        "windows_env_steps_per_s": [round(x) for x in steps],
    }


def frame_stats(tab, plan: Plan) -> dict:
    """The page's frame rate over plan.fps_windows windows of 2 s: the median window's mean (frames/s), the 95th
    percentile of every frame interval (ms) and the frame count."""
    gaps = []
    means = []
    for _ in range(plan.fps_windows):
        window = tab.run(FRAMES_JS.replace("{ms}", "2000"))
        if window:
            means.append(1000 * len(window) / sum(window))
            gaps.extend(window)
    gaps.sort()
    return {
        "mean": round(statistics.median(means), 1) if means else 0.0,
        "p95_frame_ms": round(gaps[int(0.95 * (len(gaps) - 1))], 1) if gaps else None,
        "frames": len(gaps),
    }


def first_worker(session: Session) -> list[float]:
    """Seconds from navigation until one worker is ready (booted and holding an actor)."""
    values = []
    for i in range(session.plan.startup_repeats):
        session.progress.step(f"start-up, 1 worker ({i + 1}/{session.plan.startup_repeats})")
        tab = session.open({"env": "cartpole", "workers": 1})
        s = wait(tab, "s.timings.workers_ready_ms !== null", 120, "one worker ready")
        values.append(s["timings"]["workers_ready_ms"] / 1000)
        session.close(tab)
    return values


def workers_row(session: Session, n: int) -> dict:
    """Pool start-up, learning-off sync and async rates, and memory, with n workers in one page."""
    session.progress.step(f"{n} workers: starting the pool")
    params = {"env": "cartpole", "workers": n, "mode": "sync", "seed": 0, **ROLLOUT_CFG}
    tab = session.open(params)
    s = wait(tab, f"s.state === 'ready' && s.workers_ready === {n}", 300, f"{n} workers ready", poll_ms=50)
    result = {"startup_s": s["timings"]["workers_ready_ms"] / 1000, "python_ready_s": s["timings"]["python_ready_ms"] / 1000,
              "boot_stages_ms": s["workers"][0].get("boot_stages_ms")}
    if n in session.plan.memory_counts:
        session.progress.step(f"{n} workers: memory (idle, ready)")
        result["memory_ready_mb"] = round(settled_pss_mb() - session.blank_mb, 1)
    rows = []
    for mode in ("sync", "async"):
        if mode != "sync":
            set_mode(tab, mode)
            wait(tab, f"s.state === 'ready' && s.mode === '{mode}' && s.workers_ready === {n}", 60, f"{mode} ready")
        tab.run("robotrain.start(); return true;")
        session.progress.step(f"{n} workers, {mode}, learning off: measuring")
        rates = measure_rates(tab, session.plan)
        tab.run("robotrain.pause(); return true;")
        rows.append({"mode": mode, "workers": n, "learning": False, **rates})
        session.progress.done(f"{mode:>5} {n:>2} workers, learning off: {rates['env_steps_per_s']:>9,.0f} env steps/s")
    if n in session.plan.memory_counts:
        result["memory_after_mb"] = round(settled_pss_mb() - session.blank_mb, 1)
    session.close(tab)
    result["rows"] = rows
    return result


def sizing_rows(session: Session, workers: int = 1) -> list[dict]:
    """Async rollouts (learning off) with each fixed task size of FIXED_SIZES and with adaptive sizing."""
    rows = []
    settings = [{"sizing": "fixed", "episodes_per_task": e, "lanes": k} for e, k in FIXED_SIZES] + [{"sizing": "auto"}]
    for extra in settings:
        label = "auto" if extra["sizing"] == "auto" else f"fixed {extra['episodes_per_task']} episodes x {extra['lanes']} lanes"
        session.progress.step(f"task sizing {label}, async, {workers} worker(s), learning off")
        tab = session.open({"env": "cartpole", "workers": workers, "mode": "async", "seed": 0, **ROLLOUT_CFG, **extra})
        wait(tab, f"s.state === 'ready' && s.workers_ready === {workers}", 120, "workers ready", poll_ms=50)
        tab.run("robotrain.start(); return true;")
        rates = measure_rates(tab, session.plan)
        sizing = tab.run("return robotrain.stats().task_sizing;")
        session.close(tab)
        row = {"sizing": extra["sizing"], "workers": workers, "episodes_per_task": sizing["episodes_per_task"],
               "lanes": sizing["lanes"], "ms_per_episode": sizing["ms_per_episode"], **rates}
        rows.append(row)
        session.progress.done(f"task sizing {label:<32} {rates['env_steps_per_s']:>9,.0f} env steps/s"
                              + (f" (settled at {row['episodes_per_task']} episodes x {row['lanes']} lanes)" if extra["sizing"] == "auto" else ""))
    return rows


def learning_row(session: Session, mode: str) -> tuple[dict, dict | None]:
    """Learning on at the page defaults (`mode`, workers auto, seed 0): (its rates' row, the frame rate in that
    run; None in main mode)."""
    session.progress.step(f"{mode}, learning on (defaults): starting")
    params = {"env": "cartpole", "mode": mode, "seed": 0}
    tab = session.open(params)
    wait(tab, "s.state === 'ready' && (s.mode === 'main' || s.workers_ready === s.workers.length)", 300, "page ready")
    tab.run("robotrain.start(); return true;")
    session.progress.step(f"{mode}, learning on (defaults): measuring")
    rates = measure_rates(tab, session.plan)
    s = tab.run("return robotrain.stats();")
    fps = None
    if mode != "main":
        session.progress.step(f"{mode}, learning on: frame rate")
        fps = frame_stats(tab, session.plan)
    session.close(tab)
    row = {"mode": mode, "workers": len(s["workers"]), "learning": True, **rates}
    session.progress.done(f"{mode:>5} {row['workers']:>2} workers, learning on:  {rates['env_steps_per_s']:>9,.0f} env steps/s")
    return row, fps
