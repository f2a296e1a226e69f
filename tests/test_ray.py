"""The Ray backend on a local Ray with 2 CPUs: sync curve = serial curve for any N, failures, solving, model files."""

import json
import threading
import time

import numpy as np
import pytest
import ray

from robotrain import modelfile
from robotrain.config import Config
from robotrain.blas import limit_blas_threads
from robotrain.cluster import RayTrainer, init_ray, train_ray
from robotrain.evaluation import evaluate, stayed_solved
from robotrain.serial import train_serial
from test_schedule import PUBLISH_STEPS, check_rules, publish_config

SHORT_STEPS = 5_000
# Four tasks per synchronous batch, so two actors really share every batch.
SHORT = {"seed": 3, "batch_episodes": 16, "episodes_per_task": 4, "eval_interval": 1_000}
# Double DQN's default cartpole config with this seed solves at 22,519 env steps and stays solved (the sync curve
# is the serial curve, so `python -m robotrain.train --seed 5 --set algorithm=ddqn --stop-when-stable` shows it;
# re-pick if those defaults change).
SOLVE_SEED = 5


@pytest.fixture(scope="module")
def local_ray():
    limit_blas_threads(1)  # as every learner does (robotrain.blas); also before Ray starts its threads
    started = init_ray(None, num_cpus=2)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def serial_short(local_ray):
    return train_serial(Config.for_env("cartpole", algorithm="ddqn", **SHORT), max_steps=SHORT_STEPS)


def assert_exactly_once(run):
    stats = run.backend_stats
    ids = sorted(e for e, _, _ in run.episodes)
    assert ids == list(range(run.next_episode_id)), "every issued episode id ingested exactly once"
    assert stats["lost"] == 0 and stats["duplicates_dropped"] == 0
    assert stats["issued_episodes"] == stats["ingested_episodes"] == len(ids)


class Killer(threading.Thread):
    """Kills (``ray.kill``) the actor of an in-flight training task, ``kills`` times, once past ``after_steps``."""

    def __init__(self, trainer: RayTrainer, kills: int, after_steps: int, gap_steps: int):
        super().__init__(daemon=True)
        self.trainer, self.kills, self.next_at, self.gap = trainer, kills, after_steps, gap_steps
        self.done, self.halt = [], threading.Event()

    def run(self):
        t = self.trainer
        while len(self.done) < self.kills and not self.halt.is_set():
            if t.run.env_steps >= self.next_at:
                busy = [job for job in list(t.inflight.values()) if job.task["role"] == "train"]
                if busy:
                    slot = t.slots[busy[0].slot]
                    ray.kill(slot.handle)
                    task = busy[0].task
                    self.done.append((t.run.env_steps, slot.index, task.get("first_id", task.get("segment_id"))))
                    self.next_at = t.run.env_steps + self.gap
            time.sleep(0.001)


def train_while_killing(trainer, killer, max_steps):
    """Train with ``killer`` running beside it; always stop the killer and close the trainer."""
    killer.start()
    try:
        return trainer.train(max_steps=max_steps)
    finally:
        killer.halt.set()
        killer.join()
        trainer.close()


def test_sync_curve_does_not_depend_on_actors_and_equals_serial(local_ray, serial_short):
    cfg = Config.for_env("cartpole", algorithm="ddqn", **SHORT)
    for n in (1, 2):
        run = train_ray(cfg, actors=n, max_steps=SHORT_STEPS)
        assert run.history() == serial_short.history(), f"{n} actor(s)"
        assert np.array_equal(run.weights_packed(), serial_short.weights_packed())
        assert len(run.evals) >= 4 and run.backend_stats["mode"] == "sync"
        # The policy lags the data by one batch (Run's pipeline), by the same versions as in the serial run.
        assert run.backend_stats["actors"] == n and run.staleness == serial_short.staleness
        assert max(run.staleness) > 0
        assert_exactly_once(run)


@pytest.mark.parametrize("publish_every", [1, 3])
def test_sync_with_publish_every_equals_the_command_line(local_ray, publish_every):
    cfg = publish_config(publish_every)
    serial = train_serial(cfg, max_steps=PUBLISH_STEPS)
    run = train_ray(cfg, actors=2, max_steps=PUBLISH_STEPS)
    assert run.history() == serial.history()
    assert np.array_equal(run.weights_packed(), serial.weights_packed())
    assert run.trace == serial.trace  # the same commands, in the same order
    check_rules(run.trace, cfg)


def test_async_follows_the_rules_of_the_command_line(local_ray):
    cfg = Config.for_env("cartpole", algorithm="ddqn", seed=1, eval_interval=1_000, publish_every=20)
    for run in (train_ray(cfg, actors=2, mode="async", max_steps=4_000),
                train_serial(cfg, max_steps=4_000, mode="async")):
        counts = check_rules(run.trace, cfg)
        assert counts["publish"] > 0 and counts["evaluate"] == len(run.evals) >= 3
        assert sorted(e for e, _, _ in run.episodes) == list(range(run.next_episode_id))
        assert run.learner.updates == (run.env_steps - cfg.learning_starts) // cfg.train_frequency


def test_killed_actor_in_sync_mode_changes_nothing(local_ray, serial_short):
    trainer = RayTrainer(Config.for_env("cartpole", algorithm="ddqn", **SHORT), actors=2, mode="sync")
    killer = Killer(trainer, kills=2, after_steps=1_500, gap_steps=1_000)
    run = train_while_killing(trainer, killer, SHORT_STEPS)
    stats = run.backend_stats
    assert len(killer.done) == 2, killer.done
    assert stats["actor_restarts"] == 2 and stats["rerun_tasks"] >= 2, stats
    assert_exactly_once(run)
    assert run.history() == serial_short.history()  # the kills changed nothing, not even the curve


def test_killed_actor_in_async_mode_loses_and_duplicates_nothing(local_ray):
    cfg = Config.for_env("cartpole", algorithm="ddqn", seed=5, eval_interval=2_000)
    trainer = RayTrainer(cfg, actors=2, mode="async")
    killer = Killer(trainer, kills=3, after_steps=1_000, gap_steps=1_500)
    run = train_while_killing(trainer, killer, 8_000)
    stats = run.backend_stats
    assert len(killer.done) == 3, killer.done
    assert stats["actor_restarts"] == 3 and stats["rerun_tasks"] >= 3, stats
    assert_exactly_once(run)
    assert run.env_steps >= 8_000 and len(run.evals) >= 2
    assert run.learner.updates == (run.env_steps - cfg.learning_starts) // cfg.train_frequency  # none skipped
    assert stats["mean_staleness"] > 0  # actors really ran behind the learner


def test_pqn_on_ray_equals_the_command_line_even_when_an_actor_is_killed(local_ray):
    cfg = Config.for_env("cartpole", algorithm="pqn", seed=2, eval_interval=2_000)
    serial = train_serial(cfg, max_steps=8_000)
    trainer = RayTrainer(cfg, actors=2, mode="sync")
    killer = Killer(trainer, kills=1, after_steps=2_000, gap_steps=1_000)
    run = train_while_killing(trainer, killer, 8_000)
    stats = run.backend_stats
    assert len(killer.done) == 1 and stats["actor_restarts"] == 1 and stats["rerun_tasks"] >= 1, stats
    assert run.history() == serial.history() and np.array_equal(run.weights_packed(), serial.weights_packed())
    assert stats["lost"] == 0 and run.stats()["segments_ingested"] == run.next_segment_id > 100
    check_rules(run.trace, cfg)
    on_ray = train_ray(cfg, actors=2, mode="async", max_steps=6_000)
    assert on_ray.backend_stats["lost"] == 0
    for async_run in (on_ray, train_serial(cfg, max_steps=6_000, mode="async")):
        check_rules(async_run.trace, cfg)
        assert async_run.stats()["segments_ingested"] == async_run.next_segment_id
        rollouts = async_run.env_steps // (cfg.num_envs * cfg.num_steps)
        assert async_run.learner.updates == rollouts * cfg.update_epochs * cfg.num_minibatches


def test_cartpole_solved_with_2_actors_and_model_round_trip(local_ray, tmp_path):
    cfg = Config.for_env("cartpole", algorithm="ddqn", seed=SOLVE_SEED)  # Double DQN's default config
    run = train_ray(cfg, actors=2, mode="sync", stop_when_stable=True)
    assert run.solved_at() is not None and stayed_solved(run), run.evals
    assert run.evals[-1][1] >= run.env_info()["solved_threshold"]
    assert min(run.backend_stats["tasks_per_actor"]) > 0.25 * run.backend_stats["tasks"]  # both actors shared the work
    assert_exactly_once(run)
    # Saved in the page's model-file format, loaded back, evaluated greedily: the run's last evaluation.
    path = tmp_path / "cartpole.robotrain.json"
    modelfile.save(str(path), cfg, run.learner.q.params, run.policy_version, run.env_steps)
    model = modelfile.load(str(path), expect_env="cartpole")
    assert model["policy_version"] == run.policy_version and model["env_steps"] == run.env_steps
    assert np.array_equal(model["params"], run.learner.q.params)
    again = evaluate(cfg.env_id, cfg.seed, model["config"].hidden_sizes, model["params"], cfg.eval_episodes)
    assert again == run.evals[-1][1]


def test_cli_trains_on_ray_saves_and_continues_from_a_model(local_ray, tmp_path, capsys):
    from robotrain.train import main

    out, model = tmp_path / "out.json", tmp_path / "model.json"
    common = ["--backend", "ray", "--actors", "2", "--quiet", "--set", "eval_interval=1000"]
    assert main([*common, "--mode", "async", "--max-steps", "3000", "--json", str(out), "--save-model", str(model)]) == 0
    summary = json.loads(out.read_text())
    assert summary["env_steps"] >= 3000 and len(summary["eval"]) >= 2 and summary["env_steps_per_s"] > 0
    first = modelfile.load(str(model))
    assert first["env_steps"] == summary["env_steps"]
    # Continue from the saved model (as from a model file saved by the page).
    assert main([*common, "--max-steps", "1500", "--init-model", str(model), "--save-model", str(model)]) == 0
    assert "model saved" in capsys.readouterr().out
    second = modelfile.load(str(model))
    assert not np.array_equal(second["params"], first["params"])
