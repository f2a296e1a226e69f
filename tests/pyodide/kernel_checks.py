"""Checks of robotrain.kernel against numpy, run inside Pyodide by tests/test_kernel.py (through run.mjs).

Prints one JSON object: per check the largest error measured (or the exception text for bad input); the
assertions, with their tolerances, live in tests/test_kernel.py.
"""

import json

import numpy as np

from robotrain import codec, kernel
from robotrain.config import Config
from robotrain.learner import Learner
from robotrain.pqn import PQNLearner
from robotrain.qnet import Adam, QNetwork, clip_scale, huber
from robotrain.replay import ReplayBuffer

K = kernel.active()
rng = np.random.default_rng(0)
results = {"status": kernel.status()}


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def rel_err(a, b):
    """Largest error relative to the reference's scale."""
    return float(np.abs(a.astype(np.float64) - b).max() / max(1.0, float(np.abs(b).max())))


# One layer, forward and backward, on shapes that are and are not multiples of 4 and 8, batch 1 included, and on
# an input whose rows are strided (a column block of a wider matrix, as the replay rows are).
SHAPES = [(1, 1, 1), (1, 4, 64), (3, 5, 7), (5, 9, 13), (4, 8, 8), (17, 64, 2), (33, 63, 65), (128, 4, 64),
          (128, 64, 64), (7, 128, 3), (256, 256, 256)]
layer = {}
for n, k, m in SHAPES:
    for strided in (False, True):
        wide = f32(n, k + 5)
        x = wide[:, 2:2 + k] if strided else np.ascontiguousarray(wide[:, :k])
        W, b, dy = f32(k, m), f32(m), f32(n, m)
        x64, W64 = x.astype(np.float64), W.astype(np.float64)
        for relu in (False, True):
            y = np.empty((n, m), np.float32)
            K.layer_forward(x, W, b, relu, y)
            ref = x64 @ W64 + b
            layer[f"forward {n}x{k}x{m} relu={relu} strided={strided}"] = rel_err(y, np.maximum(ref, 0) if relu else ref)
        gW, gb, dx = np.empty((k, m), np.float32), np.empty(m, np.float32), np.empty((n, k), np.float32)
        mask = np.where(rng.random((n, k)) < 0.5, 0.0, rng.random((n, k))).astype(np.float32)
        K.layer_backward(x, W, dy, gW, gb, dx, mask)
        layer[f"backward gW {n}x{k}x{m} strided={strided}"] = rel_err(gW, x64.T @ dy)
        layer[f"backward gb {n}x{k}x{m} strided={strided}"] = rel_err(gb, dy.astype(np.float64).sum(0))
        layer[f"backward dx masked {n}x{k}x{m} strided={strided}"] = rel_err(dx, (dy @ W64.T) * (mask > 0))
        K.layer_backward(x, W, dy, gW, gb, dx)
        layer[f"backward dx {n}x{k}x{m} strided={strided}"] = rel_err(dx, dy @ W64.T)
results["layer"] = layer

# Whole networks: the kernel path of QNetwork against its numpy path on the same weights, plain and with
# LayerNorm (PQN's network; gain and offset moved off their init, 1 and 0, so every term of the gradient
# counts), on widths that are not multiples of 4, one hidden layer, batch 1, and rows read strided from a wider
# matrix (as replay rows are).
NETWORKS = [  # (obs_dim, hidden, actions), batch, layer_norm, strided
    ((4, (64, 64), 2), 128, False, False), ((6, (64, 64), 3), 1, False, False),
    ((13, (128, 128), 9), 77, False, False), ((3, (5,), 2), 9, False, False),
    ((4, (120, 84), 2), 128, True, False), ((4, (64, 64), 2), 64, True, True), ((6, (128, 128), 7), 1, True, False),
    ((5, (7,), 3), 9, True, False), ((13, (33, 63), 9), 77, True, True), ((3, (1, 6), 2), 5, True, True),
]


def layer_norm_network(obs_dim, hidden, actions, layer_norm, rng=rng):
    net = QNetwork(obs_dim, actions, hidden, rng, layer_norm=layer_norm)
    for g, o in zip(net.gain, net.offset):
        g[:] = rng.uniform(0.5, 1.5, g.shape)
        o[:] = rng.uniform(-0.3, 0.3, o.shape)
    return net


network = {}
for (obs_dim, hidden, actions), n, layer_norm, strided in NETWORKS:
    fast = layer_norm_network(obs_dim, hidden, actions, layer_norm)
    ref = QNetwork(obs_dim, actions, hidden, layer_norm=layer_norm)
    ref.kernel = None  # the numpy path
    ref.params[:] = fast.params
    wide = f32(n, obs_dim + 3)
    x, dout = (wide[:, 1:1 + obs_dim] if strided else np.ascontiguousarray(wide[:, :obs_dim])), f32(n, actions)
    q_fast, cache = fast.forward_cached(x)
    q_ref, inputs = ref.forward_cached(x)
    g_fast, g_ref = np.zeros_like(fast.params), np.zeros_like(ref.params)
    fast.backward(cache, dout.copy(), g_fast)
    ref.backward(inputs, dout.copy(), g_ref)
    name = (f"{obs_dim}-{'-'.join(map(str, hidden))}-{actions} batch {n}{' layernorm' if layer_norm else ''}"
            f"{' strided' if strided else ''}")
    network[f"forward {name}"] = rel_err(q_fast, q_ref.astype(np.float64))
    network[f"forward without keep {name}"] = rel_err(fast.forward(x), q_ref.astype(np.float64))
    network[f"backward {name}"] = rel_err(g_fast, g_ref.astype(np.float64))
    network[f"path {name}"] = fast.path
results["network"] = network

# The LayerNorm gradient through the kernel against central differences of the kernel's own forward pass (as
# tests/test_learning.py checks numpy's): the Huber loss of 6 rows through a 3-8-7-2 network. Its own generator:
# on about 1 draw in 10 of this size a ReLU or Huber kink lies within a step of some parameter and spoils that
# parameter's difference (measured: the kernel's and numpy's differences then fail together, at the same
# parameter); this draw has none.
fd_rng = np.random.default_rng(1)
net = layer_norm_network(3, (8, 7), 2, True, fd_rng)
x, actions = fd_rng.standard_normal((6, 3)).astype(np.float32), fd_rng.integers(0, 2, 6)
y = 2 * fd_rng.standard_normal(6).astype(np.float32)
rows = np.arange(6)


def loss(params):
    net.params[:] = params  # the kernel reads params in place
    return huber(net.forward(x)[rows, actions] - y)[0]


p0 = net.params.copy()
q, cache = net.forward_cached(x)
dq = np.zeros_like(q)
dq[rows, actions] = huber(q[rows, actions] - y)[1]
grad = np.zeros_like(net.params)
net.backward(cache, dq, grad)
h, numeric = 1e-3, []
for i in range(len(p0)):
    up, down = p0.copy(), p0.copy()
    up[i] += h
    down[i] -= h
    numeric.append((loss(up) - loss(down)) / (2 * h))
results["finite_differences"] = {"path": net.path, "kernel": grad.tolist(), "numeric": numeric}

# Adam: the kernel performs numpy's float32 operations in numpy's order, so the bits must agree.
p_fast, p_ref = f32(1001), None
p_ref = p_fast.copy()
a_fast, a_ref = Adam(1001, 1e-3), Adam(1001, 1e-3)
a_ref.kernel = None
adam_diff = 0.0
for step in range(50):
    g = f32(1001)
    scale = 0.37 if step % 3 == 0 else 1.0
    a_fast.step(p_fast, g.copy(), scale)
    a_ref.step(p_ref, g.copy(), scale)
    adam_diff = max(adam_diff, float(np.abs(p_fast - p_ref).max()), float(np.abs(a_fast.v - a_ref.v).max()))
results["adam_max_abs_diff"] = adam_diff
t_fast, online = f32(1003), f32(1003)
t_ref = t_fast.copy()
for tau in (0.01, 0.005, 1.0):
    K.soft_update(t_fast, online, tau)
    t_ref *= 1.0 - tau
    t_ref += tau * online
results["soft_update_equal"] = bool(np.array_equal(t_fast, t_ref))
v = f32(1003)
results["sumsq_rel_err"] = abs(K.sumsq(v) - float(np.dot(v.astype(np.float64), v))) / float(np.dot(v.astype(np.float64), v))

# Replay sampling with n-step returns: the same bits as numpy, terminations and truncations mid-window, a ring
# that has wrapped.
obs_dim = 3
fast, ref = ReplayBuffer(50, obs_dim), ReplayBuffer(50, obs_dim)
ref.kernel = None
rows = f32(130, 2 * obs_dim + 4)
ends = rng.random(130)
rows[:, 2 * obs_dim + 2] = ends < 0.1
rows[:, 2 * obs_dim + 3] = (ends >= 0.1) & (ends < 0.2)
for part in np.split(rows, [20, 77]):
    fast.add(part)
    ref.add(part)
gather_equal = True
for n_step in (1, 2, 3, 5):
    b_fast = fast.sample(200, np.random.default_rng(n_step), n_step, 0.97)
    b_ref = ref.sample(200, np.random.default_rng(n_step), n_step, 0.97)
    gather_equal &= all(np.array_equal(b_fast[key], b_ref[key]) for key in b_ref)
results["replay_gather_equal"] = bool(gather_equal)

# 300 Double DQN updates with the kernel against 300 with numpy, from the same seed and the same replay.
def learner(use_kernel):
    kernel.select("auto" if use_kernel else "numpy")
    c = Config.for_env("cartpole", algorithm="ddqn", seed=3, batch_size=64, learning_starts=0)
    lr = Learner(c, 4, 2)
    data = np.random.default_rng(5).standard_normal((3000, 12)).astype(np.float32)
    data[:, 4] = np.random.default_rng(6).integers(0, 2, 3000)
    data[:, 10] = np.random.default_rng(7).random(3000) < 0.05
    data[:, 11] = 0
    lr.replay.add(data)
    losses = [lr.update(1000 + i) for i in range(300)]
    kernel.select("auto")
    return lr, np.array(losses)


fast_l, fast_losses = learner(True)
ref_l, ref_losses = learner(False)
results["learner"] = {
    "paths": [fast_l.q.path, ref_l.q.path],
    "params_max_abs_diff": float(np.abs(fast_l.q.params - ref_l.q.params).max()),
    "target_max_abs_diff": float(np.abs(fast_l.target.params - ref_l.target.params).max()),
    "loss_max_rel_diff": float(np.abs(fast_losses - ref_losses).max() / np.abs(ref_losses).max()),
}



# PQN's learner (LayerNorm network, whole-rollout targets, minibatch epochs) with the kernel against numpy, from
# the same seed and the same rollouts: 20 rollouts of random transitions, 16 updates each on minibatches of 128
# through CleanRL's 120-84 network (settings pinned here, so tuning the defaults changes nothing).
def pqn_learner(use_kernel):
    kernel.select("auto" if use_kernel else "numpy")
    c = Config.for_env("cartpole", algorithm="pqn", seed=3, num_envs=16, num_steps=32, num_minibatches=4,
                       update_epochs=4, hidden_sizes=(120, 84))
    lr = PQNLearner(c, 4, 2)
    data = np.random.default_rng(5)
    losses = []
    for r in range(20):
        seg = data.standard_normal((c.num_envs, c.num_steps, codec.row_width(4))).astype(np.float32)
        seg[..., 4] = data.integers(0, 2, seg.shape[:2])  # action
        seg[..., 10] = data.random(seg.shape[:2]) < 0.05  # terminated
        seg[..., 11] = 0  # truncated
        lr.ingest_segment(seg)
        while lr.updates_due > 0:
            losses.append(lr.update(1000 * r))
    kernel.select("auto")
    return lr, np.array(losses)


fast_p, fast_losses = pqn_learner(True)
ref_p, ref_losses = pqn_learner(False)
results["pqn_learner"] = {
    "paths": [fast_p.q.path, ref_p.q.path],
    "updates": fast_p.updates,
    "params_max_abs_diff": float(np.abs(fast_p.q.params - ref_p.q.params).max()),
    "loss_max_rel_diff": float(np.abs(fast_losses - ref_losses).max() / np.abs(ref_losses).max()),
}

# Bad input: a ValueError naming the argument, never a write outside an array.
def error_of(call):
    try:
        call()
    except ValueError as e:
        return f"ValueError: {e}"
    except Exception as e:  # noqa: BLE001 - reported, and the test fails on it
        return f"{type(e).__name__}: {e}"
    return None


x, W, b, y = f32(8, 4), f32(4, 6), f32(6), np.empty((8, 6), np.float32)
guard = np.full(64, 7.0, np.float32)
out_small = guard[:40].reshape(8, 5)  # one column short: a write of 8 x 6 would run past it into guard
read_only = np.empty((8, 6), np.float32)
read_only.flags.writeable = False
net = QNetwork(4, 2, (8,), rng)
ln_net = QNetwork(4, 2, (8,), rng, layer_norm=True)
bad = {
    "x float64": lambda: K.layer_forward(x.astype(np.float64), W, b, True, y),
    "W wrong shape": lambda: K.layer_forward(x, f32(5, 6), b, True, y),
    "out too small": lambda: K.layer_forward(x, W, b, True, out_small),
    "W transposed view": lambda: K.layer_forward(x, np.ascontiguousarray(W.T).T, b, True, y),
    "x column stride": lambda: K.layer_forward(f32(8, 8)[:, ::2], W, b, True, y),
    "out read-only": lambda: K.layer_forward(x, W, b, True, read_only),
    "b wrong length": lambda: K.layer_forward(x, W, f32(5), True, y),
    "x not an array": lambda: K.layer_forward(x.tolist(), W, b, True, y),
    "grad wrong length": lambda: K.adam(f32(10), f32(9), f32(10), f32(10), 1.0, 0.9, 0.999, 1e-3, 1.0, 1e-8),
    "idx out of ring": lambda: K.replay_gather(f32(10, 10), np.array([0, 10], np.int64), 3, 2, 0.99),
    "online wrong length": lambda: K.soft_update(f32(10), f32(11), 0.01),
    "idx int32": lambda: K.replay_gather(f32(10, 10), np.array([0, 1], np.int32), 3, 2, 0.99),
    "network obs width": lambda: net.forward(f32(3, 5)),
    "network dout shape": lambda: net.backward(net.forward_cached(f32(3, 4))[1], f32(3, 3), np.zeros_like(net.params)),
    "network grad length": lambda: net.backward(net.forward_cached(f32(3, 4))[1], f32(3, 2), f32(5)),
    # A plain network's record is shorter than a LayerNorm network's: the backward pass must refuse it (and any
    # record but its own, whose addresses it trusts).
    "layernorm record of a plain network": lambda: ln_net.backward(net.forward_cached(f32(3, 4))[1], f32(3, 2),
                                                                   np.zeros_like(ln_net.params)),
    "layernorm grad without gain and offset": lambda: ln_net.backward(ln_net.forward_cached(f32(3, 4))[1], f32(3, 2),
                                                                      np.zeros_like(net.params)),
}

def pqn_step_checks():
    """PQN's fused minibatch step (robotrain.kernel.PQNStep, rt_pqn_step) against the numpy path and against the
    kernel's separate calls, and bad input. Each case: two PQNLearners from one seed (kernel, numpy) ingest the same
    random rollout and make two updates (the first also computes the targets); then the kernel learner's next
    minibatch, stepped by the separate calls from a copy of its state, must give the fused step's parameters bit for
    bit. Minibatches of 32 and 23 rows (not a multiple of the SIMD width), widths 7 and 33, 3 actions, and a
    max_grad_norm that clips."""
    CASES = {  # name: obs_dim, actions, Config fields; a rollout of 32 lanes x 8 steps (256 rows)
        "cartpole network, minibatch 32": (4, 2, {"num_envs": 32}),
        "120-84, minibatch 23, clipped": (4, 2, {"num_envs": 32, "hidden_sizes": (120, 84), "num_minibatches": 11,
                                                 "max_grad_norm": 0.01}),
        "5-7-33-3, minibatch 23": (5, 3, {"num_envs": 32, "hidden_sizes": (7, 33), "num_minibatches": 11}),
    }

    def rollout(c, obs_dim, actions):
        data = np.random.default_rng(7)
        seg = data.standard_normal((c.num_envs, c.num_steps, codec.row_width(obs_dim))).astype(np.float32)
        cols = codec.row_slices(obs_dim)
        seg[..., cols["action"]] = data.integers(0, actions, seg.shape[:2])
        seg[..., cols["terminated"]] = data.random(seg.shape[:2]) < 0.05
        seg[..., cols["truncated"]] = 0
        return seg

    def learner(c, obs_dim, actions, choice):
        kernel.select(choice)
        lr = PQNLearner(c, obs_dim, actions)
        kernel.select("auto")
        lr.ingest_segment(rollout(c, obs_dim, actions))
        return lr

    def rel(a, b):
        return float(np.abs(a.astype(np.float64) - b).max() / max(1.0, float(np.abs(b).max())))

    results = {}
    for name, (obs_dim, actions, fields) in CASES.items():
        c = Config.for_env("cartpole", algorithm="pqn", seed=3, **fields)
        fast, ref = learner(c, obs_dim, actions, "auto"), learner(c, obs_dim, actions, "numpy")
        size = c.num_envs * c.num_steps // c.num_minibatches
        out = {"paths": [fast.q.path, ref.q.path], "size": size}
        for step in range(2):
            lf, lref = fast.update(500), ref.update(500)
            out[f"loss_rel_diff_{step}"] = abs(lf - lref) / abs(lref)
            out[f"grad_rel_err_{step}"] = rel(fast.grad, ref.grad)
            out[f"params_max_abs_diff_{step}"] = float(np.abs(fast.q.params - ref.q.params).max())
        # The next minibatch by the kernel's separate calls, from a copy of the fused learner's state.
        K, o = kernel.active(), fast.optimizer
        params, m, v = fast.q.params.copy(), o.m.copy(), o.v.copy()
        idx = fast.order[2 * size:3 * size]  # the third minibatch of the first epoch
        fast.update(500)
        net = K.network(params, fast.q.sizes, True)
        batch, cols = fast.rows[idx], codec.row_slices(obs_dim)
        a = batch[:, cols["action"]].astype(np.int64)
        q, record = net.forward(np.ascontiguousarray(batch[:, cols["obs"]]), keep=True)
        td = q[np.arange(size), a] - fast.returns[idx]
        dq = np.zeros_like(q)
        dq[np.arange(size), a] = (2.0 / size) * td
        grad = np.zeros_like(params)
        net.backward(record, dq, grad)
        _, scale = clip_scale(grad, c.max_grad_norm, K)
        K.adam(params, grad, m, v, scale, o.beta1, o.beta2, o.lr / (1 - o.beta1**o.t), 1 - o.beta2**o.t, o.eps)
        out["separate_calls_equal"] = bool(np.array_equal(params, fast.q.params) and np.array_equal(m, o.m)
                                           and np.array_equal(grad, fast.grad))
        results[name] = out

    c = Config.for_env("cartpole", algorithm="pqn", seed=3, num_envs=32)  # 256 rows, minibatches of 32
    lr = learner(c, 4, 2, "auto")
    lr.update(0)
    step, rows, returns, order, before = lr.fused, lr.rows, lr.returns, lr.order, lr.q.params.copy()
    wild = rows.copy()
    wild[order[5], 4] = 2.0  # an action the 2-action network does not have
    outside = order.copy()
    outside[3] = len(rows)
    net = lr.q.kernel
    read_only = np.zeros_like(lr.grad)
    read_only.flags.writeable = False
    bad = {
        "order int32": lambda: step(rows, returns, order.astype(np.int32), 0, 32, 10.0, 1e-3, 1e-3),
        "row number outside the rollout": lambda: step(rows, returns, outside, 0, 32, 10.0, 1e-3, 1e-3),
        "action outside the network": lambda: step(wild, returns, order, 0, 32, 10.0, 1e-3, 1e-3),
        "returns wrong length": lambda: step(rows, returns[:-1], order, 0, 32, 10.0, 1e-3, 1e-3),
        "rows wrong width": lambda: step(rows[:, :-1], returns, order, 0, 32, 10.0, 1e-3, 1e-3),
        "slice past the order": lambda: step(rows, returns, order, 240, 32, 10.0, 1e-3, 1e-3),
        "empty minibatch": lambda: step(rows, returns, order, 0, 0, 10.0, 1e-3, 1e-3),
        "grad wrong length": lambda: net.pqn_step(np.zeros(5, np.float32), lr.optimizer.m, lr.optimizer.v, 0.9, 0.999,
                                                  1e-8),
        "m read-only": lambda: net.pqn_step(lr.grad, read_only, lr.optimizer.v, 0.9, 0.999, 1e-8),
    }
    errors = {name: error_of(call) for name, call in bad.items()}
    return {"cases": results, "bad_input": errors, "params_untouched": bool(np.array_equal(before, lr.q.params))}


results["bad_input"] = {name: error_of(call) for name, call in bad.items()}
results["guard_intact"] = bool(np.all(guard[40:] == 7.0))
results["select_bad"] = error_of(lambda: kernel.select("gpu"))
results["pqn_step"] = pqn_step_checks()
print("RESULT " + json.dumps(results))
