// The page's message line, notices and buttons, from the page's state (app) and status.

/** ctx: {app, ui, ...} (main.js wires the page's parts into it); returns this part's functions. */
export function createMessages(ctx) {
  const { app, ui } = ctx;
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
  return { notice, refreshButtons, refreshMessage, status };
}
