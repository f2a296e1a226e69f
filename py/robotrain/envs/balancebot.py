"""Balance bot: a two-wheeled self-balancing robot (wheeled inverted pendulum) that drives to a moving target.

## Description
A body stands on one axle with two wheels driven by DC motors, like a LEGO Mindstorms NXT Segway. The robot
moves along a straight, level track in the plane of the body's pitch (no yaw). The agent picks one of seven
motor voltages every 10 ms; it must keep the body upright and drive to a target position that jumps to a new
random place every 5 to 10 s. Episodes last up to 8,000 steps (80 s).

## Source of the dynamics
Yorihisa Yamamoto, "NXTway-GS Model-Based Design - Control of self-balancing two-wheeled robot built with LEGO
Mindstorms NXT", Cybernet Systems Co., Ltd., 2008, chapter 3 "NXTway-GS Modeling": the Lagrangian equations of
motion in (theta, psi, phi), the DC-motor model that gives the generalized forces, and the parameter table.
We keep the planar part (yaw rate 0, left and right voltages equal, v_l = v_r = v) and add a rolling
resistance at the wheel-floor contact, which the source does not model (its only floor friction, the viscous
f_W, is 0).

Generalized coordinates: theta, the mean wheel angle relative to the vertical (rad; the axle is at
x = R theta, m), and psi, the body pitch from upright (rad, positive leaning forward, +x). With
u = v_l + v_r = 2 v (V):

    a theta'' + b(psi) psi'' = F_theta + M L R psi'^2 sin(psi)              (N m)
    b(psi) theta'' + c psi'' = F_psi + M g L sin(psi)                       (N m)

    a      = (2 m + M) R^2 + 2 J_w + 2 n^2 J_m                              (kg m^2)
    b(psi) = M L R cos(psi) - 2 n^2 J_m                                     (kg m^2)
    c      = M L^2 + J_psi + 2 n^2 J_m                                      (kg m^2)

    F_theta =  alpha u - 2 beta (theta' - psi') - 2 f_W theta' - T_roll tanh(theta' / w_roll)   (N m)
    F_psi   = -alpha u + 2 beta (theta' - psi')                                                 (N m)

    alpha = n K_t / R_m              (N m / V: motor torque per volt at stall)
    beta  = n K_t K_b / R_m + f_m    (N m s / rad: back-EMF braking plus motor viscous friction)
    T_roll = C_rr (M + 2 m) g R      (N m: rolling resistance of both wheels under the static load)

The motor current is (v - K_b (theta' - psi')) / R_m, so the torque saturates twice: the voltage is capped
at +-8 V and the back-EMF leaves less torque the faster the wheels turn relative to the body. The mass
matrix [[a, b], [b, c]] is inverted in closed form (its determinant a c - b^2 > 0 for every psi). The tanh
(w_roll = 0.1 rad/s) smooths the sign of the rolling resistance so the integrator never meets a jump.

Integrator: classical RK4, two 5 ms substeps per 10 ms env step (200 Hz), the voltage held over the step. The
stiff mode of the linearized model is the back-EMF braking of the wheels relative to the body, -241 /s, or
-329 /s with the rolling-resistance slope at rest. One 10 ms RK4 step would put it at -2.4 to -3.3, at or past
RK4's stability limit of -2.79; 5 ms puts it at -1.2 to -1.6, stable, and a voltage step's response lands
within 1.5 % of the exact one. Semi-implicit Euler treats the damping explicitly, so it would need steps under
6 ms merely to stay stable, at first-order accuracy. The falling mode, +6.8 /s at rest (+7.4 /s without the
rolling slope, +16.4 /s without any friction), is resolved with room to spare.

Parameters (Yamamoto's table): g = 9.81 m/s^2, m = 0.03 kg wheel, R = 0.04 m wheel radius, J_w = m R^2 / 2,
M = 0.6 kg body, D = 0.04 m body depth, H = 0.144 m body height, L = H / 2 axle to body centre of mass,
J_psi = M L^2 / 3, J_m = 1e-5 kg m^2 motor, R_m = 6.69 Ohm, K_b = 0.468 V s/rad, K_t = 0.317 N m/A,
n = 1 gear ratio, f_m = 0.0022 N m s/rad, f_W = 0. Our assumptions, not the source's: C_rr = 0.015 (rubber on a
hard floor) and an 8 V cap (about what the NXT's six AA cells give the motors under load).

## Observation (float32, shape (6,))
| index | name | unit | range |
|---|---|---|---|
| 0 | position error (x - target) / 1 m | 1 | [-3, 3] (track and target bounds) |
| 1 | axle velocity x' / 0.5 m/s | 1 | about [-1.5, 1.5] (back-EMF limits x' to about 0.7 m/s) |
| 2 | pitch psi / 0.6 rad | 1 | [-1, 1] while the episode runs |
| 3 | pitch rate psi' / 2 rad/s | 1 | unbounded, about [-3, 3] before a fall |
| 4 | position x / 2 m (track half width) | 1 | [-1, 1] while the episode runs |
| 5 | steps until the target jumps / 1000 | 1 | [0, 1] |

The state (float64, shape (7,)) is x (m), psi (rad), theta' (rad/s), psi' (rad/s), target (m), steps until the
target jumps (an integer count), and the voltage applied by the last step (V, for drawing only; the dynamics
hold each step's voltage, so it does not affect the future). The wheel's drawn rotation is x / R (rad).

## Actions
Seven motor voltages, the same on both motors: 0: -8 V, 1: -4 V, 2: -1.5 V, 3: 0 V, 4: +1.5 V, 5: +4 V,
6: +8 V. Positive voltage drives the wheels forward (+x). The levels are denser near 0 so that a quantized
controller can hold the balance without a large limit cycle.

## Reward
Every step: r = 1 - 0.5 min(|x - target| / 1 m, 1) - 0.05 (v / 8 V)^2, in [0.45, 1]. Staying up earns the 1;
being far from the target costs up to half of it; the small voltage term discourages needless bang-bang.
The step on which the robot falls (or leaves the track) costs 100 more. Losing every later reward would be
penalty enough for a far-sighted agent, but a discount of 0.995 sees about 200 steps ahead, where a fall costs
at most 200: without the 100, learned policies chased a jumped target at full voltage and fell in about 1 of
5 episodes while their mean return still passed 7,000 (measured: 4 falls in 20 evaluation episodes at a mean
of 7,047); with it, 0 in 20 (0.995, 3 seeds, 800,000 steps). A 500 made learning unstable. The return of a
full episode is at most 8,000.

## Starting state
x, psi, theta' and psi' uniform in +-0.1 m, +-0.05 rad, +-0.05 rad/s, +-0.05 rad/s; target uniform in +-1 m;
the target jumps after a uniform integer number of steps in [500, 1000], then again after every new such
draw, each draw from the lane's generator (so a seed fixes the whole target schedule).

## Episode end
Terminated when |psi| > 0.6 rad (fallen) or |x| > 2 m (off the track); truncated after 8,000 steps.
Solved: mean greedy return over 20 episodes of at least 7,000. Balancing all 8,000 steps while ignoring the
target returns about 6,000 (the mean distance to a target uniform in +-1 m is 0.5 m), and a fall halfway loses
about 3,600 more (1 fall in 20 episodes lowers the mean by about 180). A discrete-time LQR quantized to the seven voltages (in the tests) returns 7,370 on average
over 64 seeds with no fall, at a mean distance of 0.16 m; with a weaker position gain it trails the target by
0.27 m on average and returns about 6,950. So 7,000 means: no falls, and the target followed to within about
a quarter metre on average.
"""

import numpy as np

from .base import VectorEnv

GRAVITY = 9.81  # m/s^2
WHEEL_MASS = 0.03  # kg, one wheel
WHEEL_RADIUS = 0.04  # m
BODY_MASS = 0.6  # kg
BODY_DEPTH = 0.04  # m, Yamamoto's D; the side view draws depth x height, for drawing only
BODY_HEIGHT = 0.144  # m
COM_HEIGHT = BODY_HEIGHT / 2  # m, axle to body centre of mass (Yamamoto's L)
WHEEL_INERTIA = WHEEL_MASS * WHEEL_RADIUS**2 / 2  # kg m^2, J_w (solid disc)
BODY_PITCH_INERTIA = BODY_MASS * COM_HEIGHT**2 / 3  # kg m^2, J_psi
MOTOR_INERTIA = 1e-5  # kg m^2, J_m
MOTOR_RESISTANCE = 6.69  # Ohm, R_m
BACK_EMF_CONSTANT = 0.468  # V s/rad, K_b
TORQUE_CONSTANT = 0.317  # N m/A, K_t
GEAR_RATIO = 1.0  # n
MOTOR_FRICTION = 0.0022  # N m s/rad, f_m (body-motor viscous friction)
WHEEL_FLOOR_FRICTION = 0.0  # N m s/rad, f_W (wheel-floor viscous friction, 0 in the source)
ROLLING_COEFFICIENT = 0.015  # C_rr, dimensionless (rubber tyre on a hard floor)
ROLLING_SMOOTHING = 0.1  # rad/s, wheel rate below which the rolling resistance fades in linearly
MAX_VOLTAGE = 8.0  # V, motor supply cap
VOLTAGES = np.array([-8.0, -4.0, -1.5, 0.0, 1.5, 4.0, 8.0])  # V, one per action

DT = 0.01  # s per env step
SUBSTEPS = 2  # RK4 substeps per env step; see the module docstring
PITCH_LIMIT = 0.6  # rad, fallen beyond this
TRACK_HALF_WIDTH = 2.0  # m, off the track beyond this
TARGET_RANGE = 1.0  # m, targets uniform in [-TARGET_RANGE, TARGET_RANGE]
TARGET_MIN_STEPS = 500  # steps between target jumps, lower bound (5 s)
TARGET_MAX_STEPS = 1000  # steps between target jumps, upper bound inclusive (10 s)
DISTANCE_SCALE = 1.0  # m, distance at which the distance penalty saturates
DISTANCE_PENALTY = 0.5  # reward lost per step at or beyond DISTANCE_SCALE
VOLTAGE_PENALTY = 0.05  # reward lost per step at full voltage
FALL_PENALTY = 100.0  # reward lost on the step that ends the episode by a fall or leaving the track
INIT_X = 0.1  # m, start position bound
INIT_PITCH = 0.05  # rad
INIT_RATE = 0.05  # rad/s, for both the wheel and the pitch rate
MAX_STEPS = 8000  # 80 s
SOLVED_THRESHOLD = 7000.0

VELOCITY_SCALE = 0.5  # m/s, observation scale of x'
PITCH_RATE_SCALE = 2.0  # rad/s, observation scale of psi'

# Derived once: the mass-matrix terms, force gains and RK4 weights of the equations in the module docstring.
TWO_N2_JM = 2 * GEAR_RATIO**2 * MOTOR_INERTIA  # kg m^2
MASS_A = (2 * WHEEL_MASS + BODY_MASS) * WHEEL_RADIUS**2 + 2 * WHEEL_INERTIA + TWO_N2_JM  # kg m^2
MASS_C = BODY_MASS * COM_HEIGHT**2 + BODY_PITCH_INERTIA + TWO_N2_JM  # kg m^2
MASS_AC = MASS_A * MASS_C  # kg^2 m^4
MLR = BODY_MASS * COM_HEIGHT * WHEEL_RADIUS  # kg m^2
MGL = BODY_MASS * GRAVITY * COM_HEIGHT  # N m
ALPHA = GEAR_RATIO * TORQUE_CONSTANT / MOTOR_RESISTANCE  # N m/V
BETA = GEAR_RATIO * TORQUE_CONSTANT * BACK_EMF_CONSTANT / MOTOR_RESISTANCE + MOTOR_FRICTION  # N m s/rad
TWO_BETA = 2 * BETA  # N m s/rad
TWO_FW = 2 * WHEEL_FLOOR_FRICTION  # N m s/rad
ROLLING_TORQUE = ROLLING_COEFFICIENT * (BODY_MASS + 2 * WHEEL_MASS) * GRAVITY * WHEEL_RADIUS  # N m
DRIVE_TORQUES = ALPHA * 2 * VOLTAGES  # N m, alpha u with u = v_l + v_r, one per action
VOLTAGE_COSTS = VOLTAGE_PENALTY * (VOLTAGES / MAX_VOLTAGE) ** 2  # reward lost per step, one per action
H = DT / SUBSTEPS  # s, RK4 substep
HALF_H = H / 2  # s
SIXTH_H = H / 6  # s

# Columns of ``state``.
X, PITCH, WHEEL_RATE, PITCH_RATE, TARGET, TARGET_STEPS, VOLTAGE = range(7)


def _accelerations(psi, theta_rate, psi_rate, drive):
    """(theta'', psi'') in rad/s^2 from the equations of motion; every argument is an (n,) array."""
    sin_psi = np.sin(psi)
    b = MLR * np.cos(psi) - TWO_N2_JM
    inv_det = 1.0 / (MASS_AC - b * b)
    motor = drive - TWO_BETA * (theta_rate - psi_rate)  # N m, both motors on the wheels; -motor on the body
    floor = TWO_FW * theta_rate + ROLLING_TORQUE * np.tanh(theta_rate * (1.0 / ROLLING_SMOOTHING))  # N m
    f_theta = motor - floor + MLR * psi_rate * psi_rate * sin_psi
    f_psi = MGL * sin_psi - motor
    return (MASS_C * f_theta - b * f_psi) * inv_det, (MASS_A * f_psi - b * f_theta) * inv_det


def _integrate(x, psi, theta_rate, psi_rate, drive):
    """Advance (x, psi, theta', psi') by DT with RK4 at the held drive torque ``drive`` (N m); (n,) arrays."""
    for _ in range(SUBSTEPS):
        a1, p1 = _accelerations(psi, theta_rate, psi_rate, drive)
        t2 = theta_rate + HALF_H * a1
        r2 = psi_rate + HALF_H * p1
        a2, p2 = _accelerations(psi + HALF_H * psi_rate, t2, r2, drive)
        t3 = theta_rate + HALF_H * a2
        r3 = psi_rate + HALF_H * p2
        a3, p3 = _accelerations(psi + HALF_H * r2, t3, r3, drive)
        t4 = theta_rate + H * a3
        r4 = psi_rate + H * p3
        a4, p4 = _accelerations(psi + H * r3, t4, r4, drive)
        x = x + (SIXTH_H * WHEEL_RADIUS) * (theta_rate + 2 * (t2 + t3) + t4)
        psi = psi + SIXTH_H * (psi_rate + 2 * (r2 + r3) + r4)
        theta_rate = theta_rate + SIXTH_H * (a1 + 2 * (a2 + a3) + a4)
        psi_rate = psi_rate + SIXTH_H * (p1 + 2 * (p2 + p3) + p4)
    return x, psi, theta_rate, psi_rate


def _draw_target(rng):
    """A new target (m) and the number of steps until the one after it, from a lane's generator."""
    target = rng.uniform(-TARGET_RANGE, TARGET_RANGE)
    return target, float(rng.integers(TARGET_MIN_STEPS, TARGET_MAX_STEPS, endpoint=True))


class BalanceBot(VectorEnv):
    """Batched two-wheeled balancing robot tracking a jumping target; see the module docstring."""

    name = "balancebot"
    obs_dim = 6
    state_dim = 7
    num_actions = len(VOLTAGES)
    max_steps = MAX_STEPS
    solved_threshold = SOLVED_THRESHOLD
    push_index = PITCH_RATE

    def _initial_state(self, rng):
        s = np.zeros(self.state_dim)
        bounds = [INIT_X, INIT_PITCH, INIT_RATE, INIT_RATE]
        s[[X, PITCH, WHEEL_RATE, PITCH_RATE]] = rng.uniform(-1.0, 1.0, size=4) * bounds
        s[TARGET], s[TARGET_STEPS] = _draw_target(rng)
        return s

    def _advance(self, actions):
        s = self.state
        # Contiguous copies of the columns: faster elementwise loops, and the same SIMD path for any lane count.
        x, psi, theta_rate, psi_rate, target, target_steps = s[:, :VOLTAGE].T.copy()  # all but the voltage
        x, psi, theta_rate, psi_rate = _integrate(x, psi, theta_rate, psi_rate, DRIVE_TORQUES[actions])
        target_steps -= 1.0
        if target_steps.min() <= 0.0:
            for lane in np.flatnonzero(target_steps <= 0.0):
                target[lane], target_steps[lane] = _draw_target(self.rngs[lane])
        s[:, :VOLTAGE] = np.stack((x, psi, theta_rate, psi_rate, target, target_steps), axis=1)
        s[:, VOLTAGE] = VOLTAGES[actions]
        distance = np.minimum(np.abs(x - target) * (1.0 / DISTANCE_SCALE), 1.0)
        terminated = (np.abs(psi) > PITCH_LIMIT) | (np.abs(x) > TRACK_HALF_WIDTH)
        reward = 1.0 - DISTANCE_PENALTY * distance - VOLTAGE_COSTS[actions] - FALL_PENALTY * terminated
        return reward, terminated

    def _observe(self, state):
        obs = np.empty((state.shape[0], self.obs_dim), dtype=np.float32)
        obs[:, 0] = (state[:, X] - state[:, TARGET]) * (1.0 / DISTANCE_SCALE)
        obs[:, 1] = state[:, WHEEL_RATE] * (WHEEL_RADIUS / VELOCITY_SCALE)
        obs[:, 2] = state[:, PITCH] * (1.0 / PITCH_LIMIT)
        obs[:, 3] = state[:, PITCH_RATE] * (1.0 / PITCH_RATE_SCALE)
        obs[:, 4] = state[:, X] * (1.0 / TRACK_HALF_WIDTH)
        obs[:, 5] = state[:, TARGET_STEPS] * (1.0 / TARGET_MAX_STEPS)
        return obs

    def draw_spec(self):
        return {
            "kind": "balancebot",
            "wheel_radius_m": WHEEL_RADIUS,
            "body_height_m": BODY_HEIGHT,
            "body_depth_m": BODY_DEPTH,
            "com_height_m": COM_HEIGHT,
            "track_half_width_m": TRACK_HALF_WIDTH,
            "target_range_m": TARGET_RANGE,
            "pitch_limit_rad": PITCH_LIMIT,
            "max_voltage_v": MAX_VOLTAGE,
            "voltages_v": [float(v) for v in VOLTAGES],
            "dt_s": DT,
            # Wheel rotation (rad) is x / wheel_radius_m; pitch is positive leaning toward +x.
            "state_index": {
                "x": X,
                "pitch": PITCH,
                "wheel_rate": WHEEL_RATE,
                "pitch_rate": PITCH_RATE,
                "target": TARGET,
                "target_steps": TARGET_STEPS,
                "voltage": VOLTAGE,
            },
        }
