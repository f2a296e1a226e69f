"""The page itself: clean load, bad settings in the URL and in the controls, opened from disk."""

from __future__ import annotations

import time

import pytest

from .helpers import origin_of, stats, wait_for, wait_workers_gone

READY = "robotrain.stats().state === 'ready' && robotrain.stats().workers.every(w => w.state === 'idle')"


def test_page_loads_cleanly_from_its_own_origin(page, page_log, base_url):
    page.goto(f"{base_url}?workers=2")
    wait_for(page, READY, 90, "the page and 2 workers to be ready")
    s = stats(page)
    assert [w["id"] for w in s["workers"]] == [0, 1]
    assert s["workers_ready"] == 2
    assert s["config"]["env_id"] == "cartpole"
    assert s["episodes"] == 0 and s["updates"] == 0, "nothing trains before Start"
    assert page.locator("#message").is_hidden()
    assert page.locator("#start").is_enabled()
    # The bar is redrawn a few times a second, so it may trail stats() by a moment.
    wait_for(page, "document.querySelector('#loading-text').innerText === 'Workers ready: 2 of 2.'", 5, "the loading bar")
    # Everything fits a 1280x720 window without horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page_log.requests, "no requests recorded"
    assert page_log.foreign_requests(origin_of(base_url)) == []
    assert page_log.problems() == []


# (query, parameter named in the message, words of the allowed values that must appear)
BAD_URLS = [
    ("workers=0", "workers", ["auto", "1 to 16"]),
    ("workers=17", "workers", ["auto", "1 to 16"]),
    ("workers=four", "workers", ["auto", "1 to 16"]),
    ("seed=abc", "seed", ["whole number from 0"]),
    ("seed=-3", "seed", ["whole number from 0"]),
    ("mode=turbo", "mode", ["main", "sync", "async"]),
    ("batch=0", "batch", ["whole number"]),
    ("lanes=x", "lanes", ["whole number"]),
    ("autostart=maybe", "autostart", ["1 or 0"]),
]


@pytest.mark.parametrize("query,param,allowed", BAD_URLS, ids=[q for q, _, _ in BAD_URLS])
def test_bad_url_parameter_is_named_and_nothing_starts(page, page_log, base_url, query, param, allowed):
    page.goto(f"{base_url}?{query}&autostart=1" if "autostart" not in query else f"{base_url}?{query}")
    message = page.locator("#message")
    message.wait_for(state="visible", timeout=10_000)
    text = message.inner_text()
    assert f"URL parameter {param} =" in text
    for word in allowed:
        assert word in text
    assert "Nothing was started" in text
    s = stats(page)
    assert s["state"] == "invalid"
    assert s["workers"] == [] and page.workers == []
    assert page.evaluate("robotrain.start()") is False
    assert page.locator("#start").is_disabled()
    assert stats(page)["episodes"] == 0
    assert page_log.problems() == []


def test_bad_env_and_out_of_range_lanes_are_named_once_python_knows_them(page, page_log, base_url):
    page.goto(f"{base_url}?env=moonwalker&lanes=100000&autostart=1")
    wait_for(page, "robotrain.stats().state === 'invalid'", 60, "the settings to be rejected")
    text = page.locator("#message").inner_text()
    assert 'URL parameter env = "moonwalker" is not allowed: use one of cartpole, acrobot, balancebot' in text
    assert 'URL parameter lanes = "100000" is not allowed: use a whole number from 1 to' in text
    s = stats(page)
    # The pool starts with the page, before Python can check the env; the bad settings stop it again.
    deadline = time.monotonic() + 10
    while page.workers and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert s["workers"] == [] and page.workers == []
    assert s["episodes"] == 0 and s["config"] is None
    assert page.evaluate("robotrain.start()") is False
    # Fixing both in the controls makes the page usable.
    page.select_option("#env", "acrobot")
    page.fill("#lanes", "4")
    page.dispatch_event("#lanes", "change")
    wait_for(page, "robotrain.stats().config && robotrain.stats().config.env_id === 'acrobot'", 30, "acrobot set up")
    assert stats(page)["config"]["lanes"] == 4
    assert page.locator("#message").is_hidden()
    assert page_log.problems() == []


def test_every_bad_url_parameter_is_reported_at_once(page, page_log, base_url):
    page.goto(f"{base_url}?workers=999&env=foo&learning_rate=abc&mode=bar&seed=-1&lanes=0&autostart=1")
    # The page's Python loads even so (nothing trains, no worker starts) to check the robot and the Config fields.
    wait_for(page, "robotrain.stats().errors.length >= 6", 60, "every problem to be listed")
    text = page.locator("#message").inner_text()
    for words in ('URL parameter workers = "999"', 'URL parameter mode = "bar"', 'URL parameter seed = "-1"',
                  'URL parameter lanes = "0"', 'URL parameter env = "foo" is not allowed: use one of cartpole',
                  'URL parameter learning_rate = "abc" is not allowed', "Fix the values above"):
        assert words in text, (words, text)
    wait_workers_gone(page)
    s = stats(page)
    assert s["state"] == "invalid" and s["workers"] == [] and page.workers == [] and s["episodes"] == 0
    wait_for(page, "document.getElementById('loading-text').textContent.startsWith('Not started')", 5, "the status")
    # The rejected value stands in its field; clearing it (the default) clears its error, and only its error.
    assert page.locator("#cfg-learning_rate").input_value() == "abc"
    page.fill("#cfg-learning_rate", "")
    page.dispatch_event("#cfg-learning_rate", "change")
    wait_for(page, "!robotrain.stats().errors.some(e => e.includes('learning_rate'))", 5, "the learning_rate error to go")
    assert page.locator("#cfg-learning_rate-error").inner_text() == ""
    assert len(stats(page)["errors"]) == 5
    assert page_log.problems() == []


def test_bad_value_typed_in_the_controls_is_named_and_blocks_start(page, page_log, base_url):
    page.goto(f"{base_url}?mode=main")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page to be ready")
    page.fill("#seed", "twelve")
    page.dispatch_event("#seed", "change")
    message = page.locator("#message")
    message.wait_for(state="visible", timeout=5_000)
    assert 'Seed: seed = "twelve" is not allowed: use a whole number from 0' in message.inner_text()
    assert page.locator("#seed").get_attribute("aria-invalid") == "true"
    assert page.locator("#start").is_disabled()
    assert page.evaluate("robotrain.start()") is False
    assert stats(page)["state"] == "invalid"
    page.fill("#seed", "7")
    page.dispatch_event("#seed", "change")
    wait_for(page, "robotrain.stats().state === 'ready' && robotrain.stats().config.seed === 7", 10, "seed 7")
    assert message.is_hidden()
    assert "seed=7" in page.url and "mode=main" in page.url
    assert page_log.problems() == []


CANVAS_INK = """(() => {
  const view = document.getElementById('view');
  const c = document.createElement('canvas');  // read a copy: repeated reads of the view would warn
  c.width = view.width;
  c.height = view.height;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(view, 0, 0);
  const data = ctx.getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] < 120 || data[i + 2] < 120) ink++;
  return ink;
})()"""


def test_every_robot_is_drawn_live_and_switching_robots_works(page, page_log, base_url):
    page.goto(f"{base_url}?mode=main")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page to be ready")
    envs = page.eval_on_selector_all("#env option", "options => options.map(o => o.value)")
    assert envs == ["cartpole", "acrobot", "balancebot"]
    for env in envs:
        page.select_option("#env", env)
        wait_for(page, f"robotrain.stats().config && robotrain.stats().config.env_id === '{env}'", 30, env)
        page.wait_for_timeout(300)
        assert page.evaluate(CANVAS_INK) > 200, f"{env}: the robot view looks empty"
        assert f"env={env}" in page.url or env == "cartpole"
        assert env in page.locator("#view-caption").inner_text()
    assert page_log.problems() == []
