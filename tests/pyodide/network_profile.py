"""Forward + backward of one minibatch through PQN's LayerNorm Q-networks, kernel against numpy, in this
interpreter (docs/kernel.md's LayerNorm table):

    node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON tests/pyodide/run.mjs dist tests/pyodide/network_profile.py

Each figure is the median over 25 runs of 10 calls (the kernel's and numpy's runs alternate, so both see the
same load), printed with the host's load averages when it finished: the machine is shared. The plain network
of the same shape on the kernel is printed beside it (what LayerNorm costs), and the kernel's forward passes
alone: the LayerNorm one is about what recomputing the normalized pre-activations in the backward pass would
cost instead of storing them.
"""

import time

import numpy as np
from js import hostLoadavg

from robotrain import kernel
from robotrain.qnet import QNetwork

assert kernel.name() == "wasm-simd", kernel.status()
RUNS, CALLS = 25, 10


def pair(net, x, dout, grad):
    """What one minibatch update asks of the network: a forward pass keeping its record, then backward."""
    _, cache = net.forward_cached(x)
    net.backward(cache, dout, grad)


def run_us(fn):
    t0 = time.perf_counter()
    for _ in range(CALLS):
        fn()
    return (time.perf_counter() - t0) / CALLS * 1e6


def medians_us(cases: dict) -> dict:
    """Median us per call of each case: one warm-up each (the engine's optimizing tiers), then RUNS rounds in
    which the cases take turns, so a change in the machine's load falls on all of them alike."""
    for fn in cases.values():
        run_us(fn)
    times = {name: [] for name in cases}
    for _ in range(RUNS):
        for name, fn in cases.items():
            times[name].append(run_us(fn))
    return {name: float(np.median(t)) for name, t in times.items()}


print(f"{'network':<20}{'batch':>6}{'kernel LN':>11}{'numpy LN':>10}{'speedup':>9}{'kernel plain':>14}"
      f"{'LN fwd':>8}{'plain fwd':>11}   load average")
for obs_dim, hidden, actions in [(4, (64, 64), 2), (4, (120, 84), 2), (6, (128, 128), 7)]:
    for n in (64, 128):
        rng = np.random.default_rng(0)
        ln = QNetwork(obs_dim, actions, hidden, rng, layer_norm=True)
        ref = QNetwork(obs_dim, actions, hidden, layer_norm=True)
        ref.kernel = None  # the numpy path
        ref.params[:] = ln.params
        plain = QNetwork(obs_dim, actions, hidden, rng)
        x = rng.standard_normal((n, obs_dim)).astype(np.float32)
        dout = rng.standard_normal((n, actions)).astype(np.float32)
        grad, plain_grad = np.zeros_like(ln.params), np.zeros_like(plain.params)
        cases = {
            "kernel LN": lambda: pair(ln, x, dout, grad),
            "numpy LN": lambda: pair(ref, x, dout, grad),
            "kernel plain": lambda: pair(plain, x, dout, plain_grad),
            "LN fwd": lambda: ln.forward(x),
            "plain fwd": lambda: plain.forward(x),
        }
        med = medians_us(cases)
        shape = f"{obs_dim}-{'-'.join(map(str, hidden))}-{actions}"
        print(f"{shape:<20}{n:>6}{med['kernel LN']:>9.0f}us{med['numpy LN']:>8.0f}us"
              f"{med['numpy LN'] / med['kernel LN']:>8.1f}x{med['kernel plain']:>12.0f}us{med['LN fwd']:>6.0f}us{med['plain fwd']:>9.0f}us"
              f"   {hostLoadavg()}")

# What an actor asks each env step: Q-values for its lanes, no record.
print(f"\n{'forward only':<20}{'batch':>6}{'kernel LN':>11}{'numpy LN':>10}{'speedup':>9}   load average")
for obs_dim, hidden, actions in [(4, (120, 84), 2), (6, (128, 128), 7)]:
    for n in (1, 8, 32):
        rng = np.random.default_rng(0)
        ln = QNetwork(obs_dim, actions, hidden, rng, layer_norm=True)
        ref = QNetwork(obs_dim, actions, hidden, layer_norm=True)
        ref.kernel = None
        ref.params[:] = ln.params
        x = rng.standard_normal((n, obs_dim)).astype(np.float32)
        med = medians_us({"kernel": lambda: ln.forward(x), "numpy": lambda: ref.forward(x)})
        shape = f"{obs_dim}-{'-'.join(map(str, hidden))}-{actions}"
        print(f"{shape:<20}{n:>6}{med['kernel']:>9.1f}us{med['numpy']:>8.1f}us{med['numpy'] / med['kernel']:>8.1f}x"
              f"   {hostLoadavg()}")
