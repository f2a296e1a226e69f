// One dense layer's products in WebAssembly SIMD: y = x @ W + b (with its ReLU) and its backward pass. The
// one product routine, gemm, serves both passes; network.c chains these per layer. Conventions (row-major,
// leading dimensions, rounding) are in simd.h.

#include "simd.h"

// Epilogues applied to a finished block of C.
enum { EPI_NONE = 0, EPI_RELU = 1, EPI_MASK = 2 };

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
