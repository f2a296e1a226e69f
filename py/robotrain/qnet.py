"""A float32 multilayer perceptron Q-network in numpy: forward, hand-written backward, Adam, one flat vector.

Every parameter lives in one contiguous float32 vector ``params`` (P,). The layer weights ``W[i]`` (in, out)
and biases ``b[i]`` (out,) are views into it, so weights cross a worker boundary as one buffer and an optimizer
step is a handful of whole-vector operations. Layout: for each layer in order, W row-major then b.

Two paths compute the same passes: numpy (the reference, and the path under CPython, where BLAS is fast) and,
in Pyodide, the WebAssembly SIMD kernel (``robotrain.kernel``), one C call per pass, when ``kernel.active()``
returns it as the network is built. numpy products use ``np.dot`` rather than ``@``: the same BLAS call under
CPython, but in Pyodide's numpy (no BLAS) ``np.dot`` is about 1.6x faster than ``matmul`` for these shapes.
"""

import numpy as np

from . import kernel as simd


def layer_sizes(obs_dim: int, hidden_sizes, num_actions: int) -> list[int]:
    return [int(obs_dim), *(int(h) for h in hidden_sizes), int(num_actions)]


def num_params(sizes: list[int]) -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


class QNetwork:
    """MLP with ReLU hidden layers and a linear output of one Q-value per action."""

    def __init__(self, obs_dim: int, num_actions: int, hidden_sizes=(64, 64), rng: np.random.Generator | None = None):
        self.sizes = layer_sizes(obs_dim, hidden_sizes, num_actions)
        self.params = np.zeros(num_params(self.sizes), dtype=np.float32)
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        offset = 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            self.W.append(self.params[offset:offset + n_in * n_out].reshape(n_in, n_out))
            offset += n_in * n_out
            self.b.append(self.params[offset:offset + n_out])
            offset += n_out
        if rng is not None:
            self.init(rng)
        k = simd.active()
        # The kernel's passes read ``params`` in place: it is never reallocated (set_params copies into it).
        self.kernel = k.network(self.params, self.sizes) if k is not None else None

    def init(self, rng: np.random.Generator) -> None:
        """PyTorch's default Linear init (what CleanRL's networks get): U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        for W, b in zip(self.W, self.b):
            bound = 1.0 / np.sqrt(W.shape[0])
            W[:] = rng.uniform(-bound, bound, W.shape)
            b[:] = rng.uniform(-bound, bound, b.shape)

    def set_params(self, flat: np.ndarray) -> None:
        """Copy a flat parameter vector in; ``ValueError`` on wrong length, dtype or non-finite values."""
        flat = np.asarray(flat)
        if flat.shape != self.params.shape:
            raise ValueError(f"weight vector has shape {flat.shape}; this network needs ({len(self.params)},)")
        if flat.dtype != np.float32:
            raise ValueError(f"weight vector must be float32, got {flat.dtype}")
        if not np.all(np.isfinite(flat)):
            raise ValueError("weight vector contains NaN or Inf")
        self.params[:] = flat

    @property
    def path(self) -> str:
        """``"wasm-simd"`` or ``"numpy"``: which code computes this network's passes."""
        return simd.Kernel.name if self.kernel is not None else "numpy"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Q-values (n, num_actions) float32 for observations ``x`` (n, obs_dim)."""
        if self.kernel is not None:
            return self.kernel.forward(np.asarray(x, dtype=np.float32))
        h = x
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            h = np.dot(h, W)
            h += b
            if i < last:
                np.maximum(h, 0.0, out=h)
        return h

    def forward_cached(self, x: np.ndarray) -> tuple[np.ndarray, object]:
        """Forward pass that also returns what ``backward`` needs (numpy: each layer's input)."""
        if self.kernel is not None:
            return self.kernel.forward(np.asarray(x, dtype=np.float32), keep=True)
        inputs = []
        h = x
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            inputs.append(h)
            h = np.dot(h, W)
            h += b
            if i < last:
                np.maximum(h, 0.0, out=h)
        return h, inputs

    def backward(self, cache, dout: np.ndarray, grad: np.ndarray) -> None:
        """Write d(loss)/d(params) into ``grad`` (P,), given ``forward_cached``'s cache and d(loss)/d(output) (n, A)."""
        if self.kernel is not None:
            self.kernel.backward(cache, dout, grad)
            return
        inputs = cache
        g_views = self._views(grad)
        d = dout
        for i in range(len(self.W) - 1, -1, -1):
            gW, gb = g_views[i]
            np.dot(inputs[i].T, d, out=gW)
            d.sum(axis=0, out=gb)
            if i > 0:
                d = np.dot(d, self.W[i].T)
                # inputs[i] is the ReLU output of layer i-1: its gradient passes only where it was positive.
                d *= inputs[i] > 0

    def _views(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        views, offset = [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w = flat[offset:offset + n_in * n_out].reshape(n_in, n_out)
            offset += n_in * n_out
            views.append((w, flat[offset:offset + n_out]))
            offset += n_out
        return views


def huber(td: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean Huber loss (delta 1, PyTorch's smooth_l1_loss) of TD errors ``td`` (n,) and its gradient (n,)."""
    a = np.abs(td)
    loss = np.where(a <= 1.0, 0.5 * td * td, a - 0.5).mean()
    return float(loss), np.clip(td, -1.0, 1.0) / len(td)


def clip_scale(grad: np.ndarray, max_norm: float, kernel=None) -> tuple[float, float]:
    """The L2 norm of ``grad`` and the factor that brings it to at most ``max_norm`` (1.0 when it is within);
    ``kernel``: the caller's robotrain.kernel.Kernel, or None for numpy."""
    norm = float(np.sqrt(kernel.sumsq(grad) if kernel is not None else np.dot(grad, grad)))
    return norm, (max_norm / (norm + 1e-6) if norm > max_norm else 1.0)


def clip_grad_norm(grad: np.ndarray, max_norm: float) -> float:
    """Scale ``grad`` in place so its L2 norm is at most ``max_norm``; return the norm before clipping."""
    norm, scale = clip_scale(grad, max_norm)
    if scale != 1.0:
        grad *= scale
    return norm


class Adam:
    """Adam (Kingma & Ba 2015) on one flat float32 vector, with PyTorch's defaults for betas and eps."""

    def __init__(self, size: int, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, betas[0], betas[1], eps
        self.m = np.zeros(size, dtype=np.float32)
        self.v = np.zeros(size, dtype=np.float32)
        self.t = 0
        self.kernel = simd.active()

    def step(self, params: np.ndarray, grad: np.ndarray, grad_scale: float = 1.0) -> None:
        """One step; ``grad`` is first multiplied in place by ``grad_scale`` (the clipping factor)."""
        self.t += 1
        step_size = self.lr / (1 - self.beta1**self.t)
        if self.kernel is not None:
            # The same float32 operations in the same order as below, in one pass over the vectors.
            self.kernel.adam(params, grad, self.m, self.v, grad_scale, self.beta1, self.beta2, step_size,
                             1 - self.beta2**self.t, self.eps)
            return
        if grad_scale != 1.0:
            grad *= grad_scale
        self.m *= self.beta1
        self.m += (1 - self.beta1) * grad
        self.v *= self.beta2
        self.v += (1 - self.beta2) * grad * grad
        denom = np.sqrt(self.v / (1 - self.beta2**self.t))
        denom += self.eps
        params -= (step_size * self.m / denom).astype(np.float32)
