// Entry point: the page's wiring. It creates the page's state, the UI and the parts in app/ (each given the
// parts and callbacks it uses), subscribes them to the session's events, maps the keys, and starts the page.
// The parts never import each other; where two need each other, one gets a callback at construction.
import { createUI } from './ui.js';
import { createPageState } from './app/state.js';
import { Session } from './app/session.js';
import { createMessages } from './app/messages.js';
import { createSettings } from './app/settings.js';
import { createUndo } from './app/undo.js';
import { createTabs } from './app/tabs.js';
import { createView } from './app/view.js';
import { createPersistence } from './app/persistence.js';
import { createFrameLoop } from './app/frame.js';
import { createTheme } from './app/theme.js';
import { watchBackground } from './app/background.js';
import { createAPI } from './app/api.js';

const app = createPageState();
const ui = createUI(document, {
  onStart: () => api.start(),
  onPause: () => api.pause(),
  onReset: () => api.reset(),
  onSetting: (name, raw, options) => settings.changeSetting(name, raw, options),
  onField: (name, raw, final) => settings.changeField(name, raw, final),
  onSave: () => persistence.downloadModel(),
  onLoadFile: (file) => persistence.loadFile(file),
  onShare: () => persistence.showShare(),
  onExportCard: () => persistence.downloadCard(),
  onResume: (yes) => persistence.answerResume(yes),
  onPush: (impulse) => {
    if (!view.replaying()) api.push(impulse);
  },
  onReplay: (id) => api.replay(id),
  onReplayLive: () => api.replayStop(),
  onScrub: (frame) => api.replaySeek(frame),
  onReplayToggle: () => view.replayToggle(),
  onReplayListWanted: () => view.refreshReplayList(),
  onTheme: () => theme.next(),
  onUndo: (yes) => (yes ? undo.undo() : undo.forgetKept()),
  onTakeOver: () => tabs.takeOver(),
});

// Created in dependency order; the callbacks that name a later part (undo, persistence, api) run only after
// start-up, once all exist.
const session = new Session(app);
const messages = createMessages({ app, ui });
const settings = createSettings({ app, ui, session, messages, continueInMode: (mode) => undo.continueInMode(mode) });
const undo = createUndo({ app, ui, session, notice: messages.notice, applySettings: settings.applySettings });
const tabs = createTabs({
  app,
  ui,
  session,
  refreshButtons: messages.refreshButtons,
  offerResume: () => persistence.offerResume(),
  stats: () => api.stats(),
});
const view = createView({ app, ui });
const persistence = createPersistence({ app, ui, session, messages, settings, ownsAutosave: tabs.ownsAutosave, showLiveCaption: view.showLiveCaption });
const frames = createFrameLoop({ app, ui, view, stats: () => api.stats(), showError: messages.showError });
const theme = createTheme({ app, ui });
watchBackground({ app, notice: messages.notice });
const api = createAPI({ app, ui, session, messages, persistence, undo, tabs, view });
window.robotrain = Object.freeze(api);

// ---- the session's events ----------------------------------------------------------------------------

session.on('loading', ({ fraction, text }) => ui.setLoading(fraction, text));
session.on('error', messages.showError);
session.on('python-ready', () => {
  settings.coreReady();
  if (app.inputErrors.size) session.ensurePool(0); // started early, before Python could check the settings: nothing runs until they are fixed
  else session.rebuild();
  persistence.offerResume();
});
session.on('pool', frames.poolResized);
session.on('worker-failed', messages.workerFailed);
// The replaced run's notices go first, so that a failure to keep it for Undo stays on screen.
session.on('replacing', messages.runReplaced);
session.on('replacing', undo.keepForUndo);
session.on('replacing', view.runReplaced);
session.on('replacing', frames.runReplaced);
session.on('trainer', frames.runReady);
session.on('trainer', messages.runReady);
session.on('trainer', view.runReady);
session.on('trainer', settings.showFields);
session.on('state', messages.refreshButtons);
session.on('evaluated', messages.evaluated);
session.on('diverged', messages.diverged);
session.on('finished', messages.finished);
session.on('finished', () => persistence.autosave('finished'));

window.addEventListener('error', (event) => {
  messages.showError({ where: 'load', text: `Unexpected error: ${event.message}` });
});
window.addEventListener('unhandledrejection', (event) => {
  messages.showError({ where: 'load', text: `Unexpected error: ${event.reason?.message ?? event.reason}` });
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
  else if (key === 's') persistence.downloadModel();
  else if (key === 'l') document.getElementById('load-file').click();
  else if (key === 't') theme.next();
});

// ---- start-up ------------------------------------------------------------------------------------

settings.readURL();
if (app.settings.autostart) session.start(); // ?autostart=1: the run starts once it is set up
messages.refreshMessage();
frames.start();
if (!app.inputErrors.size) {
  // Workers boot their own Python while the page loads its own (about 4 s each on a 2-core machine), instead of after.
  session.fitPool();
}
tabs.ownsAutosave(); // ask early: the answer is ready when the resume offer or the first autosave needs it
// With bad settings the page's Python still loads (no worker, nothing trains): it checks what only it knows
// (the robot's name, the Config fields), so every problem of the URL is reported at once.
session.boot();
