"""Served start-up and download, an earlier commit against the working tree: interleaved page loads, medians.

    .venv/bin/python tests/bench/startup_ab.py --before COMMIT [--rounds 11] [--workers 2] [--browser chromium]

Builds COMMIT's site (a temporary git worktree, its own build.py) and this checkout's, serves each on its own
port, and loads `?env=cartpole&workers=N` in a fresh context of one browser (launched by tests/browser/engines.py,
as the tests and the page benchmark launch it), the two sites in alternating order each round, so that the
machine's load hits both alike. Per load: the page's Python ready and the whole pool ready
(`robotrain.stats().timings`, ms after navigation) and the bytes the page itself fetched (the encoded bodies of
its navigation and resource timings; the workers' fetches are not in the page's timeline). Prints each load,
then the medians and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402
from tests.browser.engines import open_engine  # noqa: E402

READY_S = 120  # a load whose pool is not ready by then is an error, s
PAGE_BYTES = """performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .reduce((sum, e) => sum + (e.encodedBodySize || 0), 0)"""


def build_commit(commit: str, scratch: Path) -> Path:
    """COMMIT's site, built by its own build.py in a temporary worktree (sharing this checkout's node_modules)."""
    tree = scratch / "before"
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(tree), commit], cwd=ROOT, check=True,
                   capture_output=True)
    (tree / "node_modules").symlink_to(ROOT / "node_modules")
    subprocess.run([sys.executable, "build.py", "build"], cwd=tree, check=True, capture_output=True)
    return tree / "dist"


def serve(site: Path) -> str:
    server = build.serve(site, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def load(new_tab, url: str) -> dict:
    tab = new_tab()  # a fresh context: nothing cached from the previous load
    try:
        tab.goto(url)
        deadline = time.monotonic() + READY_S
        # Polled, not wait_for_function: the page's policy refuses the string evaluation that one would need.
        while not tab.evaluate("Boolean(window.robotrain && robotrain.stats().timings.workers_ready_ms)"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: the pool was not ready within {READY_S} s")
            time.sleep(0.05)
        t = tab.evaluate("robotrain.stats().timings")
        return {"python_ready_ms": t["python_ready_ms"], "workers_ready_ms": t["workers_ready_ms"],
                "page_bytes": tab.evaluate(PAGE_BYTES)}
    finally:
        tab.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--browser", choices=["chromium", "firefox"], default="chromium")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="robotrain-startup-") as scratch:
        try:
            sites = {"before": build_commit(args.before, Path(scratch)), "now": Path(scratch) / "now"}
            build.build(sites["now"])
            urls = {name: serve(site) + f"?env=cartpole&workers={args.workers}" for name, site in sites.items()}
            rows: dict[str, list[dict]] = {name: [] for name in sites}
            print(f"load average at the start: {os.getloadavg()}", flush=True)
            with open_engine(args.browser) as (new_tab, _):
                for round_ in range(args.rounds):
                    for name in (["before", "now"] if round_ % 2 == 0 else ["now", "before"]):
                        rows[name].append(load(new_tab, urls[name]))
                        print(f"round {round_ + 1} {name}: {rows[name][-1]}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(Path(scratch) / "before")], cwd=ROOT,
                           capture_output=True)
    print(f"load average at the end: {os.getloadavg()}")
    for name, runs in rows.items():
        medians = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(f"median of {len(runs)}, {name} ({args.before if name == 'before' else 'working tree'}): {medians}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
