"""The page benchmark: drives the built site headlessly and measures the issue-5 figures in one run.

    python tests/bench/page_bench.py [--browser chromium|firefox|webkit] [--json FILE] [--quick] [--doc FILE]

(``python3 build.py bench ...`` installs what it needs and runs this.) Measures, in one browser session:
native CPython actor throughput (K=1, K=64), the same actor code in one browser worker, actor-rollout scaling
with learning off (sync and async, 1..12 workers), training throughput with learning on (`main` mode and the
page defaults), frame rate while training, whole-browser memory (PSS of the browser's process tree minus a
blank page), start-up times and cartpole's time to solve. Every timing is the median of repeated windows and
every ratio is taken within this run. Writes the JSON; tests/bench/report.py writes the Markdown and the charts
(docs/).

This file is the command line and the run's order; the measurements live beside it: plan.py (what a run
measures, from the options), session.py (the browser's pages, waits, progress), python_speed.py (robotrain's
code in one worker and in CPython), page_rates.py (start-up, throughput, memory, task sizes, frame rate),
time_to_solve.py, memory.py (the browser's PSS). The browser comes from tests/browser/engines.py, the harness
the browser tests use.
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

from tests.bench import page_rates, python_speed, time_to_solve  # noqa: E402
from tests.bench.plan import Plan  # noqa: E402
from tests.bench.report import (SOLVE_TARGETS_S, learner_markdown, ratios, solve_markdown, table,  # noqa: E402
                                write_doc, write_only_doc, write_only_section)
from tests.bench.session import Progress, Session  # noqa: E402
# The browsers, launched as the tests launch them: engine(name) yields (new_tab, version), a Tab per call.
from tests.browser.engines import open_engine as engine  # noqa: E402


def run(browser_name: str, plan: Plan, site: Path) -> dict:
    """One run of `plan` on the built site in `site` (served here on a free port): the JSON's figures."""
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
        out["native"] = {"env_steps_per_s": python_speed.native_actor(plan), "python": platform.python_version()}
        progress.done(f"native CPython K=1 {out['native']['env_steps_per_s']['1']:,.0f}, K=64 {out['native']['env_steps_per_s']['64']:,.0f} env steps/s")
        with engine(browser_name) as (new_tab, version):
            out["browser_version"] = version
            session = Session(plan, progress, base, new_tab)
            blank = session.blank()
            progress.done(f"blank page: {blank:,.0f} MB (PSS, whole browser)")
            actor = python_speed.actor(session)
            out["pyodide"] = actor["pyodide"]
            out["actor"] = {"env_steps_per_s": {k: round(v["env_steps_per_s"], 1) for k, v in actor["actor"].items()}}
            progress.done(f"browser worker K=1 {out['actor']['env_steps_per_s']['1']:,.0f}, K=64 {out['actor']['env_steps_per_s']['64']:,.0f} env steps/s")
            first = page_rates.first_worker(session)
            scaling, memory, pools = [], {}, {}
            for n in plan.worker_counts:
                row = page_rates.workers_row(session, n)
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
            out["sizing"] = page_rates.sizing_rows(session)
            main_row, _ = page_rates.learning_row(session, "main")
            default_row, fps = page_rates.learning_row(session, "sync")
            scaling.extend([main_row, default_row])
            out["scaling"] = scaling
            out["fps"] = fps
            out["memory_mb"] = {"blank": round(blank, 1), "workers": {k: v["ready"] for k, v in memory.items()},
                                "workers_after_rollouts": {k: v["after_rollouts"] for k, v in memory.items()}}
            out["startup_s"] = {"first_worker": round(statistics.median(first), 2), "first_worker_runs": [round(x, 2) for x in first],
                                "pool": pools}
            out["learner_ms"] = python_speed.learner(session)
            out["time_to_solve"] = time_to_solve.solve(session)
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
            session = Session(plan, progress, base, new_tab)
            if "learner" in plan.only:
                out["learner_ms"] = python_speed.learner(session)
            if "solve" in plan.only:
                out["time_to_solve"] = time_to_solve.solve(session)
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
