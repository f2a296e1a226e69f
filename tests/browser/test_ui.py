"""The training UI (issue 4): controls from Config.field_specs, keys, model files, run cards, autosave and
resume, share links, replay, push, worker tiles, memory, charts, background tabs, themes.

To keep the suite short on a shared machine, most tests reuse one page that trains cartpole on the main
thread (module fixture `trained`); they run in file order and the last one reloads that page to resume.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import pytest

from robotrain.config import PQN_ONLY

from .helpers import PageLog, stats, wait_for, wait_workers_gone


@pytest.fixture(scope="module")
def trained_page(browser, browser_context_args, base_url, browser_name, request):
    """A page that has trained cartpole on the main thread past its first evaluation, paused: (page, log,
    context). The module's tests share it, so its context is the module's, not the plugin's per-test one."""
    context = browser.new_context(**browser_context_args)
    trap = request.getfixturevalue("foreign_trap") if browser_name == "firefox" else None
    page, log = PageLog.new_page(context, trap)
    page.goto(f"{base_url}?algorithm=ddqn&mode=main&seed=0&autostart=1")
    wait_for(page, "robotrain.stats().last_eval_return !== null && robotrain.stats().episodes >= 60", 180,
             "main-thread training past its first evaluation")
    page.evaluate("robotrain.pause()")
    wait_for(page, "robotrain.stats().autosave.saves >= 1", 30, "the autosave on pause")
    yield page, log, context
    context.close()


@pytest.fixture
def trained(trained_page, failure_artifacts):
    """The shared trained page, traced and screenshotted for this test as the plugin does with its own pages."""
    failure_artifacts.watch_context(trained_page[2])
    return trained_page


def notice(page) -> str:
    page.locator("#notice").wait_for(state="visible", timeout=10_000)
    return page.locator("#notice-text").inner_text()


# ---- controls -----------------------------------------------------------------------------------------

def test_form_has_every_config_field_with_inline_limits_and_keys(page, page_log, open_page, base_url):
    page.goto(f"{base_url}?mode=main&algorithm=ddqn")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page to be ready")
    specs = page.evaluate("robotrain.stats().config")
    names = page.eval_on_selector_all("[id^='cfg-']:is(input, select)", "els => els.map(e => e.name)")
    # Every field Double DQN reads, the algorithm itself a choice; PQN's appear with it (test_pqn.py).
    assert set(names) == set(specs) - {"env_id", "seed", "lanes", "batch_episodes"} - set(PQN_ONLY)
    assert page.locator("#cfg-total_timesteps").get_attribute("placeholder") == "50000"
    assert "Space" in page.locator("#keys").inner_text() and "reset" in page.locator("#keys").inner_text()

    # Beyond the limit: inline message next to the field, Start blocked while typing already.
    page.click("#hyper summary")
    page.fill("#cfg-learning_rate", "5")
    error = page.locator("#cfg-learning_rate-error")
    assert 'learning_rate = "5" is not allowed: use a number from 0.000001 to 1' in error.inner_text()
    assert page.locator("#start").is_disabled()
    assert page.evaluate("robotrain.start()") is False
    # At the limit: fine.
    page.fill("#cfg-learning_rate", "1")
    page.dispatch_event("#cfg-learning_rate", "change")
    assert error.inner_text() == ""
    wait_for(page, "robotrain.stats().config.learning_rate === 1", 20, "learning_rate 1 applied")
    assert page.locator("#start").is_enabled()
    # A cross-field rule only Python knows: named next to the field.
    page.fill("#cfg-start_e", "0.2")
    page.dispatch_event("#cfg-start_e", "change")
    wait_for(page, "robotrain.stats().config.start_e === 0.2", 20, "start_e applied")
    page.fill("#cfg-end_e", "0.5")
    page.dispatch_event("#cfg-end_e", "change")
    assert "end_e: 0.5 must not exceed start_e 0.2" in page.locator("#cfg-end_e-error").inner_text()
    assert page.locator("#start").is_disabled()
    page.fill("#cfg-end_e", "")
    page.dispatch_event("#cfg-end_e", "change")
    wait_for(page, "robotrain.stats().state === 'ready'", 20, "valid again")
    assert "learning_rate=1" in page.url and "start_e=0.2" in page.url

    # Keyboard: Space starts and pauses, R resets.
    page.locator("h1").click()
    page.keyboard.press("Space")
    wait_for(page, "robotrain.stats().state === 'running'", 10, "Space to start")
    wait_for(page, "robotrain.stats().episodes > 0", 60, "episodes")
    page.keyboard.press("Space")
    wait_for(page, "robotrain.stats().state === 'paused'", 10, "Space to pause")
    page.keyboard.press("r")
    wait_for(page, "robotrain.stats().state === 'ready' && robotrain.stats().episodes === 0", 10, "R to reset")

    # Share link: the whole config and seed; opening it reproduces the run (main mode follows the sync
    # schedule, so the same episodes come out).
    page.fill("#cfg-learning_rate", "")
    page.dispatch_event("#cfg-learning_rate", "change")
    page.fill("#seed", "5")
    page.dispatch_event("#seed", "change")
    wait_for(page, "robotrain.stats().config.seed === 5", 20, "seed 5")
    link = page.evaluate("robotrain.shareLink()")
    config = stats(page)["config"]
    assert "autostart=1" in link and "seed=5" in link and "gamma=" in link
    other, _ = open_page(link)
    wait_for(other, "robotrain.stats().state === 'running'", 60, "the shared run to start")
    assert stats(other)["config"] == config
    page.evaluate("robotrain.start()")
    for p in (page, other):
        wait_for(p, "robotrain.stats().episodes >= 30", 60, "30 episodes")
        p.evaluate("robotrain.pause()")
    mine = page.evaluate("robotrain.history()")["episodes"][:30]
    assert other.evaluate("robotrain.history()")["episodes"][:30] == mine
    assert [e[0] for e in mine] == list(range(30))

    # Theme toggle: light -> dark changes the page background.
    page.click("#theme")
    light = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    page.click("#theme")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") != light
    assert page_log.problems() == []


# ---- model files and run cards ------------------------------------------------------------------------

def _nan_model(text: str) -> str:
    doc = json.loads(text)
    n = len(base64.b64decode(doc["params_f32_b64"])) // 4
    raw = struct.pack(f"<{n}f", *([float("nan")] * n))
    doc["params_f32_b64"] = base64.b64encode(raw).decode()
    doc["params_sha256"] = hashlib.sha256(raw).hexdigest()
    return json.dumps(doc)


def _wrong_env_model(text: str) -> str:
    doc = json.loads(text)
    doc["env_id"] = "acrobot"
    doc["config"]["env_id"] = "acrobot"
    return json.dumps(doc)


def test_bad_model_files_show_a_message_and_training_goes_on(trained):
    page, log, _ = trained
    good = page.evaluate("robotrain.modelText()")
    page.evaluate("robotrain.start()")
    before = stats(page)
    bad = [
        ("empty.json", b"", "model file is empty"),
        ("truncated.json", good[: len(good) // 2].encode(), "not valid JSON (truncated or corrupt?)"),
        ("binary.json", bytes(range(256)) * 4, "not text"),
        ("acrobot.json", _wrong_env_model(good).encode(), "model file is for env 'acrobot', not 'cartpole'"),
        ("nan.json", _nan_model(good).encode(), "NaN or Inf"),
    ]
    for name, data, words in bad:
        page.set_input_files("#load-file", files=[{"name": name, "mimeType": "application/json", "buffer": data}])
        wait_for(page, f"document.getElementById('notice-text').textContent.includes({json.dumps(name)})", 10, name)
        text = notice(page)
        assert words in text and "The current run is untouched" in text, text
    # Over 50 MB, made in the page (no need to ship 50 MB through the test driver).
    page.evaluate("""() => {
      const file = new File([new Uint8Array(51 * 1024 * 1024)], 'huge.json');
      const dt = new DataTransfer(); dt.items.add(file);
      const input = document.getElementById('load-file'); input.files = dt.files;
      input.dispatchEvent(new Event('change'));
    }""")
    wait_for(page, "document.getElementById('notice-text').textContent.includes('huge.json')", 10, "huge")
    assert "51.0 MB; the limit is 50 MB" in notice(page)
    wait_for(page, f"robotrain.stats().episodes > {before['episodes'] + 5}", 60, "training to go on")
    after = stats(page)
    assert after["state"] == "running" and after["config"] == before["config"] and after["errors"] == []
    page.evaluate("robotrain.pause()")
    assert log.problems() == []


def test_replay_scrubber_shows_the_recorded_episode(trained):
    page, log, _ = trained
    s = stats(page)
    assert s["recent_episodes"] == min(1000, s["episodes"])
    best = s["best_episode"]
    page.locator("#replay-pick").focus()
    assert page.locator("#replay-pick option").first.get_attribute("value") == "best"
    page.select_option("#replay-pick", "best")
    page.click("#replay-go")
    view = page.evaluate("robotrain.viewState()")
    assert view["mode"] == "replay" and view["episode_id"] == best["id"] and view["length"] == best["length"]
    assert page.locator("#replay-scrub").get_attribute("max") == str(best["length"])
    # Scrub to the end with the range input: the view holds the episode's last state.
    page.eval_on_selector("#replay-scrub", f"el => {{ el.value = '{best['length']}'; el.dispatchEvent(new Event('input')); }}")
    end = page.evaluate("robotrain.viewState()")
    assert end["frame"] == best["length"]
    first = page.evaluate("robotrain.replaySeek(0), robotrain.viewState()")
    assert first["frame"] == 0 and first["state"] != end["state"]
    # A recent episode by id: cart-pole's return is its length; an episode that ended early ended outside
    # the limits (|x| > 2.4 m or |theta| > 12 degrees).
    episodes = page.evaluate("robotrain.history()")["episodes"]
    eid, ret, length = next(e for e in reversed(episodes) if e[2] < 500)
    info = page.evaluate(f"robotrain.replay({eid})")
    assert info["length"] == length and info["return"] == ret and info["terminated"]
    last = page.evaluate(f"robotrain.replaySeek({length}), robotrain.viewState()")
    x, theta = last["state"][0], last["state"][2]
    assert abs(x) > 2.4 or abs(theta) > 12 * 2 * 3.14159265 / 360
    inside = page.evaluate(f"robotrain.replaySeek({length - 1}), robotrain.viewState()")["state"]
    assert abs(inside[0]) <= 2.4 and abs(inside[2]) <= 12 * 2 * 3.14159265 / 360
    page.click("#replay-live")
    assert page.evaluate("robotrain.viewState().mode") == "live"
    assert log.problems() == []


def test_push_changes_the_robot_state(trained):
    page, log, _ = trained
    result = page.evaluate("robotrain.push(2.5)")
    i = result["index"]
    assert result["after"][i] == pytest.approx(result["before"][i] + 2.5)
    assert "finite" in page.evaluate("robotrain.push(NaN)")["error"]
    pushes = stats(page)["pushes"]
    box = page.locator("#view").bounding_box()
    page.mouse.click(box["x"] + 100, box["y"] + 150)
    page.mouse.move(box["x"] + 200, box["y"] + 150)
    page.mouse.down()
    page.mouse.move(box["x"] + 400, box["y"] + 150)
    page.mouse.up()
    wait_for(page, f"robotrain.stats().pushes === {pushes + 2}", 5, "click and drag pushes")
    # From the keyboard: the push buttons.
    page.focus("#push-right")
    page.keyboard.press("Enter")
    page.focus("#push-left")
    page.keyboard.press("Space")
    wait_for(page, f"robotrain.stats().pushes === {pushes + 4}", 5, "the push buttons")
    assert log.problems() == []


def test_save_and_load_a_model_round_trip(trained, browser_name):
    page, log, _ = trained
    if browser_name == "firefox":
        # Playwright's Firefox (WebDriver BiDi) reports no downloads: the file's text is robotrain.modelText(),
        # the very call the button downloads from.
        page.click("#save-model")
        wait_for(page, "document.getElementById('notice-text').textContent.includes('Saved the model')", 10, "Save")
        saved = page.evaluate("robotrain.modelText()")
    else:
        with page.expect_download() as info:
            page.click("#save-model")
        saved = open(info.value.path(), encoding="utf-8").read()
        assert info.value.suggested_filename.endswith(".model.json")
    doc = json.loads(saved)
    assert doc["env_id"] == "cartpole" and doc["policy_version"] == stats(page)["policy_version"]
    # A run card of this run, for the next test.
    card = page.evaluate("robotrain.runCard()")
    trained_stats = stats(page)
    page.evaluate("robotrain.start()")
    page.set_input_files("#load-file", files=[{"name": "mine.model.json", "mimeType": "application/json",
                                                "buffer": saved.encode()}])
    wait_for(page, "document.getElementById('notice-text').textContent.includes('Loaded')", 20, "the model to load")
    s = stats(page)
    assert s["state"] == "ready" and s["loaded_model"]["policy_version"] == doc["policy_version"]
    again = json.loads(page.evaluate("robotrain.modelText()"))
    assert again["params_f32_b64"] == doc["params_f32_b64"], "loaded weights equal the saved ones"
    assert log.problems() == []
    page.context.run_card = (card, trained_stats)


def test_run_card_loads_in_another_browser_to_watch(trained, open_page, base_url):
    page, _, _ = trained
    card, trained_stats = page.context.run_card
    assert card["format"] == "robotrain-run-card" and card["config"]["seed"] == 0
    assert len(card["curves"]["episodes"]) == trained_stats["episodes"]
    other, log = open_page(f"{base_url}?mode=main&env=acrobot")
    wait_for(other, "robotrain.stats().state === 'ready'", 60, "a fresh page")
    result = other.evaluate("card => robotrain.loadText(JSON.stringify(card), 'card.json')", card)
    assert result["ok"] and result["card"]
    s = stats(other)
    assert s["state"] == "watching" and s["config"]["env_id"] == "cartpole"
    assert other.evaluate("robotrain.start()") is False
    assert json.loads(other.evaluate("robotrain.modelText()"))["params_f32_b64"] == json.loads(card["model"])["params_f32_b64"]
    wait_for(other, "robotrain.viewState().info.policy_version >= 0", 10, "the viewer to hold the card's weights")
    other.wait_for_timeout(1200)
    assert other.locator("#chart-return canvas").count() == 1
    assert log.problems() == []


def test_quota_error_on_autosave_shows_a_message_and_training_goes_on(trained):
    page, log, _ = trained
    page.evaluate("robotrain.start()")
    wait_for(page, "robotrain.stats().episodes > 5", 60, "training")
    page.evaluate("""() => {
      window.__put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function () { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
    }""")
    result = page.evaluate("robotrain.autosave()")
    assert result["ok"] is False
    text = notice(page)
    assert "storage" in text and "full" in text and "Training goes on" in text
    done = stats(page)["episodes"]
    wait_for(page, f"robotrain.stats().episodes > {done + 3}", 60, "training after the failed save")
    assert stats(page)["state"] == "running"
    page.evaluate("() => { IDBObjectStore.prototype.put = window.__put; }")
    page.evaluate("robotrain.pause()")
    wait_for(page, "robotrain.stats().autosave.last_error === null", 20, "a good autosave again")
    assert log.problems() == []


def test_autosave_reload_and_resume_gives_the_same_counters(trained):
    page, log, _ = trained
    page.evaluate("robotrain.pause()")
    saved = page.evaluate("robotrain.autosave()")
    assert saved["ok"], saved
    before = stats(page)
    history = page.evaluate("robotrain.history()")
    page.reload()
    wait_for(page, "robotrain.stats().resume_offered", 60, "the resume offer")
    assert "Resume it where it stopped" in page.locator("#resume").inner_text()
    page.click("#resume-yes")
    wait_for(page, "robotrain.stats().state === 'paused' || robotrain.stats().state === 'ready'", 30, "the resumed run")
    after = stats(page)
    for key in ("episodes", "env_steps", "updates", "policy_version", "last_eval_return", "best_eval_return", "replay_size"):
        assert after[key] == before[key], key
    assert after["config"] == before["config"]
    assert page.evaluate("robotrain.history()") == history
    # A resumed run has played: a new step budget moves its stop point, it does not start a fresh run.
    page.fill("#cfg-total_timesteps", "60000")
    page.dispatch_event("#cfg-total_timesteps", "change")
    wait_for(page, "robotrain.stats().step_budget === 60000", 10, "the resumed run's new budget")
    moved = stats(page)
    assert moved["env_steps"] == before["env_steps"] and moved["config"]["total_timesteps"] == before["config"]["total_timesteps"]
    assert moved["kept_run"] is None, "nothing was replaced"
    assert page.evaluate("robotrain.start()") is True
    wait_for(page, f"robotrain.stats().episodes > {before['episodes']}", 60, "training to go on after resuming")
    page.evaluate("robotrain.pause()")


# ---- workers, memory, charts, background --------------------------------------------------------------

def test_worker_tiles_memory_charts_and_background_tab(page, page_log, base_url):
    page.goto(f"{base_url}?workers=2&mode=async&seed=2&autostart=1")
    # While Pyodide starts in each worker: a tile per worker in state 'starting' with its own loading bar.
    wait_for(page, "document.querySelectorAll('.worker[data-state=starting] progress:not([hidden])').length === 2",
             60, "two starting tiles with loading bars")
    # The page's own Python loads while the workers start; the bar says which one it is waiting for.
    loading = page.locator("#loading-text").inner_text()
    assert "Starting workers" in loading or "Loading Python on the page" in loading, loading
    wait_for(page, "robotrain.stats().workers_ready === 2 && robotrain.stats().episodes >= 40", 180, "2 workers training")
    tiles = page.locator(".worker")
    assert tiles.count() == 2
    # A running tile that has played: how far behind the learner its policy is.
    # Read in the same evaluation that finds it: the tiles are redrawn 4 times a second.
    running = "([...document.querySelectorAll('.worker[data-state=running]')].find(t => t.innerText.includes('behind')) ?? {}).innerText"
    text = None
    for _ in range(60):
        text = page.evaluate(running)
        if text:
            break
        page.wait_for_timeout(500)
    assert text, "no running tile showed its policy lag within 30 s"
    for words in ("#", "episodes", "steps/s", "policy v", "behind", "Python heap", "MB"):
        assert words in text, text
    wait_for(page, "robotrain.stats().memory.workers_heap >= robotrain.stats().workers.reduce((a, w) => a + w.heap_bytes, 0)",
             10, "the memory readout to include the workers")
    s = stats(page)
    assert all(w["heap_bytes"] > 10_000_000 for w in s["workers"]), s["workers"]
    assert s["memory"]["bytes"] >= sum(w["heap_bytes"] for w in s["workers"])
    assert "Memory:" in page.locator("#memory").inner_text()
    live = page.evaluate("robotrain.stats() && document.querySelector('.worker canvas') !== null")
    assert live
    # Charts: return, loss, epsilon, throughput, policy lag; fast with 100,000 episodes.
    wait_for(page, "document.querySelectorAll('.chart .uplot').length === 5", 20, "five charts")
    bench = page.evaluate("robotrain.benchCharts(100000)")
    assert bench["points"] <= 2100 and bench["data_ms"] < 300 and bench["draw_ms"] < 1000, bench
    page.click("input[name='xaxis'][value='time']")
    wait_for(page, "document.querySelectorAll('.chart .uplot').length === 5", 20, "charts against time")
    assert stats(page)["chart_x"] == "time"
    # Background: training goes on, drawing stops, and the page says how long it was hidden.
    page.evaluate("""() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    hidden = stats(page)
    page.wait_for_timeout(4000)
    during = stats(page)
    assert during["frames_drawn"] - hidden["frames_drawn"] <= 2
    assert during["episodes"] > hidden["episodes"]
    page.evaluate("""() => {
      Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    text = notice(page)
    assert "in the background for" in text and "training went on" in text
    assert stats(page)["hidden"]["last_ms"] >= 3500
    page.evaluate("robotrain.pause()")
    assert page_log.problems() == []


@pytest.mark.parametrize("query,words,field", [
    ("gamma=2", 'URL parameter gamma = "2" is not allowed: use a number from 0 to 1', "gamma"),
    ("hidden_sizes=64,x", "URL parameter hidden_sizes", "hidden_sizes"),
    ("start_e=0.5&end_e=0.9", "end_e: 0.9 must not exceed start_e 0.5", "end_e"),
], ids=["out-of-range", "not-a-list", "cross-field"])
def test_invalid_shared_config_in_the_url_is_named_and_nothing_starts(page, page_log, base_url, query, words, field):
    page.goto(f"{base_url}?{query}&autostart=1")
    wait_for(page, "robotrain.stats().state === 'invalid'", 60, "the shared config to be rejected")
    assert words in page.locator("#message").inner_text()
    assert page.locator(f"#cfg-{field}-error").inner_text() != ""
    wait_workers_gone(page)
    s = stats(page)
    assert s["workers"] == [] and page.workers == [] and s["config"] is None
    assert page.evaluate("robotrain.start()") is False
    assert page.locator("#start").is_disabled()
    assert page_log.problems() == []
