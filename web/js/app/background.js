// A tab in the background: drawing stops there (no frames) while training goes on; back in front, a notice says
// for how long and what was trained meanwhile. Owns app.hidden.
import { formatDuration } from '../ui/format.js';

/** app: the page's state (app/state.js); notice(text): app/messages.js. */
export function watchBackground({ app, notice }) {
  document.addEventListener('visibilitychange', () => {
    const h = app.hidden;
    const s = app.trainer ? app.trainer.counts : { episodes: 0, envSteps: 0 };
    if (document.visibilityState === 'hidden') {
      h.since = performance.now();
      h.episodes = s.episodes;
      h.steps = s.envSteps;
      h.wasRunning = app.trainer?.state === 'running';
      return;
    }
    if (h.since === null) return;
    const ms = performance.now() - h.since;
    h.since = null;
    h.last_ms = Math.round(ms);
    h.count += 1;
    const episodes = s.episodes - h.episodes;
    const steps = s.envSteps - h.steps;
    if (h.wasRunning || episodes > 0) {
      notice(`This tab was in the background for ${formatDuration(ms / 1000)}; training went on (+${episodes.toLocaleString('en-US')} episodes, +${steps.toLocaleString('en-US')} env steps) while drawing was paused.`);
    } else {
      notice(`This tab was in the background for ${formatDuration(ms / 1000)}.`);
    }
  });
}
