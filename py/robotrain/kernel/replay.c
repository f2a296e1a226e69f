// Replay sampling for Double DQN: the sampled rows of the replay ring with their n-step returns, gathered in
// one call. The row layout is robotrain.codec's transition row.

#include "simd.h"

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
