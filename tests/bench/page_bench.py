"""The page benchmark: drives the built site headlessly and measures the issue-5 figures in one run.

    python tests/bench/page_bench.py [--browser chromium|firefox|webkit] [--json FILE] [--quick] [--doc FILE]

(``python3 build.py bench ...`` installs what it needs and runs this.) Measures, in one browser session:
native CPython actor throughput (K=1, K=64), the same actor code in one browser worker, actor-rollout scaling
with learning off (sync and async, 1..12 workers), training throughput with learning on (`main` mode and the
page defaults), frame rate while training, whole-browser memory (PSS of the browser's process tree minus a
blank page), start-up times and cartpole's time to solve. Every timing is the median of repeated windows and
every ratio is taken within this run. Writes the JSON; tests/bench/report.py writes the Markdown and the charts
(docs/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402
from robotrain.bench import learner_ms_per_update  # noqa: E402

from tests.bench.report import (SOLVE_TARGETS_S, learner_markdown, ratios, solve_markdown, table,  # noqa: E402
                                write_doc, write_only_doc, write_only_section)
# The browsers, launched as the tests launch them: engine(name) yields (new_tab, version), a Tab per call.
from tests.browser.engines import open_engine as engine  # noqa: E402
from tests.browser.helpers import descendants, pss_bytes  # noqa: E402

# Learner benchmark grid: the cartpole (64x64) and balancebot (128x128) networks at these batch sizes.
LEARNER_ENVS = ("cartpole", "balancebot")
LEARNER_BATCHES = (32, 128, 512)
# Learning off: no update ever (learning_starts beyond any run), no evaluation, a budget nobody reaches, and
# one fixed batch of 384 episodes so every worker count runs the same work: only the number of workers changes
# between rows. Task sizing is the page's default (adaptive, sizing.js); async tasks start at 16 episodes.
ROLLOUT_CFG = {
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
# Processes in our own tree that are not the browser (the Playwright driver, Xvfb, WebDriver).
NOT_BROWSER = {"node", "Xvfb", "WebKitWebDriver", "xvfb-run"}


class Plan:
    """What one run measures and for how long (seconds); --quick shortens every part."""

    def __init__(self, quick: bool, only: tuple = (), envs: tuple = (), modes: tuple = (), algorithms: tuple = (),
                 workers: tuple = (), settings: tuple = ()):
        self.quick = quick
        # Time to solve: more page settings for every run ("lanes=16"), as URL parameters; named in each row's key.
        self.solve_settings = dict(item.split("=", 1) for item in settings)
        self.only = tuple(only)  # sections to run alone (learner, solve); empty: everything
        self.native_min_steps = 5_000 if quick else 20_000
        self.native_repeats = 3 if quick else 5
        self.worker_counts = [1, 2, 12] if quick else [1, 2, 4, 8, 12]
        self.memory_counts = {1, 4, 12}
        self.warmup_s = 1.5 if quick else 3.0
        self.window_s = 1.5 if quick else 3.0
        self.windows = 3 if quick else 4
        self.startup_repeats = 0 if quick else 3  # --quick: the 1-worker row's start-up is the figure
        # Time to solve: (env, seeds, cap in s from navigation) per run, in each mode (sync is the page's
        # default; its worker count is the page's auto count, 1 on a 2-core machine).
        self.solve_runs = [("cartpole", (0, 1, 2), 90)] if quick else [
            ("cartpole", (0, 1, 2), 120), ("acrobot", (0, 1, 2), 120), ("balancebot", (0,), 900)]
        self.solve_modes = ("sync",) if quick else ("main", "sync", "async")
        if envs:
            self.solve_runs = [r for r in [("cartpole", (0, 1, 2), 120), ("acrobot", (0, 1, 2), 120),
                                           ("balancebot", (0,), 900)] if r[0] in envs]
        self.modes_given = bool(modes)
        if modes:
            self.solve_modes = tuple(modes)
        # Time to solve per algorithm (none given: the env's default, no algorithm in the URL) and per worker
        # count (none given: the page's auto count).
        self.solve_algorithms = tuple(algorithms) or (None,)
        self.solve_workers = tuple(workers) or (None,)
        self.learner_updates = 20 if quick else 40
        self.learner_repeats = 5 if quick else 7
        self.fps_windows = 2 if quick else 5


# ---------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------


class Progress:
    """One live progress line (rewritten in place on a terminal) plus final lines for finished steps."""

    def __init__(self):
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.text = ""

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, text: str) -> None:
        self.text = text
        line = f"[{self.elapsed():6.1f} s] {text}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        sys.stderr.write(f"[{self.elapsed():6.1f} s] {text}\n")
        sys.stderr.flush()


# ---------------------------------------------------------------------------------------------
# Memory: PSS of the browser's process tree
# ---------------------------------------------------------------------------------------------


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def browser_pss_mb() -> float:
    """Sum of PSS (MB) over every process below this one except the driver, Xvfb and WebDriver.

    The browser is our grandchild (through Playwright's node driver or WebKitWebDriver), so the tree is
    walked through those processes but their own memory is not counted.
    """
    return pss_bytes(pid for pid in descendants(os.getpid()) if _comm(pid) not in NOT_BROWSER) / 2**20


def settled_pss_mb(samples: int = 3, gap_s: float = 0.7) -> float:
    """Median of a few PSS readings (the browser frees and allocates in bursts)."""
    values = []
    for _ in range(samples):
        time.sleep(gap_s)
        values.append(browser_pss_mb())
    return statistics.median(values)


# ---------------------------------------------------------------------------------------------
# Page-side snippets
# ---------------------------------------------------------------------------------------------

# Resolves once window.robotrain exists and `condition` (JS, with s = robotrain.stats()) holds; gives s.
WAIT_JS = """
const deadline = performance.now() + {timeout_ms};
for (;;) {{
  if (window.robotrain) {{
    const s = robotrain.stats();
    if (s.errors.length) throw new Error('page error: ' + s.errors.join('; '));
    if ({condition}) return s;
  }}
  if (performance.now() > deadline) throw new Error('timed out waiting for: {what}; stats: ' +
    JSON.stringify(window.robotrain ? robotrain.stats() : null).slice(0, 1500));
  await new Promise((r) => setTimeout(r, {poll_ms}));
}}
"""

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

# One module worker (web/js/bench-worker.js) that loads robotrain exactly as the page's workers do, then calls the
# Python functions listed in CALLS ([{module, name, kwargs}], JSON) one after the other.
WORKER_CALLS_JS = """
const worker = new Worker(new URL('js/bench-worker.js', location.href), { type: 'module' });
const next = () => new Promise((resolve, reject) => {
  worker.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data));
  worker.onerror = (e) => reject(new Error(e.message || 'worker error'));
});
await next();
const results = [];
let version = null;
for (const call of CALLS) {
  worker.postMessage(call);
  const reply = await next();
  results.push(reply.ok);
  version = reply.pyodide;
}
worker.terminate();
return { pyodide: version, results };
"""


def wait(tab, condition: str, timeout_s: float, what: str, poll_ms: int = 100) -> dict:
    js = WAIT_JS.format(timeout_ms=int(timeout_s * 1000), condition=condition, what=what.replace("'", ""), poll_ms=poll_ms)
    return tab.run(js)


def page_url(base: str, params: dict) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{base}?{query}"


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


# ---------------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------------


def native_actor(plan: Plan) -> dict:
    """robotrain.bench under this CPython (the same actor code the workers run)."""
    from robotrain.bench import actor_steps_per_s

    return {
        str(k): round(actor_steps_per_s("cartpole", k, plan.native_min_steps, plan.native_repeats)["env_steps_per_s"], 1)
        for k in (1, 64)
    }


class Bench:
    def __init__(self, browser_name: str, plan: Plan, progress: Progress, base_url: str, new_tab):
        self.browser = browser_name
        self.plan = plan
        self.progress = progress
        self.base = base_url
        self.new_tab = new_tab
        self.out: dict = {}
        self.blank_mb = None

    def open(self, params: dict):
        tab = self.new_tab()
        tab.goto(page_url(self.base, params))
        return tab

    def close(self, tab) -> None:
        tab.close()
        time.sleep(0.5)  # let the browser reap the page's workers before the next measurement

    def blank(self) -> float:
        self.progress.step("memory of a blank page")
        tab = self.new_tab()
        tab.goto("about:blank")
        self.blank_mb = settled_pss_mb()
        self.close(tab)
        return self.blank_mb

    def worker_calls(self, calls: list[dict]) -> dict:
        """Run robotrain functions in one bench worker: {pyodide, results} (one result per call)."""
        tab = self.new_tab()
        tab.goto(self.base + "bench-blank")  # any same-origin document can start the worker
        out = tab.run(WORKER_CALLS_JS.replace("CALLS", json.dumps(calls)))
        self.close(tab)
        return out

    def actor(self) -> dict:
        self.progress.step("actor code in one browser worker (K=1, K=64)")
        lanes = (1, 64)
        out = self.worker_calls([{"module": "robotrain.bench", "name": "actor_steps_per_s",
                                  "kwargs": {"env_id": "cartpole", "lanes": k, "min_steps": self.plan.native_min_steps,
                                             "repeats": self.plan.native_repeats}} for k in lanes])
        return {"pyodide": out["pyodide"], "actor": {str(k): r for k, r in zip(lanes, out["results"])}}

    def learner(self) -> dict:
        """ms per learner update in one browser worker (numpy and the SIMD kernel), and natively (CPython)."""
        self.progress.step("learner updates in one browser worker (numpy, wasm-simd) and in CPython")
        grid = [(env, batch) for env in LEARNER_ENVS for batch in LEARNER_BATCHES]
        kwargs = {"updates": self.plan.learner_updates, "repeats": self.plan.learner_repeats}
        calls = [{"module": "robotrain.bench", "name": "learner_ms_per_update",
                  "kwargs": {"env_id": env, "batch_size": batch, "kernel": kernel, **kwargs}}
                 for kernel in ("numpy", "wasm-simd") for env, batch in grid]
        results = iter(self.worker_calls(calls)["results"])
        table: dict = {}
        for kernel in ("numpy", "wasm-simd"):
            for env, batch in grid:
                table.setdefault(env, {}).setdefault(str(batch), {})[kernel] = round(next(results)["ms"], 3)
        for env, batch in grid:
            table[env][str(batch)]["cpython"] = round(learner_ms_per_update(env, batch, **kwargs)["ms"], 3)
        for env, row in table.items():
            self.progress.done(f"{env} ms/update " + ", ".join(
                f"batch {b}: numpy {v['numpy']}, kernel {v['wasm-simd']}, CPython {v['cpython']}" for b, v in row.items()))
        return table

    def first_worker(self) -> list[float]:
        """Seconds from navigation until one worker is ready (booted and holding an actor)."""
        values = []
        for i in range(self.plan.startup_repeats):
            self.progress.step(f"start-up, 1 worker ({i + 1}/{self.plan.startup_repeats})")
            tab = self.open({"env": "cartpole", "workers": 1})
            s = wait(tab, "s.timings.workers_ready_ms !== null", 120, "one worker ready")
            values.append(s["timings"]["workers_ready_ms"] / 1000)
            self.close(tab)
        return values

    def workers_row(self, n: int) -> dict:
        """Pool start-up, learning-off sync and async rates, and memory, with n workers in one page."""
        self.progress.step(f"{n} workers: starting the pool")
        params = {"env": "cartpole", "workers": n, "mode": "sync", "seed": 0, **ROLLOUT_CFG}
        tab = self.open(params)
        s = wait(tab, f"s.state === 'ready' && s.workers_ready === {n}", 300, f"{n} workers ready", poll_ms=50)
        result = {"startup_s": s["timings"]["workers_ready_ms"] / 1000, "python_ready_s": s["timings"]["python_ready_ms"] / 1000,
                  "boot_stages_ms": s["workers"][0].get("boot_stages_ms")}
        if n in self.plan.memory_counts:
            self.progress.step(f"{n} workers: memory (idle, ready)")
            result["memory_ready_mb"] = round(settled_pss_mb() - self.blank_mb, 1)
        rows = []
        for mode in ("sync", "async"):
            if mode != "sync":
                set_mode(tab, mode)
                wait(tab, f"s.state === 'ready' && s.mode === '{mode}' && s.workers_ready === {n}", 60, f"{mode} ready")
            tab.run("robotrain.start(); return true;")
            self.progress.step(f"{n} workers, {mode}, learning off: measuring")
            rates = measure_rates(tab, self.plan)
            tab.run("robotrain.pause(); return true;")
            rows.append({"mode": mode, "workers": n, "learning": False, **rates})
            self.progress.done(f"{mode:>5} {n:>2} workers, learning off: {rates['env_steps_per_s']:>9,.0f} env steps/s")
        if n in self.plan.memory_counts:
            result["memory_after_mb"] = round(settled_pss_mb() - self.blank_mb, 1)
        self.close(tab)
        result["rows"] = rows
        return result

    def sizing_rows(self, workers: int = 1) -> list[dict]:
        """Async rollouts (learning off) with each fixed task size of FIXED_SIZES and with adaptive sizing."""
        rows = []
        settings = [{"sizing": "fixed", "episodes_per_task": e, "lanes": k} for e, k in FIXED_SIZES] + [{"sizing": "auto"}]
        for extra in settings:
            label = "auto" if extra["sizing"] == "auto" else f"fixed {extra['episodes_per_task']} episodes x {extra['lanes']} lanes"
            self.progress.step(f"task sizing {label}, async, {workers} worker(s), learning off")
            tab = self.open({"env": "cartpole", "workers": workers, "mode": "async", "seed": 0, **ROLLOUT_CFG, **extra})
            wait(tab, f"s.state === 'ready' && s.workers_ready === {workers}", 120, "workers ready", poll_ms=50)
            tab.run("robotrain.start(); return true;")
            rates = measure_rates(tab, self.plan)
            sizing = tab.run("return robotrain.stats().task_sizing;")
            self.close(tab)
            row = {"sizing": extra["sizing"], "workers": workers, "episodes_per_task": sizing["episodes_per_task"],
                   "lanes": sizing["lanes"], "ms_per_episode": sizing["ms_per_episode"], **rates}
            rows.append(row)
            self.progress.done(f"task sizing {label:<32} {rates['env_steps_per_s']:>9,.0f} env steps/s"
                               + (f" (settled at {row['episodes_per_task']} episodes x {row['lanes']} lanes)" if extra["sizing"] == "auto" else ""))
        return rows

    def learning_row(self, mode: str, keep: bool = False):
        """Learning on at the page defaults (`mode`, workers auto, seed 0); also the frame rate in that run.

        Returns (row, fps, tab): with `keep` the run goes on in `tab` (the first time-to-solve run)."""
        self.progress.step(f"{mode}, learning on (defaults): starting")
        params = {"env": "cartpole", "mode": mode, "seed": 0}
        tab = self.open(params)
        wait(tab, "s.state === 'ready' && (s.mode === 'main' || s.workers_ready === s.workers.length)", 300, "page ready")
        tab.run("robotrain.start(); return true;")
        self.progress.step(f"{mode}, learning on (defaults): measuring")
        rates = measure_rates(tab, self.plan)
        s = tab.run("return robotrain.stats();")
        fps = None
        if mode != "main":
            self.progress.step(f"{mode}, learning on: frame rate")
            fps = frame_stats(tab, self.plan)
        if not keep:
            self.close(tab)
            tab = None
        row = {"mode": mode, "workers": len(s["workers"]), "learning": True, **rates}
        self.progress.done(f"{mode:>5} {row['workers']:>2} workers, learning on:  {rates['env_steps_per_s']:>9,.0f} env steps/s")
        return row, fps, tab

    def solve(self) -> dict:
        """Time from navigation to the first solved greedy evaluation, per env, algorithm, mode, worker count and
        seed (page defaults otherwise)."""
        rows = []
        for env, seeds, cap in self.plan.solve_runs:
            # Balancebot's async run (minutes, and no target) only when --modes asks for it.
            modes = [m for m in self.plan.solve_modes if env != "balancebot" or m != "async" or self.plan.modes_given]
            runs = [(a, m, w, seed) for a in self.plan.solve_algorithms for m in modes for w in self.plan.solve_workers
                    for seed in seeds if not (m == "main" and w)]
            for algorithm, mode, workers, seed in runs:
                rows.append(self.solve_row(env, algorithm, mode, workers, seed, cap))
        medians = {}
        for key in dict.fromkeys(r["key"] for r in rows):
            times = [r["from_navigation_s"] for r in rows if r["key"] == key]
            medians[key] = statistics.median(times) if None not in times else None
        return {"rows": rows, "median_from_navigation_s": medians}

    def solve_row(self, env: str, algorithm: str | None, mode: str, workers: int | None, seed: int, cap: float) -> dict:
        """One run from navigation (``algorithm``/``workers`` None: the page's default) until solved or ``cap`` s."""
        params = {"env": env, "mode": mode, "seed": seed, "autostart": 1, **self.plan.solve_settings}
        if algorithm:
            params["algorithm"] = algorithm
        if workers:
            params["workers"] = workers
        self.progress.step(f"{env} time to solve, {algorithm or 'default algorithm'}, {mode}, {workers or 'auto'} "
                           f"workers, seed {seed}")
        tab = self.open(params)
        try:
            s = wait(tab, f"s.solved != null || s.finished || performance.now() > {cap * 1000}", cap + 60, "solved",
                     poll_ms=250)
        except Exception:  # noqa: BLE001 - a run that did not solve within the cap is a figure, not an error
            s = tab.run("return robotrain.stats();")
        self.close(tab)
        solved = s.get("solved")
        # Medians group the runs that differ only in their seed ("cartpole/sync", "cartpole/sync/pqn/2w").
        key = "/".join([env, mode, *([algorithm] if algorithm else []), *([f"{workers}w"] if workers else []),
                        *(f"{k}={v}" for k, v in self.plan.solve_settings.items())])
        row = {"env": env, "algorithm": s["config"]["algorithm"] if s.get("config") else algorithm, "mode": mode,
               "settings": self.plan.solve_settings,
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
                               "wait_evaluation": round(s["sync_waits_ms"]["evaluation"] / 1000, 1)}}
        self.progress.done(f"{env} {row['algorithm']} {mode} ({row['workers']} workers) seed {seed}: " + (
            f"solved {row['from_navigation_s']} s after navigation ({row['training_s']} s training, "
            f"{row['env_steps']:,} env steps, {row['updates']:,} updates)" if solved else
            "the step budget ended unsolved" if row["budget_reached"] else f"not solved within {cap} s")
            + f"; time at the end, s: {row['breakdown_s']}")
        return row


def run(browser_name: str, plan: Plan, site: Path) -> dict:
    progress = Progress()
    server = build.serve(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    out: dict = {
        "browser": browser_name,
        "cores": os.cpu_count(),
        "pyodide": build.PYODIDE_VERSION,
        "quick": plan.quick,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    if plan.only:
        out["only"] = list(plan.only)
        return run_only(browser_name, plan, base, server, out, progress)
    try:
        progress.step("native CPython actor (K=1, K=64)")
        out["native"] = {"env_steps_per_s": native_actor(plan), "python": platform.python_version()}
        progress.done(f"native CPython K=1 {out['native']['env_steps_per_s']['1']:,.0f}, K=64 {out['native']['env_steps_per_s']['64']:,.0f} env steps/s")
        with engine(browser_name) as (new_tab, version):
            out["browser_version"] = version
            bench = Bench(browser_name, plan, progress, base, new_tab)
            blank = bench.blank()
            progress.done(f"blank page: {blank:,.0f} MB (PSS, whole browser)")
            actor = bench.actor()
            out["pyodide"] = actor["pyodide"]
            out["actor"] = {"env_steps_per_s": {k: round(v["env_steps_per_s"], 1) for k, v in actor["actor"].items()}}
            progress.done(f"browser worker K=1 {out['actor']['env_steps_per_s']['1']:,.0f}, K=64 {out['actor']['env_steps_per_s']['64']:,.0f} env steps/s")
            first = bench.first_worker()
            scaling, memory, pools = [], {}, {}
            for n in plan.worker_counts:
                row = bench.workers_row(n)
                if n == 1:
                    first = first or [row["startup_s"]]
                    # Where the first worker's start-up goes (worker.js): waiting for the page's compiled runtime and
                    # interpreter snapshot, then restoring, loading numpy, importing robotrain.
                    out["startup_breakdown"] = {"page_python_ready_s": round(row["python_ready_s"], 2),
                                                "worker_stages_ms": row["boot_stages_ms"]}
                scaling.extend(row["rows"])
                pools[str(n)] = round(row["startup_s"], 2)
                if "memory_ready_mb" in row:
                    memory[str(n)] = {"ready": row["memory_ready_mb"], "after_rollouts": row["memory_after_mb"]}
                progress.done(f"{n:>2} workers ready {row['startup_s']:.2f} s after navigation"
                              + (f"; memory above blank {row['memory_ready_mb']:,.0f} MB" if "memory_ready_mb" in row else ""))
            progress.done(f"first worker ready {statistics.median(first):.2f} s after navigation")
            out["sizing"] = bench.sizing_rows()
            main_row, _, _ = bench.learning_row("main")
            default_row, fps, _ = bench.learning_row("sync")
            scaling.extend([main_row, default_row])
            out["scaling"] = scaling
            out["fps"] = fps
            out["memory_mb"] = {"blank": round(blank, 1), "workers": {k: v["ready"] for k, v in memory.items()},
                                "workers_after_rollouts": {k: v["after_rollouts"] for k, v in memory.items()}}
            out["startup_s"] = {"first_worker": round(statistics.median(first), 2), "first_worker_runs": [round(x, 2) for x in first],
                                "pool": pools}
            out["learner_ms"] = bench.learner()
            out["time_to_solve"] = bench.solve()
    finally:
        close(server, out, progress)
    out["ratios"] = ratios(out)
    return out


def close(server, out: dict, progress: Progress) -> None:
    """Stop the site's server and note the load average and the run's wall time."""
    server.shutdown()
    server.server_close()
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["wall_s"] = round(progress.elapsed(), 1)


def run_only(browser_name: str, plan: Plan, base: str, server, out: dict, progress: Progress) -> dict:
    """Only the sections named by --only (learner, solve): their JSON, no ratios and no document."""
    try:
        with engine(browser_name) as (new_tab, version):
            out["browser_version"] = version
            bench = Bench(browser_name, plan, progress, base, new_tab)
            if "learner" in plan.only:
                out["learner_ms"] = bench.learner()
            if "solve" in plan.only:
                out["time_to_solve"] = bench.solve()
    finally:
        close(server, out, progress)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build.py bench", description=__doc__.splitlines()[0])
    parser.add_argument("--browser", choices=["chromium", "firefox", "webkit"], default="chromium")
    parser.add_argument("--json", metavar="FILE", help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="shorter windows and fewer worker counts (< 3 min)")
    parser.add_argument("--doc", metavar="FILE", default=None,
                        help="Markdown file whose section for this browser is rewritten ('' for none; default "
                             "docs/benchmarks.md; with --only, docs/benchmarks-solve.md is appended to and the run's "
                             "own section of benchmarks.md beside it rewritten)")
    parser.add_argument("--site", metavar="DIR", help="an already built site (default: build one into a temp dir)")
    parser.add_argument("--only", nargs="+", choices=["learner", "solve"], default=[],
                        help="run only these sections")
    parser.add_argument("--envs", nargs="+", choices=list(SOLVE_TARGETS_S), default=[], help="time-to-solve envs")
    parser.add_argument("--modes", nargs="+", choices=["main", "sync", "async"], default=[], help="time-to-solve modes")
    parser.add_argument("--algorithms", nargs="+", choices=["ddqn", "pqn"], default=[],
                        help="time-to-solve algorithms (default: each env's default, not named in the URL)")
    parser.add_argument("--workers", nargs="+", type=int, default=[],
                        help="time-to-solve worker counts (default: the page's auto count)")
    parser.add_argument("--set", nargs="+", default=[], metavar="PARAM=VALUE", dest="settings",
                        help="time-to-solve runs: more URL parameters of the page (lanes=16 num_envs=64 ...)")
    args = parser.parse_args(argv)
    bad = [item for item in args.settings if "=" not in item]
    if bad:
        parser.error(f"--set takes PARAM=VALUE, got {' '.join(bad)}")
    plan = Plan(args.quick, args.only, args.envs, args.modes, args.algorithms, args.workers, args.settings)
    if args.doc is None:
        args.doc = str(ROOT / "docs" / ("benchmarks-solve.md" if plan.only else "benchmarks.md"))
    with tempfile.TemporaryDirectory(prefix="robotrain-bench-") as scratch:
        site = Path(args.site) if args.site else Path(scratch) / "dist"
        if not args.site:
            build.build(site)
        out = run(args.browser, plan, site)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    if plan.only:
        text = "\n".join(learner_markdown(out, f"benchmarks-{out['browser']}.svg") + solve_markdown(out))
        print(text, flush=True)
        if args.doc:
            write_only_doc(Path(args.doc), out, text)
            write_only_section(Path(args.doc).parent / "benchmarks.md", out)
        return 0
    print(table(out), flush=True)
    if args.doc:
        write_doc(Path(args.doc), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
