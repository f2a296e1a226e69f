// Whether the robot has learned, in words: the first greedy evaluation at or above the env's threshold, whether
// the evaluations after it stayed there, and the summary at the end of a run. Pure functions of the curve's
// evaluations ([env_step, mean_return, training s]), so the words always match the chart.
import { formatDuration, integer } from './format.js';

// Evaluations after the first solved one that must also be solved (robotrain.evaluation.STAY_SOLVED_EVALS: the
// command line's "stayed_solved").
export const STAY_SOLVED_EVALS = 4;
// The estimate of when a run gets solved: a straight line through the newest TREND_EVALS evaluations (at least
// TREND_MIN_EVALS of them), shown only while it rises and explains at least TREND_MIN_R2 of their spread (a
// plateau's noise made the robot's estimate jump from 49 to 7 to 13 minutes between evaluations).
const TREND_MIN_EVALS = 3;
const TREND_EVALS = 5;
const TREND_MIN_R2 = 0.6;

/**
 * Where the least-squares line through the newest evaluations (rows [env_step, mean_return, training s]) reaches
 * `threshold`: {step, seconds, evals}, `seconds` being the training still needed at the run's pace so far; null
 * when no honest guess can be made (too few evaluations, a flat or falling line, points the line does not explain,
 * no pace yet).
 */
export function solveTrend(rows, threshold) {
  const recent = rows.slice(-TREND_EVALS);
  if (threshold == null || recent.length < TREND_MIN_EVALS) return null;
  const n = recent.length;
  const mx = recent.reduce((a, r) => a + r[0], 0) / n;
  const my = recent.reduce((a, r) => a + r[1], 0) / n;
  const sxx = recent.reduce((a, r) => a + (r[0] - mx) ** 2, 0);
  const syy = recent.reduce((a, r) => a + (r[1] - my) ** 2, 0);
  const sxy = recent.reduce((a, r) => a + (r[0] - mx) * (r[1] - my), 0);
  const slope = sxx > 0 ? sxy / sxx : 0;
  const [lastStep, , lastSeconds] = recent[n - 1];
  if (!(slope > 0) || (sxy * sxy) / (sxx * syy) < TREND_MIN_R2 || !(lastStep > 0) || !(lastSeconds > 0)) return null;
  const step = Math.max(lastStep, mx + (threshold - my) / slope);
  return { step, seconds: ((step - lastStep) * lastSeconds) / lastStep, evals: n };
}

/**
 * {solved: false, best, evals, trend (solveTrend)} or {solved: true, step, seconds, mean, after, below, stayed}: `after` evaluations
 * followed the first solved one, `below` of them fell under the threshold; `stayed` is true or false once
 * STAY_SOLVED_EVALS followed it (null before).
 */
export function solvedSummary(evals, threshold) {
  const rows = (evals ?? []).filter((row) => Number.isFinite(row?.[1]));
  const first = threshold == null ? -1 : rows.findIndex((row) => row[1] >= threshold);
  if (first < 0) {
    const best = rows.length ? Math.max(...rows.map((row) => row[1])) : null;
    return { solved: false, best, evals: rows.length, trend: solveTrend(rows, threshold) };
  }
  const [step, mean, seconds] = rows[first];
  const later = rows.slice(first + 1);
  const window = later.slice(0, STAY_SOLVED_EVALS);
  return {
    solved: true,
    step,
    seconds: seconds ?? null,
    mean,
    after: later.length,
    below: later.filter((row) => row[1] < threshold).length,
    last: rows[rows.length - 1][1],
    stayed: window.length < STAY_SOLVED_EVALS ? null : window.every((row) => row[1] >= threshold),
  };
}

const ret = (v) => Number(v).toFixed(1);

/** The one-line status under the budget bar. */
export function solvedText(summary, threshold) {
  if (!summary.solved) {
    if (!summary.evals) return `Not solved yet: no greedy evaluation so far (solved means a mean return of at least ${ret(threshold)}).`;
    const now = `Not solved yet: best greedy evaluation ${ret(summary.best)}, solved needs ${ret(threshold)}.`;
    const t = summary.trend;
    if (!t) return now;
    const around = integer(Math.round(t.step / 1000) * 1000);
    return `${now} The trend of the last ${t.evals} evaluations reaches it around ${around} env steps (about ${formatDuration(t.seconds)} more training at this pace): a straight line through noisy points, not a promise.`;
  }
  const when = `Solved at ${integer(summary.step)} env steps${summary.seconds != null ? `, after ${formatDuration(summary.seconds)} of training` : ''}`;
  const first = `${when} (greedy evaluation ${ret(summary.mean)} ≥ ${ret(threshold)}).`;
  if (!summary.after) return `${first} Next: does it stay solved?`;
  if (!summary.below) {
    const all = summary.after === 1 ? 'the evaluation since then' : `all ${summary.after} evaluations since then`;
    return `${first} It stayed solved: ${all} ≥ ${ret(threshold)}.`;
  }
  return `${first} ${summary.below} of ${summary.after} evaluations since then fell below ${ret(threshold)} (latest ${ret(summary.last)}).`;
}

/** The announcement when the first solved evaluation comes in. */
export function solvedAnnouncement(summary, threshold, env) {
  const time = summary.seconds != null ? ` after ${formatDuration(summary.seconds)} of training` : '';
  return `Solved! The ${env} policy reached a greedy evaluation of ${ret(summary.mean)} (≥ ${ret(threshold)}) at ${integer(summary.step)} env steps${time}. Training goes on to the step budget; the line under the bar says whether it stays solved.`;
}

/** What the end of a run says: its length and whether (and how well) it was solved. */
export function runSummaryText(summary, threshold, { envSteps, seconds, budget }) {
  const head = `Run finished: the step budget of ${integer(budget)} env steps is reached (${integer(envSteps)} env steps in ${formatDuration(seconds)} of training).`;
  let verdict;
  if (!summary.solved) {
    verdict = summary.evals ? `Not solved: the best greedy evaluation was ${ret(summary.best)} (solved needs ${ret(threshold)}).` : 'Not solved: no greedy evaluation ran.';
  } else if (summary.below === 0) {
    verdict = `Solved at ${integer(summary.step)} env steps and stayed solved (${summary.after} evaluation${summary.after === 1 ? '' : 's'} since, latest ${ret(summary.last)}).`;
  } else {
    verdict = `Solved at ${integer(summary.step)} env steps, but ${summary.below} of ${summary.after} later evaluations fell below ${ret(threshold)} (latest ${ret(summary.last)}).`;
  }
  return `${head} ${verdict} Raise the step budget to go on from here (the run keeps its steps and curves).`;
}
