// How the page writes numbers: the counters' titles and formats, sizes, durations, task sizes. Pure functions.

export const COUNTERS = Object.freeze([
  ['episodes', 'Episodes'],
  ['env_steps', 'Env steps'],
  ['updates', 'Updates'],
  ['episodes_per_min', 'Episodes / min'],
  ['env_steps_per_s', 'Env steps / s'],
  ['updates_per_s', 'Updates / s'],
  ['last_eval_return', 'Last eval return'],
  ['best_eval_return', 'Best eval return'],
  ['loss', 'TD loss'],
  ['epsilon', 'Epsilon'],
  ['policy_version', 'Policy version'],
  ['staleness', 'Mean lag (versions)'],
  ['replay_size', 'Replay buffer (transitions)'],
  ['fps', 'FPS'],
  ['workers_ready', 'Workers ready'],
  ['task_size', 'Task size'],
  ['kernel', 'Network code'],
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
  if (mode !== 'async') return `${sizing.lanes_last ?? sizing.lanes} lanes, ${how}`;
  return `${sizing.episodes_per_task} ep × ${sizing.lanes} lanes, ${how}`;
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
