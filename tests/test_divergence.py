"""Learner divergence under CPython: NaN or Inf in the weights or the loss rolls back to the last good state."""

import numpy as np
import pytest

from robotrain.actor import Actor
from robotrain.config import Config
from robotrain.run import CHECKPOINT_EVERY, Diverged, Run


def _run_with_data(**overrides) -> Run:
    """A cartpole run with enough ingested episodes that updates are due."""
    cfg = Config.for_env("cartpole", algorithm="ddqn", seed=1, learning_starts=200, train_frequency=1, **overrides)
    run = Run(cfg)
    actor = Actor("cartpole", cfg.seed, cfg.lanes, cfg.hidden_sizes)
    actor.set_weights(run.weights_packed())
    while run.env_steps < 2000:
        for task in run.plan_tasks():
            run.ingest(actor.run(task["first_id"], task["stop_id"], task["epsilon"], task["stream"]))
    return run


def _state(run: Run):
    lr = run.learner
    return [lr.q.params.copy(), lr.target.params.copy(), lr.optimizer.m.copy(), lr.optimizer.v.copy()]


def test_nan_in_the_weights_rolls_back_to_the_last_checkpoint_and_learning_goes_on():
    run = _run_with_data()
    assert run.learn(CHECKPOINT_EVERY) == CHECKPOINT_EVERY
    good = _state(run)
    run.learn(4)  # the checkpoint is taken at the start of this call; the rollback undoes these four updates
    updates = run.learner.updates
    run.learner.q.params[5] = np.nan
    with pytest.raises(Diverged, match=r"NaN or Inf in the weights at update \d+; rolled back to the weights of update 100"):
        run.learn(10)
    for restored, kept in zip(_state(run), good):
        np.testing.assert_array_equal(restored, kept)
    assert run.learner.updates == updates, "the update counter (the policy version) never goes back"
    assert run.stats()["divergences"] == 1
    # The run goes on from the good weights: updates run and stay finite.
    assert run.learn(20) == 20
    assert np.isfinite(run.learner.q.params).all() and np.isfinite(run.learner.last_loss)
    assert run.stats()["loss"] is not None


def test_a_loss_that_blows_up_mid_slice_rolls_back(monkeypatch):
    run = _run_with_data()
    run.learn(CHECKPOINT_EVERY)
    good = _state(run)
    # An absurd learning rate: a few Adam steps take the weights to float32 overflow, so the loss turns Inf
    # or NaN within the slice.
    monkeypatch.setattr(run.learner, "learning_rate", lambda env_steps: 1e38)
    with pytest.raises(Diverged, match="rolled back"):
        run.learn(50)
    for restored, kept in zip(_state(run), good):
        np.testing.assert_array_equal(restored, kept)
    assert np.isfinite(run.learner.q.params).all()
    monkeypatch.undo()
    assert run.learn(5) == 5 and np.isfinite(run.learner.last_loss)


def test_weights_published_after_a_rollback_are_finite():
    run = _run_with_data()
    run.learn(CHECKPOINT_EVERY + 1)
    run.learner.target.params[:] = np.inf
    with pytest.raises(Diverged):
        run.learn(1)
    packed = run.weights_packed()
    assert np.isfinite(packed).all()


def test_publishing_nan_weights_rolls_back_instead():
    run = _run_with_data()
    run.learn(CHECKPOINT_EVERY)
    good = _state(run)[0]
    run.learn(1)  # keeps the weights of update CHECKPOINT_EVERY as the last good ones, then learns one more
    run.learner.q.params[0] = np.nan  # written between two slices: the next command is a publication
    with pytest.raises(Diverged, match=f"NaN or Inf in the weights.*weights of update {CHECKPOINT_EVERY}"):
        run.weights_packed()
    assert run.divergences == 1 and np.isfinite(run.weights_packed()).all()
    assert np.array_equal(run.learner.q.params, good)


def test_without_divergence_learning_is_unchanged():
    """The guard only copies and checks: the same seed gives the same weights with or without checkpoints."""
    a, b = _run_with_data(), _run_with_data()
    for _ in range(3):
        a.learn(CHECKPOINT_EVERY)
    b.learn(3 * CHECKPOINT_EVERY)
    np.testing.assert_array_equal(a.learner.q.params, b.learner.q.params)
    assert a.stats()["divergences"] == 0
    assert a.stats()["episodes_duplicated"] == 0
    assert a.stats()["episodes_issued"] == a.stats()["episodes_ingested"]
