// The session: the page's Python, the worker pool and the trainer; (re)built for the current settings. The
// trainer reports through the callbacks given here (events into the curves, notices, errors).
import { WorkerPool } from '../pool.js';
import { Trainer } from '../trainer.js';
import { Curves } from '../training/curves.js';
import { loadRobotrain, compiledRuntime, pyTools, loadGlue, setKernelChoice } from '../pyhost.js';
import { faultsOf } from '../params.js';

const BASE_URL = new URL('../../', import.meta.url); // the site root (this file is js/app/session.js)
const WORKER_URL = new URL('../worker.js', import.meta.url);

/** ctx: {app, ui, ...} (main.js wires the page's parts into it); returns this part's functions. */
export function createSession(ctx) {
  const { app, ui } = ctx;
  let booting = null;

  function boot() {
    booting ??= (async () => {
      ui.setLoading(0.02, 'Loading Python on the page…');
      setKernelChoice(app.settings.kernel); // the page's path and its workers' (they start after this)
      try {
        app.pyodide = await loadRobotrain(
          BASE_URL,
          (stage, fraction) => ui.setLoading(fraction * 0.5, `Loading Python on the page (${stage})…`),
          { runtime: await compiledRuntime(BASE_URL), makeSnapshot: true }, // what the workers start from
        );
      } catch (error) {
        app.loadError = `Could not load Python on this page: ${error.message}`;
        ui.setLoading(0, 'Loading failed.');
        ctx.refreshMessage();
        return;
      }
      app.timings.python_ready_ms = Math.round(performance.now());
      app.timings.python_stages_ms = app.pyodide.robotrainStagesMs;
      app.tools = pyTools(app.pyodide);
      const kernelModule = app.pyodide.pyimport('robotrain.kernel');
      try {
        app.kernel = app.tools.toJSON(kernelModule.status());
      } finally {
        kernelModule.destroy();
      }
      app.glue = loadGlue(app.pyodide);
      app.core = {
        envNames: JSON.parse(app.glue.env_names()),
        specs: [],
        defaults: {},
      };
      ui.setChoices({ envNames: app.core.envNames });
      ctx.refreshSpecs();
      for (const problem of ctx.coreErrors(app.settings, 'URL parameter')) {
        app.inputErrors.set(problem.param, problem.message);
        ui.markInvalid(problem.param, true);
      }
      ctx.adoptURLFields();
      if (app.settings.cfg.algorithm) ctx.refreshSpecs(); // ?algorithm=: that algorithm's defaults and fields
      ctx.pythonCheck();
      ui.showSettings(app.settings);
      for (const param of app.inputErrors.keys()) ui.markInvalid(param, true);
      ctx.refreshMessage();
      if (!app.inputErrors.size) rebuild();
      else ensurePool(0); // started early, before Python could check the settings: nothing runs until they are fixed
      ctx.offerResume();
    })();
    return booting;
  }

  /** Create, resize or drop the worker pool so that it has `size` workers (0: none). */
  function ensurePool(size) {
    if (size === 0 && app.pool) {
      app.pool.terminate();
      app.pool = null;
    } else if (size > 0 && !app.pool) {
      app.timings.workers_ready_ms = null;
      app.pool = new WorkerPool({
        size,
        workerURL: WORKER_URL,
        onChange: () => {
          if (app.pool && app.timings.workers_ready_ms === null && app.pool.readyCount === app.pool.size) {
            app.timings.workers_ready_ms = Math.round(performance.now());
          }
        },
        onError: (error) => {
          app.trainerError = `Worker problem: ${error.message}`;
          ctx.refreshMessage();
        },
        onFailure: (record) => workerFailed(record),
        faults: faultsOf(app.settings),
      });
    } else if (size > 0 && app.pool.size !== size) {
      app.timings.workers_ready_ms = null;
      app.pool.resize(size);
    }
  }

  /**
   * (Re)create the pool to the wanted size and a fresh trainer for the current settings (paused), or one that
   * restores `restore` (an autosave record). `why` (what replaced the run, null: nothing is replaced) is shown
   * with the Undo offer when the replaced run had anything worth keeping.
   */
  function rebuild({ restore = null, why = 'Settings changed' } = {}) {
    const wasRunning = app.trainer?.state === 'running';
    if (why) ctx.keepForUndo(why);
    app.trainer?.dispose();
    ui.showNotice(null); // the replaced run's notices (its end, a saved model) are not this run's
    app.solvedAnnounced = false;
    app.trainer = null;
    app.trainerError = null;
    app.replay = null;
    ui.showReplay(null);
    ui.clearHistory();
    ensurePool(ctx.workerCount(app.settings));
    app.pool?.setFaults(faultsOf(app.settings));
    const curves = new Curves(restore);
    app.curves = curves;
    try {
      app.trainer = new Trainer({
        pyodide: app.pyodide,
        tools: app.tools,
        glue: app.glue,
        pool: app.pool,
        settings: app.settings,
        restore,
        callbacks: {
          onError: (error) => {
            app.trainerError = `Training stopped: ${error.message}`;
            ctx.refreshMessage();
          },
          onChange: () => ctx.refreshButtons(),
          onIngested: (event) => curves.addIngest(event),
          onEvaluated: (event) => {
            curves.addEval(event);
            ctx.evaluated();
          },
          onDiverged: (message) => {
            ctx.notice(`Training paused: the learner diverged (${message}). The last good weights are back; press Start to go on, or lower learning_rate.`, 'error');
            ctx.refreshButtons();
          },
          onFinished: () => {
            ctx.notice(ctx.finishedText());
            ctx.autosave('finished');
            ctx.refreshButtons();
          },
        },
      });
    } catch (error) {
      app.trainerError = `Could not set up training: ${error.message}`;
      ctx.refreshMessage();
      return;
    }
    // The page's stop point: the budget in the settings (a restored run may have moved it since it started).
    const budget = app.settings.cfg.total_timesteps ?? app.core.defaults.total_timesteps;
    if (budget != null && budget !== app.trainer.config.total_timesteps) app.trainer.setStepBudget(budget);
    app.runSettings = app.settings;
    // Worker tiles count this run's episodes: what each worker played before is the baseline.
    app.tileBase = new Map((app.pool?.describe() ?? []).map((w) => [w.id, w.episodes]));
    app.solvedAnnounced = ctx.solved().solved; // a restored run that was solved is not announced again
    ctx.showSolved();
    ui.setCaption(ctx.liveCaption());
    ui.showFields(app.settings.cfg, app.core.defaults);
    ctx.refreshReplayList();
    if (!restore && (wasRunning || app.pendingStart)) {
      app.pendingStart = false;
      app.trainer.start();
    }
    ctx.refreshMessage();
  }

  /** A worker was declared dead (recovered_ms null) or its slot is ready again: say so in the notice line. */
  function workerFailed(record) {
    const what = record.injected ? ` (injected ${record.injected})` : '';
    if (record.recovered_ms === null) {
      ctx.notice(`Worker ${record.worker} failed${what}: ${record.reason}. Its task runs again with the same episodes; a replacement is starting.`);
    } else {
      ctx.notice(`Worker ${record.worker} is back ${(record.recovered_ms / 1000).toFixed(1)} s after its failure${what}${record.replacement && record.replacement !== 'new worker' ? ' (a spare took over)' : ''}; nothing was lost.`);
    }
  }
  return { boot, ensurePool, rebuild, workerFailed };
}
