// One tab owns the autosaved run. The page's autosave is one IndexedDB slot per browser profile; two tabs that
// both resumed and autosaved it would train the same run twice and overwrite each other. The owner holds a Web
// Lock for as long as it lives; another tab of the page sees the lock taken, does not offer to resume the run
// nor autosave, and offers to take it over (the lock is stolen: the first tab pauses and stops autosaving).
const LOCK = 'robotrain-autosave';

/** ctx: {app, ui, ...} (main.js wires the page's parts into it); returns this part's functions. */
export function createTabs(ctx) {
  const { app, ui } = ctx;
  let decided = null; // resolves to true (this tab owns the slot) or false

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
        ui.showTabs('This page is open in another tab, which owns the autosaved run: this tab does not offer to resume it and does not autosave (so two tabs never write one run). Take over to make this tab the one.');
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
      ui.showTabs(null);
      await ctx.offerResume();
    }
    return owner;
  }

  function lostToAnotherTab() {
    app.ownsAutosave = false;
    app.pendingStart = false;
    app.trainer?.pause();
    ui.showTabs('Another tab of this page took over the autosaved run: training here is paused and this tab no longer autosaves. Take over to make this tab the one again.');
    ctx.refreshButtons();
  }

  return { ownsAutosave, takeOver };
}
