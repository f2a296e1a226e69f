// What the trainer reports: its statistics for robotrain.stats() (the run's figures from Python and the main
// thread's own) and its snapshot for autosave.
import { frameWaitStats } from '../schedule.js';

/** JSON-safe training statistics of trainer `t` (the page adds fps and the worker list). */
export function trainerStats(t) {
  const run = t.disposed ? {} : t.tools.toJSON(t.run.stats());
  return {
    state: t.state,
    mode: t.settings.mode,
    episodes: run.episodes ?? 0,
    env_steps: run.env_steps ?? 0,
    updates: run.updates ?? 0,
    policy_version: run.policy_version ?? 0,
    episodes_per_min: t.state === 'running' ? t.episodeRate.perSecond() * 60 : 0,
    env_steps_per_s: t.state === 'running' ? t.stepRate.perSecond() : 0,
    epsilon: run.epsilon ?? null,
    loss: run.loss ?? null,
    updates_per_s: t.state === 'running' ? run.updates_per_s ?? 0 : 0,
    step_budget: t.stopAt, // where the run stops (config.total_timesteps: what its schedules are built on)
    finished: Boolean(t.finished),
    watch_only: t.watchOnly,
    longest_local_slice_ms: Math.round(t.longestLocalSliceMs * 100) / 100,
    last_eval_return: run.last_eval_return ?? null,
    best_eval_return: run.best_eval_return ?? null,
    solved_at_env_step: run.solved_at_env_step ?? null,
    solved: t.solved, // {page_ms (since navigation), training_ms, env_steps, updates} of the first solved evaluation
    staleness: {
      mean: t.staleness.count ? t.staleness.sum / t.staleness.count : 0,
      max: t.staleness.max,
      recent_mean: run.mean_staleness ?? 0,
    },
    replay_size: run.replay_size ?? 0,
    newest_result_policy_version: t.newestResultVersion,
    longest_learn_slice_ms: Math.round(t.longestSliceMs * 100) / 100,
    learn_slices: t.slices,
    learn_slices_over_16ms: t.longSlices,
    frame_waits: frameWaitStats(),
    main_thread_busy_ms: Object.fromEntries(
      Object.entries({ ...t.busyMs, view: t.view?.busyMs ?? 0 }).map(([k, v]) => [k, Math.round(v)]),
    ),
    sync_waits_ms: { batch: Math.round(t.waitedMs.batch), evaluation: Math.round(t.waitedMs.evaluation) },
    training_wall_ms: Math.round(t.trainingMs),
    updates_per_slice: t.budget.units,
    env_info: t.envInfo,
    config: t.config,
    error: t.error ? t.error.message : null,
    episodes_issued: run.episodes_issued ?? 0,
    episodes_in_flight: t.episodesInFlight,
    episodes_lost: t.disposed ? 0 : (run.episodes_issued ?? 0) - (run.episodes_ingested ?? 0) - t.episodesInFlight - t.lostBeforeRestore,
    episodes_duplicated: run.episodes_duplicated ?? 0,
    task_sizing: t.sizer.describe(),
    duplicates_dropped: run.duplicates_dropped ?? 0,
    // PQN's units of work (robotrain.run): segments planned, ingested once each, and in flight, and the lanes of
    // each now (sync mode groups them one task per worker: Run.regroup); null for DDQN.
    segments: run.segments_issued == null ? null
      : { issued: run.segments_issued, ingested: run.segments_ingested, in_flight: run.segments_in_flight,
          lanes: run.segment_lanes },
    divergences: run.divergences ?? 0,
    last_divergence: t.divergence,
  };
}

/** Trainer `t`'s whole training state as bytes (Run.to_bytes), its training time and counts, for autosave. */
export function trainerSnapshot(t) {
  const bytes = t.glue.run_to_bytes(t.run);
  let run;
  try {
    run = bytes.toJs();
  } finally {
    bytes.destroy();
  }
  return {
    run,
    trainedMs: t.trainingMs,
    counts: { episodes: t.counts.episodes, env_steps: t.counts.envSteps },
  };
}
