"""Q-network, replay buffer, codec, actor, learner and the run schedule under CPython."""

import numpy as np
import pytest

from robotrain import codec
from robotrain.actor import Actor
from robotrain.config import Config
from robotrain.learner import Learner
from robotrain.qnet import Adam, QNetwork, clip_grad_norm, huber
from robotrain.replay import ReplayBuffer
from robotrain import run as run_module
from robotrain.run import Run
from robotrain.serial import SerialHost, train_serial


# --- Q-network -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer_norm", [False, True])
def test_gradient_matches_finite_differences(layer_norm):
    rng = np.random.default_rng(0)
    net = QNetwork(3, 2, (8, 8), rng, layer_norm=layer_norm)
    for g, o in zip(net.gain, net.offset):  # away from the init (gain 1, offset 0), to check every term
        g[:] = rng.uniform(0.5, 1.5, g.shape)
        o[:] = rng.uniform(-0.3, 0.3, o.shape)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    actions = rng.integers(0, 2, 6)
    y = (rng.normal(size=6) * 2).astype(np.float32)

    def loss(params):
        n = QNetwork(3, 2, (8, 8), layer_norm=layer_norm)
        n.params[:] = params
        return huber(n.forward(x)[np.arange(6), actions] - y)[0]

    q, inputs = net.forward_cached(x)
    _, dtd = huber(q[np.arange(6), actions] - y)
    dq = np.zeros_like(q)
    dq[np.arange(6), actions] = dtd
    grad = np.zeros_like(net.params)
    net.backward(inputs, dq, grad)
    # Central differences in float64 around float32 parameters; float32 forward passes limit the precision.
    h = 1e-3
    numeric = np.zeros(len(grad))
    for i in range(len(grad)):
        p = net.params.copy()
        p[i] += h
        up = loss(p)
        p[i] -= 2 * h
        numeric[i] = (up - loss(p)) / (2 * h)
    assert np.abs(grad).max() > 1e-2
    np.testing.assert_allclose(grad, numeric, atol=2e-3, rtol=2e-2)


def test_layer_norm_layout_and_forward_match_the_definition():
    rng = np.random.default_rng(1)
    net = QNetwork(4, 3, (6, 5), rng, layer_norm=True)
    assert len(net.params) == (4 * 6 + 6 + 2 * 6) + (6 * 5 + 5 + 2 * 5) + (5 * 3 + 3)
    assert all(np.all(g == 1) for g in net.gain) and all(np.all(o == 0) for o in net.offset)
    for g, o in zip(net.gain, net.offset):
        g[:] = rng.uniform(0.5, 1.5, g.shape)
        o[:] = rng.uniform(-0.3, 0.3, o.shape)
    assert np.shares_memory(net.gain[1], net.params) and net.offset[1][-1] == net.params[6 * 5 + 5 + 2 * 5 + 4 * 6 + 6 + 2 * 6 - 1]
    x = rng.normal(size=(7, 4))
    h = x
    for i in range(3):  # the definition, in float64
        z = h @ net.W[i].astype(np.float64) + net.b[i]
        if i < 2:
            z = (z - z.mean(1, keepdims=True)) / np.sqrt(z.var(1, keepdims=True) + 1e-5) * net.gain[i] + net.offset[i]
            z = np.maximum(z, 0)
        h = z
    np.testing.assert_allclose(net.forward(x.astype(np.float32)), h, rtol=1e-5, atol=1e-5)


def test_flat_parameter_vector_is_the_storage():
    net = QNetwork(4, 2, (5,), np.random.default_rng(0))
    assert net.params.dtype == np.float32 and len(net.params) == 4 * 5 + 5 + 5 * 2 + 2
    assert np.shares_memory(net.W[0], net.params) and np.shares_memory(net.b[1], net.params)
    new = np.arange(len(net.params), dtype=np.float32)
    net.set_params(new)
    assert net.W[0][0, 0] == 0 and net.b[1][-1] == len(new) - 1


@pytest.mark.parametrize("bad, message", [
    (np.zeros(3, dtype=np.float32), "shape"),
    (np.zeros(37, dtype=np.float64), "float32"),
    (np.full(37, np.nan, dtype=np.float32), "NaN"),
    (np.full(37, np.inf, dtype=np.float32), "NaN or Inf"),
])
def test_set_params_rejects_bad_weights(bad, message):
    net = QNetwork(4, 2, (5,), np.random.default_rng(0))
    before = net.params.copy()
    with pytest.raises(ValueError, match=message):
        net.set_params(bad)
    assert np.array_equal(before, net.params)


def test_huber_and_grad_clip():
    loss, grad = huber(np.array([0.5, -3.0], dtype=np.float32))
    assert loss == pytest.approx((0.125 + 2.5) / 2)
    np.testing.assert_allclose(grad, [0.25, -0.5])
    g = np.array([3.0, 4.0], dtype=np.float32)
    assert clip_grad_norm(g, 1.0) == pytest.approx(5.0)
    assert np.linalg.norm(g) == pytest.approx(1.0, rel=1e-5)


def test_adam_first_step_moves_each_parameter_by_lr():
    p = np.zeros(3, dtype=np.float32)
    Adam(3, lr=0.1).step(p, np.array([1.0, -2.0, 0.5], dtype=np.float32))
    np.testing.assert_allclose(p, [-0.1, 0.1, -0.1], rtol=1e-5)


# --- Replay buffer ---------------------------------------------------------------------------------------

def rows(start, n, obs_dim=1):
    r = np.zeros((n, codec.row_width(obs_dim)), dtype=np.float32)
    r[:, 0] = np.arange(start, start + n)
    return r


def test_replay_wraps_around():
    buf = ReplayBuffer(5, 1)
    buf.add(rows(0, 3))
    buf.add(rows(3, 4))  # wraps: 5, 6 overwrite 0, 1
    assert len(buf) == 5 and buf.pos == 2 and buf.added == 7
    assert sorted(buf.rows[:, 0]) == [2, 3, 4, 5, 6]
    np.testing.assert_array_equal(buf.rows[:, 0], [5, 6, 2, 3, 4])
    buf.add(rows(10, 12))  # more than the capacity: only the newest 5 survive
    np.testing.assert_array_equal(np.sort(buf.rows[:, 0]), [17, 18, 19, 20, 21])


def test_replay_samples_uniformly_with_given_generator():
    buf = ReplayBuffer(100, 1)
    buf.add(rows(0, 10))
    a = buf.sample(1000, np.random.default_rng(3))
    b = buf.sample(1000, np.random.default_rng(3))
    assert np.array_equal(a["obs"], b["obs"])
    counts = np.bincount(a["obs"][:, 0].astype(int), minlength=10)
    assert counts.min() > 60 and counts.max() < 140 and a["obs"].max() < 10  # only filled rows
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4, 1).sample(1, np.random.default_rng(0))


def episode_rows(rewards, last_flag, start_obs=0):
    """One episode of obs_dim=1 rows: obs = start_obs + t, next_obs = obs + 1; last row terminated or truncated."""
    n = len(rewards)
    r = np.zeros((n, codec.row_width(1)), dtype=np.float32)
    r[:, 0] = start_obs + np.arange(n)
    r[:, 2] = rewards
    r[:, 3] = r[:, 0] + 1
    r[-1, 4 if last_flag == "terminated" else 5] = 1.0
    return r


@pytest.mark.parametrize("start", [0, 6])  # 6: the episode wraps around the end of the ring
def test_n_step_returns_stop_at_the_end_of_the_episode(start):
    g = 0.5
    buf = ReplayBuffer(10, 1)
    buf.add(np.zeros((start, codec.row_width(1)), dtype=np.float32))
    buf.add(episode_rows([1, 2, 3, 4, 5], "terminated", start_obs=100))
    buf.add(episode_rows([1, 1], "truncated", start_obs=200))

    class Fixed:  # a generator that returns chosen indices, to check each case
        def __init__(self, idx):
            self.idx = np.array(idx)

        def integers(self, low, high, size):
            return self.idx

    rows = lambda *offsets: [(start + o) % 10 for o in offsets]  # noqa: E731
    b = buf.sample(4, Fixed(rows(0, 3, 4, 5)), n_step=3, gamma=g)
    np.testing.assert_allclose(b["rewards"], [1 + g * 2 + g * g * 3, 4 + g * 5, 5, 1 + g * 1])
    np.testing.assert_allclose(b["next_obs"][:, 0], [103, 105, 105, 202])
    np.testing.assert_allclose(b["discount"], [g**3, g**2, g, g**2])
    np.testing.assert_array_equal(b["terminated"], [0, 1, 1, 0])  # the truncated episode still bootstraps
    one = buf.sample(4, Fixed(rows(0, 3, 4, 5)), n_step=1, gamma=g)
    np.testing.assert_allclose(one["rewards"], [1, 4, 5, 1])
    np.testing.assert_allclose(one["discount"], [g] * 4)


# --- Codec -----------------------------------------------------------------------------------------------

def sample_batch():
    actor = Actor("cartpole", 0, 3)
    actor.set_weights(codec.pack_weights(actor.net.params.copy(), 5))
    return actor.run(10, 14, 0.3)


def test_codec_round_trip():
    packed = sample_batch()
    assert packed.dtype == np.float32
    batch = codec.unpack_trajectories(packed)
    assert batch.policy_version == 5 and list(batch.episode_ids) == [10, 11, 12, 13]
    assert int(batch.episodes[:, 1].sum()) == len(batch.transitions)
    again = codec.pack_trajectories(batch.episodes, batch.transitions, batch.obs_dim, batch.policy_version)
    assert np.array_equal(again, packed)
    params = np.arange(7, dtype=np.float32)
    p, v = codec.unpack_weights(codec.pack_weights(params, 42))
    assert v == 42 and np.array_equal(p, params)


@pytest.mark.parametrize("corrupt, message", [
    (lambda b: b[:-3], "length"),
    (lambda b: b[:10], "truncated"),
    (lambda b: np.concatenate([b, np.zeros(2, np.float32)]), "length"),
    (lambda b: b.astype(np.float64), "float32"),
    (lambda b: _set(b, 0, 1.0), "magic"),
    (lambda b: _set(b, 1, 9.0), "format"),
    (lambda b: _set(b, 2, 2.0), "kind"),
    (lambda b: _set(b, 7, b[7] + 1), "add up"),
    (lambda b: _set(b, 8, 5.0), "row width"),
    (lambda b: _set(b, len(b) - 1, np.nan), "NaN"),
    (lambda b: _set(b, 17, b[17] + 1), "lengths"),
])
def test_codec_rejects_corrupt_trajectories(corrupt, message):
    with pytest.raises(ValueError, match=message):
        codec.unpack_trajectories(corrupt(sample_batch().copy()))


def _set(b, i, v):
    b[i] = v
    return b


def test_codec_rejects_bad_weights():
    packed = codec.pack_weights(np.zeros(10, np.float32), 1)
    with pytest.raises(ValueError, match="needs 12"):
        codec.unpack_weights(packed, expected_params=12)
    with pytest.raises(ValueError, match="NaN or Inf"):
        codec.unpack_weights(_set(packed.copy(), 20, np.inf))
    with pytest.raises(ValueError, match="kind"):
        codec.unpack_weights(sample_batch())
    with pytest.raises(ValueError, match="2\\*\\*24"):
        codec.pack_weights(np.zeros(3, np.float32), 2**24)


# --- Actor -----------------------------------------------------------------------------------------------

def make_actor(lanes, seed=0):
    actor = Actor("cartpole", seed, lanes)
    actor.set_weights(codec.pack_weights(QNetwork(4, 2, (64, 64), np.random.default_rng(9)).params, 3))
    return actor


def episodes_by_id(packed):
    batch = codec.unpack_trajectories(packed)
    out, offset = {}, 0
    for eid, length, ret, term in batch.episodes:
        out[int(eid)] = (ret, term, batch.transitions[offset:offset + int(length)])
        offset += int(length)
    return out


def test_episode_depends_on_id_not_on_lane_or_task():
    one_lane = episodes_by_id(make_actor(1).run(0, 12, 0.5))
    many = {**episodes_by_id(make_actor(5).run(0, 7, 0.5)), **episodes_by_id(make_actor(3).run(7, 12, 0.5))}
    assert sorted(one_lane) == sorted(many) == list(range(12))
    for eid in one_lane:
        assert one_lane[eid][0] == many[eid][0] and np.array_equal(one_lane[eid][2], many[eid][2])
    other_seed = episodes_by_id(make_actor(1, seed=1).run(0, 12, 0.5))
    assert any(not np.array_equal(one_lane[e][2], other_seed[e][2]) for e in one_lane)


def test_set_lanes_changes_speed_not_episodes():
    actor = make_actor(1)
    reference = actor.run(0, 12, 0.5)
    for lanes in (7, 64, 2):
        actor.set_lanes(lanes)
        assert actor.lanes == lanes == actor.env.num_envs
        assert np.array_equal(actor.run(0, 12, 0.5), reference)
    actor.begin(0, 3, 0.5)
    with pytest.raises(ValueError, match="in progress"):
        actor.set_lanes(4)
    actor.advance(None)
    actor.finish()
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(ValueError, match="lanes"):
            actor.set_lanes(bad)
    assert actor.lanes == 2


def test_actor_transitions_chain_and_flags():
    for ret, term, tr in episodes_by_id(make_actor(4).run(0, 9, 0.2)).values():
        assert np.array_equal(tr[1:, 0:4], tr[:-1, 6:10])  # next_obs of step t is obs of step t+1
        assert tr[:-1, 10].sum() == 0 and tr[:-1, 11].sum() == 0
        assert tr[-1, 10] == term and (tr[-1, 10] or tr[-1, 11])
        assert ret == tr[:, 5].sum()


def test_actor_rejects_bad_input():
    actor = Actor("cartpole", 0, 2)
    with pytest.raises(ValueError, match="no weights"):
        actor.run(0, 1, 0.1)
    with pytest.raises(ValueError, match="needs"):
        actor.set_weights(codec.pack_weights(np.zeros(5, np.float32), 1))
    actor = make_actor(2)
    with pytest.raises(ValueError, match="epsilon"):
        actor.run(0, 2, 1.5)
    with pytest.raises(ValueError, match="first_id"):
        actor.run(3, 3, 0.1)
    with pytest.raises(ValueError, match="lanes"):
        Actor("cartpole", 0, 0)


# --- Learner: terminal vs truncation masking ---------------------------------------------------------------

def test_double_dqn_target_masks_termination_but_not_truncation():
    cfg = Config.for_env("cartpole", algorithm="ddqn", batch_size=2, learning_rate=1e-6, end_learning_rate=1e-6, gamma=0.5, n_step=1)
    learner = Learner(cfg, 4, 2)
    r = np.zeros((2, codec.row_width(4)), dtype=np.float32)
    r[:, 5] = 1.0  # reward
    r[:, 6:10] = [[0.1, 0.2, 0.3, 0.4]]  # the same next observation in both rows
    r[0, 10] = 1.0  # row 0 terminated
    r[1, 11] = 1.0  # row 1 truncated
    learner.replay.add(r)
    next_q = learner.target.forward(r[:1, 6:10])[0]
    best = learner.q.forward(r[:1, 6:10])[0].argmax()
    q0 = learner.q.forward(r[:, 0:4])[:, 0]
    captured = {}
    real_huber = huber

    def spy(td):
        captured["td"] = td.copy()
        return real_huber(td)

    import robotrain.learner as module

    module.huber, original = spy, module.huber
    try:
        learner.replay.sample = lambda n, rng, n_step, gamma: {
            "obs": r[:, 0:4], "actions": np.zeros(2, np.int64), "rewards": r[:, 5], "next_obs": r[:, 6:10],
            "terminated": r[:, 10], "truncated": r[:, 11], "discount": np.full(2, gamma, np.float32)}
        learner.update(0)
    finally:
        module.huber = original
    y = q0 - captured["td"]
    assert y[0] == pytest.approx(1.0)  # terminated: reward only
    assert y[1] == pytest.approx(1.0 + 0.5 * next_q[best], rel=1e-5)  # truncated: bootstraps


# --- Run schedule ----------------------------------------------------------------------------------------

def test_run_ingests_each_episode_once():
    run = Run(Config.for_env("cartpole", algorithm="ddqn", batch_episodes=4, episodes_per_task=2))
    tasks = run.plan_tasks()
    assert [(t["first_id"], t["stop_id"]) for t in tasks] == [(0, 2), (2, 4)]
    actor = Actor("cartpole", 0, 2)
    actor.set_weights(run.weights_packed())
    results = [actor.run(t["first_id"], t["stop_id"], t["epsilon"]) for t in tasks]
    run.ingest(results[1])
    steps = run.env_steps
    assert run.ingest(results[1])["duplicate"] and run.env_steps == steps and run.duplicates_dropped == 2
    run.ingest(results[0])
    assert [e[0] for e in run.history()["episodes"]] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="never issued"):
        run.ingest(actor.run(4, 6, 0.1))
    corrupt = results[0].copy()
    corrupt[-1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run.ingest(corrupt)
    assert run.env_steps == steps + len(codec.unpack_trajectories(results[0]).transitions)


def test_a_long_run_keeps_a_bounded_history_and_counts_every_episode(monkeypatch):
    """Rows beyond HISTORY_ROWS are dropped (oldest first) so memory stays flat; counts and saves stay whole."""
    monkeypatch.setattr(run_module, "HISTORY_ROWS", 8)
    run = Run(Config.for_env("cartpole", algorithm="ddqn", batch_episodes=20, episodes_per_task=5))
    actor = Actor("cartpole", 0, 5)
    actor.set_weights(run.weights_packed())
    for t in run.plan_tasks():
        run.ingest(actor.run(t["first_id"], t["stop_id"], t["epsilon"]))
    assert [e[0] for e in run.history()["episodes"]] == list(range(12, 20))
    assert len(run.staleness) == 4
    stats = run.stats()
    assert stats["episodes"] == stats["episodes_ingested"] == 20 and stats["episodes_duplicated"] == 0
    restored = Run.from_bytes(run.to_bytes())
    assert restored.history() == run.history() and restored.stats()["episodes"] == 20
    assert restored.stats()["episodes_duplicated"] == 0


def test_epsilon_schedule_and_updates_due():
    cfg = Config.for_env("cartpole", algorithm="ddqn", total_timesteps=10_000, exploration_fraction=0.5, start_e=1.0, end_e=0.1,
                         learning_starts=100, train_frequency=4)
    run = Run(cfg)
    assert run.epsilon() == 1.0 and run.updates_due == 0
    run.env_steps = 2_500
    assert run.epsilon() == pytest.approx(0.55)
    run.env_steps = 9_000
    assert run.epsilon() == pytest.approx(0.1)
    run.env_steps = 500
    assert run.updates_due == 100


def test_sync_schedule_is_deterministic():
    cfg = Config.for_env("cartpole", algorithm="ddqn", total_timesteps=4_000, eval_interval=1_000, learning_starts=500, seed=3)
    a, b = train_serial(cfg), train_serial(cfg)
    assert a.history() == b.history()
    assert np.array_equal(a.weights_packed(), b.weights_packed())
    assert len(a.evals) >= 3


def test_tiny_end_to_end_training_improves_cartpole():
    cfg = Config.for_env("cartpole", algorithm="ddqn", total_timesteps=15_000, eval_interval=5_000, seed=0)
    run = train_serial(cfg)
    first_returns = [r for _, r, _ in run.history()["episodes"][:20]]
    assert run.env_steps >= 15_000 and run.learner.updates > 5_000
    assert max(r for _, r in run.evals) > 3 * np.mean(first_returns)


# --- Config ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("override, message", [
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"gamma": 1.5}, "gamma"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"seed": "zero"}, "seed"),
    ({"tau": float("nan")}, "tau"),
    ({"hidden_sizes": (0,)}, "hidden_sizes"),
    ({"hidden_sizes": ()}, "hidden_sizes"),
    ({"end_e": 0.9, "start_e": 0.5}, "end_e"),
])
def test_config_rejects_invalid_values(override, message):
    with pytest.raises(ValueError, match=message):
        Config.for_env("cartpole", algorithm="ddqn", **override)


def test_config_round_trip_and_specs():
    cfg = Config.for_env("acrobot", seed=4)
    assert Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown field"):
        Config.from_dict({"learning_rat": 0.1})
    with pytest.raises(ValueError, match="env_id"):
        Config.for_env("pendulum")
    specs = {s["name"]: s for s in Config.field_specs("acrobot")}
    assert specs["total_timesteps"]["default"] == 100_000
    assert specs["gamma"]["min"] == 0.0 and specs["gamma"]["doc"] == "discount factor"
    assert all(s["doc"] for s in specs.values())


# --- Viewer ----------------------------------------------------------------------------------------------

def test_viewer_plays_greedily_restarts_and_takes_pushes():
    from robotrain.viewer import Viewer

    viewer = Viewer("cartpole", (64, 64), seed=0)
    row = viewer.step()  # no weights yet: a fixed action, never an error
    assert len(row) == 4
    viewer.set_weights(codec.pack_weights(QNetwork(4, 2, (64, 64), np.random.default_rng(0)).params, 9))
    for _ in range(600):
        viewer.step()
    assert viewer.episode >= 1 and viewer.last_return is not None and viewer.info()["policy_version"] == 9
    before = viewer.env.state[0, 3]
    viewer.push(0.5)
    assert viewer.env.state[0, 3] == pytest.approx(before + 0.5) and viewer.obs[0, 3] == pytest.approx(before + 0.5)
    with pytest.raises(ValueError, match="finite"):
        viewer.push(float("inf"))
    with pytest.raises(ValueError, match="needs"):
        viewer.set_weights(codec.pack_weights(np.zeros(3, np.float32), 1))


def test_actor_in_pieces_equals_one_run():
    whole = make_actor(3).run(0, 7, 0.3)
    actor = make_actor(3)
    actor.begin(0, 7, 0.3)
    pieces = 0
    while not actor.advance(5):
        pieces += 1
    assert pieces > 3 and np.array_equal(actor.finish(), whole)
    with pytest.raises(ValueError, match="begin"):
        actor.advance(1)
    with pytest.raises(ValueError, match="epsilon"):
        actor.begin(0, 2, -0.5)


def test_run_state_round_trip_continues_identically():
    cfg = Config.for_env("cartpole", algorithm="ddqn", total_timesteps=3_000, learning_starts=300, eval_interval=1_000, seed=2)
    reference = train_serial(cfg, max_steps=3_000)
    half = train_serial(cfg, max_steps=1_500)
    restored = Run.from_bytes(half.to_bytes())
    assert restored.history() == half.history() and np.array_equal(restored.weights_packed(), half.weights_packed())
    host = SerialHost(restored)
    while restored.env_steps < 3_000:  # train_serial's loop, continued on the restored run
        host.sync_batch()
    assert restored.history() == reference.history()
    assert np.array_equal(restored.weights_packed(), reference.weights_packed())
    for bad in (b"", b"not a zip", half.to_bytes()[:100]):
        with pytest.raises(ValueError, match="saved robotrain run"):
            Run.from_bytes(bad)


def test_replay_states_reproduce_an_episode_exactly():
    from robotrain.viewer import replay_states

    packed = make_actor(2).run(4, 6, 0.3)
    ep = episodes_by_id(packed)[5]
    states = replay_states("cartpole", 0, 5, ep[2][:, 4].astype(np.int64))
    assert states.shape == (len(ep[2]) + 1, 4)
    np.testing.assert_array_equal(states[1:].astype(np.float32), ep[2][:, 6:10])
    with pytest.raises(ValueError, match="\\[0, 2\\)"):
        replay_states("cartpole", 0, 5, [0, 1, 2])
