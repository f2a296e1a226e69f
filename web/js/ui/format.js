// How the page writes numbers: the counters' titles and formats, sizes, durations, task sizes. Pure functions.

// [key, title, explanation (the title's tooltip), headline]: the headline counters are always shown, the others
// under "More numbers".
export const COUNTERS = Object.freeze([
  ['env_steps', 'Env steps', 'environment steps played so far (the step budget counts these)', true],
  ['episodes', 'Episodes', 'training episodes finished so far', true],
  ['last_eval_return', 'Last eval return', 'mean return of the greedy policy (no exploration) in the latest evaluation', true],
  ['best_eval_return', 'Best eval return', 'best mean return of any greedy evaluation so far', true],
  ['env_steps_per_s', 'Env steps / s', 'environment steps played per second, over the last 10 s', true],
  ['epsilon', 'Epsilon', 'share of random actions while training (it decays over the first part of the run)', true],
  ['updates', 'Updates', 'learner updates (gradient steps) so far'],
  ['episodes_per_min', 'Episodes / min', 'training episodes finished per minute'],
  ['updates_per_s', 'Updates / s', 'learner updates per second'],
  ['loss', 'TD loss', 'the learner\'s latest temporal-difference loss'],
  ['policy_version', 'Policy version', 'how many times the learner changed its weights (one per update)'],
  ['staleness', 'Policy lag', 'how many policy versions older than the learner\'s the weights were that played recent results (in sync mode about one batch of updates: expected, not a fault)'],
  ['replay_size', 'Replay buffer', 'transitions held for learning'],
  ['fps', 'FPS', 'frames per second the page draws'],
  ['workers_ready', 'Workers ready', 'workers whose Python has started'],
  ['task_size', 'Task size', 'how much one task given to a worker holds (auto: sized to about 100 ms)'],
  ['kernel', 'Network code', 'the Q-network\'s code on this page and its workers'],
]);

export const integer = (v) => (v == null ? '–' : Math.round(v).toLocaleString('en-US'));
const decimal = (digits) => (v) => (v == null ? '–' : Number(v).toFixed(digits));
export const FORMAT = Object.freeze({
  last_eval_return: decimal(1),
  best_eval_return: decimal(1),
  epsilon: decimal(3),
  staleness: decimal(1),
  loss: (v) => (v == null ? '–' : Number(v).toPrecision(3)),
  workers_ready: (v) => v ?? '–',
  task_size: (v) => v ?? '–',
  kernel: (v) => ({ 'wasm-simd': 'WebAssembly SIMD', numpy: 'numpy' })[v] ?? '–',
});

/** "8 episodes × 8 lanes, auto" from stats().task_sizing (async tasks; sync splits the batch per worker). */
export function taskSizeText(sizing, mode) {
  if (!sizing) return null;
  const how = sizing.adaptive ? 'auto' : 'fixed';
  const lanes = (n) => `${n} lane${n === 1 ? '' : 's'}`;
  if (mode !== 'async') return `${lanes(sizing.lanes_last ?? sizing.lanes)} (${how})`;
  return `${sizing.episodes_per_task} ep × ${lanes(sizing.lanes)} (${how})`;
}

export function formatBytes(bytes) {
  if (bytes == null) return '–';
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
