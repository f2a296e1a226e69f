// PQN's minibatch step (robotrain.pqn.PQNLearner.update) in one call: gather, forward, TD errors and loss,
// backward, clipping and Adam, through network.c's and optimizer.c's entry points.
//
// An update of cartpole's PQN (minibatch 32, 4-64-64-2) took ~140 us in Pyodide, ~100 us of it in a dozen numpy
// calls and five ctypes calls of a few us each around ~40 us of arithmetic: here the whole step is one call. What
// changes once per learner, rollout or epoch sits in a struct the wrapper (robotrain.kernel.PQNStep) fills,
// since ctypes spends ~0.3 us per argument in Pyodide; every pointer is 32 bits in wasm32, so each field is 4
// bytes and the layout has no padding.

#include "simd.h"

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
