"""One page-benchmark session: the built site's pages opened in one browser, waited on through the page's own
``robotrain.stats()``, and the live progress line. tests/bench/page_bench.py starts it; the measurement
modules (python_speed, page_rates, time_to_solve) drive pages through it."""

from __future__ import annotations

import sys
import time

from tests.bench.memory import settled_pss_mb
from tests.bench.plan import Plan


class Progress:
    """One live progress line (rewritten in place on a terminal) plus final lines for finished steps."""

    def __init__(self):
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, text: str) -> None:
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


def wait(tab, condition: str, timeout_s: float, what: str, poll_ms: int = 100) -> dict:
    js = WAIT_JS.format(timeout_ms=int(timeout_s * 1000), condition=condition, what=what.replace("'", ""), poll_ms=poll_ms)
    return tab.run(js)


def page_url(base: str, params: dict) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{base}?{query}"


class Session:
    """The pages of one browser (``new_tab`` gives a Tab of tests/browser/engines.py) on the site at ``base_url``."""

    def __init__(self, plan: Plan, progress: Progress, base_url: str, new_tab):
        self.plan = plan
        self.progress = progress
        self.base = base_url
        self.new_tab = new_tab
        self.blank_mb = None  # the whole browser's PSS with one blank page, MB (blank() measures it)

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
