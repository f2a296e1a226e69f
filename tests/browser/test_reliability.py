"""Reliability in Chromium and Firefox (two tests are Chromium's, marked): injected worker crashes, hangs and slow tasks lose and duplicate nothing; a diverged
learner rolls back; the Content-Security-Policy holds and the page still works under it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import time
import urllib.request

import numpy as np
import pytest

from .helpers import DRAINED, chromium_processes, origin_of, stats, wait_for


def refusals_only(problems: list[str]) -> list[str]:
    """Console problems other than the browser's reports of refusals by the Content-Security-Policy (Chromium's
    words, then Firefox's) and of the refused request to 198.51.100.7."""
    words = ("Content Security Policy", "The page’s settings blocked", "198.51.100.7")
    return [p for p in problems if not any(w in p for w in words)]


def injected_only(problems: list[str]) -> list[str]:
    """Console problems other than the injected crashes' own uncaught errors."""
    return [p for p in problems if "injected crash" not in p]


@pytest.mark.only_browser("chromium", reason="test_engines.py's test_fault_run_loses_and_duplicates_nothing runs this "
                           "fault run, held to fewer figures, in Firefox and WebKit")
def test_injected_crashes_hangs_and_slow_tasks_lose_and_duplicate_nothing(page, page_log, base_url):
    # Three workers, faults far above the acceptance rates, seeded so the run meets every kind of fault.
    query = "algorithm=ddqn&workers=3&mode=sync&seed=2&fault_crash=0.12&fault_hang=0.08&fault_slow=0.1&fault_seed=3&autostart=1"
    page.goto(f"{base_url}?{query}")
    wait_for(page, "robotrain.stats().episodes >= 120", 240, "120 episodes under injected faults")
    page.evaluate("robotrain.pause()")
    # A fault among the last tasks in flight makes the drain wait for a replacement's boot: boot-sized allowance.
    wait_for(page, DRAINED, 240, "the paused run to drain with every worker back")
    s = stats(page)
    r = s["reliability"]
    assert s["errors"] == [], s["errors"]
    assert s["episodes_lost"] == 0 and s["episodes_duplicated"] == 0
    assert s["episodes_issued"] == s["episodes"] + s["episodes_in_flight"]
    assert s["episodes_in_flight"] <= s["config"]["batch_episodes"]
    ids = [e[0] for e in page.evaluate("robotrain.history()")["episodes"]]
    assert ids == list(range(s["episodes"])), "every ingested episode id exactly once, none skipped"
    kinds = r["faults_injected_by_kind"]
    assert kinds["crash"] > 0 and kinds["hang"] > 0 and kinds["slow"] > 0, kinds
    # Crashes and hangs are failures; slow tasks are not (they beat and finish).
    assert r["failures"] == kinds["crash"] + kinds["hang"], r
    assert r["recovered"] == r["failures"] and r["tasks_failed"] == 0
    assert r["requeued"] >= r["failures"] - 1  # a crash between tasks has nothing to re-queue
    detected = {f["kind"] for f in r["recent_failures"]}
    assert "hang" in detected, "a hung worker is found by its missing heartbeat"
    for f in r["recent_failures"]:
        assert f["injected"] in ("crash", "hang"), f
        # Behaviour bounds, not the speed figures (tests/browser/reliability_report.py measures those): a
        # failure is found no later than the longest silence the pool tolerates (10 s) plus a watchdog tick,
        # and a booted spare takes over within 3 s (usually ~0.03 s; a worker booting beside busy ones takes ~4 s).
        assert f["detection_ms"] is not None and f["detection_ms"] < 10_500, f
        assert f["recovered_ms"] is not None, f
        if f["replacement"] == "spare":
            assert f["recovered_ms"] < 3000, f
    spared = [f for f in r["recent_failures"] if f["replacement"] == "spare"]
    assert spared, f"a booted spare replaces a failed worker: {r['recent_failures']}"
    assert len(s["workers"]) == 3 and all(w["state"] == "idle" for w in s["workers"])
    held = r["held"]
    assert held["workers"] == 3 + held["spares"] and held["spares"] == held["spare_target"] and held["timers"] == 1
    assert held["awaiting_spares"] is False
    # Tasks waited for the spares to boot, so even the first failure found one booted.
    if r["failures"] <= len(r["recent_failures"]):
        assert r["recent_failures"][0]["replacement"] == "spare", r["recent_failures"][0]
    # Two spares while faults are injected (plus one per 4 workers: none for 3), one more for each failure that
    # found none booted (at most 4).
    unspared = sum(1 for f in r["recent_failures"] if f["replacement"] != "spare")
    assert held["spare_target"] == min(4, 2 + unspared), (held, unspared)
    # The page said what happened.
    assert "Fault injection is on" in page.locator("#message").inner_text()
    assert page.locator("#notice-text").inner_text().startswith("Worker ")
    assert page_log.foreign_requests(origin_of(base_url)) == []
    assert injected_only(page_log.problems()) == []


def test_a_nan_in_the_weights_pauses_rolls_back_and_training_goes_on(page, page_log, base_url):
    page.goto(f"{base_url}?mode=main&seed=4&learning_starts=200&autostart=1")
    wait_for(page, "robotrain.stats().updates >= 150", 120, "learning to start")
    assert page.evaluate("robotrain.testInjectNaN()") is True
    wait_for(page, "robotrain.stats().divergences === 1 && robotrain.stats().state === 'paused'", 30, "the rollback")
    s = stats(page)
    assert "NaN or Inf in the weights" in s["last_divergence"] and "rolled back" in s["last_divergence"]
    assert s["errors"] == []
    notice = page.locator("#notice-text").inner_text()
    assert "diverged" in notice and "last good weights" in notice
    # The saved model is the rolled-back one: every parameter finite. (Decode it: its base64 text may hold the
    # letters "NaN" by chance.)
    model = json.loads(page.evaluate("robotrain.modelText()"))
    params = np.frombuffer(base64.b64decode(model["params_f32_b64"]), dtype="<f4")
    assert params.size > 0 and np.all(np.isfinite(params))
    updates = s["updates"]
    assert page.evaluate("robotrain.start()") is True
    wait_for(page, f"robotrain.stats().updates >= {updates + 200}", 120, "training after the rollback")
    s = stats(page)
    assert s["divergences"] == 1 and s["loss"] is not None and s["state"] == "running"
    assert page.evaluate("robotrain.evaluate()").get("mean_return") is not None
    # Files read as data: a model of the wrong shape and a cut-off run card are refused; training goes on.
    doc = json.loads(page.evaluate("robotrain.modelText()"))
    raw = base64.b64decode(doc["params_f32_b64"])[:-12]
    doc["params_f32_b64"] = base64.b64encode(raw).decode()
    doc["params_sha256"] = hashlib.sha256(raw).hexdigest()
    card = json.dumps(page.evaluate("robotrain.runCard()"))
    for name, data, words in [("shape.json", json.dumps(doc), "parameters; hidden sizes"),
                              ("card.json", card[: len(card) // 3], "not valid JSON")]:
        result = page.evaluate("([text, name]) => robotrain.loadText(text, name)", [data, name])
        assert result["ok"] is False and words in result["error"], result
        assert words in page.locator("#notice-text").inner_text()
    done = stats(page)["episodes"]
    wait_for(page, f"robotrain.stats().episodes > {done + 3}", 60, "training after the refused files")
    assert stats(page)["state"] == "running" and stats(page)["errors"] == []
    assert page_log.problems() == []


@pytest.mark.only_browser("chromium", reason="stops Chromium's renderer processes and reads CDP's DOM counters")
def test_a_frozen_page_and_a_suspended_browser_go_on_without_failures_or_piled_up_work(page, page_log, base_url):
    """A frozen page (Chromium freezes background tabs: the renderer, workers included, runs nothing; here its
    renderer process is stopped with SIGSTOP) and a laptop's sleep (every browser process stopped, while the
    clock runs on) must not make healthy workers look hung, and must not leave work piled up: after each, the
    pool holds what it held before and training goes on. (CDP's Page.setWebLifecycleState froze nothing in
    this headless Chromium, so the freeze is done from outside.)"""
    page.goto(f"{base_url}?workers=2&mode=async&seed=4&autostart=1")
    wait_for(page, "robotrain.stats().workers_ready === 2 && robotrain.stats().episodes >= 100", 180, "2 workers training")
    held_before = stats(page)["reliability"]["held"]
    cdp = page.context.new_cdp_session(page)
    listeners_before = cdp.send("Memory.getDOMCounters")["jsEventListeners"]
    for what in ("frozen page", "stopped browser"):
        s = stats(page)
        stopped = chromium_processes(renderers_only=what == "frozen page")
        assert stopped, f"the processes of the {what}"
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(8)
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        wait_for(page, f"robotrain.stats().episodes > {s['episodes'] + 50}", 60, f"training to go on after the {what}")
        after = stats(page)
        r = after["reliability"]
        # The watchdog saw the gap (so the pause was real) and took nobody for hung.
        assert r["page_stalls"] > s["reliability"]["page_stalls"] and r["longest_stall_ms"] >= 5000, (what, r)
        assert r["failures"] == 0 and after["errors"] == [], (what, r["recent_failures"], after["errors"])
        # Nothing piled up: the same workers and timers, at most two tasks per worker owed, none queued beyond that.
        held = r["held"]
        print(f"\n[{what}] stopped 8 s; longest gap seen {r['longest_stall_ms']} ms; failures {r['failures']}; "
              f"episodes {s['episodes']} -> {after['episodes']}; held {held}")
        assert held["workers"] == held_before["workers"] and held["timers"] == 1, (what, held)
        assert held["pending_requests"] <= 2 * 2 + 1 and held["queued_tasks"] <= 2 * 2, (what, held)
    # No event listener piled up either (the renderer's count, page and workers).
    listeners_after = cdp.send("Memory.getDOMCounters")["jsEventListeners"]
    assert listeners_after <= listeners_before, (listeners_before, listeners_after)
    page.evaluate("robotrain.pause()")
    wait_for(page, DRAINED, 60, "the paused run to drain")
    s = stats(page)
    assert s["episodes_lost"] == 0 and s["episodes_duplicated"] == 0
    assert page_log.problems() == []


@pytest.mark.parametrize("query", ["fault_crash=2", "fault_hang=-0.1", "fault_slow=abc", "fault_seed=x", "sizing=turbo"])
def test_bad_fault_and_sizing_parameters_are_named_and_nothing_starts(page, page_log, base_url, query):
    page.goto(f"{base_url}?{query}&autostart=1")
    wait_for(page, "robotrain.stats().state === 'invalid'", 30, "the parameter to be refused")
    name = query.split("=")[0]
    text = page.locator("#message").inner_text()
    assert f'{name} = "{query.split("=")[1]}" is not allowed' in text and "Nothing was started" in text
    assert stats(page)["workers"] == [] and page.workers == []
    assert page_log.problems() == []


def test_content_security_policy_holds_and_the_page_still_trains(page, page_log, base_url, browser_name):
    with urllib.request.urlopen(base_url) as response:
        header = response.headers["Content-Security-Policy"]
        html = response.read().decode()
    with urllib.request.urlopen(f"{base_url}js/worker.js") as response:
        assert response.headers["Content-Security-Policy"] == header, "workers get the policy too"
    assert "script-src 'self' 'wasm-unsafe-eval';" in header and "'unsafe-eval'" not in header.replace("'wasm-unsafe-eval'", "")
    assert "connect-src 'self'" in header and "unsafe-inline" not in header
    assert 'http-equiv="Content-Security-Policy"' in html
    page.goto(f"{base_url}?workers=1&mode=sync&seed=5&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 16", 120, "training under the policy")
    # Inline script, eval, and a request to another origin are all refused, on the page and in a worker.
    refused = page.evaluate(
        """async () => {
            const script = document.createElement('script');
            script.textContent = 'window.__inline = 1';
            document.head.append(script);
            // A string timer is compiled by the page itself (scripts evaluated by the test are exempt).
            setTimeout('window.__evaluated = 1', 0);
            await new Promise((resolve) => setTimeout(resolve, 200));
            const evalRefused = window.__evaluated === undefined;
            let fetchRefused = false;
            try { await fetch('http://198.51.100.7:9/x'); } catch (e) { fetchRefused = true; }
            return { inline: window.__inline === undefined, evalRefused, fetchRefused };
        }"""
    )
    assert refused == {"inline": True, "evalRefused": True, "fetchRefused": True}
    if browser_name == "chromium":  # Playwright's Firefox (WebDriver BiDi) cannot evaluate in a worker
        worker = next(w for w in page.workers if "robotrain-actor-0" in (w.evaluate("self.name") or ""))
        assert worker.evaluate(
            "new Promise((resolve) => { setTimeout('self.__evaluated = 1', 0); setTimeout(() => resolve(self.__evaluated === undefined), 200); })"
        )
    s = stats(page)
    assert s["errors"] == [] and s["workers"][0]["failures"] == 0
    assert page_log.foreign_requests(origin_of(base_url)) == []
    # The only problems are the three refusals this test provoked (the browser reports each one).
    assert refusals_only(page_log.problems()) == []


@pytest.mark.only_browser("chromium", reason="evaluates in a worker, which Playwright's Firefox (WebDriver BiDi) cannot")
def test_workers_run_under_the_pages_policy_on_a_host_that_sends_no_headers(page, page_log, plain_base_url):
    """A static host that sends no Content-Security-Policy: the meta tag covers the page, and the workers,
    started from a blob: module (pool.js), inherit it, so they too refuse eval and other origins."""
    with urllib.request.urlopen(f"{plain_base_url}js/worker.js") as response:
        assert response.headers["Content-Security-Policy"] is None, "this host sends no policy"
    page.goto(f"{plain_base_url}?workers=1&mode=sync&seed=5&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 16", 120, "training on a header-less host")
    worker = next(w for w in page.workers if "robotrain-actor-0" in (w.evaluate("self.name") or ""))
    refused = worker.evaluate(
        """async () => {
            setTimeout('self.__evaluated = 1', 0);
            await new Promise((resolve) => setTimeout(resolve, 200));
            let fetchRefused = false;
            try { await fetch('http://198.51.100.7:9/x'); } catch (e) { fetchRefused = true; }
            return { evalRefused: self.__evaluated === undefined, fetchRefused };
        }"""
    )
    assert refused == {"evalRefused": True, "fetchRefused": True}
    s = stats(page)
    assert s["errors"] == [] and s["workers"][0]["failures"] == 0
    assert page_log.foreign_requests(origin_of(plain_base_url)) == []
    assert refusals_only(page_log.problems()) == []
