"""PQN's fused minibatch step (robotrain.kernel.PQNStep, rt_pqn_step) in Pyodide, for tests/test_kernel.py: against
the numpy path and against the kernel's separate calls, and bad input. Prints one line, RESULT {json}.

Each case: two PQNLearners from one seed (kernel, numpy) ingest the same random rollout and make two updates (the
first also computes the targets); then the kernel learner's next minibatch, stepped by the separate calls from a
copy of its state, must give the fused step's parameters bit for bit. Minibatches of 32 and 23 rows (not a multiple
of the SIMD width), widths 7 and 33, 3 actions, and a max_grad_norm that clips.
"""

import json

import numpy as np

from robotrain import codec, kernel
from robotrain.config import Config
from robotrain.pqn import PQNLearner
from robotrain.qnet import clip_scale

CASES = {  # name: obs_dim, actions, Config fields; cartpole's rollout is 32 lanes x 8 steps (256 rows)
    "cartpole default, minibatch 32": (4, 2, {}),
    "120-84, minibatch 23, clipped": (4, 2, {"hidden_sizes": (120, 84), "num_minibatches": 11, "max_grad_norm": 0.01}),
    "5-7-33-3, minibatch 23": (5, 3, {"hidden_sizes": (7, 33), "num_minibatches": 11}),
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


def error_of(call):
    try:
        call()
    except ValueError as e:
        return f"ValueError: {e}"
    except Exception as e:  # noqa: BLE001 - reported, and the test fails on it
        return f"{type(e).__name__}: {e}"
    return None


c = Config.for_env("cartpole", algorithm="pqn", seed=3)
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
print("RESULT " + json.dumps({"cases": results, "bad_input": errors,
                              "params_untouched": bool(np.array_equal(before, lr.q.params))}))
