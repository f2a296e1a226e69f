// Building a Trainer's Python side: the run (new, or restored from bytes), its schedule, task sizing, the live
// view, the local actor (main mode) and the pool's configuration; then the first weights go out.
import { pythonErrorMessage } from '../pyhost.js';
import { TaskSizer } from '../sizing.js';
import { LiveView } from './view.js';

/** Turn anything thrown from Python or JS into an Error with a readable one-line message. */
export function asError(error, what) {
  const wrapped = new Error(`${what}: ${pythonErrorMessage(error)}`);
  wrapped.cause = error;
  return wrapped;
}

/** Set up trainer `t` (its constructor's settings, restore and pool) on its interpreter. */
export function buildTrainer(t) {
  const { pyodide, tools, glue, settings } = t;
  const overrides = { ...(settings.cfg ?? {}), seed: settings.seed };
  if (settings.batch != null) overrides.batch_episodes = settings.batch;
  if (settings.lanes != null) overrides.lanes = settings.lanes;
  let config;
  try {
    if (t.restore) {
      t.run = t.keep(glue.run_from_bytes(t.restore.run));
      config = t.keep(t.run.config);
    } else {
      config = t.keep(glue.make_config(settings.env, JSON.stringify(overrides)));
      const Run = pyodide.pyimport('robotrain.run').Run;
      t.run = t.keep(Run(config));
      Run.destroy();
    }
  } catch (error) {
    throw asError(error, t.restore ? 'saved run' : 'configuration');
  }
  t.config = tools.toJSON(config.to_dict());
  t.schedule = t.keep(glue.new_schedule(t.run, settings.mode));
  t.nextCommand = t.keep(glue.next_command);
  // Task sizing (sizing.js): 'auto' unless the settings say 'fixed'; lanes given by the user stay fixed.
  t.sizer = new TaskSizer({
    adaptive: settings.sizing !== 'fixed',
    episodes: t.config.episodes_per_task,
    lanes: settings.lanes ?? null,
    defaultLanes: t.config.lanes,
  });
  t.envInfo = tools.toJSON(t.run.env_info());
  t.drawSpec = t.envInfo.draw_spec;
  t.view = new LiveView({ pyodide, tools, glue, config: t.config, drawSpec: t.drawSpec });
  t.keep({ destroy: () => t.view.dispose() });
  if (!t.pool) {
    const Actor = pyodide.pyimport('robotrain.actor').Actor;
    const hidden = tools.fromJSON(t.config.hidden_sizes);
    t.actor = t.keep(Actor(t.config.env_id, t.config.seed, t.config.lanes, hidden, t.config.algorithm === 'pqn'));
    hidden.destroy();
    Actor.destroy();
  }
  t.lostBeforeRestore = 0;
  if (t.restore) {
    const s = tools.toJSON(t.run.stats());
    t.counts = { episodes: s.episodes, envSteps: s.env_steps };
    // Ids that were in flight when the run was saved are not played again after a restore.
    t.lostBeforeRestore = s.episodes_issued - s.episodes_ingested;
    t.trainedMs = t.restore.trainedMs ?? 0;
  }
  if (t.pool) {
    t.pool.cancel();
    t.pool.configure({
      env_id: t.config.env_id,
      run_seed: t.config.seed,
      lanes: t.config.lanes,
      hidden_sizes: t.config.hidden_sizes,
      layer_norm: t.config.algorithm === 'pqn',
    });
  }
  t.publish();
}
