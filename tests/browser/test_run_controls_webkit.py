"""Issue 19's run controls in WebKit (Selenium + WebKitGTK; the `tab` fixture): raising the step budget after the
end continues the same run, Reset can be undone, the end of a run is summarized. Chromium and Firefox run the
fuller tests in test_run_controls.py."""

from __future__ import annotations

import json
import time

import pytest

POLL_S = 0.5


def wait_js(tab, expression: str, timeout_s: float, what: str) -> None:
    guarded = f"window.robotrain !== undefined && Boolean({expression})"
    deadline = time.monotonic() + timeout_s
    while not tab.evaluate(guarded):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}; stats: "
                        f"{tab.evaluate('JSON.stringify(window.robotrain ? robotrain.stats() : null)')}")
        time.sleep(POLL_S)


@pytest.mark.only_browser("webkit", reason="test_run_controls.py covers Chromium and Firefox with Playwright")
def test_budget_raise_continues_the_run_and_reset_is_undone(tab, base_url):
    tab.goto(f"{base_url}?algorithm=ddqn&mode=main&seed=6&total_timesteps=2000&autostart=1")
    wait_js(tab, "robotrain.stats().finished", 180, "the 2,000-step run to finish")
    wait_js(tab, "document.getElementById('notice-text').textContent.startsWith('Run finished')", 10, "the end summary")
    end = tab.evaluate("robotrain.stats()")
    history = tab.evaluate("JSON.stringify(robotrain.history())")
    # What the form does when the field changes.
    tab.run("const el = document.getElementById('cfg-total_timesteps'); el.value = '4000';"
            " el.dispatchEvent(new Event('change'));")
    wait_js(tab, "robotrain.stats().step_budget === 4000", 10, "the new budget")
    s = tab.evaluate("robotrain.stats()")
    assert s["env_steps"] == end["env_steps"] and s["config"]["total_timesteps"] == 2000 and not s["finished"]
    assert tab.evaluate("JSON.stringify(robotrain.history())") == history
    assert "Run finished" not in tab.evaluate("document.getElementById('notice-text').textContent")
    assert tab.evaluate("robotrain.start()") is True
    wait_js(tab, "robotrain.stats().finished && robotrain.stats().env_steps >= 4000", 180, "the run to end at 4,000")
    after = json.loads(tab.evaluate("JSON.stringify(robotrain.history())"))
    assert after["episodes"][: len(json.loads(history)["episodes"])] == json.loads(history)["episodes"]
    done = tab.evaluate("robotrain.stats()")
    tab.click("#reset")
    wait_js(tab, "robotrain.stats().episodes === 0 && robotrain.stats().kept_run !== null", 20, "a fresh run, the old kept")
    tab.click("#undo-yes")
    wait_js(tab, f"robotrain.stats().env_steps === {done['env_steps']}", 30, "the run back")
    assert tab.evaluate("robotrain.stats().errors") == []
    assert tab.evaluate("window.robotrainProblems || []") == []
