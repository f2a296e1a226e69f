"""The one training order (robotrain.schedule): its commands, its knobs, and the serial host that executes it.

``check_rules`` is what every host's trace must satisfy; tests/test_ray.py applies it to Ray's runs.
"""

import json

import numpy as np
import pytest

from robotrain import codec
from robotrain.config import Config
from robotrain.evaluation import evaluate
from robotrain.run import Run, next_eval_point
from robotrain.schedule import ASYNC_MIN_BACKLOG_UPDATES, Schedule
from robotrain.serial import SerialHost, train_serial

# Sync batches of 2 episodes earn about 3 updates each (cartpole's early episodes are ~20 steps, one update per
# 16), so publish_every 3 skips publications that publish_every 1 makes, and the two curves differ.
PUBLISH_SEED = 4
PUBLISH_STEPS = 3_000


def publish_config(publish_every: int, **more) -> Config:
    return Config.for_env("cartpole", algorithm="ddqn", seed=PUBLISH_SEED, batch_episodes=2, train_frequency=16, learning_starts=200,
                          eval_interval=1_000, publish_every=publish_every, **more)


def check_rules(trace: list, config: Config, initial_version: int = 0) -> dict:
    """What every host's commands obey, whatever the mode; returns counts of what the trace holds.

    Tasks and evaluations use the last published weights; publications are ``publish_every`` updates apart
    at least; training ids (pqn: segment ids) are planned once each, in order; learning never runs ahead of
    the data.
    """
    published, next_id, counts = initial_version, None, {"play": 0, "learn": 0, "ingest": 0, "publish": 0, "evaluate": 0,
                                      "await_evaluation": 0}
    next_segment = 0
    for command in trace:
        op = command["op"]
        counts[op] += 1
        if op == "play" and config.algorithm == "pqn":
            for task in command["tasks"]:  # segment ids count up; a group has one segment in flight at most
                assert task["policy_version"] == published and task["segment_id"] == next_segment, (task, published)
                next_segment += 1
        elif op == "play":
            for task in command["tasks"]:
                assert task["policy_version"] == published, (task, published)
                assert next_id is None or task["first_id"] == next_id, (task, next_id)
                assert task["first_id"] < task["stop_id"] and task["stream"] == 0
                next_id = task["stop_id"]
        elif op == "evaluate":
            assert command["version"] == published and command["task"]["policy_version"] == published
            assert command["task"]["epsilon"] == 0.0 and command["task"]["stream"] == 1
        elif op == "publish":
            assert command["version"] - published >= config.publish_every, (command, published)
            published = command["version"]
        elif op == "learn":
            assert command["updates"] >= 0
    return counts


def test_sync_batch_commands_in_order():
    run = Run(Config.for_env("cartpole", algorithm="ddqn", seed=0, learning_starts=0, train_frequency=1))
    schedule = Schedule(run, "sync")
    host = SerialHost(run)
    host.schedule = schedule
    first = list(schedule.sync_batch(episodes_per_task=3))
    assert [c["op"] for c in first[:3]] == ["play", "learn", "ingest"]
    assert first[1]["updates"] == 0  # nothing ingested yet: nothing earned
    assert [(t["first_id"], t["stop_id"]) for t in first[0]["tasks"]] == [(0, 3), (3, 6), (6, 8)]
    # A generator reads the state its commands leave: executed one by one, batch 2 learns what batch 1 earned.
    host.execute_all(schedule.sync_batch())
    steps = run.env_steps
    commands = []
    for command in schedule.sync_batch():
        commands.append(command)
        host.execute(command)
    assert commands[1] == {"op": "learn", "updates": steps}
    assert commands[3] == {"op": "publish", "version": steps}  # publish_every 1: every batch that learned
    assert run.learner.updates == steps


def test_publish_every_is_honoured_and_changes_the_sync_curve():
    runs = {n: train_serial(publish_config(n), max_steps=PUBLISH_STEPS) for n in (1, 3)}
    for n, run in runs.items():
        counts = check_rules(run.trace, run.config)
        assert counts["evaluate"] == len(run.evals) >= 2
        assert run.history() == train_serial(publish_config(n), max_steps=PUBLISH_STEPS).history()  # deterministic
    one, three = (check_rules(runs[n].trace, runs[n].config)["publish"] for n in (1, 3))
    assert three < one
    assert runs[1].history()["episodes"] != runs[3].history()["episodes"]


def test_evaluation_plays_the_published_weights():
    cfg = publish_config(1_000)  # no publication before the first evaluation: the actors hold the initial weights
    run = Run(cfg)
    host = SerialHost(run)
    while len(run.evals) < 4:  # the fourth, at 1,000 env steps, comes after learning started (the first, at 125, before)
        host.sync_batch()
    # Weights moved on since the last publication, and the evaluation measured the published ones.
    assert run.learner.updates > host.schedule.published_at_update
    published, _version = codec.unpack_weights(host.published)
    assert run.evals[-1][1] == evaluate(cfg.env_id, cfg.seed, cfg.hidden_sizes, published, cfg.eval_episodes)
    assert run.evals[-1][1] != evaluate(cfg.env_id, cfg.seed, cfg.hidden_sizes, run.learner.q.params, cfg.eval_episodes)


class LateEvaluations(SerialHost):
    """A sync host whose evaluations come back late (as a busy worker's would): each is ingested only when the
    schedule awaits it."""

    late = None  # the evaluation played and not yet ingested

    def execute(self, command: dict) -> None:
        if command["op"] == "evaluate":
            self.trace.append(command)
            self.evaluator.set_weights(self.published)
            self.late = self.evaluator.run_task(command["task"])
        elif command["op"] == "await_evaluation":
            self.trace.append(command)
            self.run.ingest_eval(self.late)
        else:
            super().execute(command)


@pytest.mark.parametrize("algorithm", ["ddqn", "pqn"])
def test_a_late_evaluation_is_awaited_when_the_next_is_due_and_changes_no_curve(algorithm):
    cfg = Config.for_env("cartpole", algorithm=algorithm, seed=3, eval_interval=1_000)
    reference = train_serial(cfg, max_steps=4_000)
    run = Run(cfg)
    host = LateEvaluations(run)
    while run.env_steps < 4_000:
        host.sync_batch()
    host.execute({"op": "await_evaluation"})  # the run's last one, as a host that drains takes it
    assert run.history() == reference.history()  # the same episodes and the same evaluation points and returns
    ops = [c["op"] for c in host.trace]
    evaluations = [i for i, op in enumerate(ops) if op == "evaluate"]
    awaits = [i for i, op in enumerate(ops) if op == "await_evaluation"]
    # Every evaluation after the first waits for the one before it, right before it, and for nothing else.
    assert len(evaluations) == len(run.evals) >= 4 and [i + 1 for i in awaits[:-1]] == evaluations[1:]
    assert check_rules(host.trace, cfg)["await_evaluation"] == len(run.evals)


def test_async_on_the_command_line_follows_the_rules_and_drains():
    cfg = Config.for_env("cartpole", algorithm="ddqn", seed=1, eval_interval=1_000, publish_every=20)
    run = train_serial(cfg, max_steps=4_000, mode="async")
    counts = check_rules(run.trace, cfg)
    assert counts["publish"] > 0 and counts["evaluate"] == len(run.evals) >= 3
    ids = sorted(e for e, _, _ in run.episodes)
    assert ids == list(range(run.next_episode_id))  # every planned id ingested once: nothing left in flight
    assert run.learner.updates == (run.env_steps - cfg.learning_starts) // cfg.train_frequency  # none skipped


def test_async_holds_tasks_back_while_the_learner_is_behind():
    run = Run(Config.for_env("cartpole", algorithm="ddqn", seed=0, learning_starts=0, train_frequency=1))
    schedule = Schedule(run, "async")
    run.env_steps = ASYNC_MIN_BACKLOG_UPDATES + 1  # as if that many transitions had been ingested
    ops = [c["op"] for c in schedule.async_step(4, 2, seconds_per_update=1.0, learn_max=10)]
    assert ops == ["ingest", "learn"]  # no play: 501 updates behind at 1 s each
    commands = list(schedule.async_step(4, 2, seconds_per_update=1e-5, learn_max=10))
    assert [c["op"] for c in commands] == ["ingest", "play", "learn"]  # 0.5 s of updates is 50,000 of these
    assert [(t["first_id"], t["stop_id"]) for t in commands[1]["tasks"]] == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert commands[2]["updates"] == 10


def test_async_publishes_nothing_while_an_evaluation_is_in_flight():
    run = Run(Config.for_env("cartpole", algorithm="ddqn", seed=0, learning_starts=0, train_frequency=1, eval_interval=100))
    host = SerialHost(run, "async")
    host.schedule.clock = lambda: 1e9  # the publication interval has always passed

    def step(free):
        ops = []
        for command in host.schedule.async_step(free, 2, 1e-4, learn_max=5):
            ops.append(command["op"])
            host.execute(command)
        return ops

    assert step(8) == ["ingest", "play"]  # 16 episodes (over 100 steps), played and held until the next ingest
    assert step(0) == ["ingest", "evaluate", "learn"]  # 5 updates due and done, but an evaluation is in flight
    assert run.pending_eval_step is not None
    assert step(0) == ["ingest", "learn", "publish"]  # the evaluation came in: publications go on


def test_a_bad_mode_is_named():
    with pytest.raises(ValueError, match="mode"):
        Schedule(Run(Config.for_env("cartpole", algorithm="ddqn")), "bogus")
    with pytest.raises(ValueError, match="unknown command"):
        SerialHost(Run(Config.for_env("cartpole", algorithm="ddqn"))).execute({"op": "dance"})


def test_cli_json_carries_the_history(tmp_path):
    from robotrain.train import main

    out = tmp_path / "out.json"
    cfg = publish_config(3)
    args = ["--quiet", "--seed", str(PUBLISH_SEED), "--max-steps", str(PUBLISH_STEPS), "--json", str(out)]
    for field in ("algorithm", "batch_episodes", "train_frequency", "learning_starts", "eval_interval", "publish_every"):
        args += ["--set", f"{field}={getattr(cfg, field)}"]
    assert main(args) == 0
    summary = json.loads(out.read_text())
    reference = train_serial(cfg, max_steps=PUBLISH_STEPS).history()
    assert summary["history"] == json.loads(json.dumps(reference)) and summary["mode"] == "sync"
    assert [e[0] for e in summary["history"]["episodes"]] == list(range(len(summary["history"]["episodes"])))
    assert main(["--quiet", "--mode", "async", "--set", "algorithm=ddqn", "--max-steps", "1500", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["mode"] == "async" and summary["env_steps"] >= 1500
    assert np.all(np.diff([e[0] for e in summary["history"]["episodes"]]) == 1)


def test_the_first_evaluations_come_early_then_one_every_interval():
    points = [next_eval_point(s, 5_000) for s in (0, 624, 625, 1_300, 2_499, 2_500, 5_000, 9_999, 10_000)]
    assert points == [625, 625, 1_250, 2_500, 2_500, 5_000, 10_000, 10_000, 15_000]
    run = train_serial(Config.for_env("cartpole", algorithm="ddqn", seed=2, eval_interval=1_000), max_steps=3_000)
    steps = [step for step, _ in run.evals]
    # Evaluations start at the first batch boundary at or past each point: 125, 250, 500, 1,000, 2,000, 3,000.
    assert len(steps) == 6 and steps == sorted(steps), steps
    assert [next_eval_point(s, 1_000) for s in steps[:-1]] == [250, 500, 1_000, 2_000, 3_000]
