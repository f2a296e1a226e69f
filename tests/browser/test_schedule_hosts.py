"""The page executes robotrain.schedule as the command line does: with publish_every 1 and 3, a sync run's
per-episode history and evaluations in the page equal the command line's (tests/test_ray.py checks Ray)."""

from __future__ import annotations

import pytest

from robotrain.serial import train_serial

from test_schedule import PUBLISH_SEED, PUBLISH_STEPS, publish_config
from .helpers import wait_for


@pytest.mark.parametrize("publish_every", [1, 3])
def test_sync_history_with_publish_every_equals_the_command_line(page, page_log, base_url, publish_every):
    cfg = publish_config(publish_every)
    reference = train_serial(cfg, max_steps=PUBLISH_STEPS).history()
    fields = ("train_frequency", "learning_starts", "eval_interval", "publish_every")
    query = "&".join(f"{name}={getattr(cfg, name)}" for name in fields)
    # kernel=numpy: the command line's numpy arithmetic, so the same bits (the SIMD kernel rounds differently).
    page.goto(f"{base_url}?algorithm=ddqn&mode=sync&seed={PUBLISH_SEED}&batch={cfg.batch_episodes}&workers=2"
              f"&{query}&kernel=numpy&autostart=1")
    last_step = reference["evals"][-1][0]
    wait_for(page, f"robotrain.history().evals.some(e => e[0] >= {last_step})", 240,
             f"the evaluation at env step {last_step}")
    page.evaluate("robotrain.pause()")
    history = page.evaluate("robotrain.history()")
    assert page.evaluate("robotrain.stats().kernel") == "numpy"
    n = len(reference["episodes"])
    assert history["episodes"][:n] == reference["episodes"]
    assert history["evals"][:len(reference["evals"])] == reference["evals"]
    assert page_log.problems() == []
