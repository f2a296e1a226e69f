"""Screenshots of the page training each env at 1280x720, 1280x800, 1920x1080 and on a phone (390x844), into
docs/screenshots/.

    python tests/browser/screenshots.py [--seconds 60] [--theme light|dark]

Builds the site into a temporary directory, serves it, trains each env in async mode with 2 workers in
Debian's headless Chromium, and saves what the window shows (not the whole scrolling page).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.engines import launch_args  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
ENVS = ["cartpole", "acrobot", "balancebot"]
SIZES = [(1280, 720), (1280, 800), (1920, 1080), (390, 844)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="training time per env before the shots")
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--envs", nargs="*", default=ENVS)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "dist"
        build.build(site)
        server = build.serve(site, "127.0.0.1", 0, isolated=False)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with sync_playwright() as p:
            browser = p.chromium.launch(**launch_args("chromium"))
            for env in args.envs:
                width, height = SIZES[0]
                context = browser.new_context(viewport={"width": width, "height": height},
                                              color_scheme=args.theme)
                page = context.new_page()
                page.goto(f"{url}?env={env}&mode=async&workers=2&seed=0&autostart=1")
                deadline = time.monotonic() + 180  # polled from here: the page's CSP forbids wait_for_function's eval
                while not page.evaluate("window.robotrain !== undefined && robotrain.stats().workers_ready === 2"):
                    if time.monotonic() > deadline:
                        raise TimeoutError("two workers were not ready after 180 s")
                    page.wait_for_timeout(500)
                time.sleep(args.seconds)
                for width, height in SIZES:
                    page.set_viewport_size({"width": width, "height": height})
                    time.sleep(2.5)  # charts follow the new width; the robot keeps moving
                    suffix = "" if args.theme == "light" else "-dark"
                    path = OUT / f"{env}-{width}x{height}{suffix}.png"
                    page.screenshot(path=str(path))
                    s = page.evaluate("robotrain.stats()")
                    print(f"{path.relative_to(ROOT)}: {s['episodes']} episodes, {s['env_steps']} env steps, "
                          f"best eval {s['best_eval_return']}, fps {s['fps']}")
                context.close()
            browser.close()
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
