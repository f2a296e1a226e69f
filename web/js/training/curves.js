// What the charts and the replay list show, kept from the trainer's events (no Python call): the return curve,
// the evaluations, the scalar series, the policy-lag histogram, and the recent and best episodes with their
// actions. Bounded, so an hours-long run's memory stays flat.
import { episodesWithActions } from '../wire/codec.js';

const RECENT_EPISODES = 1000; // finished training episodes kept (with their actions) for replay
const SERIES_EVERY_MS = 1000; // one sample of the scalar curves (loss, epsilon, throughput) per second
const MAX_SERIES = 20000; // samples kept; beyond this every other one is dropped
// Per-episode rows of the return curve kept; beyond this every other one is dropped (the chart draws at most
// 2,000 points; its moving average then spans more episodes).
export const MAX_CURVE_EPISODES = 20000;

const thin = (rows) => rows.filter((_, i) => i % 2 === 0 || i === rows.length - 1);
const tenths = (x) => Math.round(x * 10) / 10;

export class Curves {
  /**
   * curve: {episodes: [[id, return, length, env steps after, training s]], evals: [[env_step, mean, training s]],
   * series: [[training s, env steps, loss, epsilon, episodes/min, env-steps/s, updates/s]], lag: {versions
   * behind: ingested results}}; saved: {curve, recent, best} from toJSON() (a restored run) or null.
   */
  constructor(saved = null) {
    this.load(saved?.curve);
    this.recent = saved?.recent ?? []; // the last RECENT_EPISODES finished episodes {id, length, ret, terminated, actions}
    this.best = saved?.best ?? null;
    this.lastSeriesAt = 0;
  }

  /** Show `curve` (a run card's, or a saved run's) instead of what is kept. */
  load(curve) {
    this.curve = { episodes: curve?.episodes ?? [], evals: curve?.evals ?? [], series: curve?.series ?? [], lag: curve?.lag ?? {} };
  }

  /** A trainer 'ingested' event: {rows: [[id, return, length]], envStepsBefore, seconds, staleness, packed}. */
  addIngest({ rows, envStepsBefore, seconds, staleness, packed }) {
    let steps = envStepsBefore;
    for (const [id, ret, length] of rows) {
      steps += length;
      this.curve.episodes.push([id, ret, length, steps, tenths(seconds)]);
    }
    if (this.curve.episodes.length > MAX_CURVE_EPISODES) this.curve.episodes = thin(this.curve.episodes);
    for (const episode of episodesWithActions(packed)) {
      this.recent.push(episode);
      if (!this.best || episode.ret > this.best.ret) this.best = episode;
    }
    if (this.recent.length > RECENT_EPISODES) this.recent.splice(0, this.recent.length - RECENT_EPISODES);
    this.curve.lag[staleness] = (this.curve.lag[staleness] ?? 0) + 1;
  }

  /** A trainer 'evaluated' event: {step, mean, seconds}. */
  addEval({ step, mean, seconds }) {
    this.curve.evals.push([step, mean, tenths(seconds)]);
  }

  /** One sample of the scalar curves from stats `s` at most once per SERIES_EVERY_MS, while training runs. */
  sampleSeries(s, { running, trainingMs }, now = performance.now()) {
    if (!running || now - this.lastSeriesAt < SERIES_EVERY_MS) return;
    this.lastSeriesAt = now;
    const series = this.curve.series;
    series.push([
      tenths(trainingMs / 1000),
      s.env_steps,
      s.loss,
      s.epsilon,
      tenths(s.episodes_per_min),
      tenths(s.env_steps_per_s),
      tenths(s.updates_per_s),
    ]);
    if (series.length > MAX_SERIES) this.curve.series = thin(series);
  }

  /** The finished episode with this id among the recent ones (or 'best'); null if not kept. */
  findEpisode(id) {
    if (id === 'best') return this.best;
    return this.recent.find((e) => e.id === id) ?? (this.best?.id === id ? this.best : null);
  }

  toJSON() {
    return { curve: this.curve, recent: this.recent, best: this.best };
  }
}
