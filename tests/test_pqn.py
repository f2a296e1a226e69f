"""PQN (robotrain.pqn) and its unit of work, the segment: Q(lambda) targets, segments that any actor replays
exactly, exactly-once ingest, the same curve for any number of actors, save and restore, a tiny solve."""

import numpy as np
import pytest

from robotrain import codec
from robotrain.actor import Actor
from robotrain.config import Config
from robotrain.pqn import q_lambda_returns
from robotrain.run import Run
from robotrain.serial import SerialHost, train_serial


def small(env="cartpole", **more) -> Config:
    return Config.for_env(env, algorithm="pqn", **{"seed": 1, "num_envs": 8, "lanes": 4, "num_steps": 16,
                                                   "eval_interval": 2_000, "total_timesteps": 20_000, **more})


def actor_for(cfg: Config, run: Run, lanes: int = 1) -> Actor:
    actor = Actor(cfg.env_id, cfg.seed, lanes, cfg.hidden_sizes, layer_norm=True)
    actor.set_weights(run.weights_packed())
    return actor


# --- Q(lambda) targets --------------------------------------------------------------------------------------

def test_q_lambda_returns_by_hand_with_a_termination_and_a_truncation_mid_rollout():
    g, lam = 0.9, 0.5
    # One lane, 5 steps: step 1 terminates (no bootstrap), step 3 is truncated (bootstraps from its own s').
    r = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    term = np.array([[0, 1, 0, 0, 0]], dtype=np.float32)
    trunc = np.array([[0, 0, 0, 1, 0]], dtype=np.float32)
    q = np.array([[10.0, 20.0, 30.0, 40.0, 50.0]])  # max_a Q(s'_t, a)
    G4 = 5 + g * 50  # the rollout's last step bootstraps
    G3 = 4 + g * 40  # truncated: max Q of its final observation, nothing of the next episode
    G2 = 3 + g * (lam * G3 + (1 - lam) * 30)
    G1 = 2.0  # terminated
    G0 = 1 + g * (lam * G1 + (1 - lam) * 10)
    out = q_lambda_returns(r, term, trunc, q, g, lam)
    np.testing.assert_allclose(out, [[G0, G1, G2, G3, G4]], rtol=1e-6)
    # lambda 0 is one-step Q-learning; lambda 1 sums rewards to the end of each episode or the rollout.
    np.testing.assert_allclose(q_lambda_returns(r, term, trunc, q, g, 0.0)[0], r[0] + g * (1 - term[0]) * q[0], rtol=1e-6)
    np.testing.assert_allclose(q_lambda_returns(r, term, trunc, q, g, 1.0)[0, 0], 1 + g * 2, rtol=1e-6)


# --- segments --------------------------------------------------------------------------------------------

def test_a_segment_depends_on_its_lane_table_not_on_the_actor():
    cfg = small()
    run = Run(cfg)
    tasks = run.plan_segments()
    a = actor_for(cfg, run, lanes=4)
    first = [a.run_task(t) for t in tasks]
    b = actor_for(cfg, run, lanes=7)  # another lane count, and it plays group 1 first
    assert np.array_equal(b.run_task(tasks[1]), first[1]) and np.array_equal(b.run_task(tasks[0]), first[0])
    seg = codec.unpack_segment(first[0])
    assert seg.transitions.shape == (4, 16, codec.row_width(4)) and seg.segment_id == tasks[0]["segment_id"]
    # In pieces (the page's main thread) as in one go.
    a.begin_task(tasks[0])
    while not a.advance(3):
        pass
    assert np.array_equal(a.finish(), first[0])


def test_episodes_span_segments_with_their_whole_length_and_return():
    cfg = small(num_steps=5, num_envs=4)
    run = Run(cfg)
    actor = actor_for(cfg, run, lanes=4)
    steps_per_lane = 0
    for _ in range(40):
        (task,) = run.plan_segments()
        run.ingest(actor.run_task(task))
        steps_per_lane += 5
    rows = run.history()["episodes"]
    assert rows and max(n for _, _, n in rows) > 5  # episodes longer than a segment
    for _, ret, n in rows:
        assert ret == n  # cartpole: +1 per step, over the whole episode
    # Per lane: the ended episodes' lengths plus the steps of the one in progress are every step it played.
    table = run.groups[0]
    for lane in range(4):
        ids = {lane + 4 * k for k in range(1000)}
        ended = sum(n for e, _, n in rows if e in ids)
        assert ended + int(table[lane, codec.LANE_ELAPSED]) == steps_per_lane
        assert int(table[lane, codec.LANE_EPISODE]) in ids


def test_each_segment_is_ingested_once_and_a_lost_one_is_played_again():
    cfg = small()
    run = Run(cfg)
    tasks = run.plan_segments()
    assert run.plan_segments() == []  # every group has a segment in flight
    played = [actor_for(cfg, run, 4).run_task(t) for t in tasks]
    # The worker holding group 1's segment dies: another actor plays the same task again, bit for bit.
    again = actor_for(cfg, run, 2).run_task(tasks[1])
    assert np.array_equal(again, played[1])
    run.ingest(played[0])
    run.ingest(again)
    before = run.stats()
    assert run.ingest(played[1])["duplicate"] is True  # the lost worker's copy turns up late
    after = run.stats()
    assert after["env_steps"] == before["env_steps"] == 2 * 4 * 16 and after["duplicates_dropped"] == 1
    assert after["segments_ingested"] == 2 == after["segments_issued"] and after["segments_in_flight"] == 0
    assert run.learner.updates_due == cfg.update_epochs * cfg.num_minibatches  # one whole rollout


@pytest.mark.parametrize("corrupt, message", [
    (lambda b: b.__setitem__(codec.H_SEGMENT_ID, 99), "never issued"),
    (lambda b: b.__setitem__(codec.H_MAGIC, 1.0), "magic"),
    (lambda b: b.__setitem__(-1, np.nan), "NaN"),
    (lambda b: b.__setitem__(codec.H_KIND, codec.KIND_TRAJECTORIES), "kind"),
])
def test_a_bad_segment_is_refused_and_the_run_is_untouched(corrupt, message):
    cfg = small()
    run = Run(cfg)
    tasks = run.plan_segments()
    packed = actor_for(cfg, run, 4).run_task(tasks[0])
    bad = packed.copy()
    corrupt(bad)
    state = run.to_bytes()
    with pytest.raises(ValueError, match=message):
        run.ingest(bad)
    assert run.to_bytes() == state
    run.ingest(packed)  # the good copy still goes in
    assert run.env_steps == 4 * 16


class ManyActors(SerialHost):
    """A sync host whose tasks go round-robin to several actors of different lane counts (as a pool would)."""

    def __init__(self, run, actors):
        super().__init__(run)
        c = run.config
        self.pool = [Actor(c.env_id, c.seed, 1 + i, c.hidden_sizes, layer_norm=True) for i in range(actors)]
        for a in self.pool:
            a.set_weights(self.published)

    def execute(self, command):
        if command["op"] == "play":
            self.trace.append(command)
            for i, task in enumerate(command["tasks"]):
                self.results.append(self.pool[i % len(self.pool)].run_task(task))
            return
        super().execute(command)
        if command["op"] == "publish":
            for a in self.pool:
                a.set_weights(self.published)


def test_sync_pqn_gives_the_same_curve_for_any_number_of_actors():
    cfg = small(total_timesteps=6_000, eval_interval=1_000)
    reference = train_serial(cfg)
    for actors in (2, 3):
        run = Run(cfg)
        host = ManyActors(run, actors)
        while run.env_steps < cfg.total_timesteps:
            host.sync_batch()
        assert run.history() == reference.history()
        assert np.array_equal(run.weights_packed(), reference.weights_packed())
    # Every rollout but the last has been learned from (its updates are due in the next batch).
    assert reference.learner.updates == (reference.env_steps // (8 * 16) - 1) * cfg.update_epochs * cfg.num_minibatches
    assert len(reference.evals) >= 5


def test_regrouping_the_lanes_between_rollouts_changes_nothing():
    cfg = small(total_timesteps=6_000, eval_interval=1_000)
    reference = train_serial(cfg)
    run = Run(cfg)
    host = SerialHost(run)
    batch = 0
    while run.env_steps < cfg.total_timesteps:
        assert run.regroup((8, 1, 2, 4)[batch % 4])  # a host picks one task per actor, whatever the config says
        host.sync_batch()
        batch += 1
    run.regroup(8)
    assert run.config.lanes == 8 and len(run.groups) == 1
    assert run.history() == reference.history()
    assert np.array_equal(run.weights_packed(), reference.weights_packed())
    with pytest.raises(ValueError, match="lanes: 8 environments do not split into groups of 3"):
        run.regroup(3)
    run.plan_segments()  # a segment in flight: the groups stay as they are
    assert run.regroup(4) is False
    assert run.config.lanes == 8 and len(run.groups) == 1
    with pytest.raises(ValueError, match="only pqn"):
        Run(Config.for_env("cartpole", algorithm="ddqn")).regroup(4)


def test_pqn_run_state_round_trip_continues_identically():
    cfg = small(total_timesteps=4_096, eval_interval=1_000)
    reference = train_serial(cfg, max_steps=4_096)
    half = train_serial(cfg, max_steps=2_048)
    restored = Run.from_bytes(half.to_bytes())
    assert restored.history() == half.history() and np.array_equal(restored.weights_packed(), half.weights_packed())
    host = SerialHost(restored)
    while restored.env_steps < 4_096:
        host.sync_batch()
    assert restored.history() == reference.history()
    assert np.array_equal(restored.weights_packed(), reference.weights_packed())


def test_config_checks_pqn_fields():
    with pytest.raises(ValueError, match="num_envs"):
        Config.for_env("cartpole", algorithm="pqn", num_envs=10, lanes=4)
    with pytest.raises(ValueError, match="algorithm"):
        Config.for_env("cartpole", algorithm="ppo")
    with pytest.raises(ValueError, match="num_minibatches"):
        Config.for_env("cartpole", algorithm="pqn", num_envs=4, lanes=4, num_steps=2, num_minibatches=9)
    specs = {s["name"]: s for s in Config.field_specs("cartpole", "pqn")}
    assert specs["q_lambda"]["algorithms"] == ["pqn"] and specs["batch_size"]["algorithms"] == ["ddqn"]
    assert specs["algorithm"]["default"] == "pqn" and specs["learning_rate"]["algorithms"] == ["ddqn", "pqn"]
    assert Config.for_env("acrobot").algorithm == "ddqn"
    # Each env's default algorithm (DEFAULT_ALGORITHM), and the other one a field away with its own defaults.
    assert Config.for_env("cartpole").algorithm == "pqn" and Config.for_env("cartpole").num_envs == 64
    assert Config.for_env("cartpole", algorithm="ddqn").batch_episodes == Config().batch_episodes
    assert Config.for_env("balancebot").algorithm == "pqn"
    assert {s["name"]: s["default"] for s in Config.field_specs("cartpole")}["algorithm"] == "pqn"


def test_pqn_solves_cartpole_quickly():
    cfg = Config.for_env("cartpole", algorithm="pqn", seed=1)
    run = train_serial(cfg, max_steps=60_000)
    assert run.solved_at() is not None and run.solved_at() <= 60_000
    # Each transition is learned from update_epochs times, in one rollout, then dropped (no replay).
    rollout = cfg.num_envs * cfg.num_steps
    assert run.learner.updates * rollout // cfg.num_minibatches <= run.env_steps * cfg.update_epochs
    assert run.learner.stored <= 2 * rollout


def test_the_actor_refuses_a_bad_segment_task_and_plays_the_next_one():
    cfg = small()
    run = Run(cfg)
    task = run.plan_segments(1)[0]
    actor = actor_for(cfg, run, 4)
    for bad, message in [({"lane_table": [[0.0, 0.0]]}, "lane table"), ({"lane_table": []}, "lane table"),
                         ({"steps": 0}, "steps"), ({"epsilon": 1.5}, "epsilon"),
                         ({"lane_table": [[-1.0] + row[1:] for row in task["lane_table"]]}, "negative")]:
        with pytest.raises(ValueError, match=message):
            actor.run_task({**task, **bad})
    assert np.array_equal(actor.run_task(task), actor_for(cfg, run, 2).run_task(task))
