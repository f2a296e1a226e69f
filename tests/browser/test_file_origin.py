"""The page opened from disk (issue 18): dist/index.html as a file:// URL boots from the files build.py carries in
classic scripts under disk/ (runtime/disk.js), starts classic blob: workers and trains, in Chromium, Firefox and
WebKit; a damaged carried file is named, and the served page never loads anything under disk/."""

from __future__ import annotations

import json
import shutil
import time
from urllib.parse import urlsplit

import pytest

from .helpers import stats, wait_for

QUERY = "?env=cartpole&algorithm=ddqn&workers=2&autostart=1"
# The same "rising" as test_training.py: 100 episodes, and the best greedy evaluation reaches 100 and five times
# the mean return of the first 50 episodes (the random policy's, about 22).
TRAINED = (
    "(() => { const h = robotrain.history(); if (h.episodes.length < 100 || !h.evals.length) return false;"
    " const random = h.episodes.slice(0, 50).reduce((a, e) => a + e[1], 0) / 50;"
    " return Math.max(...h.evals.map(e => e[1])) >= Math.max(100, 5 * random); })()"
)


def local_only(log) -> list[str]:
    """Requests to anything but a file: or blob: URL (and what Firefox's proxy trap saw)."""
    out = [url for url in log.requests if urlsplit(url).scheme not in ("file", "blob", "data")]
    return out + (log.trap.seen[log.trap_start:] if log.trap else [])


def test_opened_from_disk_the_page_trains_saves_and_loads_a_model(page, page_log, site, browser_name):
    page.goto((site / "index.html").as_uri() + QUERY)
    wait_for(page, "typeof robotrain !== 'undefined' && robotrain.stats().workers_ready === 2", 240,
             "the page and 2 workers from disk")
    wait_for(page, TRAINED, 240, "100 episodes and a greedy evaluation that rises")
    s = stats(page)
    assert [w["id"] for w in s["workers"]] == [0, 1] and all(w["episodes"] > 0 for w in s["workers"]), s["workers"]
    assert s["episodes_lost"] == 0 and s["episodes_duplicated"] == 0
    page.evaluate("robotrain.pause()")
    wait_for(page, "['paused', 'finished'].includes(robotrain.stats().state)", 30, "the pause")

    # A model saved from disk loads back (Firefox's BiDi reports no downloads: the text Save would download).
    if browser_name == "firefox":
        saved = page.evaluate("robotrain.modelText()")
    else:
        with page.expect_download() as info:
            page.click("#save-model")
        saved = open(info.value.path(), encoding="utf-8").read()
    doc = json.loads(saved)
    assert doc["env_id"] == "cartpole" and doc["policy_version"] == stats(page)["policy_version"]
    page.set_input_files("#load-file", files=[{"name": "disk.model.json", "mimeType": "application/json",
                                               "buffer": saved.encode()}])
    wait_for(page, "document.getElementById('notice-text').textContent.includes('Loaded')", 30, "the model to load")
    assert json.loads(page.evaluate("robotrain.modelText()"))["params_f32_b64"] == doc["params_f32_b64"]

    # What a file origin changes, said on the page and true: autosave works (IndexedDB of the file origin), a
    # share link names the file.
    assert page.evaluate("robotrain.autosave()") not in (False, None)
    wait_for(page, "robotrain.stats().autosave.saves >= 1", 30, "an autosave")
    link = page.evaluate("robotrain.shareLink()")

    # The only message is the note on what a page from disk does differently (no error).
    message = page.locator("#message")
    assert message.inner_text().startswith("Opened from disk") and "note" in message.get_attribute("class")
    assert local_only(page_log) == []
    assert page_log.problems() == []
    assert link.startswith((site / "index.html").as_uri() + "?"), link


def test_a_damaged_carried_file_is_named_and_the_served_command_given(page, page_log, site, tmp_path):
    copy = tmp_path / "dist"
    shutil.copytree(site, copy)
    carried = copy / "disk" / "files" / "py" / "robotrain.zip.js"
    text = carried.read_text()
    middle = len(text) // 2
    carried.write_text(text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1:])
    page.goto((copy / "index.html").as_uri() + QUERY)
    message = page.locator("#message")
    message.wait_for(state="visible", timeout=60_000)
    words = message.inner_text()
    assert "robotrain.zip.js is damaged" in words and "python3 build.py serve" in words
    assert page.evaluate("typeof window.robotrain") == "undefined"
    assert local_only(page_log) == []


def test_the_served_page_loads_nothing_carried_for_disk(page, page_log, base_url):
    page.goto(f"{base_url}?workers=1")
    wait_for(page, "typeof robotrain !== 'undefined' && robotrain.stats().workers_ready === 1", 120, "the served page")
    paths = [urlsplit(url).path for url in page_log.requests]
    assert "/js/main.js" in paths
    assert [p for p in paths if p.startswith("/disk/")] == []
    assert page_log.problems() == []


@pytest.mark.only_browser("webkit", reason="Chromium and Firefox train from disk in the tests above, with their logs")
def test_webkit_trains_opened_from_disk(tab, site):
    tab.goto((site / "index.html").as_uri() + QUERY)
    deadline = time.monotonic() + 300
    # Both workers up too: with the early evaluations, one worker can train cartpole this far while WebKit still
    # boots the other.
    while not tab.evaluate(f"window.robotrain !== undefined && robotrain.stats().workers_ready === 2 && {TRAINED}"):
        message = tab.evaluate("document.getElementById('message').hidden ? null : document.getElementById('message').innerText")
        assert message is None or message.startswith("Opened from disk"), message  # the disk note, no error
        assert time.monotonic() < deadline, "no 100 episodes and rising evaluation from disk within 300 s"
        time.sleep(1)
    s = tab.evaluate("robotrain.stats()")
    assert s["workers_ready"] == 2 and s["episodes_lost"] == 0
    assert tab.evaluate("window.robotrainProblems") == []
    # Selenium has no request log, and WebKit keeps no resource timings of file: loads: the proxy trap, which gets
    # every request to another host, is the witness.
    assert local_only(tab.log) == []
