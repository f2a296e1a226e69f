// The page's theme: auto (the system's light or dark), light or dark; remembered in localStorage. Owns app.theme.

/** app: the page's state (app/state.js); ui: the page's controls (ui.js). Applies the remembered theme. */
export function createTheme({ app, ui }) {
  function set(theme) {
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

  let remembered = 'auto';
  try {
    remembered = localStorage.getItem('robotrain-theme') || 'auto';
  } catch {
    /* no storage */
  }
  set(['auto', 'light', 'dark'].includes(remembered) ? remembered : 'auto');

  /** The next theme in the button's cycle. */
  function next() {
    set(ui.nextTheme(app.theme));
  }
  return { next };
}
