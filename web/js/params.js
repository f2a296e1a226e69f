// Settings from the URL (and the UI's inputs): parsing and validation, with messages that name the parameter
// and its allowed values. Pure functions, no DOM.
import { MIN_WORKERS, MAX_WORKERS } from './pool/limits.js';
import { MODES } from './training/modes.js';

export const PARAM_NAMES = Object.freeze([
  'env', 'workers', 'mode', 'seed', 'batch', 'lanes', 'sizing', 'kernel', 'autostart',
  'fault_crash', 'fault_hang', 'fault_slow', 'fault_seed',
]);
// Fault injection for tests and demos (pool.js, protocol.faultFor): the probability that a task attempt
// crashes its worker, hangs it, or runs 10x slower; fault_seed picks which attempts.
export const FAULT_PARAMS = Object.freeze({ fault_crash: 'crash', fault_hang: 'hang', fault_slow: 'slow' });
// Config fields that have their own control above (they are not part of settings.cfg).
export const OWN_CONTROL_FIELDS = Object.freeze({ env_id: 'env', seed: 'seed', lanes: 'lanes', batch_episodes: 'batch' });
const CONFIG_NAME = /^[a-z][a-z0-9_]{0,39}$/;
// What the form and the messages call the Config fields (the Python name is shown beside it); a field without a
// label here is called by its name.
export const FIELD_LABELS = Object.freeze({
  total_timesteps: 'Step budget',
  algorithm: 'Algorithm',
  learning_rate: 'Learning rate',
  end_learning_rate: 'Final learning rate',
  buffer_size: 'Replay buffer size',
  gamma: 'Discount',
  n_step: 'Return steps',
  tau: 'Target update rate',
  target_network_frequency: 'Target update every',
  batch_size: 'Batch size',
  start_e: 'Start epsilon',
  end_e: 'Final epsilon',
  exploration_fraction: 'Exploration fraction',
  learning_starts: 'Learning starts after',
  train_frequency: 'Env steps per update',
  hidden_sizes: 'Hidden layers',
  max_grad_norm: 'Gradient clip',
  episodes_per_task: 'Episodes per task',
  publish_every: 'Publish every',
  eval_interval: 'Evaluate every',
  eval_episodes: 'Evaluation episodes',
  num_envs: 'Environments',
  num_steps: 'Rollout steps',
  num_minibatches: 'Minibatches',
  update_epochs: 'Epochs',
  q_lambda: 'Lambda',
});

/** The label of Config field `name` (its Python name when it has none). */
export function fieldLabel(name) {
  return FIELD_LABELS[name] ?? name;
}
export const DEFAULTS = Object.freeze({
  env: 'cartpole',
  workers: 'auto',
  mode: 'sync', // the curve for a seed is the command line's, whatever the worker count
  seed: 0,
  batch: null, // null: the config's default (batch_episodes)
  lanes: null, // null: the config's default (lanes), or the sizer's pick when sizing is auto
  sizing: 'auto', // task sizing (sizing.js): 'auto' picks episodes per task and lanes; 'fixed' uses the config's
  // The Q-network's code (robotrain.kernel): 'auto' (the WebAssembly SIMD kernel where the engine runs it, else
  // numpy), 'numpy' (the reference: the command line's curve on the same platform) or 'wasm-simd' (or fail).
  kernel: 'auto',
  autostart: false,
  fault_crash: 0,
  fault_hang: 0,
  fault_slow: 0,
  fault_seed: 0,
  cfg: {}, // overrides of other Config fields (name -> value), checked against Config.field_specs()
});
const MAX_SEED = 2 ** 31 - 1;
const KERNELS = Object.freeze(['auto', 'numpy', 'wasm-simd']); // robotrain.kernel.CHOICES
const TRUE_WORDS = ['', '1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['0', 'false', 'no', 'off'];

const isWholeNumber = (text) => /^\d+$/.test(text);

function problem(name, raw, allowed) {
  return { param: name, message: `${name} = "${raw}" is not allowed: ${allowed}.` };
}

/**
 * Check one raw setting given as text; returns {value} or {error: {param, message}}.
 * `env` is only checked for syntax here (checkWithCore knows the real list).
 */
export function parseSetting(name, raw) {
  const text = String(raw).trim();
  switch (name) {
    case 'env':
      if (/^[a-z][a-z0-9_]{0,39}$/.test(text)) return { value: text };
      return { error: problem(name, raw, 'use the name of an environment, for example cartpole') };
    case 'workers': {
      if (text === 'auto' || text === '') return { value: 'auto' };
      const n = Number(text);
      if (isWholeNumber(text) && n >= MIN_WORKERS && n <= MAX_WORKERS) return { value: n };
      return { error: problem(name, raw, `use "auto" or a whole number from ${MIN_WORKERS} to ${MAX_WORKERS}`) };
    }
    case 'mode':
      if (MODES.includes(text)) return { value: text };
      return { error: problem(name, raw, `use one of ${MODES.join(', ')}`) };
    case 'seed':
      if (isWholeNumber(text) && Number(text) <= MAX_SEED) return { value: Number(text) };
      return { error: problem(name, raw, `use a whole number from 0 to ${MAX_SEED}`) };
    case 'batch':
    case 'lanes':
      if (text === '' || text === 'default') return { value: null };
      if (isWholeNumber(text) && Number(text) >= 1) return { value: Number(text) };
      return { error: problem(name, raw, 'use a whole number of at least 1 (or leave it out for the default)') };
    case 'sizing':
      if (text === 'auto' || text === 'fixed') return { value: text };
      return { error: problem(name, raw, 'use auto or fixed') };
    case 'kernel':
      if (KERNELS.includes(text)) return { value: text };
      return { error: problem(name, raw, `use one of ${KERNELS.join(', ')}`) };
    case 'autostart':
      if (TRUE_WORDS.includes(text.toLowerCase())) return { value: true };
      if (FALSE_WORDS.includes(text.toLowerCase())) return { value: false };
      return { error: problem(name, raw, 'use 1 or 0 (true or false)') };
    case 'fault_crash':
    case 'fault_hang':
    case 'fault_slow': {
      const p = Number(text);
      if (/^(0|1|0?\.\d+|[01]\.0*)$/.test(text) && p >= 0 && p <= 1) return { value: p };
      return { error: problem(name, raw, 'use a probability from 0 to 1, for example 0.05') };
    }
    case 'fault_seed':
      if (isWholeNumber(text) && Number(text) <= MAX_SEED) return { value: Number(text) };
      return { error: problem(name, raw, `use a whole number from 0 to ${MAX_SEED}`) };
    default:
      return { error: { param: name, message: `unknown setting ${name}` } };
  }
}

/** Parse a query string; returns {settings, errors, notes}. Unknown parameters only produce a note. */
export function parseURL(search) {
  const query = new URLSearchParams(search);
  const settings = { ...DEFAULTS, cfg: {} };
  const errors = [];
  const notes = [];
  const cfgRaw = {}; // candidate Config overrides, checked once Python has told us the fields
  for (const [name, raw] of query) {
    if (!PARAM_NAMES.includes(name) && CONFIG_NAME.test(name) && !(name in OWN_CONTROL_FIELDS)) {
      cfgRaw[name] = raw;
      continue;
    }
    if (!PARAM_NAMES.includes(name)) {
      notes.push(`Ignored the unknown URL parameter "${name}" (known: ${PARAM_NAMES.join(', ')}).`);
      continue;
    }
    const { value, error } = parseSetting(name, raw);
    if (error) errors.push({ ...error, message: `URL parameter ${error.message}` });
    else settings[name] = value;
  }
  return { settings, errors, notes, cfgRaw };
}

/**
 * Check one Config field typed as text against its spec {name, type, min, max};
 * returns {value} or {error: message}. '' means the default ({value: undefined}).
 */
export function parseField(spec, raw) {
  const text = String(raw ?? '').trim();
  if (text === '' || text === 'default') return { value: undefined };
  const range = spec.min != null && spec.max != null ? ` from ${spec.min} to ${spec.max}` : '';
  const bad = (what) => ({ error: `${spec.name} = "${raw}" is not allowed: use ${what}.` });
  let value;
  if (spec.type === 'int') {
    if (!/^-?\d+$/.test(text)) return bad(`a whole number${range}`);
    value = Number(text);
  } else if (spec.type === 'float') {
    value = Number(text);
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || !Number.isFinite(value)) return bad(`a number${range}`);
  } else if (spec.type === 'int_list') {
    if (!/^\d+(\s*,\s*\d+){0,3}$/.test(text)) return bad('1 to 4 whole numbers separated by commas, for example 64,64');
    value = text.split(',').map((part) => Number(part.trim()));
    if (value.some((n) => n < 1 || n > 1024)) return bad('layer sizes from 1 to 1024');
    return { value };
  } else {
    return { value: text };
  }
  if ((spec.min != null && value < spec.min) || (spec.max != null && value > spec.max)) {
    return bad(`a ${spec.type === 'int' ? 'whole number' : 'number'}${range}`);
  }
  return { value };
}

/** Text shown in a field's input for a value. */
export function fieldText(value) {
  if (value == null) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/**
 * Checks that need the Python core: the env name and the numeric ranges of the config's fields.
 * `envNames`: robotrain.envs.ENV_NAMES; `specs`: Config.field_specs().
 */
export function checkWithCore(settings, { envNames, specs }, source = 'URL parameter') {
  const errors = [];
  if (!envNames.includes(settings.env)) {
    errors.push({ param: 'env', message: `${source} env = "${settings.env}" is not allowed: use one of ${envNames.join(', ')}.` });
  }
  const ranges = Object.fromEntries(specs.map((spec) => [spec.name, spec]));
  for (const [param, field] of [['seed', 'seed'], ['batch', 'batch_episodes'], ['lanes', 'lanes']]) {
    const value = settings[param];
    const spec = ranges[field];
    if (value == null || !spec) continue;
    if ((spec.min != null && value < spec.min) || (spec.max != null && value > spec.max)) {
      errors.push({
        param,
        message: `${source} ${param} = "${value}" is not allowed: use a whole number from ${spec.min} to ${spec.max}.`,
      });
    }
  }
  return errors;
}

/**
 * The query string for `settings` (only values that differ from the defaults, never autostart unless
 * `autostart` is given); `all` writes every setting, which makes a share link independent of defaults.
 */
export function toQuery(settings, { all = false, autostart = false, config = null } = {}) {
  const query = new URLSearchParams();
  for (const name of PARAM_NAMES) {
    if (name === 'autostart') continue;
    const value = settings[name];
    const always = all && !name.startsWith('fault_'); // a share link carries faults only when they are on
    if (value != null && (always || value !== DEFAULTS[name])) query.set(name, String(value));
  }
  const cfg = { ...(config ?? {}), ...(settings.cfg ?? {}) };
  for (const name of Object.keys(cfg).sort()) {
    if (name in OWN_CONTROL_FIELDS || cfg[name] == null) continue;
    query.set(name, fieldText(cfg[name]));
  }
  if (autostart) query.set('autostart', '1');
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** The pool's fault settings {crash, hang, slow, seed} from `settings`, or null when none is on. */
export function faultsOf(settings) {
  const faults = { seed: settings.fault_seed ?? 0 };
  for (const [param, kind] of Object.entries(FAULT_PARAMS)) faults[kind] = settings[param] ?? 0;
  return faults.crash > 0 || faults.hang > 0 || faults.slow > 0 ? faults : null;
}
