"""Accessibility (issue 19): axe-core (pinned in package.json, installed by npm ci) finds no serious or critical
problem on the page while it trains, in the light and the dark theme, and with the hyperparameter form open; the
charts, the live view and the progress bars have names; keyboard focus is visible.

axe's source is run through the test driver's evaluate (not a script tag, which the page's
Content-Security-Policy forbids), so the page is checked under its own policy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

RUN_AXE = """() => axe.run(document, { resultTypes: ['violations'] }).then(result => result.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
})))"""


@pytest.fixture
def checked_page(page, page_log):
    """The plugin's page and its log, once axe-core is installed."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci installs the devDependencies of package.json)")
    return page, page_log


def serious(page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    version = json.loads((AXE.parent / "package.json").read_text())["version"]
    assert page.evaluate("axe.version") == version
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_no_serious_problem_while_training(checked_page, base_url, theme):
    page, log = checked_page
    page.emulate_media(color_scheme=theme)
    page.goto(f"{base_url}?workers=1&mode=sync&seed=0&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 20 && document.querySelectorAll('.chart .uplot').length === 5", 120,
             "training with its charts")
    page.click("#hyper summary")
    page.wait_for_timeout(1200)  # the charts' text alternatives follow their data once a second
    assert serious(page) == []
    # Names a screen reader reads: the charts' latest values, the live view, the bars.
    label = page.get_attribute("#chart-return", "aria-label")  # read once: an evaluation may land between two reads
    assert "latest greedy evaluation" in label or "no greedy evaluation yet" in label, label
    assert page.get_attribute("#view", "role") == "img" and "robot" in page.get_attribute("#view", "aria-label")
    assert page.get_attribute("#budget-bar", "aria-label")
    page.evaluate("robotrain.pause()")
    assert log.problems() == []


def test_keyboard_focus_is_visible_on_start(checked_page, base_url):
    page, _ = checked_page
    page.goto(f"{base_url}?mode=main")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page")
    page.focus("#start")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible applies
    outline = page.evaluate("(() => { const s = getComputedStyle(document.activeElement); return [document.activeElement.id, s.outlineStyle, s.outlineWidth, s.outlineColor]; })()")
    assert outline[0] == "start" and outline[1] == "solid" and outline[2] == "2px", outline
