"""No control loses work silently, and the page says when the robot has learned (issue 19).

The step budget moves the current run's stop point in place; Reset, R and the controls that start a fresh run
keep the replaced run for Undo; a mode change continues the run; the first solved evaluation is announced and
the end of a run summarizes it; banners, tiles and the solved line belong to the current run. The words of the
solved line are checked under Node (web/js/ui/solved.js is pure).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.jsnode import run_node

from .helpers import stats, wait_for

ROOT = Path(__file__).resolve().parents[2]
SOLVED_JS = json.dumps((ROOT / "web" / "js" / "ui" / "solved.js").as_uri())
MODEL = ROOT / "tests" / "data" / "balancebot-seed0.model.json"

FINISHED = "robotrain.stats().finished && robotrain.stats().state === 'finished'"


def set_field(page, name: str, value: str) -> None:
    """Type `value` into the form's field `name` and commit it (what leaving the field does)."""
    page.fill(f"#cfg-{name}", value)
    page.dispatch_event(f"#cfg-{name}", "change")


def notice_text(page) -> str:
    return page.locator("#notice-text").inner_text() if page.locator("#notice").is_visible() else ""


def test_raising_the_step_budget_after_the_end_continues_the_same_run(page, page_log, base_url):
    page.goto(f"{base_url}?algorithm=ddqn&mode=main&seed=3&total_timesteps=3000&eval_interval=1000&autostart=1")
    wait_for(page, FINISHED, 120, "the 3,000-step run to finish")
    wait_for(page, "document.getElementById('notice-text').textContent.includes('Run finished')", 10, "the end notice")
    end = stats(page)
    history = page.evaluate("robotrain.history()")
    assert end["step_budget"] == 3000 and end["env_steps"] >= 3000
    assert end["epsilon"] == end["config"]["end_e"], "epsilon reached its end within the first budget"
    # What the end banner asks for: raise the budget. The same run goes on: steps, history and curves stay.
    set_field(page, "total_timesteps", "6000")
    wait_for(page, "robotrain.stats().step_budget === 6000", 10, "the new budget")
    s = stats(page)
    assert s["env_steps"] == end["env_steps"] and s["episodes"] == end["episodes"] and s["updates"] == end["updates"]
    assert s["curve_rows"] == end["curve_rows"] and page.evaluate("robotrain.history()") == history
    assert s["state"] == "paused" and not s["finished"]
    # The schedules stay built on the budget the run started with (as the command line's --max-steps).
    assert s["config"]["total_timesteps"] == 3000
    text = notice_text(page)
    assert "Run finished" not in text and "Step budget now 6,000" in text and "Press Start" in text, text
    assert "6000" in page.url or "total_timesteps=6000" in page.url
    assert page.locator("#start").is_enabled()
    page.click("#start")
    wait_for(page, "robotrain.stats().env_steps > %d" % end["env_steps"], 60, "training past the old budget")
    s = stats(page)
    assert s["epsilon"] == s["config"]["end_e"], "epsilon does not climb back after raising the budget"
    wait_for(page, FINISHED, 120, "the run to finish at the new budget")
    s = stats(page)
    assert s["env_steps"] >= 6000 and s["config"]["total_timesteps"] == 3000
    after = page.evaluate("robotrain.history()")
    assert after["episodes"][: len(history["episodes"])] == history["episodes"]
    assert after["evals"][: len(history["evals"])] == history["evals"]
    assert "the step budget of 6,000 env steps is reached" in notice_text(page)
    # Lowering the budget below what is done: the run stays finished (nothing is dropped).
    set_field(page, "total_timesteps", "4000")
    wait_for(page, "robotrain.stats().step_budget === 4000", 10, "the lower budget")
    s2 = stats(page)
    assert s2["env_steps"] == s["env_steps"] and s2["finished"] and "stays finished" in notice_text(page)
    assert page.evaluate("robotrain.start()") is False
    # The budget bar shows the counters' count (a batch may end past the budget), capped at 100 %.
    bar = f"{s['env_steps']:,} of 4,000 env steps (100 %)"
    wait_for(page, f"document.getElementById('budget-text').textContent.startsWith({bar!r})", 5, "the budget bar")
    assert page_log.problems() == []


def test_raising_the_budget_mid_run_keeps_it_running(page, page_log, base_url):
    page.goto(f"{base_url}?algorithm=ddqn&mode=main&seed=1&total_timesteps=20000&autostart=1")
    wait_for(page, "robotrain.stats().env_steps > 1500", 90, "training")
    set_field(page, "total_timesteps", "30000")
    wait_for(page, "robotrain.stats().step_budget === 30000", 10, "the new budget")
    s = stats(page)
    assert s["state"] == "running" and s["env_steps"] > 1500 and s["config"]["total_timesteps"] == 20000
    assert "Training goes on" in notice_text(page)
    page.evaluate("robotrain.pause()")
    assert page_log.problems() == []


def test_reset_r_and_a_new_robot_can_be_undone_and_mode_continues_the_run(page, page_log, base_url):
    page.goto(f"{base_url}?algorithm=ddqn&mode=main&seed=2&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 40", 90, "40 episodes")
    page.evaluate("robotrain.pause()")
    before = stats(page)
    history = page.evaluate("robotrain.history()")
    assert before["kept_run"] is None and page.locator("#undo").is_hidden()

    # Reset (the button): a fresh run, the old one kept and offered back.
    page.click("#reset")
    wait_for(page, "robotrain.stats().episodes === 0 && robotrain.stats().kept_run !== null", 20, "a fresh run, the old one kept")
    assert page.locator("#undo").is_visible()
    assert "Reset: a fresh run started" in page.locator("#undo-text").inner_text()
    assert f"{before['env_steps']:,} env steps" in page.locator("#undo-text").inner_text()
    page.click("#undo-yes")
    wait_for(page, f"robotrain.stats().env_steps === {before['env_steps']}", 20, "the run back")
    back = stats(page)
    for key in ("episodes", "updates", "policy_version", "replay_size", "curve_rows"):
        assert back[key] == before[key], key
    assert page.evaluate("robotrain.history()") == history
    # The fresh run it replaced had played nothing: nothing to keep, no offer.
    assert back["kept_run"] is None and page.locator("#undo").is_hidden()

    # R does the same as Reset.
    page.locator("h1").click()
    page.keyboard.press("r")
    wait_for(page, "robotrain.stats().episodes === 0", 20, "R to reset")
    assert stats(page)["kept_run"]["why"] == "Reset"
    assert page.evaluate("robotrain.undo()") is True
    wait_for(page, f"robotrain.stats().env_steps === {before['env_steps']}", 20, "the run back after R")

    # Another robot starts a fresh run; Undo brings cartpole back, settings included.
    page.select_option("#env", "acrobot")
    wait_for(page, "robotrain.stats().config && robotrain.stats().config.env_id === 'acrobot'", 30, "an acrobot run")
    assert "Robot changed to acrobot" in page.locator("#undo-text").inner_text()
    page.evaluate("robotrain.start()")
    wait_for(page, "robotrain.stats().episodes >= 3", 60, "acrobot episodes")
    page.click("#undo-yes")
    wait_for(page, f"robotrain.stats().config.env_id === 'cartpole' && robotrain.stats().env_steps === {before['env_steps']}",
             30, "cartpole back")
    # The acrobot run had trained, so Undo kept it in cartpole's place: undoing again would swap back.
    assert stats(page)["kept_run"]["why"] == "Undo" and "acrobot" in stats(page)["kept_run"]["label"]
    assert page.locator("#env").input_value() == "cartpole" and "env=acrobot" not in page.url
    # Forget it: the kept (acrobot) run is dropped, the offer goes.
    page.click("#undo-forget")
    assert stats(page)["kept_run"] is None and page.locator("#undo").is_hidden()

    # Mode: the run goes on under the other schedule, with its steps (no fresh run, nothing to undo).
    page.select_option("#mode", "sync")
    wait_for(page, "robotrain.stats().mode === 'sync' && robotrain.stats().workers_ready >= 1", 90, "sync mode with a worker")
    s = stats(page)
    assert s["env_steps"] == before["env_steps"] and s["episodes"] == before["episodes"] and s["kept_run"] is None
    assert "the run goes on where it was" in notice_text(page)
    page.evaluate("robotrain.start()")
    wait_for(page, f"robotrain.stats().episodes > {before['episodes'] + 10}", 90, "training on in sync mode")
    page.evaluate("robotrain.pause()")
    ids = [e[0] for e in page.evaluate("robotrain.history()")["episodes"]]
    assert ids[: len(history["episodes"])] == [e[0] for e in history["episodes"]]
    assert stats(page)["errors"] == []
    assert page_log.problems() == []


def _quick_eval_model() -> str:
    """The solved balancebot model, its config set to evaluate after 100 env steps on one episode, never learn."""
    doc = json.loads(MODEL.read_text())
    doc["config"].update(eval_interval=100, eval_episodes=1, learning_starts=900_000, total_timesteps=1_000_000)
    return json.dumps(doc)


def test_the_first_solved_evaluation_is_announced_and_the_next_run_starts_clean(page, page_log, base_url):
    page.goto(f"{base_url}?mode=main&env=balancebot")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page")
    assert "Not solved yet" in page.locator("#solved").inner_text()
    result = page.evaluate("text => robotrain.loadText(text, 'bb.model.json')", _quick_eval_model())
    assert result["ok"], result
    page.evaluate("robotrain.start()")
    wait_for(page, "robotrain.stats().solved_at_env_step !== null", 180, "the first evaluation of the solved model")
    s = stats(page)
    words = page.locator("#solved").inner_text()
    assert f"Solved at {s['solved_at_env_step']:,} env steps" in words and "of training" in words, words
    wait_for(page, "document.getElementById('notice-text').textContent.startsWith('Solved!')", 10, "the announcement")
    assert page.locator("#notice").get_attribute("data-kind") == "success"
    assert s["solved_summary"]["solved"] and s["solved_summary"]["step"] == s["solved_at_env_step"]
    page.evaluate("robotrain.pause()")
    # The next run is another run: no solved line of the old one, no old banner, tiles and counters at zero.
    page.click("#reset")
    wait_for(page, "robotrain.stats().episodes === 0", 20, "a fresh run")
    assert "Not solved yet" in page.locator("#solved").inner_text()
    assert page.locator("#notice").is_hidden()
    assert page_log.problems() == []


def test_tiles_count_the_current_run_and_say_waiting_not_idle(page, page_log, base_url):
    page.goto(f"{base_url}?mode=sync&workers=2&seed=4&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 40", 120, "sync training on two workers")
    # A worker between tasks of a running run waits for work; it is not idle.
    states = page.evaluate("[...document.querySelectorAll('.worker')].map(t => t.dataset.state)")
    assert "idle" not in states, states
    page.evaluate("robotrain.pause()")
    wait_for(page, "[...document.querySelectorAll('.worker .line1')].every(l => l.textContent.includes('– steps/s'))", 5,
             "no rate while paused")
    page.click("#reset")
    wait_for(page, "robotrain.stats().episodes === 0", 20, "a fresh run")
    wait_for(page, "[...document.querySelectorAll('.worker .line1')].every(l => l.textContent.startsWith('0 episodes'))", 5,
             "tiles at zero for the new run")
    assert page_log.problems() == []


def test_solved_words_follow_the_evaluations():
    out = run_node(f"""
import {{ solvedSummary, solvedText, runSummaryText, STAY_SOLVED_EVALS }} from {SOLVED_JS};
const t = 475;
const never = solvedSummary([[5000, 20, 3], [10000, 300.5, 6]], t);
const stayed = solvedSummary([[5000, 20, 3], [10000, 480, 6], [15000, 500, 9], [20000, 500, 12], [25000, 499, 15], [30000, 476, 18]], t);
const wobbly = solvedSummary([[5000, 480, 3], [10000, 200, 6]], t);
console.log(JSON.stringify({{
  n: STAY_SOLVED_EVALS, never, stayed, wobbly,
  none: solvedText(solvedSummary([], t), t),
  neverText: solvedText(never, t), stayedText: solvedText(stayed, t), wobblyText: solvedText(wobbly, t),
  end: runSummaryText(wobbly, t, {{ envSteps: 50123, seconds: 75, budget: 50000 }}),
  bad: solvedSummary([[1, NaN, 0], null], t),
  // 100 per 10,000 env steps, 10 s per 10,000: the line reaches 475 at 47,500 env steps, 17.5 s after the last.
  rising: solvedText(solvedSummary([[10000, 100, 10], [20000, 200, 20], [30000, 300, 30]], t), t),
  falling: solvedSummary([[10000, 300, 10], [20000, 200, 20], [30000, 100, 30]], t),
  // The robot's plateau seen in a run: rising by a hair, but the line explains little of the noise.
  plateau: solvedSummary([[20133, 5947, 20], [42964, 5959, 40], [74004, 5946, 60], [90004, 5870, 75], [106004, 6224, 90]], 7000),
}}));
""")
    assert out["n"] == 4  # robotrain.evaluation.STAY_SOLVED_EVALS
    assert out["never"] == {"solved": False, "best": 300.5, "evals": 2, "trend": None}  # two evaluations: no trend
    assert "trend of the last 3 evaluations reaches it around 48,000 env steps (about 18 s more training" in out["rising"]
    assert out["falling"]["trend"] is None and out["plateau"]["trend"] is None
    assert out["stayed"]["step"] == 10000 and out["stayed"]["seconds"] == 6 and out["stayed"]["stayed"] is True
    assert out["wobbly"]["below"] == 1 and out["wobbly"]["stayed"] is None
    assert "no greedy evaluation so far" in out["none"]
    assert "best greedy evaluation 300.5, solved needs 475.0" in out["neverText"]
    assert "Solved at 10,000 env steps, after 6 s of training" in out["stayedText"]
    assert "stayed solved: all 4 evaluations since then" in out["stayedText"]
    assert "1 of 1 evaluations since then fell below 475.0 (latest 200.0)" in out["wobblyText"]
    assert "50,123 env steps in 1 min 15 s" in out["end"] and "Solved at 5,000 env steps, but 1 of 1" in out["end"]
    assert out["bad"] == {"solved": False, "best": None, "evals": 0, "trend": None}


def test_two_tabs_never_train_one_autosave(context, page, page_log, base_url):
    page.goto(f"{base_url}?mode=main&seed=5&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 20", 90, "training in the first tab")
    page.evaluate("robotrain.pause()")
    wait_for(page, "robotrain.stats().autosave.saves >= 1", 20, "the first tab's autosave")
    assert stats(page)["owns_autosave"] is True
    # A second tab of the page (same browser profile): the run is live in the first one.
    other = context.new_page()
    other.goto(f"{base_url}?mode=main")
    wait_for(other, "robotrain.stats().state === 'ready' && robotrain.stats().owns_autosave === false", 60, "the second tab")
    assert other.locator("#tabs").is_visible() and "open in another tab" in other.locator("#tabs-text").inner_text()
    other.wait_for_timeout(1000)
    assert stats(other)["resume_offered"] is False, "the second tab does not offer the first tab's run"
    # It watches the first tab's run: its state and progress, as the first tab says every 2 s.
    first = stats(page)
    wait_for(other, "(robotrain.stats().other_tab || '').startsWith('cartpole, paused: ')", 10, "the first tab's status")
    words = other.locator("#tabs-text").inner_text()
    assert f"The other tab now: cartpole, paused: {first['env_steps']:,} env steps, {first['episodes']:,} episodes" in words, words
    other.evaluate("robotrain.start()")
    wait_for(other, "robotrain.stats().episodes >= 5", 60, "the second tab training its own run")
    assert other.evaluate("robotrain.autosave()")["skipped"] is True
    # Take over: the second tab owns the slot and offers the run; the first pauses and stops autosaving.
    page.evaluate("robotrain.start()")
    other.evaluate("robotrain.pause()")
    other.click("#tabs-take")
    wait_for(other, "robotrain.stats().owns_autosave === true && robotrain.stats().resume_offered", 20, "the take-over")
    wait_for(page, "robotrain.stats().owns_autosave === false && robotrain.stats().state === 'paused'", 10, "the first tab to yield")
    assert "took over" in page.locator("#tabs-text").inner_text()
    assert page.evaluate("robotrain.autosave()")["skipped"] is True
    assert page_log.problems() == []
