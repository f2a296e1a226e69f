"""Tests for the balance bot: spec, determinism, batching, physics and feasibility with the discrete actions."""

import json
from pathlib import Path

import numpy as np
import pytest

from robotrain.envs import balancebot as bb
from robotrain.envs.balancebot import BalanceBot

IDLE = int(np.flatnonzero(bb.VOLTAGES == 0.0)[0])  # the 0 V action


def _linear_model(rolling: bool):
    """Continuous linearization at upright rest, rebuilt from the raw parameters, not the module's derived terms.

    State (theta, psi, theta', psi') in rad and rad/s, input v (V on each motor); returns A (4, 4), B (4, 1).
    ``rolling`` includes the slope of the smoothed rolling resistance at rest.
    """
    jm2 = 2 * bb.GEAR_RATIO**2 * bb.MOTOR_INERTIA
    # Two solid-disc wheels: 2 J_w = m R^2. A rod-like body: M L^2 + J_psi = (4/3) M L^2.
    a = (2 * bb.WHEEL_MASS + bb.BODY_MASS) * bb.WHEEL_RADIUS**2 + bb.WHEEL_MASS * bb.WHEEL_RADIUS**2 + jm2
    b = bb.BODY_MASS * bb.COM_HEIGHT * bb.WHEEL_RADIUS - jm2
    c = bb.BODY_MASS * bb.COM_HEIGHT**2 * (4 / 3) + jm2
    alpha = bb.GEAR_RATIO * bb.TORQUE_CONSTANT / bb.MOTOR_RESISTANCE
    beta = alpha * bb.BACK_EMF_CONSTANT + bb.MOTOR_FRICTION
    floor = 2 * bb.WHEEL_FLOOR_FRICTION
    if rolling:
        load = (bb.BODY_MASS + 2 * bb.WHEEL_MASS) * bb.GRAVITY * bb.WHEEL_RADIUS
        floor += bb.ROLLING_COEFFICIENT * load / bb.ROLLING_SMOOTHING
    mass_inv = np.linalg.inv(np.array([[a, b], [b, c]]))
    damping = np.array([[2 * beta + floor, -2 * beta], [-2 * beta, 2 * beta]])
    stiffness = np.array([[0.0, 0.0], [0.0, -bb.BODY_MASS * bb.GRAVITY * bb.COM_HEIGHT]])
    A = np.zeros((4, 4))
    A[0, 2] = A[1, 3] = 1.0
    A[2:, :2] = -mass_inv @ stiffness
    A[2:, 2:] = -mass_inv @ damping
    B = np.zeros((4, 1))
    B[2:, 0] = mass_inv @ np.array([2 * alpha, -2 * alpha])
    return A, B


def _expm(m):
    """Matrix exponential by scaling and squaring a Taylor series (small, well-scaled matrices only)."""
    squarings = max(0, int(np.ceil(np.log2(np.abs(m).sum(axis=1).max()))) + 1)
    x = m / 2**squarings
    result = term = np.eye(len(m))
    for k in range(1, 20):
        term = term @ x / k
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result


def _lqr_gain(q_diag, r):
    """Discrete-time LQR gain (1, 4) for the zero-order-hold model at the env's step, by Riccati iteration."""
    A, B = _linear_model(rolling=False)  # rolling resistance is a constant drag at speed: leave it to feedback
    block = np.zeros((5, 5))
    block[:4, :4], block[:4, 4:] = A, B
    e = _expm(block * bb.DT)
    ad, bd = e[:4, :4], e[:4, 4:]
    q, p = np.diag(q_diag), np.diag(q_diag)
    for _ in range(3000):
        k = np.linalg.solve(r + bd.T @ p @ bd, bd.T @ p @ ad)
        p = q + ad.T @ p @ (ad - bd @ k)
    return k


def _energy(s):
    """Mechanical energy (J) of state rows ``s``: kinetic form of the mass matrix plus body potential energy."""
    jm2 = 2 * bb.GEAR_RATIO**2 * bb.MOTOR_INERTIA
    a = (2 * bb.WHEEL_MASS + bb.BODY_MASS) * bb.WHEEL_RADIUS**2 + bb.WHEEL_MASS * bb.WHEEL_RADIUS**2 + jm2
    b = bb.BODY_MASS * bb.COM_HEIGHT * bb.WHEEL_RADIUS * np.cos(s[:, bb.PITCH]) - jm2
    c = bb.BODY_MASS * bb.COM_HEIGHT**2 * (4 / 3) + jm2
    td, pd = s[:, bb.WHEEL_RATE], s[:, bb.PITCH_RATE]
    kinetic = 0.5 * a * td**2 + b * td * pd + 0.5 * c * pd**2
    return kinetic + bb.BODY_MASS * bb.GRAVITY * bb.COM_HEIGHT * np.cos(s[:, bb.PITCH])


def _set_state(env, lane, x=0.0, pitch=0.0, wheel_rate=0.0, pitch_rate=0.0, target=0.0, target_steps=1000.0):
    env.state[lane, : bb.VOLTAGE] = [x, pitch, wheel_rate, pitch_rate, target, target_steps]


def test_spec_and_spaces():
    env = BalanceBot(num_envs=3, seed=1)
    obs = env.reset()
    assert (env.name, env.max_steps, env.num_actions) == ("balancebot", 8000, 7)
    assert env.num_actions >= 5 and np.array_equal(bb.VOLTAGES, -bb.VOLTAGES[::-1])
    assert obs.dtype == np.float32 and obs.shape == (3, env.obs_dim)
    assert env.state.shape == (3, env.state_dim)
    assert 6000 < env.solved_threshold <= 8000
    spec = env.draw_spec()
    assert json.loads(json.dumps(spec)) == spec
    assert spec["kind"] == "balancebot"
    assert sorted(spec["state_index"].values()) == list(range(env.state_dim))
    assert np.all(np.abs(env.state[:, bb.TARGET]) <= bb.TARGET_RANGE)
    assert np.all((env.state[:, bb.TARGET_STEPS] >= 500) & (env.state[:, bb.TARGET_STEPS] <= 1000))


def test_observation_scaling():
    env = BalanceBot(num_envs=1, seed=0)
    env.reset()
    _set_state(env, 0, x=0.5, pitch=0.3, wheel_rate=10.0, pitch_rate=-1.0, target=-0.5, target_steps=250.0)
    obs, _, _, _ = env.step(np.array([IDLE]))
    s = env.state[0]
    expected = [s[0] - s[4], s[2] * 0.04 / 0.5, s[1] / 0.6, s[3] / 2.0, s[0] / 2.0, 249 / 1000]
    np.testing.assert_allclose(obs[0], np.float32(expected), rtol=1e-6)


def test_same_seed_same_trajectory():
    envs = [BalanceBot(num_envs=4, seed=7) for _ in range(2)]
    for env in envs:
        env.reset()
    actions = np.random.default_rng(0).integers(0, 7, size=(1200, 4))
    outs = [[env.step(a) for a in actions] for env in envs]
    assert np.array_equal(envs[0].state, envs[1].state)
    for a, b in zip(*outs):
        for x, y in zip(a, b):
            assert np.array_equal(x, y)
    other = BalanceBot(num_envs=4, seed=8)
    assert not np.array_equal(other.reset(), BalanceBot(num_envs=4, seed=7).reset())


def test_batched_equals_single_lanes():
    n, steps = 8, 600
    seeds = [11 * i + 3 for i in range(n)]
    batch = BalanceBot(num_envs=n, seed=0)
    singles = [BalanceBot(num_envs=1, seed=0) for _ in range(n)]
    batch.reset(seeds=seeds)
    for lane, (env, seed) in enumerate(zip(singles, seeds)):
        env.reset(seeds=[seed])
        # Early, staggered first jumps, so lanes draw new targets from their generators at different steps.
        env.state[0, bb.TARGET_STEPS] = batch.state[lane, bb.TARGET_STEPS] = 20 + 30 * lane
    rng = np.random.default_rng(1)
    jumps = resets = 0
    # Mostly hold the balance with a crude PD law so lanes live long enough to see target jumps.
    for t in range(steps):
        pd = 40 * batch.state[:, bb.PITCH] + 2 * batch.state[:, bb.PITCH_RATE]
        actions = np.abs(pd[:, None] - bb.VOLTAGES[None, :]).argmin(axis=1)
        actions = np.where(rng.random(n) < 0.05, rng.integers(0, 7, n), actions)
        before = batch.state[:, bb.TARGET].copy()
        obs, rew, term, trunc = batch.step(actions)
        jumps += np.count_nonzero(batch.state[:, bb.TARGET] != before)
        resets += np.count_nonzero(term)
        for lane, env in enumerate(singles):
            o, r, te, tr = env.step(actions[lane : lane + 1])
            assert np.array_equal(o[0], obs[lane]) and r[0] == rew[lane]
            assert te[0] == term[lane] and tr[0] == trunc[lane]
            assert np.array_equal(env.state[0], batch.state[lane])
        if term.any():
            new_seeds = [1000 * t + lane for lane in np.flatnonzero(term)]
            batch.reset(term, seeds=new_seeds)
            for lane, seed in zip(np.flatnonzero(term), new_seeds):
                singles[lane].reset(seeds=[seed])
    assert jumps >= n // 2 and resets >= 2


def test_target_jumps_on_schedule():
    env = BalanceBot(num_envs=1, seed=0)
    env.reset(seeds=[5])
    first_jump = int(env.state[0, bb.TARGET_STEPS])
    target = env.state[0, bb.TARGET]
    targets = []
    for _ in range(first_jump + 1200):
        # Hold the robot still at the origin: the schedule must not depend on the motion.
        _set_state(env, 0, target=env.state[0, bb.TARGET], target_steps=env.state[0, bb.TARGET_STEPS])
        env.step(np.array([IDLE]))
        targets.append(env.state[0, bb.TARGET])
    changes = np.flatnonzero(np.diff(np.r_[target, targets]) != 0)
    assert changes[0] == first_jump - 1  # the jump happens on the step that brings the count to 0
    assert len(changes) >= 2 and 500 <= changes[1] - changes[0] <= 1000
    assert np.all(np.abs(targets) <= bb.TARGET_RANGE)


def test_reward_range_and_distance_term():
    env = BalanceBot(num_envs=3, seed=0)
    env.reset()
    for lane, target in enumerate([0.0, 0.5, 1.5]):
        _set_state(env, lane, target=target)
    _, reward, terminated, _ = env.step(np.array([IDLE, IDLE, 6]))
    assert not terminated.any()
    assert reward[0] == pytest.approx(1.0, abs=1e-5)
    assert reward[1] == pytest.approx(0.75, abs=1e-3)
    assert reward[2] == pytest.approx(0.45, abs=1e-6)  # saturated distance and full voltage: the minimum


def test_a_fall_costs_the_fall_penalty_on_its_step():
    env = BalanceBot(num_envs=2, seed=0)
    env.reset()
    _set_state(env, 0, target=0.0)
    _set_state(env, 1, target=0.0, pitch=bb.PITCH_LIMIT - 1e-4, pitch_rate=1.0)  # past the limit within a step
    _, reward, terminated, _ = env.step(np.array([IDLE, IDLE]))
    assert terminated.tolist() == [False, True]
    distance = min(abs(env.state[1, bb.X]), 1.0)
    assert reward[1] == pytest.approx(1.0 - bb.DISTANCE_PENALTY * distance - bb.FALL_PENALTY, abs=1e-4)
    assert reward[0] == pytest.approx(1.0, abs=1e-5)


def test_zero_torque_falls_within_seconds():
    env = BalanceBot(num_envs=2, seed=0)
    env.reset()
    _set_state(env, 0, pitch=0.02)
    _set_state(env, 1, pitch=-0.02)
    for step in range(1, 301):
        _, _, terminated, _ = env.step(np.full(2, IDLE))
        if terminated.all():
            break
    assert terminated.all() and step < 100  # about 0.6 s from 0.02 rad
    assert np.sign(env.state[0, bb.PITCH]) == 1 and np.sign(env.state[1, bb.PITCH]) == -1


def test_unstable_eigenvalue_matches_linearization():
    A, _ = _linear_model(rolling=True)
    rate = np.linalg.eigvals(A).real.max()  # 1/s
    env = BalanceBot(num_envs=1, seed=0)
    env.reset()
    _set_state(env, 0, pitch=1e-9)  # small enough to stay linear (|theta'| << rolling smoothing) for 2 s
    pitch = [env.state[0, bb.PITCH]]
    for _ in range(200):
        env.step(np.array([IDLE]))
        pitch.append(env.state[0, bb.PITCH])
    measured = np.log(pitch[200] / pitch[100]) / (100 * bb.DT)  # the stable modes have died out after 1 s
    assert 6.0 < rate < 8.0
    assert measured == pytest.approx(rate, rel=1e-4)


def test_frictionless_energy_is_conserved(monkeypatch):
    for name in ("TWO_BETA", "TWO_FW", "ROLLING_TORQUE"):  # no back-EMF, motor or floor friction
        monkeypatch.setattr(bb, name, 0.0)
    env = BalanceBot(num_envs=1, seed=0)
    env.reset()
    _set_state(env, 0, pitch=0.3, wheel_rate=2.0, pitch_rate=-1.0)
    rows = [env.state.copy()]
    for _ in range(50):
        env.step(np.array([IDLE]))
        rows.append(env.state.copy())
    energy = _energy(np.concatenate(rows))
    assert rows[-1][0, bb.PITCH] > 1.0  # it fell: a large, fast motion
    # RK4 at 5 ms drifts by about 1e-4 of the energy here; a wrong term in the equations would be off by percents.
    np.testing.assert_allclose(energy, energy[0], rtol=2e-4)


@pytest.mark.parametrize("action", [4, 6])
def test_one_step_from_rest_matches_linear_model(monkeypatch, action):
    """From upright rest the response to a voltage is nearly linear: checks the input gain, sign and damping."""
    monkeypatch.setattr(bb, "ROLLING_TORQUE", 0.0)  # its smoothed sign is not linear at the speeds reached
    A, B = _linear_model(rolling=False)
    block = np.zeros((5, 5))  # (theta, psi, theta', psi', v) with v held: one linear autonomous system
    block[:4, :4], block[:4, 4:] = A, B
    exact = _expm(block * bb.DT)[:4, 4] * bb.VOLTAGES[action]  # zero-order-hold response from rest
    z = block * (bb.DT / bb.SUBSTEPS)
    rk4 = np.eye(5) + z @ (np.eye(5) + z / 2 @ (np.eye(5) + z / 3 @ (np.eye(5) + z / 4)))  # RK4's step matrix
    expected = np.linalg.matrix_power(rk4, bb.SUBSTEPS)[:4, 4] * bb.VOLTAGES[action]
    env = BalanceBot(num_envs=1, seed=0)
    env.reset()
    _set_state(env, 0)
    env.step(np.array([action]))
    s = env.state[0]
    got = [s[bb.X] / bb.WHEEL_RADIUS, s[bb.PITCH], s[bb.WHEEL_RATE], s[bb.PITCH_RATE]]
    assert expected[2] > 0 > expected[3]  # positive voltage: wheels forward, body tips back
    np.testing.assert_allclose(got, expected, rtol=1e-3)  # the same integrator: only the nonlinearity differs
    # The 4 ms back-EMF mode is where 5 ms RK4 steps lose accuracy; the whole step still lands within 1.5 %.
    np.testing.assert_allclose(got, exact, rtol=1.5e-2)


def test_quantized_lqr_balances_and_tracks_for_a_whole_episode():
    gain = _lqr_gain([2.56, 100.0, 0.01, 0.25], np.array([[1 / 64]]))
    n = 8
    env = BalanceBot(num_envs=n, seed=0)
    env.reset(seeds=list(range(100, 100 + n)))
    total = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for _ in range(env.max_steps):
        s = env.state
        error = np.clip(s[:, bb.X] - s[:, bb.TARGET], -0.15, 0.15)  # m; limits the lean asked for
        z = np.stack([error / bb.WHEEL_RADIUS, s[:, bb.PITCH], s[:, bb.WHEEL_RATE], s[:, bb.PITCH_RATE]], axis=1)
        volts = -(z @ gain.T)[:, 0]
        actions = np.abs(volts[:, None] - bb.VOLTAGES[None, :]).argmin(axis=1)
        _, reward, terminated, truncated = env.step(actions)
        total += reward * alive
        alive &= ~terminated
    assert alive.all() and truncated.all()
    assert total.mean() > env.solved_threshold + 250
    assert total.min() > env.solved_threshold - 500


def test_push_changes_only_selected_lanes():
    env = BalanceBot(num_envs=4, seed=0)
    env.reset()
    before = env.state.copy()
    env.push(np.array([True, False, True, False]), 0.5)
    env.push(3, -1.0)
    env.push(np.array([1, 2]), np.array([0.25, 0.25]))
    delta = env.state - before
    np.testing.assert_array_equal(delta[:, bb.PITCH_RATE], [0.5, 0.25, 0.75, -1.0])
    delta[:, bb.PITCH_RATE] = 0
    assert not delta.any()
    np.testing.assert_array_equal(env.observe(), env._observe(env.state))
    env.push(0, 3.0)
    for _ in range(100):
        _, _, terminated, _ = env.step(np.full(4, IDLE))
        if terminated[0]:
            break
    assert terminated[0]


@pytest.mark.parametrize(
    "lanes, impulse, message",
    [
        (0, float("nan"), "finite"),
        (0, float("inf"), "finite"),
        (np.array([True, False, False]), np.array([1.0, 2.0]), "shape"),
        (np.array([0, 1]), np.array([[1.0, 2.0]]), "shape"),
        (np.array([0, 1]), np.array([1.0, np.nan]), "finite"),
        (0, "hard", "number"),
        (3, 1.0, "lanes"),
        (-1, 1.0, "lanes"),
        (np.array([0, 0]), 1.0, "repeat"),
        (np.array([True, False]), 1.0, "mask"),
        (0.5, 1.0, "lane index"),
    ],
)
def test_push_rejects_bad_arguments(lanes, impulse, message):
    env = BalanceBot(num_envs=3, seed=0)
    env.reset()
    before = env.state.copy()
    with pytest.raises(ValueError, match=message):
        env.push(lanes, impulse)
    assert np.array_equal(env.state, before)


@pytest.mark.parametrize(
    "actions, message",
    [
        (np.array([0, 1]), "shape"),
        (np.array([[0, 1, 2]]), "shape"),
        (np.array([0.0, 1.0, 2.0]), "integers"),
        (np.array([0, 7, 1]), r"\[0, 7\)"),
        (np.array([-1, 0, 1]), r"\[0, 7\)"),
    ],
)
def test_step_rejects_bad_actions(actions, message):
    env = BalanceBot(num_envs=3, seed=0)
    env.reset()
    with pytest.raises(ValueError, match=message):
        env.step(actions)


def test_a_trained_policy_keeps_the_robot_up_for_whole_episodes_and_solves_it():
    # tests/data/balancebot-seed0.model.json: the Double DQN balancebot config, seed 0, 800,000 env steps
    # (`python -m robotrain.train --env balancebot --seed 0 --set algorithm=ddqn --save-model FILE`).
    from robotrain import codec, modelfile
    from robotrain.actor import Actor
    from robotrain.config import Config
    from robotrain.seeding import EVAL_STREAM
    from robotrain.evaluation import evaluate

    model = modelfile.load(str(Path(__file__).parent / "data" / "balancebot-seed0.model.json"), expect_env="balancebot")
    assert model["config"] == Config.for_env("balancebot", algorithm="ddqn", seed=0)
    actor = Actor("balancebot", 0, 20, model["config"].hidden_sizes)
    actor.set_weights(codec.pack_weights(np.asarray(model["params"], dtype=np.float32), 1))
    episodes = codec.unpack_trajectories(actor.run(0, 20, 0.0, EVAL_STREAM)).episodes
    assert episodes[:, 1].tolist() == [8000] * 20 and episodes[:, 3].sum() == 0  # full length, no fall
    mean = evaluate("balancebot", 0, model["config"].hidden_sizes, model["params"])
    assert mean == pytest.approx(float(episodes[:, 2].astype(np.float64).mean()))
    assert mean >= BalanceBot(num_envs=1, seed=0).solved_threshold
