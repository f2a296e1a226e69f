// Entry point: the page's wiring. It creates the UI and the page's parts (app/*.js: messages, settings, the
// session of Python + pool + trainer, persistence, the frame loop, window.robotrain), hands each the shared
// context, and handles keys, theme, the tab's visibility and start-up. The parts never import each other.
import { createUI } from './ui.js';
import { formatDuration } from './ui/format.js';
import { autoWorkerCount, MAX_WORKERS } from './pool/limits.js';
import { parseURL, faultsOf } from './params.js';
import { Curves } from './training/curves.js';
import { createMessages } from './app/messages.js';
import { createSettings } from './app/settings.js';
import { createSession } from './app/session.js';
import { createPersistence } from './app/persistence.js';
import { createFrameLoop } from './app/frame.js';
import { createAPI } from './app/api.js';
import { createUndo } from './app/undo.js';
import { createTabs } from './app/tabs.js';

const AUTOSAVE_EVERY_MS = 60_000;

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
  curves: new Curves(), // the charts' and the replay list's data, fed by the trainer's events
  pendingStart: false,
  timings: { page_start_ms: Math.round(performance.now()), python_ready_ms: null, python_stages_ms: null, workers_ready_ms: null },
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
  kernel: null, // robotrain.kernel.status(): the Q-network's code on this page and its workers
  runSettings: null, // the settings the current run has (changes made in place included)
  kept: null, // the run the last fresh run replaced, for Undo: {record, label, why} (app/undo.js)
  tileBase: null, // worker id -> its episodes when the current run began (tiles count this run's)
  solvedAnnounced: false, // the current run's first solved evaluation was announced
  ownsAutosave: null, // this tab owns the autosave slot (app/tabs.js); null until asked
  otherTab: null, // how the run of the tab that owns the slot stands, as it last said (app/tabs.js)
};

// The context every part gets: the page's state (app), the UI, and (below) each part's functions by name.
const ctx = { app };
const ui = createUI(document, {
  onStart: () => ctx.api.start(),
  onPause: () => ctx.api.pause(),
  onReset: () => ctx.api.reset(),
  onSetting: (name, raw, options) => ctx.changeSetting(name, raw, options),
  onField: (name, raw, final) => ctx.changeField(name, raw, final),
  onSave: () => ctx.downloadModel(),
  onLoadFile: (file) => ctx.loadFile(file),
  onShare: () => ctx.showShare(),
  onExportCard: () => ctx.downloadCard(),
  onResume: (yes) => ctx.answerResume(yes),
  onPush: (impulse) => {
    if (!app.replay) ctx.api.push(impulse);
  },
  onReplay: (id) => ctx.api.replay(id),
  onReplayLive: () => ctx.api.replayStop(),
  onScrub: (frame) => ctx.api.replaySeek(frame),
  onReplayToggle: () => {
    if (app.replay) app.replay.playing = !app.replay.playing;
  },
  onReplayListWanted: () => ctx.refreshReplayList(),
  onTheme: () => setTheme(ui.nextTheme(app.theme)),
  onUndo: (yes) => (yes ? ctx.undo() : ctx.forgetKept()),
  onTakeOver: () => ctx.takeOver(),
});
ctx.ui = ui;
Object.assign(ctx, createMessages(ctx), createSettings(ctx), createSession(ctx), createPersistence(ctx), createUndo(ctx), createTabs(ctx), createFrameLoop(ctx));
ctx.api = createAPI(ctx);
window.robotrain = Object.freeze(ctx.api);

window.addEventListener('error', (event) => {
  app.loadError = `Unexpected error: ${event.message}`;
  ctx.refreshMessage();
});
window.addEventListener('unhandledrejection', (event) => {
  app.loadError = `Unexpected error: ${event.reason?.message ?? event.reason}`;
  ctx.refreshMessage();
});

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
    if (app.trainer?.state === 'running') ctx.api.pause();
    else ctx.api.start();
  } else if (key === 'r') ctx.api.reset();
  else if (key === 's') ctx.downloadModel();
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
    ctx.notice(`This tab was in the background for ${formatDuration(ms / 1000)}; training went on (+${episodes.toLocaleString('en-US')} episodes, +${steps.toLocaleString('en-US')} env steps) while drawing was paused.`);
  } else {
    ctx.notice(`This tab was in the background for ${formatDuration(ms / 1000)}.`);
  }
});

setInterval(() => {
  const t = app.trainer;
  if (t && t.state === 'running' && performance.now() - app.autosave.lastAttempt >= AUTOSAVE_EVERY_MS) ctx.autosave('every minute');
}, 5000);

// ---- start-up ------------------------------------------------------------------------------------

{
  const { settings, errors, notes, cfgRaw } = parseURL(location.search);
  app.settings = settings;
  app.notes = notes;
  app.cfgRaw = cfgRaw;
  app.pendingStart = settings.autostart;
  if (location.protocol === 'file:') {
    // What a page opened from disk does differently (README, "Download, unzip, double-click").
    app.notes.push('Opened from disk: training, models and autosave work as on a server; a share link names this file, so it opens the run on this computer only (send a run card to share it), and weights reach the workers as copies (no cross-origin isolation without a server).');
  }
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
  ctx.refreshMessage();
  requestAnimationFrame(ctx.frame);
  if (!app.inputErrors.size) {
    // Workers boot their own Python while the page loads its own (about 4 s each on a 2-core machine), instead of after.
    ctx.ensurePool(ctx.workerCount(app.settings));
  }
  ctx.ownsAutosave(); // ask early: the answer is ready when the resume offer or the first autosave needs it
  // With bad settings the page's Python still loads (no worker, nothing trains): it checks what only it knows
  // (the robot's name, the Config fields), so every problem of the URL is reported at once.
  ctx.boot();
}
