"""PQN in the page (``?algorithm=pqn``): segments on the workers, the learner on the page, solved, the same
curve for any number of workers in sync mode, and its settings carried by the URL and the saved model."""

from __future__ import annotations

import json

from .helpers import origin_of, stats, wait_for

SOLVED = "robotrain.stats().solved_at_env_step != null"  # undefined until the trainer exists


def test_pqn_solves_cartpole_on_two_workers(page, page_log, base_url):
    page.goto(f"{base_url}?env=cartpole&algorithm=pqn&workers=2&seed=0&autostart=1")
    wait_for(page, SOLVED, 180, "PQN to solve cartpole")
    s = stats(page)
    print(f"\n[pqn cartpole, 2 workers] {json.dumps({k: s.get(k) for k in ('env_steps', 'updates', 'solved', 'segments', 'state', 'error')})}")
    assert s["config"]["algorithm"] == "pqn" and s["config"]["num_envs"] == 64
    # Every segment (a lane group's lanes x num_steps; sync groups the 64 lanes one task per worker) ingested
    # exactly once; a rollout's updates come while the next one is played, so the last rollout's are still due.
    c, seg = s["config"], s["segments"]
    assert seg["lanes"] == 32 and seg["ingested"] + seg["in_flight"] == seg["issued"]
    assert seg["ingested"] * seg["lanes"] * c["num_steps"] == s["env_steps"]
    per_rollout, rollouts = c["update_epochs"] * c["num_minibatches"], s["env_steps"] // (c["num_envs"] * c["num_steps"])
    assert (rollouts - 2) * per_rollout <= s["updates"] <= rollouts * per_rollout
    assert all(w["env_steps"] > 0 and w["failures"] == 0 for w in s["workers"]), s["workers"]
    assert "algorithm=pqn" in page.url
    model = json.loads(page.evaluate("robotrain.modelText()"))
    assert model["config"]["algorithm"] == "pqn"
    assert page_log.foreign_requests(origin_of(base_url)) == []
    assert page_log.problems() == []


def test_sync_pqn_gives_the_same_curve_on_one_and_three_workers(page, base_url):
    curves = []
    for workers in (1, 3):
        page.goto(f"{base_url}?env=cartpole&algorithm=pqn&workers={workers}&seed=4&total_timesteps=20000&autostart=1")
        wait_for(page, "robotrain.stats().finished", 180, f"the 20,000-step run on {workers} worker(s)")
        curves.append(page.evaluate("robotrain.history()"))
    assert len(curves[0]["evals"]) >= 3 and len(curves[0]["episodes"]) > 100
    assert curves[0] == curves[1]


def test_the_form_switches_algorithm_and_shows_only_its_fields(page, page_log, base_url):
    # Each env has its default algorithm (robotrain.config.DEFAULT_ALGORITHM): cartpole's is PQN.
    page.goto(f"{base_url}?env=cartpole&workers=1&seed=2")
    wait_for(page, "document.querySelector('#cfg-algorithm') !== null", 120, "the form")
    assert page.input_value("#cfg-algorithm") == "pqn" and "algorithm=" not in page.url
    page.goto(f"{base_url}?env=acrobot&workers=1&seed=2")
    wait_for(page, "document.querySelector('#cfg-algorithm') !== null", 120, "the form")
    page.evaluate("document.getElementById('hyper').open = true")
    assert page.input_value("#cfg-algorithm") == "ddqn"
    assert page.locator("#cfg-batch_size").count() == 1 and page.locator("#cfg-num_envs").count() == 0
    page.select_option("#cfg-algorithm", "pqn")
    wait_for(page, "document.querySelector('#cfg-num_envs') !== null", 30, "PQN's fields")
    assert page.locator("#cfg-batch_size").count() == 0 and page.locator("#cfg-q_lambda").count() == 1
    assert page.get_attribute("#cfg-learning_rate", "placeholder") == "0.0005"  # PQN's acrobot default
    assert "algorithm=pqn" in page.url
    page.evaluate("robotrain.start()")
    wait_for(page, "(robotrain.stats().segments?.ingested ?? 0) > 10", 60, "segments to arrive")
    assert stats(page)["config"]["algorithm"] == "pqn"
    page.select_option("#cfg-algorithm", "ddqn")
    wait_for(page, "document.querySelector('#cfg-batch_size') !== null", 30, "Double DQN's fields")
    assert page.locator("#cfg-num_envs").count() == 0
    assert page_log.problems() == []
