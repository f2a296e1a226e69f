"""Cart-pole: a pole hinged on a cart that moves along a frictionless track; Gymnasium ``CartPole-v1``, exact.

## Source of the dynamics
A. G. Barto, R. S. Sutton and C. W. Anderson, "Neuronlike adaptive elements that can solve difficult learning
control problems", IEEE Trans. SMC 13(5), 1983; equations as corrected by R. V. Florian, "Correct equations for
the dynamics of the cart-pole system", 2007. Constants, operation order, explicit Euler integrator,
thresholds, reward and the 500-step limit follow Gymnasium 1.x ``CartPoleEnv`` + ``TimeLimit`` exactly, so
that a lane reset with seed ``s`` reproduces ``gymnasium.make("CartPole-v1").reset(seed=s)`` bit for bit.

## Observation (float32, shape (4,))
| index | name | unit | range |
|---|---|---|---|
| 0 | cart position x | m | episode ends outside [-2.4, 2.4] |
| 1 | cart velocity | m/s | unbounded |
| 2 | pole angle from vertical | rad | episode ends outside [-0.2095, 0.2095] (12 degrees) |
| 3 | pole angular velocity | rad/s | unbounded |

The state (float64, shape (4,)) holds the same quantities.

## Actions
0: push the cart left with 10 N; 1: push it right with 10 N.

## Reward
+1 for every step, including the step on which the pole falls.

## Starting state
Every state variable uniform in [-0.05, 0.05].

## Episode end
Terminated when |x| > 2.4 m or |angle| > 12 degrees; truncated after 500 steps. Solved: mean return of 475.
"""

import math

import numpy as np

from .base import VectorEnv

GRAVITY = 9.8  # m/s^2
MASS_CART = 1.0  # kg
MASS_POLE = 0.1  # kg
HALF_POLE_LENGTH = 0.5  # m; Gymnasium's ``length`` is half the pole
FORCE_MAG = 10.0  # N
TAU = 0.02  # s per step
X_THRESHOLD = 2.4  # m
THETA_THRESHOLD = 12 * 2 * math.pi / 360  # rad, computed as Gymnasium does
INIT_HIGH = 0.05  # start state bound, same unit as each state variable
MAX_STEPS = 500  # CartPole-v1 time limit
SOLVED_THRESHOLD = 475.0

TOTAL_MASS = MASS_POLE + MASS_CART  # kg
POLEMASS_LENGTH = MASS_POLE * HALF_POLE_LENGTH  # kg m


class CartPole(VectorEnv):
    """Batched Gymnasium CartPole-v1; see the module docstring."""

    name = "cartpole"
    obs_dim = 4
    state_dim = 4
    num_actions = 2
    max_steps = MAX_STEPS
    solved_threshold = SOLVED_THRESHOLD
    push_index = 3  # pole angular velocity

    def _initial_state(self, rng):
        return rng.uniform(low=-INIT_HIGH, high=INIT_HIGH, size=(4,))

    def _advance(self, actions):
        s = self.state
        x, x_dot, theta, theta_dot = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
        force = np.where(actions == 1, FORCE_MAG, -FORCE_MAG)
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        # Operation order matches Gymnasium's so results are bit-identical.
        temp = (force + POLEMASS_LENGTH * np.square(theta_dot) * sintheta) / TOTAL_MASS
        thetaacc = (GRAVITY * sintheta - costheta * temp) / (
            HALF_POLE_LENGTH * (4.0 / 3.0 - MASS_POLE * np.square(costheta) / TOTAL_MASS)
        )
        xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
        new_x = x + TAU * x_dot
        new_x_dot = x_dot + TAU * xacc
        new_theta = theta + TAU * theta_dot
        new_theta_dot = theta_dot + TAU * thetaacc
        s[:, 0], s[:, 1], s[:, 2], s[:, 3] = new_x, new_x_dot, new_theta, new_theta_dot
        terminated = (
            (new_x < -X_THRESHOLD) | (new_x > X_THRESHOLD) | (new_theta < -THETA_THRESHOLD) | (new_theta > THETA_THRESHOLD)
        )
        return np.ones(self.num_envs), terminated

    def _observe(self, state):
        return state.astype(np.float32)

    def draw_spec(self):
        return {
            "kind": "cartpole",
            "x_threshold_m": X_THRESHOLD,
            "pole_length_m": 2 * HALF_POLE_LENGTH,
            "cart_width_m": 0.5,
            "cart_height_m": 0.3,
            "tau_s": TAU,
            "state_index": {"x": 0, "x_dot": 1, "theta": 2, "theta_dot": 3},
        }
