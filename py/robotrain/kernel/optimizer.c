// Updates of the flat parameter vector (simd.h's layout): the squared gradient norm for clipping, Adam, and
// the target network's soft update. Adam and the soft update run numpy's float32 operations in numpy's order,
// so they give robotrain.qnet's bits.

#include "simd.h"

// ---- The target network ----

// target = target * keep + tau * online on n floats (keep = 1 - tau), numpy's float32 operations in its order.
EXPORT void rt_soft_update(float *target, const float *online, int n, float keep, float tau) {
  f4 K = wasm_f32x4_splat(keep), T = wasm_f32x4_splat(tau);
  int i = 0;
  for (; i + 4 <= n; i += 4)
    store4(target + i, wasm_f32x4_add(wasm_f32x4_mul(load4(target + i), K), wasm_f32x4_mul(T, load4(online + i))));
  for (; i < n; i++) target[i] = target[i] * keep + tau * online[i];
}

// ---- The optimizer ----

// Sum of squares of x (n floats): the squared gradient norm for clipping.
EXPORT float rt_sumsq(const float *x, int n) {
  f4 s = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f4 v = load4(x + i);
    s = madd(s, v, v);
  }
  float t = hsum(s);
  for (; i < n; i++) t += x[i] * x[i];
  return t;
}

// One Adam step on n parameters, in numpy's float32 operations and order (robotrain.qnet.Adam):
//   g *= gscale (the clipping factor; 1 for none)     m = m * b1 + omb1 * g      v = v * b2 + (omb2 * g) * g
//   p -= (step_size * m) / (sqrt(v / bc2) + eps)
// where omb1 = 1 - beta1, omb2 = 1 - beta2, step_size = lr / (1 - beta1^t), bc2 = 1 - beta2^t, each rounded
// to float32 by the caller as numpy rounds a Python float scalar.
EXPORT void rt_adam(float *p, float *g, float *m, float *v, int n, float gscale, float b1, float omb1, float b2,
                    float omb2, float step_size, float bc2, float eps) {
  f4 GS = wasm_f32x4_splat(gscale), B1 = wasm_f32x4_splat(b1), OMB1 = wasm_f32x4_splat(omb1);
  f4 B2 = wasm_f32x4_splat(b2), OMB2 = wasm_f32x4_splat(omb2), SS = wasm_f32x4_splat(step_size);
  f4 BC2 = wasm_f32x4_splat(bc2), EPS = wasm_f32x4_splat(eps);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f4 gi = wasm_f32x4_mul(load4(g + i), GS);
    f4 mi = wasm_f32x4_add(wasm_f32x4_mul(load4(m + i), B1), wasm_f32x4_mul(OMB1, gi));
    f4 vi = wasm_f32x4_add(wasm_f32x4_mul(load4(v + i), B2), wasm_f32x4_mul(wasm_f32x4_mul(OMB2, gi), gi));
    f4 denom = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(vi, BC2)), EPS);
    store4(p + i, wasm_f32x4_sub(load4(p + i), wasm_f32x4_div(wasm_f32x4_mul(SS, mi), denom)));
    store4(g + i, gi), store4(m + i, mi), store4(v + i, vi);
  }
  for (; i < n; i++) {
    float gi = g[i] * gscale;
    float mi = m[i] * b1 + omb1 * gi;
    float vi = v[i] * b2 + (omb2 * gi) * gi;
    p[i] -= (step_size * mi) / (__builtin_sqrtf(vi / bc2) + eps);
    g[i] = gi, m[i] = mi, v[i] = vi;
  }
}
