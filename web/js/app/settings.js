// Settings typed in the controls or given in the URL: checked (inline, naming the field), applied, mirrored in
// the URL. An applied change rebuilds the session's run, or changes it in place. Owns app.settings, the input
// errors and app.core (what Python says the robots and fields are).
import { autoWorkerCount, MAX_WORKERS } from '../pool/limits.js';
import { parseURL, parseSetting, parseField, checkWithCore, toQuery, fieldText, fieldLabel, faultsOf, OWN_CONTROL_FIELDS } from '../params.js';

/**
 * app: the page's state (app/state.js); ui: the page's controls; session: app/session.js; messages:
 * app/messages.js; continueInMode(mode): carry the current run on under another mode (app/undo.js), false if
 * it cannot.
 */
export function createSettings({ app, ui, session, messages, continueInMode }) {
  /** Start-up: the settings, notes and errors of the page's URL, shown in the controls. */
  function readURL() {
    const { settings, errors, notes, cfgRaw } = parseURL(location.search);
    app.settings = settings;
    app.notes = notes;
    app.cfgRaw = cfgRaw;
    if (location.protocol === 'file:') {
      // What a page opened from disk does differently (README, "Download, unzip, double-click").
      app.notes.push('Opened from disk: training, models and autosave work as on a server; a share link names this file, so it opens the run on this computer only (send a run card to share it), and weights reach the workers as copies (no cross-origin isolation without a server).');
    }
    const faults = faultsOf(settings);
    if (faults) {
      app.notes.push(`Fault injection is on: each task attempt crashes its worker with probability ${faults.crash}, hangs it with ${faults.hang}, runs 10x slower with ${faults.slow} (fault_seed ${faults.seed}). Spare workers (two, one more per 4 workers) start first, so a failed worker is replaced at once.`);
    }
    ui.setChoices({ envNames: [settings.env], maxWorkers: MAX_WORKERS, autoWorkers: autoWorkerCount() });
    ui.showSettings(settings);
    for (const error of errors) {
      app.inputErrors.set(error.param, error.message);
      ui.markInvalid(error.param, true);
    }
  }

  /** Python is ready: the robots and fields it knows, and what only it can check of the URL. */
  function coreReady() {
    app.core = { envNames: JSON.parse(app.glue.env_names()), specs: [], defaults: {} };
    ui.setChoices({ envNames: app.core.envNames });
    refreshSpecs();
    for (const problem of coreErrors(app.settings, 'URL parameter')) {
      app.inputErrors.set(problem.param, problem.message);
      ui.markInvalid(problem.param, true);
    }
    adoptURLFields();
    if (app.settings.cfg.algorithm) refreshSpecs(); // ?algorithm=: that algorithm's defaults and fields
    pythonCheck();
    ui.showSettings(app.settings);
    for (const param of app.inputErrors.keys()) ui.markInvalid(param, true);
    messages.refreshMessage();
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
    app.inputErrors.set('py', `${field in OWN_CONTROL_FIELDS || !specOf(field) ? 'Settings' : fieldLabel(field)}: ${problem}`);
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
      if (!typing) session.pause();
      messages.refreshMessage();
      return;
    }
    if (typing) {
      messages.refreshMessage();
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
    messages.refreshMessage();
    if (app.inputErrors.size) {
      session.pauseRun();
      return;
    }
    if (!app.core) return; // Python is still loading: it applies the settings as they are when it is ready
    if (name === 'workers' && resizesInPlace()) {
      // The run goes on: episodes depend only on their ids and the weights, so the pool may grow or shrink
      // under it (a removed worker's task runs again elsewhere with the same ids); a sync curve is the same.
      const count = session.fitPool();
      app.runSettings = app.settings;
      messages.notice(`Now ${count} worker${count === 1 ? '' : 's'}; the run goes on where it was.`);
      messages.refreshButtons();
      return;
    }
    // Sync, async and main mode share the run (Run.to_bytes): it goes on under the new mode's schedule.
    if (name === 'mode' && hasProgress() && continueInMode(value)) return;
    session.rebuild({ why: `${labelOf(name)} changed to ${value}` });
  }

  /** The current run has trained (something to keep or continue) and is healthy. */
  function hasProgress() {
    const t = app.trainer;
    return Boolean(t && !t.disposed && !t.watchOnly && t.state !== 'error' && t.counts.episodes > 0);
  }

  /** A worker-count change can resize the pool under the current run (both have workers, the run is healthy). */
  function resizesInPlace() {
    const t = app.trainer;
    return Boolean(t && app.pool && !t.disposed && t.state !== 'error' && session.workerCount() > 0);
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
      app.inputErrors.set(key, `${fieldLabel(name)}: ${error}`);
      if (final) session.pauseRun();
      messages.refreshMessage();
      return;
    }
    if (!final) {
      messages.refreshMessage();
      return;
    }
    const cfg = { ...app.settings.cfg };
    const same = JSON.stringify(value) === JSON.stringify(app.core.defaults[name]);
    if (value === undefined || same) delete cfg[name];
    else cfg[name] = value;
    app.settings = { ...app.settings, cfg };
    const ok = pythonCheck();
    updateURL();
    messages.refreshMessage();
    if (!ok || app.inputErrors.size) {
      session.pauseRun();
      return;
    }
    if (name === 'total_timesteps' && hasProgress()) {
      moveStopPoint();
      return;
    }
    const why = `${name} changed to ${fieldText(value ?? app.core.defaults[name])}`;
    if (name === 'algorithm') refreshSpecs(); // the other algorithm's fields and defaults
    session.rebuild({ why });
  }

  /**
   * A new step budget for a run that has started: the same run stops at the new point (its steps, curves and
   * schedules stay; epsilon and the learning rate follow the budget the run started with, as the command line's
   * --max-steps does). A run that has not played yet is rebuilt instead, its schedules built on the new budget;
   * a resumed run has played, so it keeps its budget's schedules too.
   */
  function moveStopPoint() {
    const t = app.trainer;
    const budget = app.settings.cfg.total_timesteps ?? app.core.defaults.total_timesteps;
    const wasFinished = Boolean(t.finished);
    t.setStepBudget(budget);
    app.runSettings = app.settings;
    const steps = t.counts.envSteps.toLocaleString('en-US');
    const text = `Step budget now ${budget.toLocaleString('en-US')} env steps for this run (${steps} done).`;
    const schedules = ` Epsilon and the learning rate keep the schedule of the budget the run started with (${t.config.total_timesteps.toLocaleString('en-US')}).`;
    if (t.finished) messages.notice(`${text} That is reached already, so the run stays finished.`);
    else if (wasFinished || t.state !== 'running') messages.notice(`${text} Press Start to go on from here.${schedules}`);
    else messages.notice(`${text} Training goes on.${schedules}`);
    messages.refreshButtons();
  }

  /** Field specs and defaults for the current env (the form's placeholders and limits). */
  function refreshSpecs() {
    const env = app.core.envNames.includes(app.settings.env) ? app.settings.env : app.core.envNames[0];
    const algorithm = app.settings.cfg.algorithm ?? null; // the defaults differ per algorithm; null: the env's own
    app.core.specs = JSON.parse(app.glue.field_specs(env, algorithm));
    app.core.defaults = JSON.parse(app.glue.env_defaults(env, algorithm));
    ui.buildFields(app.core.specs, Object.keys(OWN_CONTROL_FIELDS));
    ui.showFields(app.settings.cfg, app.core.defaults);
  }

  /** URL parameters that looked like Config fields: keep the known ones (checked), note the others. */
  function adoptURLFields() {
    const cfg = { ...app.settings.cfg };
    const badText = {};
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
        badText[name] = raw; // shown in its field (not an empty field with an error), so fixing it clears the error
      } else if (value !== undefined) {
        cfg[name] = value;
      }
    }
    app.cfgRaw = {};
    app.settings = { ...app.settings, cfg };
    ui.showFields(app.settings.cfg, app.core.defaults);
    for (const [name, raw] of Object.entries(badText)) ui.setFieldText(name, raw);
  }

  /** Replace the settings with a kept or autosaved run's (its robot's fields, the URL, the controls follow). */
  function applySettings(settings) {
    app.settings = { ...app.settings, ...settings, cfg: { ...(settings.cfg ?? {}) }, autostart: false };
    app.inputErrors.clear();
    refreshSpecs();
    updateURL();
    ui.showSettings(app.settings);
  }

  /** Settings that rebuild `config` (a Config dict), keeping this page's mode and workers. */
  function settingsFromConfig(config) {
    const algorithm = config.algorithm ?? 'ddqn'; // files from before PQN are Double DQN runs
    const defaults = JSON.parse(app.glue.env_defaults(config.env_id, algorithm));
    const envAlgorithm = JSON.parse(app.glue.env_defaults(config.env_id, null)).algorithm;
    // The algorithm picks the defaults the rest is read against; named only when it is not the env's own.
    const cfg = algorithm === envAlgorithm ? {} : { algorithm };
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

  /** The Config (a dict) of a loaded model or run card becomes the settings (this page's mode and workers stay). */
  function adoptConfig(config) {
    const t = app.trainer;
    app.settings = settingsFromConfig(config);
    app.inputErrors.clear();
    if (app.settings.env !== t.config.env_id || config.algorithm !== t.config.algorithm) refreshSpecs();
    updateURL();
    ui.showSettings(app.settings);
  }

  /** A new run is set up: the form shows its fields. */
  function showFields() {
    ui.showFields(app.settings.cfg, app.core.defaults);
  }

  return { adoptConfig, applySettings, changeField, changeSetting, coreReady, readURL, showFields };
}
