"""Acrobot: two links, an actuated elbow, swing the tip above a line; Gymnasium ``Acrobot-v1``, exact.

## Source of the dynamics
R. S. Sutton, "Generalization in reinforcement learning: successful examples using sparse coarse coding",
NIPS 1996, with the "book" equations of R. S. Sutton and A. G. Barto, *Reinforcement Learning: An
Introduction* (1998), as in Gymnasium 1.x ``AcrobotEnv`` (``book_or_nips = "book"``): one RK4 step over
dt = 0.2 s, joint angles wrapped to [-pi, pi], joint velocities clipped, no torque noise, and the 500-step
limit of ``Acrobot-v1``. A lane reset with seed ``s`` reproduces ``gymnasium.make("Acrobot-v1").reset(seed=s)``
bit for bit.

## Observation (float32, shape (6,))
| index | name | unit | range |
|---|---|---|---|
| 0 | cos(theta1) | - | [-1, 1] |
| 1 | sin(theta1) | - | [-1, 1] |
| 2 | cos(theta2) | - | [-1, 1] |
| 3 | sin(theta2) | - | [-1, 1] |
| 4 | theta1 dot | rad/s | [-4 pi, 4 pi] |
| 5 | theta2 dot | rad/s | [-9 pi, 9 pi] |

theta1 is the first link's angle from hanging straight down, theta2 the second link's angle relative to the
first. The state (float64, shape (4,)) is (theta1, theta2, theta1 dot, theta2 dot).

## Actions
Torque on the elbow: 0 -> -1 N m, 1 -> 0 N m, 2 -> +1 N m.

## Reward
-1 per step; 0 on the step that reaches the goal.

## Starting state
Each state variable uniform in [-0.1, 0.1], rounded to float32 (as Gymnasium does).

## Episode end
Terminated when -cos(theta1) - cos(theta1 + theta2) > 1 (tip above the line one link length above the base);
truncated after 500 steps. Solved: mean return of -100.
"""

from math import pi

import numpy as np

from .base import VectorEnv

DT = 0.2  # s per step (one RK4 step)
LINK_LENGTH_1 = 1.0  # m
LINK_LENGTH_2 = 1.0  # m
LINK_MASS_1 = 1.0  # kg
LINK_MASS_2 = 1.0  # kg
LINK_COM_POS_1 = 0.5  # m, centre of mass of link 1 from its joint
LINK_COM_POS_2 = 0.5  # m, centre of mass of link 2 from its joint
LINK_MOI = 1.0  # kg m^2, moment of inertia of both links
GRAVITY = 9.8  # m/s^2
MAX_VEL_1 = 4 * pi  # rad/s
MAX_VEL_2 = 9 * pi  # rad/s
TORQUES = (-1.0, 0.0, 1.0)  # N m, by action index
INIT_HIGH = 0.1  # start state bound, rad and rad/s
MAX_STEPS = 500  # Acrobot-v1 time limit
SOLVED_THRESHOLD = -100.0

TORQUE_TABLE = np.array(TORQUES)


def _dsdt(s):
    """Time derivative of the augmented state ``s`` (n, 5) = (theta1, theta2, dtheta1, dtheta2, torque)."""
    m1, m2 = LINK_MASS_1, LINK_MASS_2
    l1 = LINK_LENGTH_1
    lc1, lc2 = LINK_COM_POS_1, LINK_COM_POS_2
    I1 = I2 = LINK_MOI
    g = GRAVITY
    a = s[:, 4]
    theta1, theta2, dtheta1, dtheta2 = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
    # Written term for term as Gymnasium's book dynamics so the float64 results are bit-identical. Gymnasium
    # squares numpy scalars with ``**``, which calls libm pow(); that differs from x*x in the last bit for
    # about 1 in 1,000 inputs, so squares of state variables use np.float_power (libm pow per element).
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * np.cos(theta2)) + I1 + I2
    d2 = m2 * (lc2**2 + l1 * lc2 * np.cos(theta2)) + I2
    phi2 = m2 * lc2 * g * np.cos(theta1 + theta2 - pi / 2.0)
    phi1 = (
        -m2 * l1 * lc2 * np.float_power(dtheta2, 2) * np.sin(theta2)
        - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * np.sin(theta2)
        + (m1 * lc1 + m2 * l1) * g * np.cos(theta1 - pi / 2)
        + phi2
    )
    ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * np.float_power(dtheta1, 2) * np.sin(theta2) - phi2) / (
        m2 * lc2**2 + I2 - np.float_power(d2, 2) / d1
    )
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2, np.zeros_like(a)], axis=1)


def _wrap(x, low, high):
    """Wrap angles into [low, high] by whole turns, with the same repeated subtraction Gymnasium uses."""
    diff = high - low
    while np.any(x > high):
        x = np.where(x > high, x - diff, x)
    while np.any(x < low):
        x = np.where(x < low, x + diff, x)
    return x


class Acrobot(VectorEnv):
    """Batched Gymnasium Acrobot-v1; see the module docstring."""

    name = "acrobot"
    obs_dim = 6
    state_dim = 4
    num_actions = 3
    max_steps = MAX_STEPS
    solved_threshold = SOLVED_THRESHOLD
    push_index = 2  # first joint's angular velocity

    def _initial_state(self, rng):
        return rng.uniform(low=-INIT_HIGH, high=INIT_HIGH, size=(4,)).astype(np.float32)

    def _advance(self, actions):
        y0 = np.concatenate([self.state, TORQUE_TABLE[actions][:, None]], axis=1)
        dt = DT - 0.0  # Gymnasium's rk4 integrates over t = [0, dt]
        dt2 = dt / 2.0
        k1 = _dsdt(y0)
        k2 = _dsdt(y0 + dt2 * k1)
        k3 = _dsdt(y0 + dt2 * k2)
        k4 = _dsdt(y0 + dt * k3)
        ns = (y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4))[:, :4]
        s = self.state
        s[:, 0] = _wrap(ns[:, 0], -pi, pi)
        s[:, 1] = _wrap(ns[:, 1], -pi, pi)
        s[:, 2] = np.minimum(np.maximum(ns[:, 2], -MAX_VEL_1), MAX_VEL_1)
        s[:, 3] = np.minimum(np.maximum(ns[:, 3], -MAX_VEL_2), MAX_VEL_2)
        terminated = -np.cos(s[:, 0]) - np.cos(s[:, 1] + s[:, 0]) > 1.0
        return np.where(terminated, 0.0, -1.0), terminated

    def _observe(self, state):
        th1, th2 = state[:, 0], state[:, 1]
        return np.stack(
            [np.cos(th1), np.sin(th1), np.cos(th2), np.sin(th2), state[:, 2], state[:, 3]], axis=1
        ).astype(np.float32)

    def _observe_initial(self, state):
        # Gymnasium keeps the fresh start state in float32, so its first observation takes cos/sin in float32.
        return self._observe(state.astype(np.float32))

    def draw_spec(self):
        return {
            "kind": "acrobot",
            "link_length_1_m": LINK_LENGTH_1,
            "link_length_2_m": LINK_LENGTH_2,
            "goal_height_m": LINK_LENGTH_1,
            "dt_s": DT,
            "state_index": {"theta1": 0, "theta2": 1, "theta1_dot": 2, "theta2_dot": 3},
        }
