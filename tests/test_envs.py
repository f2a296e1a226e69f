"""Environments: Gymnasium reference numbers, determinism, batched == one lane, the contract, bad input."""

import gymnasium as gym
import numpy as np
import pytest

from robotrain.envs import ENV_NAMES, make

REFERENCE = {"cartpole": "CartPole-v1", "acrobot": "Acrobot-v1"}


def balancing_action(name, obs, rng):
    """Actions that keep episodes long (so truncation is reached), mixed with random ones."""
    if rng.random() < 0.3:
        return int(rng.integers(2 if name == "cartpole" else 3))
    if name == "cartpole":
        return int(obs[2] + 0.5 * obs[3] > 0)
    return int(np.sign(obs[4]) + 1)  # acrobot: torque along the first joint's velocity pumps energy


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("seed", range(12))
def test_matches_gymnasium_bit_for_bit(name, seed):
    ref = gym.make(REFERENCE[name])
    env = make(name, 1, 123)
    ref_obs, _ = ref.reset(seed=seed)
    obs = env.reset(seeds=[seed])
    assert obs.dtype == np.float32 and np.array_equal(obs[0], ref_obs)
    rng = np.random.default_rng(seed)
    for t in range(600):
        a = balancing_action(name, ref_obs, rng)
        ref_obs, ref_r, ref_term, ref_trunc, _ = ref.step(a)
        obs, r, term, trunc = env.step(np.array([a]))
        assert np.array_equal(obs[0], ref_obs), (t, obs[0], ref_obs)
        assert np.array_equal(env.state[0], np.asarray(ref.unwrapped.state, dtype=np.float64)), t
        assert (r[0], term[0], trunc[0]) == (ref_r, ref_term, ref_trunc), t
        if ref_term or ref_trunc:
            break
    assert t >= 30  # the episode was long enough to mean something


def test_cartpole_reaches_truncation_at_500():
    env = make("cartpole", 1, 0)
    obs = env.reset(seeds=[0])
    for t in range(500):
        obs, r, term, trunc = env.step(np.array([int(obs[0, 2] + 0.5 * obs[0, 3] + 0.01 * obs[0, 1] > 0)]))
        assert not term[0]
        assert trunc[0] == (t == 499)


@pytest.mark.parametrize("name", ENV_NAMES)
def test_batched_equals_one_lane(name):
    n, steps = 6, 200
    seeds = [11, 12, 13, 14, 15, 16]
    batched = make(name, n, 0)
    batched.reset(seeds=seeds)
    singles = [make(name, 1, 0) for _ in range(n)]
    for s, seed in zip(singles, seeds):
        s.reset(seeds=[seed])
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = rng.integers(0, batched.num_actions, n)
        obs, r, term, trunc = batched.step(actions)
        for i, s in enumerate(singles):
            o1, r1, t1, tr1 = s.step(actions[i:i + 1])
            assert np.array_equal(obs[i], o1[0]) and r[i] == r1[0] and term[i] == t1[0] and trunc[i] == tr1[0]
            assert np.array_equal(batched.state[i], s.state[0])
        done = term | trunc
        if done.any():
            new = rng.integers(0, 1000, done.sum())
            batched.reset(done, new)
            for i, seed in zip(np.flatnonzero(done), new):
                singles[i].reset(seeds=[seed])


@pytest.mark.parametrize("name", ENV_NAMES)
def test_same_seed_same_trajectory(name):
    def trajectory():
        env = make(name, 3, 5)
        env.reset()
        rng = np.random.default_rng(1)
        out = []
        for _ in range(50):
            out.append(env.step(rng.integers(0, env.num_actions, 3))[0])
        return np.stack(out)

    assert np.array_equal(trajectory(), trajectory())


@pytest.mark.parametrize("name", ENV_NAMES)
def test_contract(name):
    env = make(name, 4, 0)
    obs = env.reset()
    assert obs.shape == (4, env.obs_dim) and obs.dtype == np.float32
    assert env.state.shape == (4, env.state_dim) and env.state.dtype == np.float64
    obs, r, term, trunc = env.step(np.zeros(4, dtype=np.int64))
    assert r.dtype == np.float32 and term.dtype == np.bool_ and trunc.dtype == np.bool_
    before = env.state.copy()
    env.state[1] = env.state[0]  # state is writable and drives the next step
    env.step(np.zeros(4, dtype=np.int64))
    assert np.array_equal(env.state[0], env.state[1])
    assert not np.array_equal(before, env.state)
    only_lane_2 = np.array([False, False, True, False])
    state_before = env.state.copy()
    env.reset(only_lane_2, [7])
    assert np.array_equal(env.state[[0, 1, 3]], state_before[[0, 1, 3]]) and env.elapsed[2] == 0
    spec = env.draw_spec()
    assert spec["kind"] == name and isinstance(spec["state_index"], dict)
    assert env.max_steps > 0 and env.num_actions >= 2


def test_no_auto_reset_inside_step():
    env = make("cartpole", 1, 0)
    env.reset(seeds=[0])
    for _ in range(200):
        obs, _, term, _ = env.step(np.array([1]))
        if term[0]:
            break
    assert term[0] and abs(obs[0, 2]) > 0.2  # the true terminal observation, not a fresh start state


@pytest.mark.parametrize("bad, message", [
    (np.zeros(3, dtype=np.int64), "shape"),
    (np.zeros((2, 1), dtype=np.int64), "shape"),
    (np.zeros(2, dtype=np.float32), "integers"),
    (np.array([0, 2]), r"\[0, 2\)"),
    (np.array([-1, 0]), r"\[0, 2\)"),
])
def test_bad_actions_raise(bad, message):
    env = make("cartpole", 2, 0)
    env.reset()
    before = env.state.copy()
    with pytest.raises(ValueError, match=message):
        env.step(bad)
    assert np.array_equal(before, env.state)  # nothing changed


def test_bad_make_arguments():
    with pytest.raises(ValueError, match="unknown env 'pendulum'"):
        make("pendulum", 1, 0)
    with pytest.raises(ValueError, match="num_envs"):
        make("cartpole", 0, 0)
    with pytest.raises(ValueError, match="seed"):
        make("cartpole", 1, -1)
    env = make("cartpole", 2, 0)
    with pytest.raises(ValueError, match="seeds"):
        env.reset(np.array([True, True]), [1])
    with pytest.raises(ValueError, match="mask"):
        env.reset(np.array([1, 0]))
    with pytest.raises(ValueError, match="finite"):
        env.push(0, float("nan"))


def test_episode_seeds_are_a_pure_function_of_run_stream_and_id():
    from robotrain.seeding import EVAL_STREAM, TRAIN_STREAM, episode_seed

    seeds = [episode_seed(0, i) for i in range(10_000)]
    assert seeds == [episode_seed(0, i) for i in range(10_000)]
    assert len(set(seeds)) == 10_000 and all(0 <= s < 2**32 for s in seeds)
    assert episode_seed(0, 5, TRAIN_STREAM) != episode_seed(0, 5, EVAL_STREAM) != episode_seed(1, 5)
    with pytest.raises(ValueError, match="non-negative"):
        episode_seed(0, -1)
