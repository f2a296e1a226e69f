// The worker tiles: one per worker with its state, this run's episodes, env-steps/s, policy version and lag,
// Python heap, a loading bar while its Python starts, and a small live view of the episode it plays.
import { draw } from '../draw.js';
import { integer, formatBytes } from './format.js';

// What a tile's state means to someone watching (the pool's state names are terse).
const STATE_WORDS = { waiting: 'waiting for work' };

/**
 * Fill `list` with one tile per entry of `workers` (stats().workers, as the page adjusts them for the current
 * run) and `note` with what they are. `policyVersion`: the learner's; `spec`: the env's draw spec.
 */
export function showWorkerTiles(doc, list, note, workers, { policyVersion, spec, mode }) {
  note.textContent =
    mode === 'main' ? 'none: main-thread mode plays episodes on this page' : `${workers.length} module workers, each with its own Python`;
  while (list.children.length > workers.length) list.lastElementChild.remove();
  workers.forEach((w, i) => {
    let tile = list.children[i];
    if (!tile) {
      tile = doc.createElement('div');
      tile.innerHTML =
        '<canvas width="192" height="96" role="img"></canvas><span class="title"></span><span class="line1"></span>' +
        '<span class="line2"></span><span class="line3"></span><progress max="1"></progress>';
      tile.setAttribute('role', 'group');
      list.append(tile);
    }
    tile.setAttribute('aria-label', `worker ${w.id}`);
    tile.querySelector('canvas').setAttribute('aria-label', `worker ${w.id}: the episode it is playing`);
    tile.querySelector('progress').setAttribute('aria-label', `worker ${w.id}: loading Python`);
    tile.className = `worker ${w.state}`;
    tile.dataset.state = w.state;
    const state = STATE_WORDS[w.state] ?? w.state;
    tile.querySelector('.title').textContent = `#${w.id} ${state}${w.failures ? ` · ${w.failures} failed` : ''}`;
    const lag = w.policy_version == null ? null : Math.max(0, policyVersion - w.policy_version);
    tile.querySelector('.line1').textContent = `${integer(w.episodes)} episodes · ${w.env_steps_per_s == null ? '–' : integer(w.env_steps_per_s)} steps/s`;
    // How far behind the learner a worker plays matters while it plays; a waiting worker's number only grows.
    const behind = lag === null || w.state !== 'running' ? '' : `, ${integer(lag)} version${lag === 1 ? '' : 's'} behind`;
    tile.querySelector('.line2').textContent = `policy v${w.policy_version ?? '– (none yet)'}${behind}`;
    tile.querySelector('.line3').textContent = `Python heap ${formatBytes(w.heap_bytes)}`;
    const bar = tile.querySelector('progress');
    bar.value = w.load_progress;
    bar.hidden = w.load_progress >= 1;
    draw(tile.querySelector('canvas').getContext('2d'), w.live_state ?? null, w.live_state ? spec : null);
  });
}
