// The page's state: one object the parts read, each field written by the one part named beside it (main.js
// hands it to each part with the part's other dependencies). Reading another part's field is fine; writing it
// goes through that part's functions.
import { Curves } from '../training/curves.js';

export function createPageState() {
  return {
    // settings.js: what the URL and the controls say, and whether it is valid
    settings: null,
    inputErrors: new Map(), // key (setting name, 'cfg.FIELD' or 'py') -> message; any entry blocks Start
    pyField: null, // the field named by the last failed Python check of the config
    notes: [], // the message line when nothing is wrong
    cfgRaw: {}, // URL parameters that look like Config fields, until Python can check them
    core: null, // {envNames, specs, defaults}: what Python says the robots and the Config fields are
    runSettings: null, // the settings the current run has (session.js sets them at a rebuild; changes made in place here)
    // messages.js: what went wrong, shown in the message line
    loadError: null,
    trainerError: null,
    // session.js: the page's Python, the worker pool, the trainer and the data its events feed
    pyodide: null,
    tools: null,
    glue: null,
    kernel: null, // robotrain.kernel.status(): the Q-network's code on this page and its workers
    pool: null,
    trainer: null,
    curves: new Curves(), // the charts' and the replay list's data, fed by the trainer's events
    pendingStart: false, // Start was asked for before a run was set up
    timings: { page_start_ms: Math.round(performance.now()), python_ready_ms: null, python_stages_ms: null, workers_ready_ms: null },
    // view.js: the robot view
    replay: null, // {states, dim, length, frame, playing, episode, position}
    // api.js
    pushes: 0, // pushes given to the live robot
    // frame.js: the frame loop's measurements
    fps: 0,
    framesDrawn: 0,
    memory: { source: 'python heaps', bytes: null, page_heap: null, workers_heap: null, measured_at: 0 },
    // persistence.js: files, the autosave and resuming it
    autosave: { last_ok_at: null, last_error: null, bytes: 0, saves: 0, busy: false, lastAttempt: 0 },
    offer: null, // the autosaved record offered for resuming
    lastModel: null, // the model file or run card loaded last
    // undo.js
    kept: null, // the run the last fresh run replaced, for Undo: {record, label, why}
    // tabs.js
    ownsAutosave: null, // this tab owns the autosave slot; null until asked
    otherTab: null, // how the run of the tab that owns the slot stands, as it last said
    // background.js
    hidden: { since: null, episodes: 0, steps: 0, last_ms: null, count: 0 },
    // theme.js
    theme: 'auto',
  };
}
