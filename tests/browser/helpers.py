"""Small helpers shared by the browser tests."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stats(page) -> dict:
    return page.evaluate("robotrain.stats()")


def wait_for(page, expression: str, timeout_s: float, what: str):
    """Wait until the JS `expression` is truthy; on timeout fail with `what` and the page's last stats.

    window.robotrain appears only once the page's modules have loaded; until then the wait goes on.
    """
    guarded = f"window.robotrain !== undefined && ({expression})"
    try:
        page.wait_for_function(guarded, timeout=timeout_s * 1000, polling=500)
    except PlaywrightTimeout:
        snapshot = page.evaluate("JSON.stringify(window.robotrain ? robotrain.stats() : null)")
        pytest.fail(f"timed out after {timeout_s} s waiting for {what}; stats: {snapshot}")
