"""A float32 multilayer perceptron Q-network in numpy: forward, hand-written backward, Adam, one flat vector.

Every parameter lives in one contiguous float32 vector ``params`` (P,). The layer weights ``W[i]`` (in, out)
and biases ``b[i]`` (out,) are views into it, so weights cross a worker boundary as one buffer and an optimizer
step is a handful of whole-vector operations. Layout: for each layer in order, W row-major then b, and with
``layer_norm`` each hidden layer's LayerNorm gain then offset (out,) after its b.

A hidden layer is ``relu(z)``, or with ``layer_norm`` (PQN's network, CleanRL's ``pqn.py``: Linear, LayerNorm,
ReLU) ``relu(gain * (z - mean(z)) / sqrt(var(z) + LN_EPS) + offset)``, where ``z = x W + b`` and the mean and
(biased) variance run over the layer's units of each row, as in PyTorch's ``nn.LayerNorm``.

Two paths compute the same passes: numpy (the reference, and the path under CPython, where BLAS is fast) and,
in Pyodide, the WebAssembly SIMD kernel (``robotrain.kernel``), one C call per pass, when ``kernel.active()``
returns it as the network is built. numpy products use ``np.dot`` rather than ``@``: the same BLAS call under
CPython, but in Pyodide's numpy (no BLAS) ``np.dot`` is about 1.6x faster than ``matmul`` for these shapes.
"""

import numpy as np

from . import kernel as simd


def layer_sizes(obs_dim: int, hidden_sizes, num_actions: int) -> list[int]:
    return [int(obs_dim), *(int(h) for h in hidden_sizes), int(num_actions)]


LN_EPS = 1e-5  # LayerNorm's variance floor (PyTorch's default)


def num_params(sizes: list[int], layer_norm: bool = False) -> int:
    hidden = sum(sizes[1:-1]) if layer_norm else 0
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])) + 2 * hidden


class QNetwork:
    """MLP with ReLU hidden layers (LayerNorm before each ReLU with ``layer_norm``) and a linear output of one
    Q-value per action."""

    def __init__(self, obs_dim: int, num_actions: int, hidden_sizes=(64, 64), rng: np.random.Generator | None = None,
                 layer_norm: bool = False):
        self.sizes = layer_sizes(obs_dim, hidden_sizes, num_actions)
        self.layer_norm = bool(layer_norm)
        self.params = np.zeros(num_params(self.sizes, self.layer_norm), dtype=np.float32)
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.gain: list[np.ndarray] = []  # LayerNorm gain and offset per hidden layer (empty without layer_norm)
        self.offset: list[np.ndarray] = []
        self._views_of(self.params, self.W, self.b, self.gain, self.offset)
        for g in self.gain:
            g[:] = 1.0  # PyTorch's LayerNorm init; also the value without an rng
        if rng is not None:
            self.init(rng)
        k = simd.active()
        # The kernel's passes read ``params`` in place: it is never reallocated (set_params copies into it).
        self.kernel = k.network(self.params, self.sizes, self.layer_norm) if k is not None else None

    def _views_of(self, flat: np.ndarray, W: list, b: list, gain: list, offset: list) -> None:
        """Append the per-layer views of ``flat`` (params or a gradient of the same layout) to the lists."""
        at, last = 0, len(self.sizes) - 2
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            W.append(flat[at:at + n_in * n_out].reshape(n_in, n_out))
            at += n_in * n_out
            b.append(flat[at:at + n_out])
            at += n_out
            if self.layer_norm and i < last:
                gain.append(flat[at:at + n_out])
                offset.append(flat[at + n_out:at + 2 * n_out])
                at += 2 * n_out

    def init(self, rng: np.random.Generator) -> None:
        """PyTorch's default Linear init (what CleanRL's networks get): U(-1/sqrt(fan_in), 1/sqrt(fan_in));
        LayerNorm gain 1 and offset 0."""
        for W, b in zip(self.W, self.b):
            bound = 1.0 / np.sqrt(W.shape[0])
            W[:] = rng.uniform(-bound, bound, W.shape)
            b[:] = rng.uniform(-bound, bound, b.shape)
        for g, o in zip(self.gain, self.offset):
            g[:] = 1.0
            o[:] = 0.0

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
        return self._forward(x, None)

    def forward_cached(self, x: np.ndarray) -> tuple[np.ndarray, object]:
        """Forward pass that also returns what ``backward`` needs (numpy: per layer its input, and with
        LayerNorm the normalized pre-activation and 1 / sqrt(var + eps))."""
        if self.kernel is not None:
            return self.kernel.forward(np.asarray(x, dtype=np.float32), keep=True)
        cache = []
        return self._forward(x, cache), cache

    def _forward(self, x: np.ndarray, cache: list | None) -> np.ndarray:
        h = x
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            x_in = h
            h = np.dot(h, W)
            h += b
            if i < last and self.layer_norm:
                h -= h.mean(axis=1, keepdims=True)
                inv_std = (1.0 / np.sqrt((h * h).mean(axis=1, keepdims=True) + LN_EPS)).astype(np.float32)
                h *= inv_std  # now the normalized pre-activation, (n, out)
                if cache is not None:
                    cache.append((x_in, h.copy(), inv_std))
                h *= self.gain[i]
                h += self.offset[i]
            elif cache is not None:
                cache.append((x_in,))
            if i < last:
                np.maximum(h, 0.0, out=h)
        return h

    def backward(self, cache, dout: np.ndarray, grad: np.ndarray) -> None:
        """Write d(loss)/d(params) into ``grad`` (P,), given ``forward_cached``'s cache and d(loss)/d(output) (n, A)."""
        if self.kernel is not None:
            self.kernel.backward(cache, dout, grad)
            return
        gW, gb, g_gain, g_offset = [], [], [], []
        self._views_of(grad, gW, gb, g_gain, g_offset)
        d = dout  # d(loss)/d(this layer's output), (n, out)
        for i in range(len(self.W) - 1, -1, -1):
            if len(cache[i]) == 3:  # a LayerNorm layer: d is the gradient after it (ReLU already applied)
                _, zhat, inv_std = cache[i]
                np.sum(d * zhat, axis=0, out=g_gain[i])
                d.sum(axis=0, out=g_offset[i])
                dz = d * self.gain[i]
                # Through the normalization: inv_std * (dz - mean(dz) - zhat * mean(dz * zhat)), per row.
                dz -= dz.mean(axis=1, keepdims=True) + zhat * (dz * zhat).mean(axis=1, keepdims=True)
                dz *= inv_std
                d = dz
            x_in = cache[i][0]
            np.dot(x_in.T, d, out=gW[i])
            d.sum(axis=0, out=gb[i])
            if i > 0:
                d = np.dot(d, self.W[i].T)
                # The input of layer i is the ReLU output of layer i - 1: its gradient passes only where it was
                # positive (x_in > 0 exactly where the ReLU's input was).
                d *= x_in > 0

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

    def advance(self) -> tuple[float, float]:
        """Count one step; return its step size lr / (1 - beta1^t) and bias correction 1 - beta2^t (what
        ``step`` and the kernel's fused steps use)."""
        self.t += 1
        return self.lr / (1 - self.beta1**self.t), 1 - self.beta2**self.t

    def step(self, params: np.ndarray, grad: np.ndarray, grad_scale: float = 1.0) -> None:
        """One step; ``grad`` is first multiplied in place by ``grad_scale`` (the clipping factor)."""
        step_size, bc2 = self.advance()
        if self.kernel is not None:
            # The same float32 operations in the same order as below, in one pass over the vectors.
            self.kernel.adam(params, grad, self.m, self.v, grad_scale, self.beta1, self.beta2, step_size, bc2,
                             self.eps)
            return
        if grad_scale != 1.0:
            grad *= grad_scale
        self.m *= self.beta1
        self.m += (1 - self.beta1) * grad
        self.v *= self.beta2
        self.v += (1 - self.beta2) * grad * grad
        denom = np.sqrt(self.v / bc2)
        denom += self.eps
        params -= (step_size * self.m / denom).astype(np.float32)
