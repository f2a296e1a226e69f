// The curves (uPlot): episode return with its moving average and the greedy evaluations, TD loss, epsilon,
// throughput and the policy-lag histogram. Fed with the trainer's curve object once a second; everything is
// thinned to at most MAX_POINTS points per series so the charts stay fast with 100,000 episodes.
import uPlot from '../vendor/uplot/uPlot.esm.js';

export const MAX_POINTS = 2000;
const HEIGHT_WIDE = 220;
const HEIGHT = 180;

/** The moving-average window for n episodes: 20, growing with long runs so the line stays readable. */
export function movingWindow(n) {
  return Math.max(20, Math.round(n / 200));
}

function css(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function axis(label, extra = {}) {
  const stroke = css('--muted', '#5a6572');
  const grid = css('--line', '#dde2e8');
  return { label, stroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 44, labelSize: 14, ...extra };
}

/** Aligned uPlot data for the return chart; `xi` 3 = env steps, 4 = training seconds. */
export function returnData(curve, threshold, xi) {
  const episodes = curve.episodes;
  const n = episodes.length;
  const window = movingWindow(n);
  const stride = Math.max(1, Math.ceil(n / MAX_POINTS));
  const xs = [];
  const raw = [];
  const avg = [];
  const evals = [];
  const solved = [];
  const evalX = xi === 3 ? 0 : 2;
  const evalRows = curve.evals.filter((e) => e[evalX] != null);
  let j = 0;
  let sum = 0;
  const pushEval = (row) => {
    xs.push(row[evalX]);
    raw.push(null);
    avg.push(null);
    evals.push(row[1]);
    solved.push(threshold ?? null);
  };
  for (let i = 0; i < n; i++) {
    const row = episodes[i];
    sum += row[1];
    if (i >= window) sum -= episodes[i - window][1];
    if (i % stride !== 0 && i !== n - 1) continue;
    const x = row[xi] ?? row[3];
    while (j < evalRows.length && evalRows[j][evalX] < x) pushEval(evalRows[j++]);
    if (xs.length && xs[xs.length - 1] === x) continue;
    xs.push(x);
    raw.push(row[1]);
    avg.push(sum / Math.min(i + 1, window));
    evals.push(null);
    solved.push(threshold ?? null);
  }
  while (j < evalRows.length) pushEval(evalRows[j++]);
  const shown = thresholdFits(threshold, [raw, evals]);
  return { data: [xs, raw, avg, evals, shown ? solved : solved.map(() => null)], window, thresholdShown: shown };
}

/**
 * Whether the solved line belongs on the return chart's axis: only when it lies within one data span of the
 * returns so far. Otherwise (balancebot's 7,000 at the start) it would squash the curve into a flat line at the
 * bottom of the axis; the legend and the text alternative still name the threshold.
 */
export function thresholdFits(threshold, columns) {
  if (threshold == null) return false;
  let min = Infinity;
  let max = -Infinity;
  for (const column of columns) {
    for (const v of column) {
      if (v == null) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (max === -Infinity) return true;
  const span = Math.max(max - min, Math.abs(max) * 0.1, 1);
  return threshold <= max + span && threshold >= min - span;
}

/** Thinned columns of curve.series: x (0 time or 1 env steps) then the given columns. */
export function seriesData(series, xCol, cols, positive = false) {
  const stride = Math.max(1, Math.ceil(series.length / MAX_POINTS));
  const out = [[], ...cols.map(() => [])];
  let lastX = -Infinity;
  for (let i = 0; i < series.length; i += stride) {
    const row = series[i];
    if (!(row[xCol] > lastX)) continue;
    lastX = row[xCol];
    out[0].push(row[xCol]);
    cols.forEach((c, k) => {
      const v = row[c];
      out[k + 1].push(v == null || (positive && !(v > 0)) ? null : v);
    });
  }
  return out;
}

export function lagData(lag) {
  const keys = Object.keys(lag).map(Number).sort((a, b) => a - b);
  const max = Math.max(4, keys.length ? keys[keys.length - 1] : 0);
  const xs = [];
  const ys = [];
  for (let v = 0; v <= max; v++) {
    xs.push(v);
    ys.push(lag[v] ?? 0);
  }
  return [xs, ys];
}

export class Charts {
  constructor(doc) {
    this.els = {
      ret: doc.getElementById('chart-return'),
      loss: doc.getElementById('chart-loss'),
      epsilon: doc.getElementById('chart-epsilon'),
      throughput: doc.getElementById('chart-throughput'),
      lag: doc.getElementById('chart-lag'),
    };
    this.charts = {};
    this.xAxis = 'steps';
    this.lastKey = null;
    this.lastDrawMs = 0;
    window.addEventListener('resize', () => this.resize());
  }

  /** Drop every chart (theme or x axis changed); the next update() draws them again. */
  rebuild() {
    for (const chart of Object.values(this.charts)) chart.destroy();
    this.charts = {};
    this.lastKey = null;
  }

  setXAxis(which) {
    this.xAxis = which === 'time' ? 'time' : 'steps';
    this.rebuild();
  }

  resize() {
    for (const [name, chart] of Object.entries(this.charts)) {
      const width = this._width(this.els[name]);
      if (Math.abs(chart.width - width) > 4) chart.setSize({ width, height: chart.height });
    }
  }

  _width(el) {
    return Math.max(200, Math.floor(el.clientWidth || 300));
  }

  clear() {
    this.rebuild();
    for (const el of Object.values(this.els)) el.replaceChildren();
  }

  /** Redraw from the trainer's curve (no-op when nothing changed). Returns the time it took, ms. */
  update(curve, threshold) {
    const key = `${curve.episodes.length}/${curve.evals.length}/${curve.series.length}/${this.xAxis}`;
    if (key === this.lastKey) return 0;
    this.lastKey = key;
    const started = performance.now();
    const time = this.xAxis === 'time';
    const xLabel = time ? 'training time (s)' : 'env steps';
    const { data, window, thresholdShown } = returnData(curve, threshold, time ? 4 : 3);
    this._set('ret', data, () => ({
      title: 'Episode return',
      height: HEIGHT_WIDE,
      axes: [axis(xLabel), axis('return')],
      series: [
        {},
        { label: 'episode return', stroke: css('--accent', '#2f5d8a') + '40', width: 1, spanGaps: true, points: { show: false } },
        { label: `moving mean (${window} episodes)`, stroke: css('--accent', '#2f5d8a'), width: 2, spanGaps: true, points: { show: false } },
        {
          label: 'greedy evaluation (mean)',
          stroke: css('--orange', '#d9822b'),
          width: 0,
          paths: () => null,
          points: { show: true, size: 7, fill: css('--orange', '#d9822b'), stroke: css('--orange', '#d9822b') },
        },
        { label: `solved (${threshold})`, stroke: css('--green', '#3a9a5b'), width: 1, dash: [5, 5], spanGaps: true, points: { show: false } },
      ],
    }));
    const xCol = time ? 0 : 1;
    this._set('loss', seriesData(curve.series, xCol, [2], true), () => ({
      title: 'TD loss (log scale)',
      scales: { y: { distr: 3 } },
      axes: [axis(xLabel), axis('loss', { size: 56 })],
      series: [{}, { label: 'TD loss', stroke: css('--accent', '#2f5d8a'), width: 1.5, spanGaps: true, points: { show: false } }],
    }));
    this._set('epsilon', seriesData(curve.series, xCol, [3]), () => ({
      title: 'Exploration epsilon',
      scales: { y: { range: [0, 1] } },
      axes: [axis(xLabel), axis('epsilon')],
      series: [{}, { label: 'epsilon', stroke: css('--orange', '#d9822b'), width: 1.5, spanGaps: true, points: { show: false } }],
    }));
    this._set('throughput', seriesData(curve.series, xCol, [4, 5, 6], true), () => ({
      title: 'Throughput (log scale)',
      scales: { y: { distr: 3 } },
      axes: [axis(xLabel), axis('per min / per s', { size: 50 })],
      series: [
        {},
        { label: 'episodes/min', stroke: css('--accent', '#2f5d8a'), width: 1.5, spanGaps: true, points: { show: false } },
        { label: 'env steps/s', stroke: css('--orange', '#d9822b'), width: 1.5, spanGaps: true, points: { show: false } },
        { label: 'updates/s', stroke: css('--green', '#3a9a5b'), width: 1.5, spanGaps: true, points: { show: false } },
      ],
    }));
    this._set('lag', lagData(curve.lag), () => ({
      title: 'Policy lag of ingested results',
      scales: { x: { time: false, range: (u, min, max) => [-0.6, Math.max(max, 4) + 0.6] } },
      axes: [axis('versions behind the learner'), axis('results')],
      series: [
        {},
        {
          label: 'results',
          stroke: css('--accent', '#2f5d8a'),
          fill: css('--accent', '#2f5d8a') + '80',
          width: 1,
          paths: uPlot.paths.bars({ size: [0.7, 40] }),
          points: { show: false },
        },
      ],
    }));
    this.describe(curve, threshold, data, window, thresholdShown);
    this.lastDrawMs = performance.now() - started;
    return this.lastDrawMs;
  }

  /** Each chart's text alternative: what it shows and its latest values (a canvas says nothing by itself). */
  describe(curve, threshold, returnColumns, window, thresholdShown) {
    const last = (column) => {
      for (let i = column.length - 1; i >= 0; i--) if (column[i] != null) return column[i];
      return null;
    };
    const num = (v, digits = 1) => (v == null ? 'none yet' : Number(v).toFixed(digits));
    const evalRow = curve.evals[curve.evals.length - 1];
    const row = curve.series[curve.series.length - 1] ?? [];
    const lagKeys = Object.keys(curve.lag);
    const commonLag = lagKeys.length ? lagKeys.reduce((a, b) => (curve.lag[b] > curve.lag[a] ? b : a)) : null;
    const texts = {
      ret: `Episode return chart: ${curve.episodes.length} episodes, moving mean over ${window} episodes ${num(last(returnColumns[2]))}; ` +
        (evalRow ? `latest greedy evaluation ${num(evalRow[1])} at ${evalRow[0]} env steps` : 'no greedy evaluation yet') +
        (threshold == null ? '.' : `; solved at ${num(threshold)}${thresholdShown ? '' : ', far above the curve so far (the line is left out until it is nearer)'}.`),
      loss: `TD loss chart (log scale): latest ${row[2] == null ? 'none yet' : Number(row[2]).toPrecision(3)}.`,
      epsilon: `Exploration epsilon chart: latest ${num(row[3], 3)}.`,
      throughput: `Throughput chart: latest ${num(row[4])} episodes per minute, ${num(row[5])} env steps per second, ${num(row[6])} updates per second.`,
      lag: commonLag === null ? 'Policy lag chart: no results yet.'
        : `Policy lag chart: most ingested results were played ${commonLag} policy versions behind the learner.`,
    };
    for (const [name, text] of Object.entries(texts)) this.els[name].setAttribute('aria-label', text);
  }

  _set(name, data, options) {
    const chart = this.charts[name];
    if (chart) {
      chart.setData(data);
      return;
    }
    const el = this.els[name];
    el.replaceChildren();
    const opts = options();
    this.charts[name] = new uPlot(
      {
        width: this._width(el),
        height: opts.height ?? HEIGHT,
        legend: { show: true, live: false },
        cursor: { drag: { x: true, y: false } },
        ...opts,
        scales: { ...(opts.scales ?? {}), x: { time: false, ...(opts.scales?.x ?? {}) } },
      },
      data,
      el,
    );
  }
}
