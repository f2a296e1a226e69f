// One tab owns the autosaved run. The page's autosave is one IndexedDB slot per browser profile; two tabs that
// both resumed and autosaved it would train the same run twice and overwrite each other. The owner holds a Web
// Lock for as long as it lives; another tab of the page sees the lock taken, does not offer to resume the run
// nor autosave, and offers to take it over (the lock is stolen: the first tab pauses and stops autosaving).
// Meanwhile it watches the run: the owner says how its run stands on a BroadcastChannel every STATUS_EVERY_MS,
// and the other tabs show that beside their offer. Owns app.ownsAutosave and app.otherTab.
const LOCK = 'robotrain-autosave';
const STATUS_EVERY_MS = 2000;
const NOT_OWNER = 'This page is open in another tab, which owns the autosaved run: this tab does not offer to resume it and does not autosave (so two tabs never write one run). Take over to make this tab the one.';
const TAKEN = 'Another tab of this page took over the autosaved run: training here is paused and this tab no longer autosaves. Take over to make this tab the one again.';

/**
 * app: the page's state (app/state.js); ui: the page's controls; session: app/session.js; refreshButtons():
 * app/messages.js; offerResume(): offer the autosaved run (app/persistence.js); stats(): window.robotrain.stats().
 */
export function createTabs({ app, ui, session, refreshButtons, offerResume, stats }) {
  let decided = null; // resolves to true (this tab owns the slot) or false
  let notice = null; // the banner's sentence while another tab owns the slot
  const channel = globalThis.BroadcastChannel ? new BroadcastChannel(LOCK) : null;
  if (channel) {
    channel.onmessage = ({ data }) => {
      if (app.ownsAutosave || typeof data?.status !== 'string') return;
      app.otherTab = data.status;
      if (notice) show(notice);
    };
    setInterval(() => {
      if (app.ownsAutosave) channel.postMessage({ status: statusLine(stats()) });
    }, STATUS_EVERY_MS);
  }

  function show(text) {
    notice = text;
    ui.showTabs(text && app.otherTab ? `${text} The other tab now: ${app.otherTab}.` : text);
  }

  /** Hold the lock until the page goes or another tab steals it. */
  function hold(options) {
    return new Promise((resolve) => {
      navigator.locks
        .request(LOCK, options, (lock) => {
          resolve(Boolean(lock));
          return lock ? new Promise(() => {}) : undefined; // held for the page's life
        })
        .catch((error) => {
          if (error?.name === 'AbortError') lostToAnotherTab();
          resolve(false);
        });
    });
  }

  /** Whether this tab owns the autosave slot (asked once at start-up; true where Web Locks are missing). */
  function ownsAutosave() {
    decided ??= (globalThis.navigator?.locks ? hold({ ifAvailable: true }) : Promise.resolve(true)).then((owner) => {
      app.ownsAutosave ??= owner; // a take-over may have answered already
      if (!app.ownsAutosave) {
        show(NOT_OWNER);
      }
    });
    return decided.then(() => app.ownsAutosave); // what holds now (the lock may have been taken since)
  }

  /** Take the slot from the other tab (it pauses and stops autosaving), then offer its autosaved run here. */
  async function takeOver() {
    if (app.ownsAutosave || !globalThis.navigator?.locks) return true;
    const owner = await hold({ steal: true });
    app.ownsAutosave = owner;
    if (owner) {
      show(null);
      app.otherTab = null;
      await offerResume();
    }
    return owner;
  }

  function lostToAnotherTab() {
    app.ownsAutosave = false;
    session.pause();
    show(TAKEN);
    refreshButtons();
  }

  return { ownsAutosave, takeOver };
}

/** How a run stands, in a few words ('cartpole, running: 12,345 env steps, 240 episodes, last greedy evaluation 480.5'). */
function statusLine(s) {
  const n = (x) => Math.round(x).toLocaleString('en-US');
  const evaluation = s.last_eval_return === null ? 'no greedy evaluation yet' : `last greedy evaluation ${s.last_eval_return.toFixed(1)}`;
  const solved = s.solved_at_env_step != null ? `, solved at ${n(s.solved_at_env_step)} env steps` : '';
  return `${s.settings.env}, ${s.state}: ${n(s.env_steps)} env steps, ${n(s.episodes)} episodes, ${evaluation}${solved}`;
}
