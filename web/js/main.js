// Entry point: reads the settings, loads the page's Python, starts the worker pool and the trainer, runs the
// frame loop (live robot, replay, counters, worker tiles, charts), keeps the work safe (model files, autosave,
// share links, run cards) and exposes window.robotrain for scripts and tests.
import { createUI, formatBytes, formatDuration } from './ui.js';
import { WorkerPool, autoWorkerCount, MAX_WORKERS } from './pool.js';
import { Trainer } from './trainer.js';
import { loadRobotrain, compiledRuntime, pyTools, loadGlue, pythonErrorMessage, setKernelChoice } from './pyhost.js';
import { parseURL, parseSetting, parseField, checkWithCore, toQuery, faultsOf, OWN_CONTROL_FIELDS } from './params.js';
import { saveRecord, loadRecord, deleteRecord, storageErrorMessage } from './store.js';
import { returnData } from './charts.js';
import { noteFrame } from './schedule.js';

const BASE_URL = new URL('../', import.meta.url);
const WORKER_URL = new URL('./worker.js', import.meta.url);
const STATS_EVERY_MS = 250;
const CHART_EVERY_MS = 1000;
const AUTOSAVE_EVERY_MS = 60_000;
const MEMORY_EVERY_MS = 2000;
const UA_MEMORY_EVERY_MS = 20_000;
const MAX_MODEL_BYTES = 50 * 1024 * 1024;
const CARD_FORMAT = 'robotrain-run-card';

const app = {
  settings: null,
  inputErrors: new Map(), // key (setting name, 'cfg.FIELD' or 'py') -> message; any entry blocks Start
  pyField: null, // the field named by the last failed Python check of the config
  notes: [],
  trainerError: null,
  loadError: null,
  pyodide: null,
  tools: null,
  glue: null,
  core: null, // {envNames, specs, defaults}
  cfgRaw: {},
  pool: null,
  trainer: null,
  pendingStart: false,
  timings: { page_start_ms: Math.round(performance.now()), python_ready_ms: null, workers_ready_ms: null },
  fps: 0,
  framesDrawn: 0,
  pushes: 0,
  replay: null, // {states, dim, length, frame, playing, episode, position}
  theme: 'auto',
  autosave: { last_ok_at: null, last_error: null, bytes: 0, saves: 0, busy: false, lastAttempt: 0 },
  offer: null, // the autosaved record offered for resuming
  hidden: { since: null, episodes: 0, steps: 0, last_ms: null, count: 0 },
  memory: { source: 'python heaps', bytes: null, page_heap: null, workers_heap: null, measured_at: 0 },
  uaMemory: { bytes: null, at: 0, busy: false },
  lastModel: null,
};

const ui = createUI(document, {
  onStart: () => api.start(),
  onPause: () => api.pause(),
  onReset: () => api.reset(),
  onSetting: (name, raw, options) => changeSetting(name, raw, options),
  onField: (name, raw, final) => changeField(name, raw, final),
  onSave: () => downloadModel(),
  onLoadFile: (file) => loadFile(file),
  onShare: () => showShare(),
  onExportCard: () => downloadCard(),
  onResume: (yes) => answerResume(yes),
  onPush: (impulse) => {
    if (!app.replay) api.push(impulse);
  },
  onReplay: (id) => api.replay(id),
  onReplayLive: () => api.replayStop(),
  onScrub: (frame) => api.replaySeek(frame),
  onReplayToggle: () => {
    if (app.replay) app.replay.playing = !app.replay.playing;
  },
  onReplayListWanted: () => refreshReplayList(),
  onTheme: () => setTheme(ui.nextTheme(app.theme)),
});

// ---- messages and status ---------------------------------------------------------------------------

function status() {
  if (app.inputErrors.size) return 'invalid';
  if (app.loadError || app.trainerError) return 'error';
  if (!app.trainer) return 'loading';
  if (app.trainer.watchOnly) return 'watching';
  if (app.trainer.state === 'running') return 'running';
  if (app.trainer.finished) return 'finished';
  if (app.trainer.state === 'paused') return 'paused';
  if (app.trainer.state === 'error') return 'error';
  return 'ready';
}

function refreshMessage() {
  const errors = [...app.inputErrors.values()];
  if (app.loadError) errors.push(app.loadError);
  if (app.trainerError) errors.push(app.trainerError);
  if (errors.length) {
    if (app.inputErrors.size) errors.push('Nothing was started. Fix the value above (in the URL or the controls).');
    ui.showMessage(errors, 'error');
  } else {
    ui.showMessage(app.notes, 'note');
  }
  refreshButtons();
}

function refreshButtons() {
  const s = status();
  const coreReady = app.core !== null;
  const hasRun = app.trainer !== null && !app.trainer.disposed;
  ui.setButtons({
    start: hasRun && (s === 'ready' || s === 'paused'),
    pause: s === 'running',
    reset: app.trainer !== null || (coreReady && !app.inputErrors.size),
    controls: coreReady || app.inputErrors.size > 0,
    files: coreReady && hasRun,
    save: hasRun,
  });
}

function notice(text, kind = 'note') {
  ui.showNotice(text, kind);
}

window.addEventListener('error', (event) => {
  app.loadError = `Unexpected error: ${event.message}`;
  refreshMessage();
});
window.addEventListener('unhandledrejection', (event) => {
  app.loadError = `Unexpected error: ${event.reason?.message ?? event.reason}`;
  refreshMessage();
});

// ---- settings ---------------------------------------------------------------------------------

function workerCount(settings) {
  if (settings.mode === 'main') return 0;
  return settings.workers === 'auto' ? autoWorkerCount() : settings.workers;
}

function coreErrors(settings, source) {
  if (!app.core) return [];
  return checkWithCore(settings, app.core, source);
}

function labelOf(name) {
  return { env: 'Robot', workers: 'Workers', mode: 'Mode', seed: 'Seed', batch: 'Batch', lanes: 'Lanes' }[name] ?? name;
}

const specOf = (name) => app.core?.specs.find((s) => s.name === name);

/** Ask Python whether the whole config is valid (cross-field rules like end_e <= start_e); inline message. */
function pythonCheck() {
  app.inputErrors.delete('py');
  if (app.pyField) ui.setFieldError(app.pyField, null);
  app.pyField = null;
  if (!app.glue || app.inputErrors.size) return true;
  const overrides = { ...app.settings.cfg, seed: app.settings.seed };
  if (app.settings.batch != null) overrides.batch_episodes = app.settings.batch;
  if (app.settings.lanes != null) overrides.lanes = app.settings.lanes;
  const problem = app.glue.check_config(app.settings.env, JSON.stringify(overrides));
  if (!problem) return true;
  const field = problem.split(':')[0].trim();
  const target = OWN_CONTROL_FIELDS[field] ?? field;
  app.pyField = target;
  ui.setFieldError(target, problem);
  app.inputErrors.set('py', `Settings: ${problem}`);
  return false;
}

function updateURL() {
  history.replaceState(null, '', `${location.pathname}${toQuery(app.settings)}`);
}

function changeSetting(name, raw, { typing = false } = {}) {
  const { value, error } = parseSetting(name, raw);
  app.inputErrors.delete(name);
  ui.markInvalid(name, Boolean(error));
  ui.setFieldError(name, error ? error.message : null);
  if (error) {
    app.inputErrors.set(name, `${labelOf(name)}: ${error.message}`);
    if (!typing) {
      app.trainer?.pause();
      app.pendingStart = false;
    }
    refreshMessage();
    return;
  }
  if (typing) {
    refreshMessage();
    return;
  }
  app.settings = { ...app.settings, [name]: value };
  for (const problem of coreErrors(app.settings, 'Setting')) {
    app.inputErrors.set(problem.param, problem.message);
    ui.markInvalid(problem.param, true);
    ui.setFieldError(problem.param, problem.message);
  }
  if (name === 'env' && app.glue && !app.inputErrors.has('env')) refreshSpecs();
  pythonCheck();
  updateURL();
  ui.showSettings(app.settings);
  for (const param of app.inputErrors.keys()) ui.markInvalid(param, true);
  refreshMessage();
  if (app.inputErrors.size) {
    app.trainer?.pause();
    return;
  }
  if (!app.core) {
    boot();
    return;
  }
  rebuild();
}

/** A hyperparameter typed in the form: checked while typing (blocks Start), applied on change. */
function changeField(name, raw, final) {
  const spec = specOf(name);
  if (!spec) return;
  const key = `cfg.${name}`;
  const { value, error } = parseField(spec, raw);
  app.inputErrors.delete(key);
  ui.setFieldError(name, error ?? null);
  if (error) {
    app.inputErrors.set(key, `${name}: ${error}`);
    if (final) app.trainer?.pause();
    refreshMessage();
    return;
  }
  if (!final) {
    refreshMessage();
    return;
  }
  const cfg = { ...app.settings.cfg };
  const same = JSON.stringify(value) === JSON.stringify(app.core.defaults[name]);
  if (value === undefined || same) delete cfg[name];
  else cfg[name] = value;
  app.settings = { ...app.settings, cfg };
  const ok = pythonCheck();
  updateURL();
  refreshMessage();
  if (!ok || app.inputErrors.size) {
    app.trainer?.pause();
    return;
  }
  rebuild();
}

/** Field specs and defaults for the current env (the form's placeholders and limits). */
function refreshSpecs() {
  const env = app.core.envNames.includes(app.settings.env) ? app.settings.env : app.core.envNames[0];
  app.core.specs = JSON.parse(app.glue.field_specs(env));
  app.core.defaults = JSON.parse(app.glue.env_defaults(env));
  ui.buildFields(app.core.specs, Object.keys(OWN_CONTROL_FIELDS));
  ui.showFields(app.settings.cfg, app.core.defaults);
}

/** URL parameters that looked like Config fields: keep the known ones (checked), note the others. */
function adoptURLFields() {
  const cfg = { ...app.settings.cfg };
  for (const [name, raw] of Object.entries(app.cfgRaw)) {
    const spec = specOf(name);
    if (!spec || name in OWN_CONTROL_FIELDS) {
      app.notes.push(`Ignored the unknown URL parameter "${name}" (known: the controls' names and the Config fields).`);
      continue;
    }
    const { value, error } = parseField(spec, raw);
    if (error) {
      app.inputErrors.set(`cfg.${name}`, `URL parameter ${error}`);
      ui.setFieldError(name, error);
    } else if (value !== undefined) {
      cfg[name] = value;
    }
  }
  app.cfgRaw = {};
  app.settings = { ...app.settings, cfg };
}

// ---- loading and (re)building ---------------------------------------------------------------------

let booting = null;

function boot() {
  booting ??= (async () => {
    ui.setLoading(0.02, 'Loading Python on the page…');
    setKernelChoice(app.settings.kernel); // the page's path and its workers' (they start after this)
    try {
      app.pyodide = await loadRobotrain(
        BASE_URL,
        (stage, fraction) => ui.setLoading(fraction * 0.5, `Loading Python on the page (${stage})…`),
        { runtime: await compiledRuntime(BASE_URL), makeSnapshot: true }, // what the workers start from
      );
    } catch (error) {
      app.loadError = `Could not load Python on this page: ${error.message}`;
      ui.setLoading(0, 'Loading failed.');
      refreshMessage();
      return;
    }
    app.timings.python_ready_ms = Math.round(performance.now());
    app.tools = pyTools(app.pyodide);
    const kernelModule = app.pyodide.pyimport('robotrain.kernel');
    try {
      app.kernel = app.tools.toJSON(kernelModule.status());
    } finally {
      kernelModule.destroy();
    }
    app.glue = loadGlue(app.pyodide);
    app.core = {
      envNames: JSON.parse(app.glue.env_names()),
      specs: [],
      defaults: {},
    };
    ui.setChoices({ envNames: app.core.envNames });
    refreshSpecs();
    for (const problem of coreErrors(app.settings, 'URL parameter')) {
      app.inputErrors.set(problem.param, problem.message);
      ui.markInvalid(problem.param, true);
    }
    adoptURLFields();
    ui.showFields(app.settings.cfg, app.core.defaults);
    pythonCheck();
    ui.showSettings(app.settings);
    for (const param of app.inputErrors.keys()) ui.markInvalid(param, true);
    refreshMessage();
    if (!app.inputErrors.size) rebuild();
    else ensurePool(0); // started early, before Python could check the settings: nothing runs until they are fixed
    offerResume();
  })();
  return booting;
}

/** Create, resize or drop the worker pool so that it has `size` workers (0: none). */
function ensurePool(size) {
  if (size === 0 && app.pool) {
    app.pool.terminate();
    app.pool = null;
  } else if (size > 0 && !app.pool) {
    app.timings.workers_ready_ms = null;
    app.pool = new WorkerPool({
      size,
      workerURL: WORKER_URL,
      onChange: () => {
        if (app.pool && app.timings.workers_ready_ms === null && app.pool.readyCount === app.pool.size) {
          app.timings.workers_ready_ms = Math.round(performance.now());
        }
      },
      onError: (error) => {
        app.trainerError = `Worker problem: ${error.message}`;
        refreshMessage();
      },
      onFailure: (record) => workerFailed(record),
      faults: faultsOf(app.settings),
    });
  } else if (size > 0 && app.pool.size !== size) {
    app.timings.workers_ready_ms = null;
    app.pool.resize(size);
  }
}

/** (Re)create the pool to the wanted size and a fresh trainer for the current settings (paused). */
function rebuild({ restore = null } = {}) {
  const wasRunning = app.trainer?.state === 'running';
  app.trainer?.dispose();
  app.trainer = null;
  app.trainerError = null;
  app.replay = null;
  ui.showReplay(null);
  ui.clearHistory();
  ensurePool(workerCount(app.settings));
  app.pool?.setFaults(faultsOf(app.settings));
  try {
    app.trainer = new Trainer({
      pyodide: app.pyodide,
      tools: app.tools,
      glue: app.glue,
      pool: app.pool,
      settings: app.settings,
      restore,
      callbacks: {
        onError: (error) => {
          app.trainerError = `Training stopped: ${error.message}`;
          refreshMessage();
        },
        onChange: () => refreshButtons(),
      },
    });
    app.trainer.onDiverged = (message) => {
      notice(`Training paused: the learner diverged (${message}). The last good weights are back; press Start to go on, or lower learning_rate.`, 'error');
      refreshButtons();
    };
    app.trainer.onFinished = () => {
      notice(`Reached the step budget of ${app.trainer.config.total_timesteps.toLocaleString('en-US')} env steps; training stopped. Raise the step budget for a longer run.`);
      autosave('finished');
      refreshButtons();
    };
  } catch (error) {
    app.trainerError = `Could not set up training: ${error.message}`;
    refreshMessage();
    return;
  }
  ui.setCaption(`${app.trainer.config.env_id}: the current greedy policy, acting live. Click or drag on the robot to push it.`);
  ui.showFields(app.settings.cfg, app.core.defaults);
  refreshReplayList();
  if (!restore && (wasRunning || app.pendingStart)) {
    app.pendingStart = false;
    app.trainer.start();
  }
  refreshMessage();
}

/** A worker was declared dead (recovered_ms null) or its slot is ready again: say so in the notice line. */
function workerFailed(record) {
  const what = record.injected ? ` (injected ${record.injected})` : '';
  if (record.recovered_ms === null) {
    notice(`Worker ${record.worker} failed${what}: ${record.reason}. Its task runs again with the same episodes; a replacement is starting.`);
  } else {
    notice(`Worker ${record.worker} is back ${(record.recovered_ms / 1000).toFixed(1)} s after its failure${what}${record.replacement && record.replacement !== 'new worker' ? ' (a spare took over)' : ''}; nothing was lost.`);
  }
}

// ---- never lose work: model files, run cards, autosave, share links ---------------------------------

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function downloadModel() {
  if (!app.trainer) return null;
  const text = app.trainer.modelText();
  const s = app.trainer.stats();
  download(`robotrain-${s.config.env_id}-seed${s.config.seed}-${s.env_steps}steps.model.json`, text);
  notice(`Saved the model (policy version ${s.policy_version}, ${s.env_steps.toLocaleString('en-US')} env steps).`);
  return text;
}

function runCard() {
  const t = app.trainer;
  const s = t.stats();
  return {
    format: CARD_FORMAT,
    format_version: 1,
    exported_at: new Date().toISOString(),
    env_id: s.config.env_id,
    config: s.config,
    seeds: {
      run_seed: s.config.seed,
      how: 'episode seeds come from (run_seed, episode id, stream) via robotrain.seeding.episode_seed; stream 0 trains, 1 evaluates',
    },
    settings: { mode: app.settings.mode, workers: app.settings.workers },
    summary: {
      episodes: s.episodes,
      env_steps: s.env_steps,
      updates: s.updates,
      policy_version: s.policy_version,
      last_eval_return: s.last_eval_return,
      best_eval_return: s.best_eval_return,
      solved_at_env_step: s.solved_at_env_step,
      training_wall_ms: s.training_wall_ms,
    },
    model: t.modelText(),
    curves: t.curveData(),
  };
}

function downloadCard() {
  if (!app.trainer) return null;
  const card = runCard();
  download(`robotrain-${card.env_id}-seed${card.seeds.run_seed}.runcard.json`, JSON.stringify(card));
  notice('Exported the run card: another browser can load it (Load model / run card…) to watch this policy.');
  return card;
}

/** Settings that rebuild `config` (a Config dict), keeping this page's mode and workers. */
function settingsFromConfig(config) {
  const defaults = JSON.parse(app.glue.env_defaults(config.env_id));
  const cfg = {};
  for (const [name, value] of Object.entries(config)) {
    if (name in OWN_CONTROL_FIELDS) continue;
    if (JSON.stringify(value) !== JSON.stringify(defaults[name])) cfg[name] = value;
  }
  return {
    ...app.settings,
    env: config.env_id,
    seed: config.seed,
    lanes: config.lanes === defaults.lanes ? null : config.lanes,
    batch: config.batch_episodes === defaults.batch_episodes ? null : config.batch_episodes,
    cfg,
  };
}

function cleanPythonError(error) {
  return pythonErrorMessage(error).replace(/^(ValueError|TypeError|KeyError): /, '');
}

async function loadFile(file) {
  if (file.size > MAX_MODEL_BYTES) {
    const message = `model file is ${(file.size / 2 ** 20).toFixed(1)} MB; the limit is 50 MB`;
    notice(`Could not load "${file.name}": ${message}. The current run is untouched.`, 'error');
    return { ok: false, error: message };
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  return loadBytes(bytes, file.name);
}

/** Load a model file or a run card from bytes; on any problem show it and leave the current run alone. */
function loadBytes(bytes, name) {
  if (!app.glue || !app.trainer) return { ok: false, error: 'the page is still loading' };
  if (bytes.length > MAX_MODEL_BYTES) {
    const message = `model file is ${(bytes.length / 2 ** 20).toFixed(1)} MB; the limit is 50 MB`;
    notice(`Could not load "${name}": ${message}. The current run is untouched.`, 'error');
    return { ok: false, error: message };
  }
  let card = null;
  try {
    const doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (doc && doc.format === CARD_FORMAT) card = doc;
  } catch {
    /* not JSON: the model-file check below names the problem */
  }
  let facts;
  try {
    if (card && typeof card.model !== 'string') throw new Error('run card has no "model" (the model file text)');
    facts = JSON.parse(app.glue.load_model(card ? card.model : bytes, card ? '' : app.trainer.config.env_id));
  } catch (error) {
    const message = cleanPythonError(error);
    notice(`Could not load "${name}": ${message}. The current run is untouched.`, 'error');
    return { ok: false, error: message };
  }
  app.trainer.pause();
  app.pendingStart = false;
  app.settings = settingsFromConfig(facts.config);
  app.inputErrors.clear();
  if (app.settings.env !== app.trainer.config.env_id) refreshSpecs();
  updateURL();
  ui.showSettings(app.settings);
  rebuild();
  if (!app.trainer) return { ok: false, error: app.trainerError };
  app.trainer.applyLoadedModel();
  app.lastModel = { name, policy_version: facts.policy_version, env_steps: facts.env_steps, card: Boolean(card) };
  if (card) {
    app.trainer.setWatchOnly(card.curves);
    notice(`Watching the policy of run card "${name}" (${facts.env_id}, ${facts.env_steps.toLocaleString('en-US')} env steps of training); no training runs. Reset to train a fresh run.`);
  } else {
    notice(`Loaded "${name}": a ${facts.env_id} policy (version ${facts.policy_version}, ${facts.env_steps.toLocaleString('en-US')} env steps). Watch it live, or Start to train on from these weights.`);
  }
  refreshMessage();
  return { ok: true, ...facts, card: Boolean(card) };
}

function shareLink() {
  if (!app.trainer) return null;
  const config = { ...app.trainer.config };
  delete config.env_id;
  return `${location.origin}${location.pathname}${toQuery(app.settings, { all: true, autostart: true, config })}`;
}

function showShare() {
  const url = shareLink();
  if (!url) return;
  ui.showShareLink(url);
  navigator.clipboard?.writeText(url).then(
    () => notice('Share link copied: it holds the whole configuration and seed, and starts the same run when opened.'),
    () => notice('Share link below: it holds the whole configuration and seed, and starts the same run when opened.'),
  );
}

async function autosave(reason) {
  const t = app.trainer;
  if (!t || t.disposed || t.watchOnly || app.autosave.busy || t.counts.episodes === 0) return { ok: false, skipped: true };
  app.autosave.busy = true;
  app.autosave.lastAttempt = performance.now();
  try {
    const snap = t.snapshot();
    const record = { version: 1, saved_at: Date.now(), reason, settings: app.settings, ...snap };
    await saveRecord(record);
    app.autosave.last_ok_at = Date.now();
    app.autosave.last_error = null;
    app.autosave.bytes = snap.run.length;
    app.autosave.saves += 1;
    ui.setAutosaveStatus(`Autosaved at ${new Date().toLocaleTimeString()} (${formatBytes(snap.run.length)}, ${reason}).`);
    return { ok: true, bytes: snap.run.length };
  } catch (error) {
    app.autosave.last_error = storageErrorMessage(error);
    notice(app.autosave.last_error, 'error');
    ui.setAutosaveStatus('Autosave failed.');
    return { ok: false, error: app.autosave.last_error };
  } finally {
    app.autosave.busy = false;
  }
}

async function offerResume() {
  let record = null;
  try {
    record = await loadRecord();
  } catch {
    return;
  }
  if (!record || !record.run || !record.settings) return;
  app.offer = record;
  const when = new Date(record.saved_at).toLocaleString();
  ui.showResumeOffer(
    `A run was autosaved on ${when}: ${record.settings.env}, ${record.counts.episodes.toLocaleString('en-US')} episodes, ${record.counts.env_steps.toLocaleString('en-US')} env steps. Resume it where it stopped?`,
  );
}

function answerResume(yes) {
  const record = app.offer;
  app.offer = null;
  ui.showResumeOffer(null);
  if (!record) return false;
  if (!yes) {
    deleteRecord().catch(() => {});
    return false;
  }
  app.trainer?.pause();
  app.pendingStart = false;
  app.settings = { ...app.settings, ...record.settings, cfg: { ...(record.settings.cfg ?? {}) }, autostart: false };
  app.inputErrors.clear();
  refreshSpecs();
  updateURL();
  ui.showSettings(app.settings);
  rebuild({ restore: record });
  if (app.trainer) notice(`Resumed the autosaved run: ${record.counts.episodes.toLocaleString('en-US')} episodes, ${record.counts.env_steps.toLocaleString('en-US')} env steps. Start to go on.`);
  return Boolean(app.trainer);
}

// ---- replay -------------------------------------------------------------------------------------------

function refreshReplayList() {
  const t = app.trainer;
  ui.setReplayList(t?.best ?? null, t?.recent ?? []);
}

// ---- memory -------------------------------------------------------------------------------------------

function updateMemory(now) {
  const page = app.pyodide?._module?.HEAPU8?.length ?? null;
  const workers = app.pool ? app.pool.heapBytes : 0;
  const canMeasure = globalThis.crossOriginIsolated === true && typeof performance.measureUserAgentSpecificMemory === 'function';
  if (canMeasure && !app.uaMemory.busy && now - app.uaMemory.at > UA_MEMORY_EVERY_MS) {
    app.uaMemory.busy = true;
    app.uaMemory.at = now;
    performance.measureUserAgentSpecificMemory().then(
      (result) => {
        app.uaMemory.bytes = result.bytes;
        app.uaMemory.busy = false;
      },
      () => {
        app.uaMemory.busy = false;
      },
    );
  }
  const n = app.pool ? app.pool.size : 0;
  if (app.uaMemory.bytes != null) {
    app.memory = { source: 'measureUserAgentSpecificMemory', bytes: app.uaMemory.bytes, page_heap: page, workers_heap: workers };
    ui.showMemory(`Memory: ${formatBytes(app.uaMemory.bytes)} for the whole page (measured by the browser); Python heaps ${formatBytes(page)} here + ${formatBytes(workers)} in ${n} workers.`);
  } else {
    app.memory = { source: 'python heaps', bytes: (page ?? 0) + workers, page_heap: page, workers_heap: workers };
    ui.showMemory(`Memory: ${formatBytes((page ?? 0) + workers)} of Python heaps (${formatBytes(page)} on the page + ${formatBytes(workers)} in ${n} workers).${canMeasure ? '' : ' The browser’s whole-page figure needs cross-origin isolation.'}`);
  }
}

// ---- theme, keys, background -------------------------------------------------------------------------

function setTheme(theme) {
  app.theme = theme;
  try {
    localStorage.setItem('robotrain-theme', theme);
  } catch {
    /* storage may be off; the theme still applies */
  }
  ui.applyTheme(theme);
}

// In 'auto', follow the system's light/dark switch (canvas colours and charts included).
globalThis.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', () => {
  if (app.theme === 'auto') ui.applyTheme('auto');
});

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const tag = event.target?.tagName;
  if (['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON', 'SUMMARY'].includes(tag)) return;
  const key = event.key.toLowerCase();
  if (key === ' ') {
    event.preventDefault();
    if (app.trainer?.state === 'running') api.pause();
    else api.start();
  } else if (key === 'r') api.reset();
  else if (key === 's') downloadModel();
  else if (key === 'l') document.getElementById('load-file').click();
  else if (key === 't') setTheme(ui.nextTheme(app.theme));
});

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

setInterval(() => {
  const t = app.trainer;
  if (t && t.state === 'running' && performance.now() - app.autosave.lastAttempt >= AUTOSAVE_EVERY_MS) autosave('every minute');
}, 5000);

// ---- frame loop -----------------------------------------------------------------------------------

let lastFrame = performance.now();
let lastStats = 0;
let lastChart = 0;
let lastMemory = 0;
let lastReplayList = 0;
const frameTimes = [];

function drawView(dt) {
  const t = app.trainer;
  if (!t || t.disposed) return;
  const r = app.replay;
  if (r) {
    if (r.playing) {
      const rate = Math.min(60, Math.max(15, 1 / (t.drawSpec.tau_s ?? t.drawSpec.dt_s ?? 0.02)));
      r.position = Math.min(r.length, r.position + dt * rate);
      r.frame = Math.floor(r.position);
      if (r.frame >= r.length) r.playing = false;
    }
    ui.drawRobot(Array.from(r.states.subarray(r.frame * r.dim, (r.frame + 1) * r.dim)), t.drawSpec);
    ui.showReplay(r);
    return;
  }
  ui.drawRobot(t.viewStep(dt), t.drawSpec);
}

function frame(now) {
  noteFrame(now); // yields between the trainer's slices wait for an overdue frame (schedule.js)
  const dt = Math.min(0.1, (now - lastFrame) / 1000);
  lastFrame = now;
  frameTimes.push(now);
  while (frameTimes.length && now - frameTimes[0] > 1000) frameTimes.shift();
  app.fps = frameTimes.length > 1 ? ((frameTimes.length - 1) * 1000) / (now - frameTimes[0]) : 0;
  try {
    if (document.visibilityState !== 'hidden') {
      drawView(dt);
      app.framesDrawn += 1;
      if (now - lastStats >= STATS_EVERY_MS) {
        lastStats = now;
        const s = api.stats();
        app.trainer?.sampleSeries?.(s, now);
        ui.showStats(s);
        ui.showWorkers(app.pool ? app.pool.describe({ live: true }) : [], {
          policyVersion: s.policy_version,
          spec: app.trainer?.drawSpec,
          mode: s.mode,
        });
        ui.setBudget(s);
        showLoading();
        if (!app.replay) ui.setViewMode(app.trainer?.watchOnly ? 'greedy policy of a run card, 60 FPS' : 'greedy policy, 60 FPS');
      }
      if (now - lastReplayList >= 5000 && document.activeElement?.id !== 'replay-pick') {
        lastReplayList = now;
        refreshReplayList();
      }
      if (now - lastMemory >= MEMORY_EVERY_MS) {
        lastMemory = now;
        updateMemory(now);
      }
      if (app.trainer && now - lastChart >= CHART_EVERY_MS) {
        lastChart = now;
        ui.showCurves(app.trainer.curveData(), app.trainer.envInfo.solved_threshold);
      }
    }
  } catch (error) {
    app.trainerError = `Display error: ${error.message}`;
    refreshMessage();
  }
  requestAnimationFrame(frame);
}

// Series samples go on while the tab is hidden (requestAnimationFrame stops there).
setInterval(() => {
  if (document.visibilityState === 'hidden' && app.trainer && !app.trainer.disposed) app.trainer.sampleSeries(api.stats());
}, 1000);

function showLoading() {
  if (!app.core) return;
  if (!app.pool) {
    ui.setLoading(1, 'Ready (main thread only).');
    return;
  }
  const ready = app.pool.readyCount;
  const total = app.pool.size;
  if (ready === total) ui.setLoading(1, `Workers ready: ${ready} of ${total}.`);
  else ui.setLoading(0.5 + 0.5 * app.pool.progress, `Starting workers: ${ready} of ${total} ready…`);
}

// ---- window.robotrain ------------------------------------------------------------------------------

const api = {
  /** Start (or resume) training; while the page is still loading, training starts as soon as it can. */
  start() {
    if (app.inputErrors.size || app.loadError) return false;
    if (!app.trainer) {
      app.pendingStart = true;
      return true;
    }
    if (app.trainer.state === 'error' || app.trainer.watchOnly || app.trainer.finished) return false;
    app.trainer.start();
    refreshButtons();
    return true;
  },
  pause() {
    app.pendingStart = false;
    const wasRunning = app.trainer?.state === 'running';
    app.trainer?.pause();
    refreshButtons();
    if (wasRunning) autosave('pause');
  },
  /** Drop the run (replay buffer, network, history) and set up a fresh one with the same settings, paused. */
  reset() {
    app.pendingStart = false;
    if (!app.core || app.inputErrors.size) return;
    if (app.trainer) app.trainer.pause();
    rebuild();
  },
  stats() {
    const base = app.trainer && !app.trainer.disposed ? app.trainer.stats() : {};
    return {
      episodes: 0,
      env_steps: 0,
      updates: 0,
      policy_version: 0,
      episodes_per_min: 0,
      env_steps_per_s: 0,
      updates_per_s: 0,
      last_eval_return: null,
      best_eval_return: null,
      config: null,
      ...base,
      state: status(),
      mode: app.settings.mode,
      fps: Math.round(app.fps * 10) / 10,
      workers: app.pool ? app.pool.describe() : [],
      workers_ready: app.pool ? app.pool.readyCount : 0,
      reliability: app.pool ? app.pool.reliability() : null,
      weights_transport: app.pool ? (app.pool.shared ? 'SharedArrayBuffer' : 'copy') : 'local',
      kernel: app.kernel?.kernel ?? null, // 'wasm-simd' or 'numpy': the Q-network's code on this page and its workers
      kernel_status: app.kernel ?? null,
      cross_origin_isolated: globalThis.crossOriginIsolated === true,
      settings: { ...app.settings, cfg: { ...app.settings.cfg } },
      errors: [...app.inputErrors.values(), app.loadError, app.trainerError].filter(Boolean),
      timings: { ...app.timings },
      autosave: { ...app.autosave },
      memory: { ...app.memory },
      hidden: { hidden: document.visibilityState === 'hidden', last_ms: app.hidden.last_ms, count: app.hidden.count },
      frames_drawn: app.framesDrawn,
      pushes: app.pushes,
      resume_offered: app.offer !== null,
      loaded_model: app.lastModel,
      theme: app.theme,
      chart_ms: Math.round(ui.charts.lastDrawMs * 10) / 10,
      chart_x: ui.charts.xAxis,
      curve_rows: app.trainer ? app.trainer.curveData().episodes.length : 0,
    };
  },
  history() {
    return app.trainer && !app.trainer.disposed ? app.trainer.history() : { episodes: [], evals: [] };
  },
  /** The model file text of the current weights (what Save model downloads). */
  modelText() {
    return app.trainer ? app.trainer.modelText() : null;
  },
  /** Load a model file or run card given as text (what Load does with a file); {ok, error?}. */
  loadText(text, name = 'model.json') {
    return loadBytes(new TextEncoder().encode(text), name);
  },
  autosave() {
    return autosave('script');
  },
  resume(yes = true) {
    return answerResume(yes);
  },
  shareLink,
  runCard() {
    return app.trainer ? runCard() : null;
  },
  /** Greedy evaluation of the current weights on this run's evaluation seeds: {mean_return} or {error}. */
  evaluate() {
    if (!app.trainer || app.trainer.disposed) return { error: 'no run yet' };
    try {
      return { mean_return: app.trainer.evaluateNow() };
    } catch (error) {
      return { error: cleanPythonError(error) };
    }
  },
  /** Test hook: a NaN in the learner's weights; the next learning slice rolls back and pauses. */
  testInjectNaN() {
    if (!app.trainer || app.trainer.disposed) return false;
    app.trainer.injectNaN();
    return true;
  },
  /** Push the live robot: adds `impulse` rad/s to its main angular velocity; {before, after, index} or {error}. */
  push(impulse) {
    if (!app.trainer || app.trainer.disposed) return { error: 'no robot yet' };
    try {
      const result = app.trainer.push(impulse);
      app.pushes += 1;
      return result;
    } catch (error) {
      return { error: cleanPythonError(error) };
    }
  },
  /** Replay a finished episode ('best' or an id among the last 1,000) in the view; {episode_id, length, return}. */
  replay(id) {
    const t = app.trainer;
    const episode = t?.findEpisode(id);
    if (!episode) return { error: `episode ${id} is not among the last 1,000 finished episodes` };
    const r = t.replay(episode);
    app.replay = { ...r, frame: 0, position: 0, playing: true };
    ui.setViewMode(`replay of episode #${episode.id} (return ${episode.ret.toFixed(1)})`);
    ui.showReplay(app.replay);
    return { episode_id: episode.id, length: r.length, return: episode.ret, terminated: episode.terminated };
  },
  replaySeek(frame) {
    const r = app.replay;
    if (!r) return null;
    r.frame = Math.max(0, Math.min(r.length, Math.round(frame)));
    r.position = r.frame;
    r.playing = false;
    ui.showReplay(r);
    return r.frame;
  },
  replayStop() {
    app.replay = null;
    ui.showReplay(null);
  },
  /** What the view shows now: {mode: 'live' | 'replay', frame?, length?, state}. */
  viewState() {
    const r = app.replay;
    if (r) return { mode: 'replay', frame: r.frame, length: r.length, episode_id: r.episode.id, state: Array.from(r.states.subarray(r.frame * r.dim, (r.frame + 1) * r.dim)) };
    if (!app.trainer) return { mode: 'none', state: null };
    return { mode: 'live', state: app.trainer.viewState(), info: app.trainer.viewInfo() };
  },
  /** Time to build the return chart's data for n synthetic episodes, ms (the charts' downsampling). */
  benchCharts(n = 100000) {
    const episodes = [];
    let steps = 0;
    for (let i = 0; i < n; i++) {
      const length = 10 + (i % 490);
      steps += length;
      episodes.push([i, length, length, steps, i / 10]);
    }
    const curve = { episodes, evals: [[steps / 2, 250, n / 20]], series: [], lag: {} };
    const started = performance.now();
    const { data } = returnData(curve, 475, 3);
    const ms = performance.now() - started;
    const chartMs = ui.charts.update({ ...curve, series: [] }, 475);
    ui.charts.rebuild();
    return { data_ms: ms, draw_ms: chartMs, points: data[0].length };
  },
};
window.robotrain = Object.freeze(api);

// ---- start-up ------------------------------------------------------------------------------------

{
  const { settings, errors, notes, cfgRaw } = parseURL(location.search);
  app.settings = settings;
  app.notes = notes;
  app.cfgRaw = cfgRaw;
  app.pendingStart = settings.autostart;
  const faults = faultsOf(settings);
  if (faults) {
    app.notes.push(`Fault injection is on: each task attempt crashes its worker with probability ${faults.crash}, hangs it with ${faults.hang}, runs 10x slower with ${faults.slow} (fault_seed ${faults.seed}). Spare workers (two, one more per 4 workers) start first, so a failed worker is replaced at once.`);
  }
  let theme = 'auto';
  try {
    theme = localStorage.getItem('robotrain-theme') || 'auto';
  } catch {
    /* no storage */
  }
  setTheme(['auto', 'light', 'dark'].includes(theme) ? theme : 'auto');
  ui.setChoices({ envNames: [settings.env], maxWorkers: MAX_WORKERS, autoWorkers: autoWorkerCount() });
  ui.showSettings(settings);
  for (const error of errors) {
    app.inputErrors.set(error.param, error.message);
    ui.markInvalid(error.param, true);
  }
  refreshMessage();
  requestAnimationFrame(frame);
  if (!app.inputErrors.size) {
    // Workers boot their own Python while the page loads its own (about 4 s each on a 2-core machine), instead of after.
    ensurePool(workerCount(app.settings));
    boot();
  } else ui.setLoading(0, 'Not started.');
}
