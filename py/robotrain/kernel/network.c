// The whole Q-network in one call per pass, so Python pays one ctypes call (~3 us in Pyodide) instead of one
// per layer: rt_mlp_forward and rt_mlp_backward chain layers.c's products, with PQN's LayerNorm between them
// when layer_norm != 0. The parameter layout is simd.h's.

#include "simd.h"

// ---- LayerNorm (PQN's hidden layers: z = x W + b, then relu(gain * (z - mean) / sqrt(var + eps) + offset)) ----

#define LN_EPS 1e-5f  // robotrain.qnet.LN_EPS (PyTorch's default)

// In place on z (n x m, contiguous): each row becomes relu(gain * zhat + offset), where zhat = (z - mean) *
// inv_std over the row's m units (biased variance). zhat (n x m) and inv_std (n) are kept for the backward
// pass: storing them costs n * m writes, recomputing them would cost the layer's product again.
static void layer_norm_forward(float *z, int n, int m, const float *gain, const float *offset, float *zhat,
                               float *inv_std) {
  const f4 zero = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n; i++) {
    float *r = z + i * m, *t = zhat + i * m;
    int j = 0;
    f4 s = zero;
    for (; j + 4 <= m; j += 4) s = wasm_f32x4_add(s, load4(r + j));
    float sum = hsum(s);
    for (; j < m; j++) sum += r[j];
    float mean = sum / m;
    // Two passes, as numpy's reference does (subtract the mean, then average the squares): no cancellation.
    f4 M = wasm_f32x4_splat(mean);
    s = zero;
    for (j = 0; j + 4 <= m; j += 4) {
      f4 c = wasm_f32x4_sub(load4(r + j), M);
      s = madd(s, c, c);
    }
    float ss = hsum(s);
    for (; j < m; j++) ss += (r[j] - mean) * (r[j] - mean);
    float is = 1.0f / __builtin_sqrtf(ss / m + LN_EPS);
    inv_std[i] = is;
    f4 IS = wasm_f32x4_splat(is);
    for (j = 0; j + 4 <= m; j += 4) {
      f4 h = wasm_f32x4_mul(wasm_f32x4_sub(load4(r + j), M), IS);
      store4(t + j, h);
      store4(r + j, wasm_f32x4_max(madd(load4(offset + j), load4(gain + j), h), zero));
    }
    for (; j < m; j++) {
      float h = (r[j] - mean) * is, y = offset[j] + gain[j] * h;
      t[j] = h;
      r[j] = y > 0.0f ? y : 0.0f;
    }
  }
}

// The backward pass of one LayerNorm, in place on d (n x m, contiguous): on entry d(loss)/d(gain * zhat +
// offset) (the ReLU after it already applied), on exit d(loss)/dz. Per row, with dzhat = d * gain:
//   dz = inv_std * (dzhat - mean(dzhat) - zhat * mean(dzhat * zhat))
// and g_gain (m) = column sums of d * zhat, g_offset (m) = column sums of d.
static void layer_norm_backward(float *d, int n, int m, const float *zhat, const float *inv_std, const float *gain,
                                float *g_gain, float *g_offset) {
  const f4 zero = wasm_f32x4_splat(0.0f);
  for (int j = 0; j < m; j++) g_gain[j] = g_offset[j] = 0.0f;
  for (int i = 0; i < n; i++) {
    float *r = d + i * m;
    const float *t = zhat + i * m;
    f4 s1 = zero, s2 = zero;
    int j = 0;
    for (; j + 4 <= m; j += 4) {
      f4 dy = load4(r + j), h = load4(t + j), dh = wasm_f32x4_mul(dy, load4(gain + j));
      store4(g_gain + j, madd(load4(g_gain + j), dy, h));
      store4(g_offset + j, wasm_f32x4_add(load4(g_offset + j), dy));
      s1 = wasm_f32x4_add(s1, dh), s2 = madd(s2, dh, h);
    }
    float a = hsum(s1), c = hsum(s2);
    for (; j < m; j++) {
      float dh = r[j] * gain[j];
      g_gain[j] += r[j] * t[j], g_offset[j] += r[j];
      a += dh, c += dh * t[j];
    }
    a /= m, c /= m;
    f4 A = wasm_f32x4_splat(a), C = wasm_f32x4_splat(c), IS = wasm_f32x4_splat(inv_std[i]);
    for (j = 0; j + 4 <= m; j += 4) {
      f4 dh = wasm_f32x4_mul(load4(r + j), load4(gain + j));
      store4(r + j, wasm_f32x4_mul(IS, wasm_f32x4_sub(wasm_f32x4_sub(dh, A), wasm_f32x4_mul(load4(t + j), C))));
    }
    for (; j < m; j++) r[j] = inv_std[i] * (r[j] * gain[j] - a - t[j] * c);
  }
}

// ---- The whole network: one call per pass, so Python pays one ctypes call instead of one per layer ----
//
// With layer_norm != 0 every hidden layer is a LayerNorm layer: its gain (m) and offset (m) follow its b in
// params, and the forward pass's record `acts` holds, after the hidden outputs (n * H floats, H = the sum of
// the hidden widths), each hidden layer's zhat at the same offsets (n * H), then its inv_std (n per layer).

// Forward through `layers` layers of sizes[0..layers]. x is n x sizes[0] with rows ldx apart. acts receives
// every hidden layer's output, layer l at offset n * (sizes[1] + ... + sizes[l]), each n x sizes[l+1]
// contiguous (what mlp_backward reads), and with layer_norm the record above; out receives the
// n x sizes[layers] Q-values, contiguous.
EXPORT void rt_mlp_forward(const float *params, const int *sizes, int layers, int layer_norm, const float *x,
                           int ldx, int n, float *acts, float *out) {
  int hidden = 0;
  for (int l = 1; l < layers; l++) hidden += sizes[l];
  float *zhat = acts + n * hidden, *inv_std = zhat + n * hidden;
  const float *in = x;
  int ld = ldx;
  for (int l = 0; l < layers; l++) {
    int k = sizes[l], m = sizes[l + 1], last = l == layers - 1;
    const float *W = params, *b = params + k * m;
    float *y = last ? out : acts;
    params += k * m + m;
    if (layer_norm && !last) {
      rt_layer_forward(in, ld, W, b, y, n, k, m, 0);
      layer_norm_forward(y, n, m, params, params + m, zhat, inv_std);
      params += 2 * m;
      zhat += n * m, inv_std += n;
    } else {
      rt_layer_forward(in, ld, W, b, y, n, k, m, !last);
    }
    in = y, ld = m;
    acts += n * m;
  }
}

// Gradient of the loss with respect to every parameter, written into grad (same layout as params), given the
// forward pass's x and acts and dout = d(loss)/d(Q-values) (n x sizes[layers], contiguous). scratch holds
// 2 * n * max(hidden sizes) + max(sizes[l] * sizes[l+1]) floats.
EXPORT void rt_mlp_backward(const float *params, const int *sizes, int layers, int layer_norm, const float *x,
                            int ldx, int n, const float *acts, const float *dout, float *grad, float *scratch) {
  int widest = 0, offsets[16], poff[16];
  int a = 0, p = 0;
  for (int l = 0; l < layers; l++) {
    offsets[l] = a;  // where layer l's output sits in acts (hidden layers only)
    poff[l] = p;     // where W_l starts in params
    a += n * sizes[l + 1];
    p += sizes[l] * sizes[l + 1] + sizes[l + 1] + (layer_norm && l < layers - 1 ? 2 * sizes[l + 1] : 0);
    if (l < layers - 1 && sizes[l + 1] > widest) widest = sizes[l + 1];
  }
  int hidden = offsets[layers - 1];  // n * the sum of the hidden widths
  const float *zhat = acts + hidden, *inv_std = zhat + hidden;
  float *d_next = scratch, *d_other = scratch + n * widest, *wt = scratch + 2 * n * widest;
  const float *d = dout;  // d(loss)/d(layer l's output), after its ReLU's mask
  float *dw = 0;          // d, writable: scratch below the last layer (dout is the caller's)
  for (int l = layers - 1; l >= 0; l--) {
    int k = sizes[l], m = sizes[l + 1];
    const float *in = l == 0 ? x : acts + offsets[l - 1];
    int ld = l == 0 ? ldx : k;
    float *gW = grad + poff[l], *gb = gW + k * m;
    // A LayerNorm layer: d becomes d(loss)/dz in place; gain's and offset's gradients follow gb.
    if (layer_norm && l < layers - 1)
      layer_norm_backward(dw, n, m, zhat + offsets[l], inv_std + n * l, params + poff[l] + k * m + m, gb + m,
                          gb + 2 * m);
    // The input of layer l is the ReLU output of layer l - 1: its gradient flows only where it is positive.
    float *dx = l > 0 ? d_next : 0;
    rt_layer_backward(in, ld, params + poff[l], d, gW, gb, dx, l > 0 ? in : 0, ld, wt, n, k, m);
    if (l > 0) {
      d = dw = d_next;
      d_next = d_other, d_other = dw;
    }
  }
}
