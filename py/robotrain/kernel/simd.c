// The Q-network's hot loops in WebAssembly SIMD (128-bit, four float32 lanes), for Pyodide.
//
// Pyodide's numpy has no BLAS and no SIMD, so a learner update spends most of its time in np.dot at ~2.5
// GFLOP/s. This side module does the same arithmetic with f32x4 vectors. It is built by build.py with clang
// (--target=wasm32-unknown-emscripten -msimd128 -fPIC, no libc) and wasm-ld (-shared), loaded by Pyodide's
// dynamic linker, and called through ctypes from robotrain/kernel/__init__.py, which checks every argument
// (dtype, shape, contiguity) before a pointer reaches this file: nothing here validates.
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
// rounding (tests bound it). The Adam step performs numpy's float32 operations in numpy's order and, with no
// fused multiply-add in WebAssembly, gives the same bits.

#include <wasm_simd128.h>

typedef v128_t f4;

#define EXPORT __attribute__((visibility("default")))

// Epilogues applied to a finished block of C.
enum { EPI_NONE = 0, EPI_RELU = 1, EPI_MASK = 2 };

static inline f4 load4(const float *p) { return wasm_v128_load(p); }
static inline void store4(float *p, f4 v) { wasm_v128_store(p, v); }
static inline f4 madd(f4 acc, f4 a, f4 b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }

// EPI_RELU: max(v, 0). EPI_MASK: v where the mask is > 0 else 0 (the gradient through a ReLU whose output is
// the mask).
static inline f4 epilogue4(f4 v, int epi, const float *mask) {
  if (epi == EPI_RELU) return wasm_f32x4_max(v, wasm_f32x4_splat(0.0f));
  if (epi == EPI_MASK) return wasm_v128_and(v, wasm_f32x4_gt(load4(mask), wasm_f32x4_splat(0.0f)));
  return v;
}

static inline float epilogue1(float v, int epi, const float *mask) {
  if (epi == EPI_RELU) return v > 0.0f ? v : 0.0f;
  if (epi == EPI_MASK) return *mask > 0.0f ? v : 0.0f;
  return v;
}

// C[i][j] = epi(sum_p L(i, p) * R[p][j] + bias[j]) for i < n, j < m, where the left operand's element (i, p)
// is L[i * li + p * lp]: (li, lp) = (ld, 1) reads a row-major matrix, (1, ld) its transpose. R is k x m with
// leading dimension ldr; C is n x m with leading dimension ldc; bias may be null; mask (EPI_MASK) is n x m
// with leading dimension ldmask.
//
// Blocks of 4 rows x 8 columns keep 8 accumulators, 2 loaded R vectors and 4 broadcast L values in 14 of the
// 16 vector registers an x86-64 engine has; narrower column tails use 4-wide blocks, then scalars.
static void gemm(int n, int m, int k, const float *L, int li, int lp, const float *R, int ldr, const float *bias,
                 float *C, int ldc, int epi, const float *mask, int ldmask) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const float *l0 = L + i * li, *l1 = l0 + li, *l2 = l1 + li, *l3 = l2 + li;
    int j = 0;
    for (; j + 8 <= m; j += 8) {
      f4 b0 = bias ? load4(bias + j) : wasm_f32x4_splat(0.0f);
      f4 b1 = bias ? load4(bias + j + 4) : wasm_f32x4_splat(0.0f);
      f4 c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
      for (int p = 0; p < k; p++) {
        const float *r = R + p * ldr + j;
        f4 r0 = load4(r), r1 = load4(r + 4);
        f4 a = wasm_v128_load32_splat(l0 + p * lp);
        c00 = madd(c00, a, r0), c01 = madd(c01, a, r1);
        a = wasm_v128_load32_splat(l1 + p * lp);
        c10 = madd(c10, a, r0), c11 = madd(c11, a, r1);
        a = wasm_v128_load32_splat(l2 + p * lp);
        c20 = madd(c20, a, r0), c21 = madd(c21, a, r1);
        a = wasm_v128_load32_splat(l3 + p * lp);
        c30 = madd(c30, a, r0), c31 = madd(c31, a, r1);
      }
      float *c = C + i * ldc + j;
      const float *mk = mask ? mask + i * ldmask + j : 0;
      store4(c, epilogue4(c00, epi, mk)), store4(c + 4, epilogue4(c01, epi, mk ? mk + 4 : 0));
      c += ldc, mk = mk ? mk + ldmask : 0;
      store4(c, epilogue4(c10, epi, mk)), store4(c + 4, epilogue4(c11, epi, mk ? mk + 4 : 0));
      c += ldc, mk = mk ? mk + ldmask : 0;
      store4(c, epilogue4(c20, epi, mk)), store4(c + 4, epilogue4(c21, epi, mk ? mk + 4 : 0));
      c += ldc, mk = mk ? mk + ldmask : 0;
      store4(c, epilogue4(c30, epi, mk)), store4(c + 4, epilogue4(c31, epi, mk ? mk + 4 : 0));
    }
    for (; j + 4 <= m; j += 4) {
      f4 b0 = bias ? load4(bias + j) : wasm_f32x4_splat(0.0f);
      f4 c0 = b0, c1 = b0, c2 = b0, c3 = b0;
      for (int p = 0; p < k; p++) {
        f4 r0 = load4(R + p * ldr + j);
        c0 = madd(c0, wasm_v128_load32_splat(l0 + p * lp), r0);
        c1 = madd(c1, wasm_v128_load32_splat(l1 + p * lp), r0);
        c2 = madd(c2, wasm_v128_load32_splat(l2 + p * lp), r0);
        c3 = madd(c3, wasm_v128_load32_splat(l3 + p * lp), r0);
      }
      f4 rows[4] = {c0, c1, c2, c3};
      for (int q = 0; q < 4; q++)
        store4(C + (i + q) * ldc + j, epilogue4(rows[q], epi, mask ? mask + (i + q) * ldmask + j : 0));
    }
    // 1 to 3 columns left (output layers have 2, 3 or 4 + 3 actions): one 4-wide block whose missing lanes are
    // zero, loaded element by element so nothing past the row is read; only the real lanes are stored.
    if (j < m) {
      int w = m - j;
      f4 b0 = bias ? wasm_f32x4_make(bias[j], w > 1 ? bias[j + 1] : 0.0f, w > 2 ? bias[j + 2] : 0.0f, 0.0f)
                   : wasm_f32x4_splat(0.0f);
      f4 c0 = b0, c1 = b0, c2 = b0, c3 = b0;
      for (int p = 0; p < k; p++) {
        const float *r = R + p * ldr + j;
        f4 r0 = wasm_f32x4_make(r[0], w > 1 ? r[1] : 0.0f, w > 2 ? r[2] : 0.0f, 0.0f);
        c0 = madd(c0, wasm_v128_load32_splat(l0 + p * lp), r0);
        c1 = madd(c1, wasm_v128_load32_splat(l1 + p * lp), r0);
        c2 = madd(c2, wasm_v128_load32_splat(l2 + p * lp), r0);
        c3 = madd(c3, wasm_v128_load32_splat(l3 + p * lp), r0);
      }
      float rows[4][4];
      store4(rows[0], c0), store4(rows[1], c1), store4(rows[2], c2), store4(rows[3], c3);
      for (int q = 0; q < 4; q++)
        for (int t = 0; t < w; t++)
          C[(i + q) * ldc + j + t] = epilogue1(rows[q][t], epi, mask ? mask + (i + q) * ldmask + j + t : 0);
    }
  }
  // Fewer than 4 rows left: one row at a time.
  for (; i < n; i++) {
    const float *l = L + i * li;
    int j = 0;
    for (; j + 4 <= m; j += 4) {
      f4 c = bias ? load4(bias + j) : wasm_f32x4_splat(0.0f);
      for (int p = 0; p < k; p++) c = madd(c, wasm_v128_load32_splat(l + p * lp), load4(R + p * ldr + j));
      store4(C + i * ldc + j, epilogue4(c, epi, mask ? mask + i * ldmask + j : 0));
    }
    for (; j < m; j++) {
      float s = bias ? bias[j] : 0.0f;
      for (int p = 0; p < k; p++) s += l[p * lp] * R[p * ldr + j];
      C[i * ldc + j] = epilogue1(s, epi, mask ? mask + i * ldmask + j : 0);
    }
  }
}

// out (cols x rows) = transpose of a (rows x cols), both contiguous: 4 x 4 blocks through vector shuffles (a
// scalar loop's stores 4 * rows bytes apart made the backward pass of a 6-128-128-7 network at batch 128
// 8-11% slower, 258-275 us against 237-241; 64- and 84-wide layers gain under 2%), the edges one by one.
static void transpose(const float *a, float *out, int rows, int cols) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *a0 = a + r * cols, *a1 = a0 + cols, *a2 = a1 + cols, *a3 = a2 + cols;
    int c = 0;
    for (; c + 4 <= cols; c += 4) {
      f4 x0 = load4(a0 + c), x1 = load4(a1 + c), x2 = load4(a2 + c), x3 = load4(a3 + c);
      f4 t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
      f4 t2 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
      float *o = out + c * rows + r;
      store4(o, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
      store4(o + rows, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
      store4(o + 2 * rows, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
      store4(o + 3 * rows, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
    }
    for (; c < cols; c++)
      out[c * rows + r] = a0[c], out[c * rows + r + 1] = a1[c], out[c * rows + r + 2] = a2[c],
                   out[c * rows + r + 3] = a3[c];
  }
  for (; r < rows; r++)
    for (int c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
}

// g[j] = sum_i d[i][j] for d (n x m) contiguous: a layer's bias gradient.
static void colsum(const float *d, int n, int m, float *g) {
  int j = 0;
  for (; j + 4 <= m; j += 4) {
    f4 s = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < n; i++) s = wasm_f32x4_add(s, load4(d + i * m + j));
    store4(g + j, s);
  }
  for (; j < m; j++) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += d[i * m + j];
    g[j] = s;
  }
}

// ---- One layer (exported for tests and for callers that hold their own layers) ----

// y (n x m, contiguous) = x (n x k, rows ldx apart) @ W (k x m) + b, then ReLU if relu != 0.
EXPORT void rt_layer_forward(const float *x, int ldx, const float *W, const float *b, float *y, int n, int k, int m,
                             int relu) {
  gemm(n, m, k, x, ldx, 1, W, m, b, y, m, relu ? EPI_RELU : EPI_NONE, 0, 0);
}

// The backward pass of y = x @ W + b given dy (n x m, contiguous): gW (k x m) = x^T @ dy and gb (m) = the
// column sums of dy. If dx is not null, also dx (n x k, contiguous) = (dy @ W^T), zeroed where mask <= 0 when
// mask (n x k, rows ldmask apart) is not null; wt is scratch of k * m floats for W^T.
EXPORT void rt_layer_backward(const float *x, int ldx, const float *W, const float *dy, float *gW, float *gb,
                              float *dx, const float *mask, int ldmask, float *wt, int n, int k, int m) {
  gemm(k, m, n, x, 1, ldx, dy, m, 0, gW, m, EPI_NONE, 0, 0);
  colsum(dy, n, m, gb);
  if (dx) {
    transpose(W, wt, k, m);
    gemm(n, k, m, dy, m, 1, wt, k, 0, dx, k, mask ? EPI_MASK : EPI_NONE, mask, ldmask);
  }
}

// ---- LayerNorm (PQN's hidden layers: z = x W + b, then relu(gain * (z - mean) / sqrt(var + eps) + offset)) ----

#define LN_EPS 1e-5f  // robotrain.qnet.LN_EPS (PyTorch's default)

static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

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

// ---- Replay sampling ----

// Gather n-step transitions from the replay ring, as robotrain.replay.ReplayBuffer.sample does in numpy (the
// same float32 operations in the same order, so the same bits). rows is the ring (capacity x width, width =
// 2 * obs_dim + 4: obs, action, reward, next_obs, terminated, truncated); idx holds n sampled row numbers.
// out (n x width) receives each sampled row with its reward replaced by the discounted sum of up to n_step
// rewards of its episode, and next_obs, terminated and truncated by those of the last step summed; discount
// (n) receives gamma^j for the j steps summed. Rows after a sampled one in its episode are newer, so they are
// never overwritten first (episodes arrive whole).
EXPORT void rt_replay_gather(const float *rows, int capacity, int width, int obs_dim, const long long *idx, int n,
                             int n_step, float gamma, float *out, float *discount) {
  int c_reward = obs_dim + 1, c_next = obs_dim + 2, c_term = 2 * obs_dim + 2, c_trunc = 2 * obs_dim + 3;
  for (int i = 0; i < n; i++) {
    const float *first = rows + idx[i] * width, *last = first;
    float *o = out + i * width;
    for (int c = 0; c < width; c++) o[c] = first[c];
    float reward = first[c_reward], disc = gamma;
    int alive = first[c_term] == 0.0f && first[c_trunc] == 0.0f;
    for (int k = 1; k < n_step; k++) {
      const float *next = rows + ((idx[i] + k) % capacity) * width;
      if (alive) {
        reward = reward + disc * next[c_reward];
        last = next;
        disc = disc * gamma;
      }
      alive = alive && next[c_term] == 0.0f && next[c_trunc] == 0.0f;
    }
    o[c_reward] = reward;
    for (int c = c_next; c < width; c++) o[c] = last[c];
    discount[i] = disc;
  }
}

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
  float t = wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 2) +
            wasm_f32x4_extract_lane(s, 3);
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

// ---- PQN's minibatch step (robotrain.pqn.PQNLearner.update) in one call ----
//
// An update of cartpole's PQN (minibatch 32, 4-64-64-2) took ~140 us in Pyodide, ~100 us of it in a dozen numpy
// calls and five ctypes calls of a few us each around ~40 us of arithmetic: here the whole step is one call. What
// changes once per learner, rollout or epoch sits in a struct the wrapper (robotrain.kernel.PQNStep) fills,
// since ctypes spends ~0.3 us per argument in Pyodide; every pointer is 32 bits in wasm32, so each field is 4
// bytes and the layout has no padding.
struct pqn_step {
  float *params;     // the network (rt_mlp_forward's arguments)
  const int *sizes;
  int layers, layer_norm;
  int count, record;  // floats in params; floats per row of rt_mlp_forward's record (the wrapper knows both)
  const float *rows;  // the rollout: N x width transition rows (robotrain.codec: obs in columns 0 .. sizes[0] - 1,
  int N, width;       // the action taken in column sizes[0])
  const float *returns;     // the rollout's N Q(lambda) targets
  const long long *order;   // this epoch's order of row numbers; a minibatch is order[start .. start + n - 1]
  float *grad, *m, *v;      // the gradient and Adam's moments, like params
  float *scratch;           // n * (sizes[0] + record + sizes[layers] + 2 * widest hidden) + widest W floats,
                            // record being the floats per row of rt_mlp_forward's record
  float b1, omb1, b2, omb2, eps;  // Adam's constants (rt_adam)
};

// For the minibatch's rows:
//   q = Q(obs)                               rt_mlp_forward, keeping its record
//   td_i = q[i][a_i] - returns[row_i]        the loss is mean(td^2)
//   dq[i][a_i] = (2 / n) * td_i, 0 elsewhere
//   grad = d(loss)/d(params)                 rt_mlp_backward
//   norm = sqrt(sum of grad^2), in double; scale = max_norm / (norm + 1e-6) if norm > max_norm, else 1
//   rt_adam with gscale = scale, step_size and bc2
// the float32 operations robotrain.pqn, qnet.clip_scale and qnet.Adam run on the kernel's other calls, in the
// same order: the same parameters, bit for bit (the loss sums in double, numpy's in float32). Returns the loss;
// or, having written nothing but scratch, -1 if a row number lies outside [0, N) and -2 if a sampled row's
// action is not in [0, sizes[layers]).
EXPORT float rt_pqn_step(const struct pqn_step *s, int start, int n, double max_norm, float step_size, float bc2) {
  const int *sizes = s->sizes;
  const long long *idx = s->order + start;
  int layers = s->layers, obs_dim = sizes[0], actions = sizes[layers], width = s->width;
  float *x = s->scratch, *acts = x + n * obs_dim, *q = acts + n * s->record, *backward_scratch = q + n * actions;
  // Gather the minibatch's observations (n x obs_dim, contiguous), checking every row number and action first.
  for (int i = 0; i < n; i++) {
    if (idx[i] < 0 || idx[i] >= s->N) return -1.0f;
    const float *r = s->rows + idx[i] * width;
    float a = r[obs_dim];
    if (!(a >= 0.0f && a < actions)) return -2.0f;  // NaN fails too
    for (int c = 0; c < obs_dim; c++) x[i * obs_dim + c] = r[c];
  }
  rt_mlp_forward(s->params, sizes, layers, s->layer_norm, x, obs_dim, n, acts, q);
  // q becomes dq in place, row by row (a row's Q-values are read before its gradient is written).
  float dscale = (float)(2.0 / n);  // numpy's (2.0 / size) * td: the Python float rounded to float32
  double loss = 0.0;
  for (int i = 0; i < n; i++) {
    float *row = q + i * actions;
    int a = (int)s->rows[idx[i] * width + obs_dim];  // numpy's astype(int64): toward zero
    float td = row[a] - s->returns[idx[i]];
    loss += (double)td * td;
    for (int j = 0; j < actions; j++) row[j] = 0.0f;
    row[a] = dscale * td;
  }
  rt_mlp_backward(s->params, sizes, layers, s->layer_norm, x, obs_dim, n, acts, q, s->grad, backward_scratch);
  double norm = __builtin_sqrt((double)rt_sumsq(s->grad, s->count));
  float scale = norm > max_norm ? (float)(max_norm / (norm + 1e-6)) : 1.0f;
  rt_adam(s->params, s->grad, s->m, s->v, s->count, scale, s->b1, s->omb1, s->b2, s->omb2, step_size, bc2, s->eps);
  return (float)(loss / n);
}
