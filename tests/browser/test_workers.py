"""The worker pool: weights through a SharedArrayBuffer when isolated, and a crashed worker's task re-queued."""

from __future__ import annotations

import pytest

from .helpers import origin_of, stats, wait_for


def test_isolated_page_shares_weights_through_a_shared_array_buffer(page, page_log, isolated_base_url):
    page.goto(f"{isolated_base_url}?workers=2&mode=sync&batch=16&autostart=1")
    assert page.evaluate("crossOriginIsolated") is True
    wait_for(page, "robotrain.stats().newest_result_policy_version > 0", 120, "a result played with learned weights")
    s = stats(page)
    assert s["weights_transport"] == "SharedArrayBuffer"
    assert all(w["failures"] == 0 for w in s["workers"])
    # Reset drops the run and keeps the workers; Start trains the fresh run.
    page.evaluate("robotrain.reset()")
    s = stats(page)
    assert s["state"] == "ready" and s["episodes"] == 0 and s["updates"] == 0
    assert page.evaluate("robotrain.history()") == {"episodes": [], "evals": []}
    assert page.evaluate("robotrain.start()") is True
    wait_for(page, "robotrain.stats().episodes >= 16", 60, "training after reset")
    assert [e[0] for e in page.evaluate("robotrain.history()")["episodes"]][:16] == list(range(16))
    assert page_log.foreign_requests(origin_of(isolated_base_url)) == []
    assert page_log.problems() == []


@pytest.mark.only_browser("chromium", reason="evaluates in a worker, which Playwright's Firefox (WebDriver BiDi) cannot; "
                           "test_engines.py's fault run crashes Firefox's workers from inside")
def test_a_crashed_worker_is_replaced_and_its_task_runs_again(page, page_log, base_url):
    # Sync mode, batch 16 = two tasks of 8 episodes per batch, two workers.
    page.goto(f"{base_url}?algorithm=ddqn&workers=2&mode=sync&batch=16&seed=3&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 32", 120, "training to run")
    # Make worker 0's next message throw outside any handler: an uncaught error, as a crash would be.
    crashing = next(w for w in page.workers if "robotrain-actor-0" in (w.evaluate("self.name") or ""))
    crashing.evaluate("(() => { self.onmessage = () => { throw new Error('injected crash'); }; return true; })()")
    wait_for(page, "robotrain.stats().workers[0].failures === 1", 60, "the crash to be noticed")
    done = stats(page)["episodes"]
    wait_for(page, f"robotrain.stats().episodes >= {done + 64}", 120, "training to go on after the crash")
    wait_for(page, "robotrain.stats().workers[0].state !== 'restarting'", 60, "the replacement worker")
    page.evaluate("robotrain.pause()")
    s = stats(page)
    assert s["state"] == "paused" and s["errors"] == []
    assert s["workers"][0]["failures"] == 1 and s["workers"][1]["failures"] == 0
    ids = [e[0] for e in page.evaluate("robotrain.history()")["episodes"]]
    assert ids == list(range(len(ids))), "every episode id exactly once, none lost"
    others = [p for p in page_log.problems() if "injected crash" not in p]
    assert others == []


def test_mode_and_worker_count_from_the_controls(page, page_log, base_url):
    page.goto(f"{base_url}?mode=main")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page to be ready")
    assert stats(page)["workers"] == [] and page.workers == []
    assert page.locator("#workers").is_disabled(), "the worker count means nothing in main mode"
    page.select_option("#mode", "async")
    page.select_option("#workers", "2")
    wait_for(page, "robotrain.stats().workers_ready === 2", 90, "two workers")
    s = stats(page)
    assert s["mode"] == "async" and s["settings"]["workers"] == 2
    assert "mode=async" in page.url and "workers=2" in page.url  # the URL holds what differs from the defaults
    page.select_option("#mode", "sync")
    wait_for(page, "robotrain.stats().mode === 'sync'", 10, "sync mode")
    assert "mode=" not in page.url, "sync is the default mode, so the URL leaves it out"
    page.select_option("#mode", "main")
    wait_for(page, "robotrain.stats().mode === 'main' && robotrain.stats().workers.length === 0", 10, "main mode")
    page.wait_for_timeout(500)
    assert page.workers == [], "main mode terminates the workers"
    assert page_log.problems() == []


def test_changing_the_worker_count_keeps_the_run_and_its_curve(page, page_log, base_url):
    """Workers 1 -> 2 -> 1 mid-run: the pool is resized under the run (no reset), and the sync history is still
    the command line's for the same seed (kernel=numpy: the same arithmetic), whoever played each episode."""
    from robotrain.config import Config
    from robotrain.serial import train_serial

    page.goto(f"{base_url}?algorithm=ddqn&workers=1&mode=sync&seed=3&kernel=numpy&autostart=1")
    wait_for(page, "robotrain.stats().workers_ready === 1 && robotrain.stats().episodes >= 40", 180, "1 worker training")
    before = stats(page)["env_steps"]
    page.select_option("#workers", "2")
    assert "the run goes on" in page.locator("#notice-text").inner_text()
    wait_for(page, "robotrain.stats().workers_ready === 2 && robotrain.stats().workers.every(w => w.episodes > 0)",
             180, "the second worker to play")
    grown = stats(page)
    assert grown["env_steps"] > before and grown["state"] == "running", "the run went on, from where it was"
    page.select_option("#workers", "1")
    wait_for(page, f"robotrain.stats().workers.length === 1 && robotrain.stats().episodes >= {grown['episodes'] + 24}",
             180, "training on with one worker")
    page.evaluate("robotrain.pause()")
    s = stats(page)
    assert s["errors"] == [] and s["episodes_lost"] == 0 and s["episodes_duplicated"] == 0, s
    history = page.evaluate("robotrain.history()")
    ids = [e[0] for e in history["episodes"]]
    assert ids == list(range(len(ids))), "every episode id once, in order"
    reference = train_serial(Config.for_env("cartpole", algorithm="ddqn", seed=3), max_steps=s["env_steps"]).history()
    n = min(len(ids), len(reference["episodes"]))
    assert n >= 64 and history["episodes"][:n] == reference["episodes"][:n]
    assert page_log.problems() == []
