// Settings from the URL (and the UI's inputs): parsing and validation, with messages that name the parameter
// and its allowed values. Pure functions, no DOM.
import { MIN_WORKERS, MAX_WORKERS } from './pool.js';
import { MODES } from './trainer.js';

export const PARAM_NAMES = Object.freeze(['env', 'workers', 'mode', 'seed', 'batch', 'lanes', 'autostart']);
export const DEFAULTS = Object.freeze({
  env: 'cartpole',
  workers: 'auto',
  mode: 'async',
  seed: 0,
  batch: null, // null: the config's default (batch_episodes)
  lanes: null, // null: the config's default (lanes)
  autostart: false,
});
const MAX_SEED = 2 ** 31 - 1;
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
    case 'autostart':
      if (TRUE_WORDS.includes(text.toLowerCase())) return { value: true };
      if (FALSE_WORDS.includes(text.toLowerCase())) return { value: false };
      return { error: problem(name, raw, 'use 1 or 0 (true or false)') };
    default:
      return { error: { param: name, message: `unknown setting ${name}` } };
  }
}

/** Parse a query string; returns {settings, errors, notes}. Unknown parameters only produce a note. */
export function parseURL(search) {
  const query = new URLSearchParams(search);
  const settings = { ...DEFAULTS };
  const errors = [];
  const notes = [];
  for (const [name, raw] of query) {
    if (!PARAM_NAMES.includes(name)) {
      notes.push(`Ignored the unknown URL parameter "${name}" (known: ${PARAM_NAMES.join(', ')}).`);
      continue;
    }
    const { value, error } = parseSetting(name, raw);
    if (error) errors.push({ ...error, message: `URL parameter ${error.message}` });
    else settings[name] = value;
  }
  return { settings, errors, notes };
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

/** The query string for `settings` (only values that differ from the defaults, and never autostart). */
export function toQuery(settings) {
  const query = new URLSearchParams();
  for (const name of PARAM_NAMES) {
    if (name === 'autostart') continue;
    const value = settings[name];
    if (value !== DEFAULTS[name] && value != null) query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}
