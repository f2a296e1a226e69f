"""Training in the page: async with 4 workers learns, sync is identical for any worker count, main mode trains.

Figures (worker start-up, episodes/min, FPS, longest learning slice) are printed; run pytest with -s to see them.
"""

from __future__ import annotations

import json

from .helpers import origin_of, stats, wait_for

FIRST_EPISODES = 100  # sync determinism is checked over episode ids 0..99


def report(label: str, s: dict) -> None:
    keys = ["mode", "episodes", "env_steps", "updates", "episodes_per_min", "env_steps_per_s", "fps",
            "last_eval_return", "best_eval_return", "longest_learn_slice_ms", "learn_slices", "learn_slices_over_16ms", "timings", "main_thread_busy_ms",
            "training_wall_ms"]
    figures = {k: s.get(k) for k in keys}
    figures["worker_boot_ms"] = [w["boot_ms"] for w in s["workers"]]
    figures["worker_episodes"] = [w["episodes"] for w in s["workers"]]
    print(f"\n[{label}] {json.dumps(figures)}")


def test_four_workers_train_cartpole_and_the_evaluated_return_rises(page, page_log, base_url):
    page.goto(f"{base_url}?env=cartpole&algorithm=ddqn&workers=4&mode=async&seed=1&autostart=1")
    wait_for(page, "robotrain.stats().workers_ready === 4", 120, "4 workers to be ready")
    # "Rises": the best greedy evaluation reaches 100 and five times the mean return of the first 50
    # (epsilon = 1, random) episodes; an untrained cart-pole policy scores about 10 to 40. (Not "solved": async
    # runs are a fresh draw each time, and one in CI ended its 50,000-step budget with a best of 148.)
    wait_for(
        page,
        "(() => { const h = robotrain.history(); if (h.episodes.length < 50 || !h.evals.length) return false;"
        " const random = h.episodes.slice(0, 50).reduce((a, e) => a + e[1], 0) / 50;"
        " return Math.max(...h.evals.map(e => e[1])) >= Math.max(100, 5 * random); })()",
        240,
        "a greedy evaluation of at least 100 and five times the random policy's return",
    )
    s = stats(page)
    report("async, 4 workers", s)
    assert (s["state"] == "running" or s["finished"]) and s["mode"] == "async"
    assert all(w["episodes"] > 0 and w["failures"] == 0 for w in s["workers"]), (
        [{k: w.get(k) for k in ("id", "state", "episodes", "failures")} for w in s["workers"]],
        s["reliability"]["recent_failures"],
    )
    assert s["updates"] > 0 and s["policy_version"] > 0
    # Each worker's own time in its finished tasks: some, and less than the time since the page opened.
    opened_ms = page.evaluate("performance.now()")
    assert all(0 < w["busy_ms"] < opened_ms for w in s["workers"]), ([w["busy_ms"] for w in s["workers"]], opened_ms)
    assert s["staleness"]["max"] >= 1, "async results should sometimes come from older weights"
    # Adaptive task sizing (the default): tasks sized from measured worker time, as many lanes as episodes.
    sizing = s["task_sizing"]
    assert sizing["adaptive"] and sizing["tasks"] > 0 and sizing["ms_per_episode"] > 0, sizing
    assert sizing["lanes"] == min(sizing["episodes_per_task"], 64), sizing
    history = page.evaluate("robotrain.history()")
    ids = [e[0] for e in history["episodes"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert s["best_eval_return"] == max(r for _, r in history["evals"])
    page.evaluate("robotrain.pause()")
    wait_for(page, "robotrain.stats().state === 'paused'", 10, "pause")
    assert page_log.foreign_requests(origin_of(base_url)) == []
    assert page_log.problems() == []


def sync_history(open_page, url: str, label: str) -> tuple[dict, dict]:
    page, log = open_page(url)
    wait_for(page, f"robotrain.stats().episodes >= {FIRST_EPISODES}", 240, f"{FIRST_EPISODES} episodes")
    page.evaluate("robotrain.pause()")
    s = stats(page)
    report(label, s)
    history = page.evaluate("robotrain.history()")
    assert log.problems() == []
    return history, s


def first_episodes(history: dict) -> list:
    episodes = [e for e in history["episodes"] if e[0] < FIRST_EPISODES]
    assert [e[0] for e in episodes] == list(range(FIRST_EPISODES))
    return episodes


def test_sync_mode_gives_the_same_history_with_1_and_3_workers(open_page, base_url):
    # batch=24: one worker plays each batch as one task of 24 episodes, three workers as three tasks of 8.
    one, s1 = sync_history(open_page, f"{base_url}?algorithm=ddqn&mode=sync&seed=0&batch=24&workers=1&autostart=1", "sync, 1 worker")
    three, s3 = sync_history(open_page, f"{base_url}?algorithm=ddqn&mode=sync&seed=0&batch=24&workers=3&autostart=1", "sync, 3 workers")
    assert sum(1 for w in s3["workers"] if w["tasks"] > 0) >= 2, s3["workers"]
    # Adaptive sizing plays each worker's share on as many lanes (24 and 8; the CPython trainer below uses 8).
    assert s1["task_sizing"]["lanes_last"] == 24 and s3["task_sizing"]["lanes_last"] == 8
    assert s1["updates"] > 0, "learning must have started within the compared episodes"
    # With the SIMD kernel on (the default), in the page and in every worker: the curve does not depend on
    # which worker played an episode. (With kernel=numpy the page equals the command line: test_schedule_hosts.)
    assert s1["kernel"] == s3["kernel"] == "wasm-simd"
    assert first_episodes(one) == first_episodes(three)
    steps = sum(e[2] for e in first_episodes(one))
    evals_one = [e for e in one["evals"] if e[0] <= steps]
    evals_three = [e for e in three["evals"] if e[0] <= steps]
    assert evals_one == evals_three


def test_main_mode_trains_without_workers(page, page_log, base_url):
    page.goto(f"{base_url}?algorithm=ddqn&mode=main&seed=0&sizing=fixed&autostart=1")
    wait_for(
        page,
        # 5,000 env steps (one eval_interval): the early evaluations come before learning has had time to show.
        "(() => { const s = robotrain.stats(); return s.env_steps >= 5000 && s.last_eval_return !== null; })()",
        240,
        "main-thread training to learn for 5,000 env steps and evaluate",
    )
    s = stats(page)
    report("main thread", s)
    assert s["mode"] == "main" and s["workers"] == [] and page.workers == []
    # sizing=fixed: the config's lanes (8) and episodes per task (2), whatever the measurements.
    sizing = s["task_sizing"]
    assert not sizing["adaptive"] and sizing["lanes_last"] == 8 and sizing["episodes_per_task"] == 2, sizing
    history = page.evaluate("robotrain.history()")
    assert len(history["evals"]) >= 1
    returns = [e[1] for e in history["episodes"]]
    assert max(returns[len(returns) // 2:]) > max(returns[:20]), "later episodes should do better"
    assert page_log.problems() == []
