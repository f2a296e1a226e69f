"""The WebAssembly SIMD kernel for the Q-network (the C files beside this file), and the choice of path.

In Pyodide, numpy has no BLAS and no SIMD: a learner update spends ~75% of its time in ``np.dot`` at ~2.5
GFLOP/s. ``build.py`` compiles the C into a WebAssembly side module, ``robotrain_simd.so``, and ships it
inside ``robotrain.zip`` next to this file; the page's loader (web/js/pyhost.js) hands it to Pyodide's dynamic
linker before Python starts using it (a main thread may not compile a module over 4 KB synchronously, so
``ctypes.CDLL`` alone could not load it there).

Which path runs is a process-wide choice made once, before networks are built:

    select("auto")     # the kernel where it loads (Pyodide with WebAssembly SIMD), else numpy: the default
    select("numpy")    # numpy everywhere (the reference: the command line's numbers on the same platform)
    select("wasm-simd")  # the kernel or an error saying why it cannot load

``active()`` returns the ``Kernel`` in use or None (numpy). Under CPython there is no kernel: numpy with
OpenBLAS is faster there. Every public method of ``Kernel`` checks its arrays (float32, shape, contiguity,
writability) and raises ``ValueError`` naming the argument before any pointer reaches the C code, so bad input
can never write outside an array.
"""

import ctypes
import os
import sys

import numpy as np

from .. import codec

LIBRARY_NAME = "robotrain_simd.so"
LIBRARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY_NAME)
CHOICES = ("auto", "numpy", "wasm-simd")
MAX_LAYERS = 16  # rt_mlp_backward's per-layer tables hold this many layers

_F32 = np.dtype(np.float32)
_P = ctypes.c_void_p
_I = ctypes.c_int
_F = ctypes.c_float

_choice = "auto"
_kernel = None  # the loaded Kernel, once
_load_error = None  # why it could not be loaded, once tried


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _need(name: str, a, shape: tuple, writable: bool = False, row_stride: bool = False) -> int:
    """Check one array argument and return its address. ``row_stride`` allows rows further apart than their
    width (a strided view of a wider matrix), but never a stride inside a row."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != _F32:
        raise ValueError(f"{name} must be float32, got {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if row_stride and a.ndim == 2:
        rows, cols = shape
        if (cols > 1 and a.strides[1] != 4) or (rows > 1 and (a.strides[0] % 4 or a.strides[0] < 4 * cols)):
            raise ValueError(f"{name} rows must be contiguous float32 with a non-negative row stride, got strides {a.strides}")
    elif not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    return _address(a)


def _transition_rows(rows, obs_dim: int) -> tuple[int, int, int]:
    """Check float32 transition rows (count, codec.row_width(obs_dim)); return count, width and their address."""
    count, width = _shape2("rows", rows)
    if width != codec.row_width(obs_dim):
        raise ValueError(f"rows have width {width}; obs_dim {obs_dim} needs {codec.row_width(obs_dim)}")
    return count, width, _need("rows", rows, (count, width))


def _int64_index(name: str, idx) -> int:
    """Check a contiguous 1-D int64 array of row numbers; return its address."""
    if not isinstance(idx, np.ndarray) or idx.dtype != np.int64 or idx.ndim != 1 or not idx.flags.c_contiguous:
        raise ValueError(f"{name} must be a contiguous 1-D int64 array")
    return _address(idx)


def _row_stride(a: np.ndarray) -> int:
    return a.strides[0] // 4 if a.shape[0] > 1 else a.shape[1]


class Kernel:
    """The loaded side module, with checked entry points. One per process (``active()``)."""

    name = "wasm-simd"

    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        sig = {
            "rt_layer_forward": [_P, _I, _P, _P, _P, _I, _I, _I, _I],
            "rt_layer_backward": [_P, _I, _P, _P, _P, _P, _P, _P, _I, _P, _I, _I, _I],
            "rt_mlp_forward": [_P, _P, _I, _I, _P, _I, _I, _P, _P],
            "rt_mlp_backward": [_P, _P, _I, _I, _P, _I, _I, _P, _P, _P, _P],
            "rt_sumsq": [_P, _I],
            "rt_adam": [_P, _P, _P, _P, _I, _F, _F, _F, _F, _F, _F, _F, _F],
            "rt_replay_gather": [_P, _I, _I, _I, _P, _I, _I, _F, _P, _P],
            "rt_soft_update": [_P, _P, _I, _F, _F],
            "rt_pqn_step": [_P, _I, _I, ctypes.c_double, _F, _F],
        }
        for fn, args in sig.items():
            getattr(lib, fn).argtypes = args
            getattr(lib, fn).restype = None
        lib.rt_sumsq.restype = lib.rt_pqn_step.restype = _F

    # ---- one layer ----

    def layer_forward(self, x: np.ndarray, W: np.ndarray, b: np.ndarray, relu: bool, out: np.ndarray) -> np.ndarray:
        """``out = x @ W + b`` (ReLU'd if ``relu``): x (n, k) rows may be strided, W (k, m), b (m,), out (n, m)."""
        n, k = _shape2("x", x)
        m = _shape2("W", W)[1]
        self.lib.rt_layer_forward(_need("x", x, (n, k), row_stride=True), _row_stride(x), _need("W", W, (k, m)),
                                  _need("b", b, (m,)), _need("out", out, (n, m), writable=True), n, k, m, int(bool(relu)))
        return out

    def layer_backward(self, x: np.ndarray, W: np.ndarray, dy: np.ndarray, gW: np.ndarray, gb: np.ndarray,
                       dx: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        """Gradients of ``y = x @ W + b`` given dy (n, m): gW (k, m) = x.T @ dy, gb (m,) = dy summed over rows,
        and if ``dx`` (n, k) is given, dx = dy @ W.T, zeroed where ``mask`` (n, k) <= 0 when a mask is given."""
        n, k = _shape2("x", x)
        m = _shape2("W", W)[1]
        if mask is not None and dx is None:
            raise ValueError("mask needs dx")
        px = _need("x", x, (n, k), row_stride=True)
        pdx = _need("dx", dx, (n, k), writable=True) if dx is not None else None
        pmask = _need("mask", mask, (n, k), row_stride=True) if mask is not None else None
        wt = np.empty(k * m, dtype=np.float32)
        self.lib.rt_layer_backward(px, _row_stride(x), _need("W", W, (k, m)), _need("dy", dy, (n, m)),
                                   _need("gW", gW, (k, m), writable=True), _need("gb", gb, (m,), writable=True),
                                   pdx, pmask, _row_stride(mask) if mask is not None else k, _address(wt), n, k, m)

    # ---- replay sampling ----

    def replay_gather(self, rows: np.ndarray, idx: np.ndarray, obs_dim: int, n_step: int, gamma: float):
        """n-step transitions for the sampled ring rows ``idx`` (see ReplayBuffer.sample): returns ``out`` (n, W),
        the sampled rows with reward, next_obs, terminated and truncated of the n-step transition, and
        ``discount`` (n,). Every index must lie in the ring."""
        capacity, width, prows = _transition_rows(rows, int(obs_dim))
        pidx = _int64_index("idx", idx)
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= capacity):
            raise ValueError(f"idx must lie in [0, {capacity})")
        if int(n_step) < 1:
            raise ValueError(f"n_step must be at least 1, got {n_step}")
        n = len(idx)
        out = np.empty((n, width), dtype=np.float32)
        discount = np.empty(n, dtype=np.float32)
        self.lib.rt_replay_gather(prows, capacity, width, int(obs_dim), pidx,
                                  n, int(n_step), np.float32(gamma), _address(out), _address(discount))
        return out, discount

    # ---- the optimizer ----

    def sumsq(self, x: np.ndarray) -> float:
        """Sum of squares of a float32 vector, accumulated in float32."""
        return float(self.lib.rt_sumsq(_need("x", x, (_len1("x", x),)), x.shape[0]))

    def soft_update(self, target: np.ndarray, online: np.ndarray, tau: float) -> None:
        """``target = target * (1 - tau) + tau * online`` in place (the soft target-network update)."""
        n = _len1("target", target)
        self.lib.rt_soft_update(_need("target", target, (n,), True), _need("online", online, (n,)), n, float(1.0 - tau), float(tau))

    def adam(self, params, grad, m, v, gscale: float, beta1: float, beta2: float, step_size: float, bc2: float,
             eps: float) -> None:
        """One Adam step on flat float32 vectors of one length, in place (see ``rt_adam`` in optimizer.c)."""
        n = _len1("params", params)
        # Plain Python floats: ctypes rounds them to float32 as np.float32() would, and eight np.float32 scalars
        # cost ~15 us a call in Pyodide (a fifth of a small network's update).
        f = float
        self.lib.rt_adam(_need("params", params, (n,), True), _need("grad", grad, (n,), True),
                         _need("m", m, (n,), True), _need("v", v, (n,), True), n, f(gscale), f(beta1),
                         f(1 - beta1), f(beta2), f(1 - beta2), f(step_size), f(bc2), f(eps))

    def network(self, params: np.ndarray, sizes: list[int], layer_norm: bool = False) -> "NetworkKernel":
        """Whole-network passes over ``params`` (the flat vector of robotrain.qnet's layout for ``sizes`` and
        ``layer_norm``)."""
        return NetworkKernel(self, params, sizes, layer_norm)


class NetworkKernel:
    """One network's forward and backward in one C call each. The parameter vector's address is taken once (it
    never moves: ``QNetwork.params`` is allocated once); per call only the batch arrays are checked, and each
    address is taken once (~2 us each in Pyodide, a third of a small network's pass once added up).

    With ``layer_norm`` every hidden layer is LayerNorm then ReLU (robotrain.qnet), and the forward pass's record
    also keeps each hidden layer's normalized pre-activation and 1 / std per row for the backward pass."""

    def __init__(self, kernel: Kernel, params: np.ndarray, sizes: list[int], layer_norm: bool = False):
        sizes = [int(s) for s in sizes]
        if not 2 <= len(sizes) <= MAX_LAYERS + 1 or min(sizes) < 1:
            raise ValueError(f"layer sizes {sizes} must be 2 to {MAX_LAYERS + 1} positive widths")
        self.layer_norm = bool(layer_norm)
        count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])) + (2 * sum(sizes[1:-1]) if layer_norm else 0)
        self.lib = kernel.lib
        self.params = params
        self._params_ptr = _need("params", params, (count,))
        self.sizes = np.array(sizes, dtype=np.int32)
        self._sizes_ptr = _address(self.sizes)
        self.layers = len(sizes) - 1
        self.obs_dim, self.out_dim = sizes[0], sizes[-1]
        hidden_total = sum(sizes[1:-1])
        # Floats of the forward record per batch row: hidden outputs, and with LayerNorm zhat and 1 / std too.
        self.record_width = hidden_total + (hidden_total + self.layers - 1 if layer_norm else 0)
        self.widest_hidden = max(sizes[1:-1], default=0)
        self.widest_layer = max(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        # Buffers reused across calls (grown when a batch is larger), with their addresses: the backward pass's
        # scratch, and the record of a forward pass whose record nobody keeps.
        self._scratch, self._scratch_ptr = _buffer(0)
        self._spare, self._spare_ptr = _buffer(0)

    def forward(self, x: np.ndarray, keep: bool = False):
        """Q-values (n, out) for x (n, obs_dim; rows may be strided). With ``keep``, also the record of the pass
        (what ``backward`` needs), else only the Q-values."""
        n, k = _shape2("x", x)
        px = _need("x", x, (n, self.obs_dim), row_stride=True)
        ldx, size = _row_stride(x), n * self.record_width
        if keep:  # one new buffer: the record, then the Q-values
            buf, pbuf = _buffer(size + n * self.out_dim)
            out, pout = buf[size:].reshape(n, self.out_dim), pbuf + 4 * size
        else:
            if self._spare.size < size:
                self._spare, self._spare_ptr = _buffer(size)
            pbuf = self._spare_ptr
            out = np.empty((n, self.out_dim), dtype=np.float32)
            pout = _address(out)
        self.lib.rt_mlp_forward(self._params_ptr, self._sizes_ptr, self.layers, int(self.layer_norm), px, ldx, n,
                                pbuf, pout)
        return (out, _Record(self, x, px, ldx, buf, pbuf)) if keep else out

    def backward(self, record, dout: np.ndarray, grad: np.ndarray) -> None:
        """Write d(loss)/d(params) into ``grad`` given ``forward(x, keep=True)``'s record and dout (n, out)."""
        if not isinstance(record, _Record) or record.network is not self:
            raise ValueError("record must come from this network's forward(x, keep=True)")
        n = record.n
        pd = _need("dout", dout, (n, self.out_dim))
        pg = _need("grad", grad, self.params.shape, writable=True)
        need = 2 * n * self.widest_hidden + self.widest_layer
        if self._scratch.size < need:
            self._scratch, self._scratch_ptr = _buffer(need)
        self.lib.rt_mlp_backward(self._params_ptr, self._sizes_ptr, self.layers, int(self.layer_norm), record.px,
                                 record.ldx, n, record.pbuf, pd, pg, self._scratch_ptr)

    def pqn_step(self, grad: np.ndarray, m: np.ndarray, v: np.ndarray, beta1: float, beta2: float,
                 eps: float) -> "PQNStep":
        """PQN's whole minibatch step on this network, writing the gradient into ``grad`` and stepping Adam with
        moments ``m`` and ``v`` (all like params) and constants beta1, beta2, eps: see ``PQNStep``."""
        return PQNStep(self, grad, m, v, beta1, beta2, eps)


class _PQNStepArgs(ctypes.Structure):
    """``struct pqn_step`` in pqn_step.c: what PQN's steps share (4-byte fields: pointers are 32 bits in wasm32)."""

    _fields_ = [("params", _P), ("sizes", _P), ("layers", _I), ("layer_norm", _I), ("count", _I), ("record", _I),
                ("rows", _P), ("N", _I), ("width", _I), ("returns", _P), ("order", _P), ("grad", _P), ("m", _P),
                ("v", _P), ("scratch", _P), ("b1", _F), ("omb1", _F), ("b2", _F), ("omb2", _F), ("eps", _F)]


class PQNStep:
    """One PQN learner update in one C call (``rt_pqn_step`` in pqn_step.c: gather the minibatch, forward, TD error
    against the Q(lambda) targets, MSE loss, backward, clipping factor, Adam). Done as separate calls with
    numpy's glue between them, a cartpole update (minibatch 32, 4-64-64-2) took ~140 us under Node, ~100 us of it
    around ~40 us of arithmetic; fused, ~50 us (docs/kernel.md).

    grad, m and v are checked once and held (``PQNLearner`` never reallocates them), as are the rollout and the
    epoch's order last given (they change once per rollout or epoch; a minibatch is a slice of the order): their
    addresses wait in the C struct, and per call only the slice's bounds are checked here, its row numbers and
    their rows' actions in C, before anything is written."""

    def __init__(self, network: NetworkKernel, grad, m, v, beta1: float, beta2: float, eps: float):
        shape = network.params.shape
        self.network, self.grad, self.m, self.v = network, grad, m, v
        self._fn = network.lib.rt_pqn_step
        # Adam's constants: ctypes rounds them to float32 as numpy rounds a Python float (Kernel.adam's arguments).
        self._args = _PQNStepArgs(params=network._params_ptr, sizes=network._sizes_ptr, layers=network.layers,
                                  layer_norm=int(network.layer_norm), count=shape[0],
                                  record=network.record_width, grad=_need("grad", grad, shape, True),
                                  m=_need("m", m, shape, True), v=_need("v", v, shape, True), b1=beta1,
                                  omb1=1.0 - beta1, b2=beta2, omb2=1.0 - beta2, eps=eps)
        self._args_ptr = ctypes.addressof(self._args)
        self._rows = self._returns = self._order = None  # the rollout and order in the struct
        self._count = self._length = self._scratch_rows = 0  # their N, len(order); rows the scratch holds
        self._scratch = None

    def _take(self, rows, returns, order) -> None:
        """Check a new rollout or order and put their addresses in the struct."""
        count, width, prows = _transition_rows(rows, self.network.obs_dim)
        preturns, porder = _need("returns", returns, (count,)), _int64_index("order", order)
        a = self._args
        a.rows, a.N, a.width, a.returns, a.order = prows, count, width, preturns, porder
        self._rows, self._returns, self._order = rows, returns, order
        self._count, self._length = count, order.shape[0]

    def __call__(self, rows: np.ndarray, returns: np.ndarray, order: np.ndarray, start: int, n: int,
                 max_norm: float, step_size: float, bc2: float) -> float:
        """Step on the rows ``order[start:start + n]`` (order: int64 row numbers, n >= 1) of ``rows`` (N, width;
        robotrain.codec's transition rows) with their targets ``returns`` (N,): the parameters, grad (clipped),
        m and v change in place; returns the loss. ``step_size`` and ``bc2`` are Adam's lr / (1 - beta1^t) and
        1 - beta2^t (see ``rt_adam``)."""
        if rows is not self._rows or returns is not self._returns or order is not self._order:
            self._take(rows, returns, order)
        if not (0 <= start and 1 <= n and start + n <= self._length):
            raise ValueError(f"start {start} and n {n} must pick at least one of the order's {self._length} rows")
        if n > self._scratch_rows:
            net = self.network
            need = n * (net.obs_dim + net.record_width + net.out_dim + 2 * net.widest_hidden) + net.widest_layer
            self._scratch, self._args.scratch = _buffer(need)
            self._scratch_rows = n
        loss = self._fn(self._args_ptr, start, n, max_norm, step_size, bc2)
        if loss == -1.0:
            raise ValueError(f"order: its row numbers must lie in [0, {self._count})")
        if loss == -2.0:
            raise ValueError(f"rows: the action of every sampled row must be in [0, {self.network.out_dim})")
        return loss


class _Record:
    """What a forward pass leaves for the backward pass: its input x and its record buffer (hidden outputs, and
    with LayerNorm zhat and 1 / std), checked and addressed when the forward pass ran. Holding both arrays keeps
    the addresses valid (numpy refuses to resize an array something else refers to)."""

    __slots__ = ("network", "x", "px", "ldx", "n", "buf", "pbuf")

    def __init__(self, network, x, px, ldx, buf, pbuf):
        self.network, self.x, self.px, self.ldx, self.n, self.buf, self.pbuf = network, x, px, ldx, x.shape[0], buf, pbuf


def _buffer(size: int) -> tuple[np.ndarray, int]:
    """A new float32 buffer of ``size`` floats and its address."""
    a = np.empty(size, dtype=np.float32)
    return a, _address(a)


def _shape2(name: str, a) -> tuple[int, int]:
    if not isinstance(a, np.ndarray) or a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D numpy array, got {getattr(a, 'shape', type(a).__name__)}")
    return a.shape


def _len1(name: str, a) -> int:
    if not isinstance(a, np.ndarray) or a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D numpy array, got {getattr(a, 'shape', type(a).__name__)}")
    return a.shape[0]


def load() -> Kernel:
    """The kernel of this process, loading it the first time; ``OSError`` saying why it cannot run here."""
    global _kernel, _load_error
    if _kernel is not None:
        return _kernel
    if _load_error is None:
        if sys.platform != "emscripten":
            _load_error = "the SIMD kernel runs only in Pyodide (numpy with BLAS is faster here)"
        elif not os.path.exists(LIBRARY_PATH):
            _load_error = f"{LIBRARY_NAME} is not in this build"
        else:
            try:
                _kernel = Kernel(ctypes.CDLL(LIBRARY_PATH))
                return _kernel
            except (OSError, AttributeError) as e:  # no WebAssembly SIMD in this engine, or a broken file
                _load_error = f"could not load {LIBRARY_NAME}: {e}"
    raise OSError(_load_error)


def mark_unavailable(reason: str) -> None:
    """Record that the kernel cannot load here (the page's loader could not instantiate it: an engine without
    WebAssembly SIMD, say), so ``auto`` is numpy and ``wasm-simd`` fails with this reason."""
    global _load_error
    if _kernel is None:
        _load_error = f"could not load {LIBRARY_NAME}: {reason}"


def select(choice: str) -> str:
    """Choose the path for networks built from now on; returns the path that will run (``name()``)."""
    global _choice
    if choice not in CHOICES:
        raise ValueError(f"kernel must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "wasm-simd":
        load()
    _choice = choice
    return name()


def active() -> Kernel | None:
    """The kernel networks should use now, or None for numpy."""
    if _choice == "numpy":
        return None
    try:
        return load()
    except OSError:
        if _choice == "wasm-simd":
            raise
        return None


def name() -> str:
    """``"wasm-simd"`` or ``"numpy"``: the path networks built now use."""
    return "numpy" if active() is None else Kernel.name


def status() -> dict:
    """What the page shows: the path, the choice, and why the kernel is not running when it is not."""
    path = name()
    return {"kernel": path, "choice": _choice, "reason": None if path == Kernel.name else (_load_error or "numpy selected")}
