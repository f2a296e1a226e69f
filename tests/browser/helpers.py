"""Small helpers shared by the browser tests."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError


# Paused with the pool at rest: nothing queued, nothing owed by a worker. (Sync mode plays the next batch
# while it learns, so a played batch may wait, in memory, for Start: it counts as in flight, not lost.)
DRAINED = (
    "(() => { const s = robotrain.stats(); return s.state === 'paused' && "
    "s.reliability.held.queued_tasks === 0 && s.reliability.held.pending_requests === 0 && "
    "s.workers.every(w => w.state === 'idle'); })()"
)


@dataclass
class PageLog:
    """What one page did: console messages (page and workers), uncaught errors, requested URLs, and the requests
    its browser sent to a ForeignRequestTrap (engines.py) since the log began."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    trap: object = None
    trap_start: int = 0

    @classmethod
    def attach(cls, context, page, trap=None) -> "PageLog":
        """A log recording a Playwright `page` and its `context`'s requests, from now on.

        trap: the ForeignRequestTrap the browser was launched with (Firefox), or None."""
        log = cls(trap=trap, trap_start=len(trap.seen) if trap else 0)
        context.on("request", lambda request: log.requests.append(request.url))
        page.on("console", lambda message: log.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: log.errors.append(str(error)))
        page.on("worker", lambda worker: worker.on("console", lambda m: log.console.append((m.type, m.text))))
        return log

    @classmethod
    def new_page(cls, context, trap=None):
        """A new page of a Playwright ``context`` and the PageLog recording it (and the context's requests)."""
        page = context.new_page()
        return page, cls.attach(context, page, trap)

    def problems(self) -> list[str]:
        """Console errors and warnings, and uncaught page errors."""
        # Chromium (CDP) calls a warning "warning", Firefox (WebDriver BiDi) "warn".
        bad = [f"console {kind}: {text}" for kind, text in self.console if kind in ("error", "warning", "warn")]
        return bad + [f"page error: {text}" for text in self.errors]

    def foreign_requests(self, origin: str) -> list[str]:
        """Requests that went anywhere but `origin` (data: and blob: URLs are local), and those the trap saw."""
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            if f"{parts.scheme}://{parts.netloc}" != origin:
                out.append(url)
        return out + (self.trap.seen[self.trap_start:] if self.trap else [])


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stats(page) -> dict:
    return page.evaluate("robotrain.stats()")


def wait_for(page, expression: str, timeout_s: float, what: str):
    """Wait until the JS `expression` is truthy; on timeout fail with `what` and the page's last stats.

    window.robotrain appears only once the page's modules have loaded; until then the wait goes on.
    The expression is polled from here with page.evaluate (every 0.5 s): the page's Content-Security-Policy
    forbids eval, which Playwright's wait_for_function needs for a string predicate.
    """
    guarded = f"window.robotrain !== undefined && Boolean({expression})"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if page.evaluate(guarded):
                return
        except PlaywrightError as error:  # a navigation replaced the page under the poll: poll the new one
            if "context was destroyed" not in str(error):
                raise
        if time.monotonic() >= deadline:
            break
        page.wait_for_timeout(500)
    snapshot = page.evaluate("JSON.stringify(window.robotrain ? robotrain.stats() : null)")
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}; stats: {snapshot}")


def wait_workers_gone(page, timeout_s: float = 10) -> None:
    """Wait until the page has no Web Workers left (the pool starts with the page; bad settings stop it)."""
    deadline = time.monotonic() + timeout_s
    while page.workers and time.monotonic() < deadline:
        page.wait_for_timeout(100)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def chromium_processes(renderers_only: bool = False) -> list[int]:
    """The Chromium processes this test process started (through Playwright): all, or only the renderers
    (where pages and their workers run)."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            if "chrom" not in Path(f"/proc/{pid}/comm").read_text():
                continue
            if renderers_only and b"--type=renderer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            found.append(pid)
        except OSError:
            continue
    return found


def pss_bytes(pids) -> int:
    """Sum of the proportional set sizes (/proc/PID/smaps_rollup) of `pids`, bytes; a process gone counts 0."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total
