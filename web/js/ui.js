// The page's DOM: controls (with a form built from Config.field_specs), messages, progress bars, counters,
// worker tiles, the robot canvas (with push and replay) and the theme. Knows nothing about Python or workers;
// main.js feeds it plain values.
import { draw, setDrawColors } from './draw.js';
import { Charts } from './charts.js';
import { ConfigForm } from './ui/form.js';
import { COUNTERS, FORMAT, integer, taskSizeText, formatDuration } from './ui/format.js';
import { showWorkerTiles } from './ui/workers.js';


const THEMES = ['auto', 'light', 'dark'];
const OWN_INPUTS = ['seed', 'batch', 'lanes'];
const CLICK_PUSH = 1.5; // rad/s added to the robot's main angular velocity by a click or a push button

/**
 * Bind the page. `handlers`: {onStart, onPause, onReset, onSetting(name, text), onField(name, text, final),
 * onSave, onLoadFile(file), onShare, onExportCard, onResume(yes), onPush(impulse), onReplay(id),
 * onReplayLive(), onScrub(frame), onReplayToggle(), onTheme(), onUndo(yes), onTakeOver()}.
 */
export function createUI(doc, handlers) {
  const $ = (id) => doc.getElementById(id);
  const els = {};
  for (const id of [
    'message', 'notice', 'notice-text', 'notice-close', 'resume', 'resume-text', 'resume-yes', 'resume-no', 'controls',
    'env', 'mode', 'workers', 'seed', 'batch', 'lanes', 'start', 'pause', 'reset', 'save-model', 'load-model',
    'load-file', 'share', 'share-link', 'export-card', 'autosave-status', 'hyper-fields', 'budget-slot', 'loading',
    'progress', 'loading-text', 'budget-bar', 'budget-text', 'counters', 'counters-more', 'memory', 'worker-list', 'workers-note',
    'view', 'view-caption', 'view-mode', 'replay-pick', 'replay-go', 'replay-play', 'replay-scrub', 'replay-pos',
    'replay-live', 'theme', 'undo', 'undo-text', 'undo-yes', 'undo-forget', 'solved', 'tabs', 'tabs-text', 'tabs-take', 'push-left', 'push-right',
  ]) {
    els[id] = $(id);
  }
  const ctx = els.view.getContext('2d');
  const charts = new Charts(doc);
  const counterCells = {};
  for (const [key, title, explanation, headline] of COUNTERS) {
    const cell = doc.createElement('div');
    const dt = doc.createElement('dt');
    const dd = doc.createElement('dd');
    dt.textContent = title;
    dt.title = explanation;
    dd.textContent = '–';
    dd.dataset.counter = key;
    cell.append(dt, dd);
    (headline ? els.counters : els['counters-more']).append(cell);
    counterCells[key] = dd;
  }
  const form = new ConfigForm({ doc, els, onField: (...args) => handlers.onField(...args) });
  const fieldInputs = form.inputs; // config field name -> its input

  els.start.addEventListener('click', () => handlers.onStart());
  els.pause.addEventListener('click', () => handlers.onPause());
  els.reset.addEventListener('click', () => handlers.onReset());
  els.controls.addEventListener('submit', (event) => event.preventDefault());
  for (const name of ['env', 'mode', 'workers', 'seed', 'batch', 'lanes']) {
    els[name].addEventListener('change', () => handlers.onSetting(name, els[name].value));
  }
  for (const name of OWN_INPUTS) {
    els[name].addEventListener('input', () => handlers.onSetting(name, els[name].value, { typing: true }));
  }
  els['save-model'].addEventListener('click', () => handlers.onSave());
  els['load-model'].addEventListener('click', () => els['load-file'].click());
  els['load-file'].addEventListener('change', () => {
    const file = els['load-file'].files[0];
    els['load-file'].value = '';
    if (file) handlers.onLoadFile(file);
  });
  els.share.addEventListener('click', () => handlers.onShare());
  els['export-card'].addEventListener('click', () => handlers.onExportCard());
  els['notice-close'].addEventListener('click', () => ui.showNotice(null));
  els['resume-yes'].addEventListener('click', () => handlers.onResume(true));
  els['resume-no'].addEventListener('click', () => handlers.onResume(false));
  els['undo-yes'].addEventListener('click', () => handlers.onUndo(true));
  els['undo-forget'].addEventListener('click', () => handlers.onUndo(false));
  els['tabs-take'].addEventListener('click', () => handlers.onTakeOver());
  els['replay-go'].addEventListener('click', () => {
    const value = els['replay-pick'].value;
    if (value) handlers.onReplay(value === 'best' ? 'best' : Number(value));
  });
  els['replay-pick'].addEventListener('focus', () => handlers.onReplayListWanted());
  els['replay-pick'].addEventListener('pointerdown', () => handlers.onReplayListWanted());
  els['replay-live'].addEventListener('click', () => handlers.onReplayLive());
  els['replay-play'].addEventListener('click', () => handlers.onReplayToggle());
  els['replay-scrub'].addEventListener('input', () => handlers.onScrub(Number(els['replay-scrub'].value)));
  els.theme.addEventListener('click', () => handlers.onTheme());
  for (const radio of doc.querySelectorAll('input[name="xaxis"]')) {
    radio.addEventListener('change', () => charts.setXAxis(radio.value));
  }

  // The same pushes from the keyboard (the canvas is not focusable): the buttons push as a click does.
  els['push-left'].addEventListener('click', () => handlers.onPush(-CLICK_PUSH));
  els['push-right'].addEventListener('click', () => handlers.onPush(CLICK_PUSH));

  // Push the robot: a click pushes away from the pointer, a drag pushes along the drag.
  let dragFrom = null;
  els.view.addEventListener('pointerdown', (event) => {
    dragFrom = { x: event.offsetX, t: performance.now() };
    els.view.setPointerCapture?.(event.pointerId);
  });
  els.view.addEventListener('pointerup', (event) => {
    if (!dragFrom) return;
    const dx = event.offsetX - dragFrom.x;
    const width = els.view.clientWidth || 640;
    let impulse;
    if (Math.abs(dx) > 6) impulse = (dx / width) * 8; // a drag across the whole view: 8 rad/s
    else impulse = event.offsetX < width / 2 ? CLICK_PUSH : -CLICK_PUSH; // a click pushes away from the clicked side
    dragFrom = null;
    handlers.onPush(Math.max(-8, Math.min(8, impulse)));
  });

  const ui = {
    charts,

    setChoices({ envNames, maxWorkers, autoWorkers }) {
      if (envNames) els.env.replaceChildren(...envNames.map((name) => new Option(name, name)));
      if (maxWorkers) {
        const options = [new Option(`auto (${autoWorkers})`, 'auto')];
        for (let n = 1; n <= maxWorkers; n++) options.push(new Option(String(n), String(n)));
        els.workers.replaceChildren(...options);
      }
    },

    /** Build the hyperparameter form from Config.field_specs (skipping the fields in `skip`). */
    buildFields(specs, skip) {
      form.build(specs, skip);
    },

    /** Show the config in the form: explicit overrides as values, the env's defaults as placeholders. */
    showFields(cfg, defaults) {
      form.show(cfg, defaults);
    },

    /** Put `text` in the form's field `name` as it was given (a rejected URL value the user is to fix). */
    setFieldText(name, text) {
      form.setText(name, text);
    },

    /** Inline message next to a field (`name`: a config field or seed / batch / lanes); null clears it. */
    setFieldError(name, message) {
      const input = fieldInputs[name] ?? (OWN_INPUTS.includes(name) ? els[name] : null);
      const box = fieldInputs[name] ? doc.getElementById(`cfg-${name}-error`) : els[`${name}-error`];
      if (input) {
        if (message) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      }
      if (box) box.textContent = message ?? '';
      if (message && fieldInputs[name] && !els['budget-slot'].contains(fieldInputs[name])) {
        doc.getElementById('hyper').open = true;
      }
    },

    showSettings(settings) {
      const setSelect = (el, value) => {
        if ([...el.options].some((o) => o.value === String(value))) el.value = String(value);
      };
      setSelect(els.env, settings.env);
      setSelect(els.mode, settings.mode);
      setSelect(els.workers, settings.workers);
      if (doc.activeElement !== els.seed) els.seed.value = String(settings.seed);
      if (doc.activeElement !== els.batch) els.batch.value = settings.batch == null ? '' : String(settings.batch);
      if (doc.activeElement !== els.lanes) els.lanes.value = settings.lanes == null ? '' : String(settings.lanes);
      els.workers.disabled = settings.mode === 'main';
    },

    markInvalid(name, invalid) {
      if (!els[name]) return;
      if (invalid) els[name].setAttribute('aria-invalid', 'true');
      else els[name].removeAttribute('aria-invalid');
    },

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

    /** A dismissable notice (`kind` 'note' or 'error'); null hides it. */
    showNotice(text, kind = 'note') {
      els['notice-text'].textContent = text ?? '';
      els.notice.classList.toggle('error-note', kind === 'error');
      els.notice.classList.toggle('success-note', kind === 'success');
      els.notice.dataset.kind = kind;
      els.notice.hidden = !text;
    },

    /** The Undo offer for a replaced run (null hides it). */
    showUndo(text) {
      els['undo-text'].textContent = text ?? '';
      els.undo.hidden = !text;
    },

    /** That another tab owns the autosaved run, with a Take over button (null hides it). */
    showTabs(text) {
      els['tabs-text'].textContent = text ?? '';
      els.tabs.hidden = !text;
    },

    /** Whether the current run is solved (ui/solved.js); `state`: not-yet | solved | wobbly; null hides it. */
    showSolved(text, state = 'not-yet') {
      els.solved.textContent = text ?? '';
      els.solved.dataset.state = state;
      els.solved.hidden = !text;
    },

    showResumeOffer(text) {
      els['resume-text'].textContent = text ?? '';
      els.resume.hidden = !text;
    },

    showShareLink(url) {
      els['share-link'].value = url;
      els['share-link'].hidden = false;
      els['share-link'].select();
    },

    setAutosaveStatus(text) {
      els['autosave-status'].textContent = text;
    },

    setLoading(fraction, text) {
      els.progress.value = Math.max(0, Math.min(1, fraction));
      els['loading-text'].textContent = text;
      els.loading.classList.toggle('done', fraction >= 1);
    },

    setBudget(stats) {
      const budget = stats.step_budget;
      if (!budget) {
        els['budget-bar'].value = 0;
        els['budget-text'].textContent = 'Step budget: –';
        return;
      }
      // The count is the counters' (a sync batch may end past the budget); the bar and the percentage stop at 100.
      const done = Math.min(stats.env_steps, budget);
      els['budget-bar'].value = done / budget;
      let eta = '';
      // The ETA uses the run's average pace once it has trained 20 s: episodes of thousands of steps arrive in
      // bursts, and the last seconds' rate made it jump (43 min, 2 h 11, 43 min).
      const seconds = (stats.training_wall_ms ?? 0) / 1000;
      const pace = seconds >= 20 ? stats.env_steps / seconds : stats.env_steps_per_s;
      if (stats.finished || done >= budget) eta = ' · budget reached';
      else if (stats.state === 'running' && pace > 0) eta = ` · ETA ${formatDuration((budget - done) / pace)}`;
      els['budget-text'].textContent =
        `${integer(stats.env_steps)} of ${integer(budget)} env steps (${Math.floor((100 * done) / budget)} %)${eta}`;
    },

    setButtons({ start, pause, reset, controls = true, files = false, save = false }) {
      els.start.disabled = !start;
      els.pause.disabled = !pause;
      els.reset.disabled = !reset;
      for (const name of ['env', 'mode', 'seed', 'batch', 'lanes']) els[name].disabled = !controls;
      for (const input of Object.values(fieldInputs)) input.disabled = !controls;
      els.workers.disabled = !controls || els.mode.value === 'main';
      els['load-model'].disabled = !files;
      els.share.disabled = !files;
      els['save-model'].disabled = !save;
      els['export-card'].disabled = !save;
    },

    setCaption(text) {
      els['view-caption'].textContent = text;
    },

    setViewMode(text) {
      els['view-mode'].textContent = text;
    },

    showStats(stats) {
      const values = {
        ...stats,
        workers_ready: stats.mode === 'main' ? 'main thread' : `${stats.workers_ready} of ${stats.workers.length}`,
        staleness: stats.staleness?.recent_mean,
        task_size: taskSizeText(stats.task_sizing, stats.mode),
      };
      for (const [key] of COUNTERS) counterCells[key].textContent = (FORMAT[key] ?? integer)(values[key]);
    },

    showMemory(text) {
      els.memory.textContent = text;
    },

    /** One tile per worker (ui/workers.js). */
    showWorkers(workers, options) {
      showWorkerTiles(doc, els['worker-list'], els['workers-note'], workers, options);
    },

    drawRobot(state, spec) {
      draw(ctx, state, spec);
    },

    /** The replay picker: best first, then the recent episodes, newest first. */
    setReplayList(best, recent) {
      const pick = els['replay-pick'];
      const keep = pick.value;
      const options = [];
      if (best) options.push(new Option(`best: #${best.id} (return ${best.ret.toFixed(1)}, ${best.length} steps)`, 'best'));
      for (let i = recent.length - 1; i >= 0; i--) {
        const e = recent[i];
        options.push(new Option(`#${e.id}: return ${e.ret.toFixed(1)}, ${e.length} steps`, String(e.id)));
      }
      if (!options.length) options.push(new Option('(no episode yet)', ''));
      pick.replaceChildren(...options);
      if ([...pick.options].some((o) => o.value === keep)) pick.value = keep;
      els['replay-go'].disabled = !best;
    },

    showReplay(replay) {
      const on = Boolean(replay);
      els['replay-scrub'].disabled = !on;
      els['replay-play'].disabled = !on;
      els['replay-live'].disabled = !on;
      if (!on) {
        els['replay-pos'].textContent = '–';
        els['replay-scrub'].value = '0';
        return;
      }
      els['replay-scrub'].max = String(replay.length);
      if (doc.activeElement !== els['replay-scrub']) els['replay-scrub'].value = String(replay.frame);
      els['replay-play'].textContent = replay.playing ? 'Pause' : 'Play';
      els['replay-pos'].textContent = `step ${replay.frame} of ${replay.length}`;
    },

    applyTheme(theme) {
      if (theme === 'auto') doc.documentElement.removeAttribute('data-theme');
      else doc.documentElement.dataset.theme = theme;
      els.theme.textContent = `Theme: ${theme}`;
      setDrawColors(getComputedStyle(doc.documentElement));
      charts.rebuild();
    },

    nextTheme(theme) {
      return THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    },

    showCurves(curve, threshold) {
      return charts.update(curve, threshold);
    },

    clearHistory() {
      charts.clear();
    },
  };
  return ui;
}
