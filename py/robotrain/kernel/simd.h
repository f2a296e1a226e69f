// The Q-network's hot loops in WebAssembly SIMD (128-bit, four float32 lanes), for Pyodide: what the kernel's
// C files share (the vector helpers, the conventions, the entry points), and nothing else.
//
// Pyodide's numpy has no BLAS and no SIMD, so a learner update spends most of its time in np.dot at ~2.5
// GFLOP/s. This side module does the same arithmetic with f32x4 vectors. build.py compiles each .c file beside
// this one with clang (--target=wasm32-unknown-emscripten -msimd128 -fPIC, no libc) and links them with
// wasm-ld (-shared) into one module, robotrain_simd.so, which Pyodide's dynamic linker loads and
// robotrain/kernel/__init__.py calls through ctypes. That wrapper checks every argument (dtype, shape,
// contiguity) before a pointer reaches the C: nothing here validates (rt_pqn_step checks its row numbers and
// actions, the one input the wrapper does not see whole).
//
// Conventions. Matrices are float32, row-major. A "leading dimension" (ld*) is the distance in floats between
// the starts of two consecutive rows, so a strided view (e.g. the obs columns of a replay row) is read in
// place. n is the batch (rows), k the input width, m the output width of a layer.
//
// The network's flat parameter vector holds, for each layer l in order, W_l (sizes[l] x sizes[l+1],
// row-major) then b_l (sizes[l+1]), and for a LayerNorm network each hidden layer's gain then offset
// (sizes[l+1] each) after its b: the layout of robotrain.qnet. Hidden layers are ReLU (after LayerNorm in a
// LayerNorm network), the last is linear.
//
// Rounding: products sum in a different order than numpy's loops, so results differ from numpy by float32
// rounding (tests bound it). Adam, the soft update and replay sampling perform numpy's float32 operations in
// numpy's order and, with no fused multiply-add in WebAssembly, give the same bits.

#ifndef ROBOTRAIN_SIMD_H
#define ROBOTRAIN_SIMD_H

#include <wasm_simd128.h>

typedef v128_t f4;

// What the module exports (build.py's KERNEL_EXPORTS); everything else is hidden (-fvisibility=hidden).
#define EXPORT __attribute__((visibility("default")))

static inline f4 load4(const float *p) { return wasm_v128_load(p); }
static inline void store4(float *p, f4 v) { wasm_v128_store(p, v); }
// acc + a * b, rounded twice (no fused multiply-add in WebAssembly SIMD).
static inline f4 madd(f4 acc, f4 a, f4 b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }

// The sum of v's four lanes, in lane order.
static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

// ---- The entry points, by file (each documented where it is defined) ----

// layers.c: one layer's products.
EXPORT void rt_layer_forward(const float *x, int ldx, const float *W, const float *b, float *y, int n, int k, int m,
                             int relu);
EXPORT void rt_layer_backward(const float *x, int ldx, const float *W, const float *dy, float *gW, float *gb,
                              float *dx, const float *mask, int ldmask, float *wt, int n, int k, int m);

// network.c: the whole network (plain or LayerNorm), one call per pass.
EXPORT void rt_mlp_forward(const float *params, const int *sizes, int layers, int layer_norm, const float *x,
                           int ldx, int n, float *acts, float *out);
EXPORT void rt_mlp_backward(const float *params, const int *sizes, int layers, int layer_norm, const float *x,
                            int ldx, int n, const float *acts, const float *dout, float *grad, float *scratch);

// optimizer.c: the flat parameter vector's updates.
EXPORT float rt_sumsq(const float *x, int n);
EXPORT void rt_adam(float *p, float *g, float *m, float *v, int n, float gscale, float b1, float omb1, float b2,
                    float omb2, float step_size, float bc2, float eps);
EXPORT void rt_soft_update(float *target, const float *online, int n, float keep, float tau);

// replay.c: replay sampling with n-step returns.
EXPORT void rt_replay_gather(const float *rows, int capacity, int width, int obs_dim, const long long *idx, int n,
                             int n_step, float gamma, float *out, float *discount);

// pqn_step.c: PQN's minibatch step (struct pqn_step is defined there).
struct pqn_step;
EXPORT float rt_pqn_step(const struct pqn_step *s, int start, int n, double max_norm, float step_size, float bc2);

#endif
