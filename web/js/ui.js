// The page's DOM: controls, messages, loading progress, counters, worker chips, the robot canvas and the
// return chart. Knows nothing about Python or workers; main.js feeds it plain values.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { draw } from './draw.js';

const MOVING_AVERAGE = 20; // episodes in the chart's moving average
const MAX_CHART_POINTS = 4000; // episodes beyond this are thinned (every k-th) for drawing

const COUNTERS = Object.freeze([
  ['episodes', 'Episodes'],
  ['env_steps', 'Env steps'],
  ['updates', 'Updates'],
  ['episodes_per_min', 'Episodes / min'],
  ['env_steps_per_s', 'Env steps / s'],
  ['fps', 'FPS'],
  ['workers_ready', 'Workers ready'],
  ['last_eval_return', 'Last eval return'],
  ['best_eval_return', 'Best eval return'],
  ['policy_version', 'Policy version'],
  ['epsilon', 'Epsilon'],
  ['staleness', 'Staleness (versions)'],
]);

const integer = (v) => (v == null ? '–' : Math.round(v).toLocaleString('en-US'));
const decimal = (digits) => (v) => (v == null ? '–' : Number(v).toFixed(digits));

const FORMAT = Object.freeze({
  episodes: integer,
  env_steps: integer,
  updates: integer,
  episodes_per_min: integer,
  env_steps_per_s: integer,
  fps: integer,
  workers_ready: (v) => v ?? '–',
  last_eval_return: decimal(1),
  best_eval_return: decimal(1),
  policy_version: integer,
  epsilon: decimal(3),
  staleness: decimal(1),
});

/**
 * Bind the page. `handlers`: {onStart(), onPause(), onReset(), onSetting(name, rawText)}.
 * Returns the object main.js drives.
 */
export function createUI(doc, handlers) {
  const $ = (id) => doc.getElementById(id);
  const els = {
    message: $('message'),
    controls: $('controls'),
    env: $('env'),
    mode: $('mode'),
    workers: $('workers'),
    seed: $('seed'),
    batch: $('batch'),
    lanes: $('lanes'),
    start: $('start'),
    pause: $('pause'),
    reset: $('reset'),
    loading: $('loading'),
    progress: $('progress'),
    loadingText: $('loading-text'),
    counters: $('counters'),
    workerList: $('worker-list'),
    canvas: $('view'),
    caption: $('view-caption'),
    chart: $('chart'),
  };
  const ctx = els.canvas.getContext('2d');
  const counterCells = {};
  for (const [key, title] of COUNTERS) {
    const cell = doc.createElement('div');
    const dt = doc.createElement('dt');
    const dd = doc.createElement('dd');
    dt.textContent = title;
    dd.textContent = '–';
    dd.dataset.counter = key;
    cell.append(dt, dd);
    els.counters.append(cell);
    counterCells[key] = dd;
  }

  els.start.addEventListener('click', () => handlers.onStart());
  els.pause.addEventListener('click', () => handlers.onPause());
  els.reset.addEventListener('click', () => handlers.onReset());
  els.controls.addEventListener('submit', (event) => event.preventDefault());
  for (const name of ['env', 'mode', 'workers', 'seed', 'batch', 'lanes']) {
    els[name].addEventListener('change', () => handlers.onSetting(name, els[name].value));
  }

  let chart = null;
  let lastEpisodeCount = -1;
  let lastEvalCount = -1;

  const ui = {
    /** Fill the selects: env names from the core, worker counts 1..max with 'auto (n)'. */
    setChoices({ envNames, maxWorkers, autoWorkers }) {
      if (envNames) {
        els.env.replaceChildren(...envNames.map((name) => new Option(name, name)));
      }
      if (maxWorkers) {
        const options = [new Option(`auto (${autoWorkers})`, 'auto')];
        for (let n = 1; n <= maxWorkers; n++) options.push(new Option(String(n), String(n)));
        els.workers.replaceChildren(...options);
      }
    },

    /** Show `settings` in the controls (values that are not offered stay as they are). */
    showSettings(settings) {
      const setSelect = (el, value) => {
        if ([...el.options].some((o) => o.value === String(value))) el.value = String(value);
      };
      setSelect(els.env, settings.env);
      setSelect(els.mode, settings.mode);
      setSelect(els.workers, settings.workers);
      els.seed.value = String(settings.seed);
      els.batch.value = settings.batch == null ? '' : String(settings.batch);
      els.lanes.value = settings.lanes == null ? '' : String(settings.lanes);
      els.workers.disabled = settings.mode === 'main';
      for (const name of ['seed', 'batch', 'lanes']) els[name].removeAttribute('aria-invalid');
    },

    markInvalid(name, invalid) {
      if (!els[name]) return;
      if (invalid) els[name].setAttribute('aria-invalid', 'true');
      else els[name].removeAttribute('aria-invalid');
    },

    /** Errors (a list of strings) in the alert box, or nothing; `kind` 'error' or 'note'. */
    showMessage(lines, kind = 'error') {
      if (!lines || !lines.length) {
        els.message.hidden = true;
        els.message.textContent = '';
        return;
      }
      els.message.textContent = lines.join('\n');
      els.message.classList.toggle('note', kind === 'note');
      els.message.hidden = false;
    },

    setLoading(fraction, text) {
      els.progress.value = Math.max(0, Math.min(1, fraction));
      els.loadingText.textContent = text;
      els.loading.classList.toggle('done', fraction >= 1);
    },

    setButtons({ start, pause, reset, controls = true }) {
      els.start.disabled = !start;
      els.pause.disabled = !pause;
      els.reset.disabled = !reset;
      for (const name of ['env', 'mode', 'seed', 'batch', 'lanes']) els[name].disabled = !controls;
      els.workers.disabled = !controls || els.mode.value === 'main';
    },

    setCaption(text) {
      els.caption.textContent = text;
    },

    showStats(stats) {
      const values = {
        ...stats,
        workers_ready: stats.mode === 'main' ? 'main thread' : `${stats.workers_ready} of ${stats.workers.length}`,
        staleness: stats.staleness?.recent_mean,
      };
      for (const [key] of COUNTERS) counterCells[key].textContent = FORMAT[key](values[key]);
    },

    showWorkers(workers) {
      const chips = workers.map((w) => {
        const chip = doc.createElement('span');
        chip.className = `worker ${w.state}`;
        chip.textContent = `#${w.id} ${w.state} · ${w.episodes} ep${w.failures ? ` · ${w.failures} failed` : ''}`;
        return chip;
      });
      els.workerList.replaceChildren(...chips);
    },

    drawRobot(state, spec) {
      draw(ctx, state, spec);
    },

    /** Redraw the return chart from history() when it changed; `threshold` draws the solved line. */
    showHistory(history, threshold) {
      if (history.episodes.length === lastEpisodeCount && history.evals.length === lastEvalCount) return;
      lastEpisodeCount = history.episodes.length;
      lastEvalCount = history.evals.length;
      const data = chartData(history, threshold);
      if (!chart) chart = makeChart(els.chart, data);
      else chart.setData(data);
    },

    clearHistory() {
      lastEpisodeCount = -1;
      lastEvalCount = -1;
      chart?.setData([[], [], [], [], []]);
    },
  };
  return ui;
}

function makeChart(container, data) {
  const width = Math.max(300, container.clientWidth || 1200);
  return new uPlot(
    {
      width,
      height: 210,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false } },
      axes: [
        { label: 'environment steps', size: 36, labelSize: 16 },
        { label: 'return', size: 50, labelSize: 16 },
      ],
      series: [
        {},
        { label: 'episode return', stroke: 'rgba(47, 93, 138, 0.25)', width: 1, spanGaps: true, points: { show: false } },
        { label: `mean of ${MOVING_AVERAGE}`, stroke: '#2f5d8a', width: 2, spanGaps: true, points: { show: false } },
        {
          label: 'greedy evaluation',
          stroke: '#d9822b',
          width: 0,
          paths: () => null,
          points: { show: true, size: 7, fill: '#d9822b', stroke: '#d9822b' },
        },
        { label: 'solved', stroke: '#3a9a5b', width: 1, dash: [5, 5], spanGaps: true, points: { show: false } },
      ],
    },
    data,
    container,
  );
}

/** Aligned uPlot data: x = cumulative env steps (episodes in id order), evaluations merged in at their step. */
function chartData(history, threshold) {
  const episodes = history.episodes;
  const stride = Math.max(1, Math.ceil(episodes.length / MAX_CHART_POINTS));
  const points = [];
  let steps = 0;
  let windowSum = 0;
  for (let i = 0; i < episodes.length; i++) {
    const [, ret, length] = episodes[i];
    steps += length;
    windowSum += ret;
    if (i >= MOVING_AVERAGE) windowSum -= episodes[i - MOVING_AVERAGE][1];
    if (i % stride === 0 || i === episodes.length - 1) {
      points.push([steps, ret, windowSum / Math.min(i + 1, MOVING_AVERAGE), null]);
    }
  }
  for (const [step, mean] of history.evals) points.push([step, null, null, mean]);
  points.sort((a, b) => a[0] - b[0]);
  const xs = [];
  const raw = [];
  const avg = [];
  const evals = [];
  const solved = [];
  for (const [x, r, a, e] of points) {
    if (xs.length && xs[xs.length - 1] === x) {
      const j = xs.length - 1;
      raw[j] ??= r;
      avg[j] ??= a;
      evals[j] ??= e;
      continue;
    }
    xs.push(x);
    raw.push(r);
    avg.push(a);
    evals.push(e);
    solved.push(threshold ?? null);
  }
  return [xs, raw, avg, evals, solved];
}
