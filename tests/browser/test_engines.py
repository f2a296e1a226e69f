"""The tests written once for every engine (the `tab` fixture: Chromium and Firefox through pytest-playwright,
WebKit through Selenium + WebKitGTK), and the page's memory readout.

Smoke: load the page, train 200 episodes with 2 workers, save the model with the Save button, load it back
through the file input, and check that nothing went wrong: no console errors or warnings, no worker
failures, no request to another origin. Every engine is held to the page's own record
(window.robotrainProblems, kept by boot.js: console errors and warnings, uncaught errors, CSP violations)
and to the pool's worker failure counts (an uncaught error in a worker is one). Chromium and Firefox are also
held to Playwright's console log, which adds the engine's own messages; Selenium has no console API for WebKit.
Console messages logged inside workers are mostly unseen: the page cannot see them, and Playwright's BiDi
channel passed on a Firefox worker's messages from its first moments only (tried: those logged while the
worker script loaded and 0.1 s later arrived, later ones every 5 s did not). Requests to other origins are
caught by Playwright's request log (Chromium, Firefox) and by a proxy trap (Firefox, WebKit; engines.py).

Fault run: two workers in sync mode with injected crashes, hangs and slow tasks (the Chromium test in
test_reliability.py holds the same run to more figures); every issued episode id is ingested exactly once.
"""

from __future__ import annotations

import json
import time

import pytest

from .helpers import DRAINED, origin_of, stats, wait_for

# Async mode: the workers keep playing while the main thread learns, so 200 episodes do not wait on the
# learner (in sync mode WebKit's learner, the slowest of the three, sets the pace).
SMOKE_QUERY = "?algorithm=ddqn&workers=2&mode=async&seed=1&autostart=1"
SMOKE_EPISODES = 200
# Generous for a slow shared 2-core machine: Pyodide starts three times (page and two workers) first, which
# alone took WebKit 60-100 s there under load (~10 s idle).
TRAIN_TIMEOUT_S = 240
POLL_S = 1.0


def _wait_js(js, expression: str, timeout_s: float, what: str):
    """Poll the JS `expression` through `js` until truthy; fail with `what` and the page's stats."""
    guarded = f"window.robotrain !== undefined && Boolean({expression})"
    deadline = time.monotonic() + timeout_s
    while not js(guarded):
        if time.monotonic() > deadline:
            snapshot = js("JSON.stringify(window.robotrain ? robotrain.stats() : null)")
            message = js("document.getElementById('message').textContent")
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}; message: {message!r}; stats: {snapshot}")
        time.sleep(POLL_S)


def _train(js) -> dict:
    """Wait for 200 episodes from the two workers; pause; return the stats."""
    _wait_js(js, f"(s => s.episodes >= {SMOKE_EPISODES} && s.workers_ready === 2 && s.workers.every(w => w.episodes > 0))"
                 "(robotrain.stats())", TRAIN_TIMEOUT_S, f"{SMOKE_EPISODES} episodes, both workers playing")
    js("robotrain.pause()")
    _wait_js(js, "robotrain.stats().state === 'paused'", 30, "the pause")
    s = js("robotrain.stats()")
    assert s["mode"] == "async" and s["workers_ready"] == 2 and len(s["workers"]) == 2, s
    failures = s["reliability"]["recent_failures"]
    assert failures == [] and all(w["failures"] == 0 for w in s["workers"]), json.dumps(failures)
    assert s["episodes"] >= SMOKE_EPISODES and s["updates"] > 0 and s["policy_version"] > 0, s
    assert s["errors"] == []
    ids = [e[0] for e in js("robotrain.history()")["episodes"]]
    assert len(ids) == len(set(ids)) == s["episodes"], "every episode ingested once"
    return s


# Two workers, sync mode, faults far above the acceptance rates, seeded so the run meets every kind of fault.
FAULT_QUERY = "?algorithm=ddqn&workers=2&mode=sync&seed=2&fault_crash=0.12&fault_hang=0.08&fault_slow=0.1&fault_seed=3&autostart=1"
FAULT_EPISODES = 80


def _fault_run(js, strict: bool = True) -> dict:
    """Train FAULT_EPISODES episodes under injected faults, pause, let the pool drain; check nothing was lost.

    strict: every failure is an injected one. WebKit is held to less: its healthy workers were seen silent for
    2-3.5 s while replacements boot beside them on two cores (JavaScriptCore compiling numpy), and the pool took
    them for hung; such extra failures must still be silences, recovered, and cost no episode."""
    _wait_js(js, f"robotrain.stats().episodes >= {FAULT_EPISODES}", 2 * TRAIN_TIMEOUT_S, f"{FAULT_EPISODES} episodes under faults")
    js("robotrain.pause()")
    # The drain may hold a replacement's boot (a fault in the last tasks in flight, an evaluation among them):
    # as long as the first boots took WebKit under load, so the same allowance.
    paused_at = time.monotonic()
    _wait_js(js, DRAINED, TRAIN_TIMEOUT_S, "the paused run to drain with every worker back")
    print(f"\n[drain] {time.monotonic() - paused_at:.1f} s from pause to an idle pool")
    s = js("robotrain.stats()")
    r = s["reliability"]
    assert s["errors"] == [], s["errors"]
    assert s["episodes_lost"] == 0 and s["episodes_duplicated"] == 0, s
    ids = [e[0] for e in js("robotrain.history()")["episodes"]]
    assert ids == list(range(s["episodes"])), "every ingested episode id exactly once, none skipped"
    kinds = r["faults_injected_by_kind"]
    assert kinds.get("crash", 0) + kinds.get("hang", 0) > 0, kinds
    records = [(f["kind"], f.get("injected"), f["reason"][:80]) for f in r["recent_failures"]]
    injected = kinds.get("crash", 0) + kinds.get("hang", 0)
    if strict:
        assert r["failures"] == injected, records
    else:
        # Failures not caused by a crash or hang fault: healthy workers, or ones serving a 'slow' fault
        # (their result held back while a timer beats), taken for hung; or a 'slow' task (10x) that WebKit, on
        # busy cores, also ran past its deadline (40x the p95; seen once, a 29.3 s task). Each is re-run like any
        # failure, which the counts below check.
        extra = [rec for rec in records if rec[1] not in ("crash", "hang")]
        allowed = [rec for rec in extra if rec[0] == "hang" or (rec[0] == "deadline" and rec[1] == "slow")]
        assert r["failures"] == injected + len(extra) and allowed == extra, records
        print(f"\n[webkit] failures not injected (taken for hung, or a slow task past its deadline): {len(extra)} {extra}")
    assert r["recovered"] == r["failures"] and r["tasks_failed"] == 0, r
    assert len(s["workers"]) == 2 and all(w["state"] == "idle" for w in s["workers"])
    return s


def _save(js, click) -> str:
    """Press Save model; return the file text it hands the browser.

    Neither driver sees these downloads (Playwright's Firefox channel has no download events, Selenium none
    at all), so the text is robotrain.modelText(): the very call the button downloads from.
    """
    click()
    _wait_js(js, "document.getElementById('notice-text').textContent.includes('Saved the model')", 10,
             "the Save button's notice")
    return js("robotrain.modelText()")


def _check_saved(js, saved: str, trained: dict) -> dict:
    doc = json.loads(saved)
    assert doc["format"] == "robotrain-model" and doc["env_id"] == "cartpole", sorted(doc)
    assert doc["policy_version"] == trained["policy_version"] and doc["env_steps"] == trained["env_steps"]
    return doc


def _check_loaded(js, doc: dict, name: str):
    _wait_js(js, f"document.getElementById('notice-text').textContent.includes('Loaded \"{name}\"')", 30,
             "the model to load")
    s = js("robotrain.stats()")
    assert s["state"] == "ready" and s["errors"] == [], s
    assert s["loaded_model"]["name"] == name and s["loaded_model"]["policy_version"] == doc["policy_version"]
    again = json.loads(js("robotrain.modelText()"))
    assert again["params_f32_b64"] == doc["params_f32_b64"], "the loaded weights are the saved ones"
    # The loaded policy is live again: two ready workers, and training goes on from it.
    _wait_js(js, "robotrain.stats().workers_ready === 2", 60, "the workers after loading")
    assert js("robotrain.start()") is True
    _wait_js(js, "robotrain.stats().episodes >= 16", 60, "training from the loaded model")
    js("robotrain.pause()")


# ---- every engine ----------------------------------------------------------------------------------------

def test_smoke(tab, browser_name, base_url, tmp_path):
    tab.goto(base_url + SMOKE_QUERY)
    js = tab.evaluate
    trained = _train(js)
    saved = _save(js, lambda: tab.click("#save-model"))
    doc = _check_saved(js, saved, trained)
    model_file = tmp_path / f"{browser_name}.model.json"
    model_file.write_text(saved, encoding="utf-8")
    tab.upload("#load-file", model_file)
    _check_loaded(js, doc, model_file.name)

    assert js("window.robotrainProblems") == []
    # Other origins: Playwright's request log (Chromium, Firefox) and the proxy trap (Firefox, WebKit).
    assert tab.log.foreign_requests(origin_of(base_url)) == []
    if browser_name == "webkit":
        # Selenium has no request or console log: the page's own resource timings show where it fetched from.
        urls = js("performance.getEntriesByType('resource').map(e => e.name)")
        assert urls and all(url.startswith(origin_of(base_url) + "/") for url in urls), urls
    else:
        assert len(tab.page.workers) == 2
        assert tab.log.problems() == []
        # The request log is not vacuous: it saw the workers' Python runtime arrive.
        assert any(url.endswith("/pyodide/pyodide.asm.wasm") for url in tab.log.requests), tab.log.requests


@pytest.mark.skip_browser("chromium", reason="test_reliability.py holds Chromium's fault run to more figures")
def test_fault_run_loses_and_duplicates_nothing(tab, browser_name, base_url):
    tab.goto(base_url + FAULT_QUERY)
    s = _fault_run(tab.evaluate, strict=browser_name != "webkit")
    print(f"\n[{browser_name} faults] {json.dumps({k: s['reliability'][k] for k in ('failures', 'recovered', 'requeued', 'faults_injected_by_kind')})}")
    assert tab.log.foreign_requests(origin_of(base_url)) == []


# ---- memory readout (Chromium) ----------------------------------------------------------------------------

@pytest.mark.only_browser("chromium", reason="performance.measureUserAgentSpecificMemory is Chromium's")
def test_isolated_page_reports_the_browsers_memory_figure(page, page_log, isolated_base_url):
    page.goto(f"{isolated_base_url}?workers=2&autostart=1")
    assert page.evaluate("crossOriginIsolated") is True
    assert page.evaluate("typeof performance.measureUserAgentSpecificMemory") == "function"
    wait_for(page, "robotrain.stats().workers_ready === 2 && robotrain.stats().episodes >= 16", 120,
             "two workers training")
    page.evaluate("robotrain.pause()")
    # The browser's own measurement, now: it covers the page and both workers.
    direct = page.evaluate("performance.measureUserAgentSpecificMemory()")
    scopes = [a["scope"] for entry in direct["breakdown"] for a in entry["attribution"]]
    assert scopes.count("DedicatedWorkerGlobalScope") >= 2 and "Window" in scopes, direct["breakdown"]
    # The page measures every 20 s (the first time before its workers existed): wait for a figure taken
    # since, which is close to the direct one (training is paused, memory moves little).
    low, high = 0.5 * direct["bytes"], 2 * direct["bytes"]
    wait_for(page, f"(m => m.source === 'measureUserAgentSpecificMemory' && m.bytes > {low} && m.bytes < {high})"
                   "(robotrain.stats().memory)", 60, f"the page to report the browser's figure ({direct['bytes']} B)")
    memory = stats(page)["memory"]
    assert 20 * 2**20 < memory["bytes"] < 4 * 2**30, memory
    assert memory["page_heap"] > 10_000_000 and memory["workers_heap"] > 20_000_000, memory
    text = page.locator("#memory").inner_text()
    assert f"Memory: {memory['bytes'] / 2**20:.0f} MB for the whole page (measured by the browser)" in text, text
    assert page_log.problems() == []


def test_page_that_is_not_isolated_sums_the_python_heaps(page, page_log, base_url):
    page.goto(f"{base_url}?workers=2&autostart=1")
    assert page.evaluate("crossOriginIsolated") is False
    wait_for(page, "robotrain.stats().workers_ready === 2 && robotrain.stats().workers.every(w => w.heap_bytes > 0)",
             120, "two workers with their heaps")
    page.evaluate("robotrain.pause()")
    # The readout refreshes every 2 s, so it may still predate the second worker's boot: wait for it.
    wait_for(page, "robotrain.stats().memory.workers_heap >= robotrain.stats().workers.reduce((a, w) => a + w.heap_bytes, 0)",
             10, "the memory readout to include both workers")
    s = stats(page)
    memory = s["memory"]
    assert memory["source"] == "python heaps"
    # The pool's heaps: its two workers' and those of any booted spare.
    assert memory["workers_heap"] >= sum(w["heap_bytes"] for w in s["workers"]) > 20_000_000
    assert memory["page_heap"] > 10_000_000
    assert memory["bytes"] == memory["page_heap"] + memory["workers_heap"]
    text = page.locator("#memory").inner_text()
    assert "of Python heaps" in text and "in 2 workers" in text
    assert "needs cross-origin isolation" in text
    assert page_log.problems() == []
