"""A model trained on Ray (2 local actors) loads in the page and evaluates there to the same greedy return."""

import json

import pytest
import ray

from robotrain import modelfile
from robotrain.config import Config
from robotrain.evaluation import evaluate

from .helpers import stats, wait_for


@pytest.fixture(scope="module")
def ray_model():
    from robotrain.cluster import init_ray, train_ray

    started = init_ray(None, num_cpus=2)
    try:
        run = train_ray(Config.for_env("cartpole", algorithm="ddqn", seed=5), actors=2, mode="sync", stop_when_stable=True,
                        max_steps=50_000)
    finally:
        if started:
            ray.shutdown()
    assert run.solved_at() is not None, run.evals
    return run, modelfile.dumps(run.config, run.learner.q.params, run.policy_version, run.env_steps)


def test_ray_model_loads_in_the_page_with_the_same_greedy_return(ray_model, page, page_log, base_url):
    run, text = ray_model
    page.goto(base_url + "?env=cartpole&seed=5")
    wait_for(page, "robotrain.stats().state === 'ready' || robotrain.stats().state === 'paused'", 120, "page ready")
    result = page.evaluate("text => robotrain.loadText(text, 'ray-cartpole.json')", text)
    assert result.get("ok"), result
    loaded = json.loads(page.evaluate("robotrain.modelText()"))
    assert loaded["params_f32_b64"] == json.loads(text)["params_f32_b64"]
    in_page = page.evaluate("robotrain.evaluate()")
    assert "mean_return" in in_page, in_page
    cfg = run.config
    native = evaluate(cfg.env_id, stats(page)["config"]["seed"], cfg.hidden_sizes, run.learner.q.params, cfg.eval_episodes)
    assert in_page["mean_return"] == native == run.evals[-1][1] >= 475
    assert page_log.problems() == []
