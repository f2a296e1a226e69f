// Settings typed in the controls or given in the URL: checked (inline, naming the field), applied, mirrored in
// the URL. An applied change calls ctx.boot or ctx.rebuild.
import { autoWorkerCount } from '../pool/limits.js';
import { parseSetting, parseField, checkWithCore, toQuery, fieldText, fieldLabel, OWN_CONTROL_FIELDS } from '../params.js';

/** ctx: {app, ui, ...} (main.js wires the page's parts into it); returns this part's functions. */
export function createSettings(ctx) {
  const { app, ui } = ctx;
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
      if (!typing) {
        app.trainer?.pause();
        app.pendingStart = false;
      }
      ctx.refreshMessage();
      return;
    }
    if (typing) {
      ctx.refreshMessage();
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
    ctx.refreshMessage();
    if (app.inputErrors.size) {
      app.trainer?.pause();
      return;
    }
    if (!app.core) {
      ctx.boot();
      return;
    }
    if (name === 'workers' && resizesInPlace()) {
      // The run goes on: episodes depend only on their ids and the weights, so the pool may grow or shrink
      // under it (a removed worker's task runs again elsewhere with the same ids); a sync curve is the same.
      const count = workerCount(app.settings);
      ctx.ensurePool(count);
      for (const id of [...(app.tileBase?.keys() ?? [])]) if (id >= count) app.tileBase.delete(id); // a re-added id starts at 0
      app.runSettings = app.settings;
      ctx.notice(`Now ${count} worker${count === 1 ? '' : 's'}; the run goes on where it was.`);
      ctx.refreshButtons();
      return;
    }
    // Sync, async and main mode share the run (Run.to_bytes): it goes on under the new mode's schedule.
    if (name === 'mode' && hasProgress() && ctx.continueInMode(value)) return;
    ctx.rebuild({ why: `${labelOf(name)} changed to ${value}` });
  }

  /** The current run has trained (something to keep or continue) and is healthy. */
  function hasProgress() {
    const t = app.trainer;
    return Boolean(t && !t.disposed && !t.watchOnly && t.state !== 'error' && t.counts.episodes > 0);
  }

  /** A worker-count change can resize the pool under the current run (both have workers, the run is healthy). */
  function resizesInPlace() {
    const t = app.trainer;
    return Boolean(t && app.pool && !t.disposed && t.state !== 'error' && workerCount(app.settings) > 0);
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
      if (final) app.trainer?.pause();
      ctx.refreshMessage();
      return;
    }
    if (!final) {
      ctx.refreshMessage();
      return;
    }
    const cfg = { ...app.settings.cfg };
    const same = JSON.stringify(value) === JSON.stringify(app.core.defaults[name]);
    if (value === undefined || same) delete cfg[name];
    else cfg[name] = value;
    app.settings = { ...app.settings, cfg };
    const ok = pythonCheck();
    updateURL();
    ctx.refreshMessage();
    if (!ok || app.inputErrors.size) {
      app.trainer?.pause();
      return;
    }
    if (name === 'total_timesteps' && hasProgress()) {
      moveStopPoint();
      return;
    }
    const why = `${name} changed to ${fieldText(value ?? app.core.defaults[name])}`;
    if (name === 'algorithm') refreshSpecs(); // the other algorithm's fields and defaults
    ctx.rebuild({ why });
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
    if (t.finished) ctx.notice(`${text} That is reached already, so the run stays finished.`);
    else if (wasFinished || t.state !== 'running') ctx.notice(`${text} Press Start to go on from here.${schedules}`);
    else ctx.notice(`${text} Training goes on.${schedules}`);
    ctx.refreshButtons();
  }

  /** Field specs and defaults for the current env (the form's placeholders and limits). */
  function refreshSpecs() {
    const env = app.core.envNames.includes(app.settings.env) ? app.settings.env : app.core.envNames[0];
    const algorithm = app.settings.cfg.algorithm === 'pqn' ? 'pqn' : 'ddqn'; // the defaults differ per algorithm
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
  return { adoptURLFields, changeField, changeSetting, coreErrors, labelOf, pythonCheck, refreshSpecs, specOf, updateURL, workerCount };
}
