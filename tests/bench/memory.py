"""Whole-browser memory for the page benchmark: PSS of the browser's process tree (Linux /proc)."""

from __future__ import annotations

import os
import statistics
import time

from tests.browser.helpers import descendants, pss_bytes

# Processes in our own tree that are not the browser (the Playwright driver, Xvfb, WebDriver).
NOT_BROWSER = {"node", "Xvfb", "WebKitWebDriver", "xvfb-run"}


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
