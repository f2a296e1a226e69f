// Results into trainer `t`'s run: a task played on a worker (or here, in main mode), its result ingested once
// (episodes into the replay buffer, a PQN segment into the rollout), an evaluation's mean recorded.
import { asError } from './setup.js';
import { playLocally } from './local.js';

const EVAL_STREAM = 1;

/** Run one task on a worker (or, in main mode, here); resolves with {packed: Float32Array} or {array}. */
export function executeTask(t, task, priority) {
  // Training episodes in flight: planned, not yet ingested, not given up on. episodes_lost in stats() is what is
  // issued and neither ingested nor in flight. A segment's episodes are counted as they end, never ahead.
  const segment = task.kind === 'segment';
  const episodes = task.stream === EVAL_STREAM || segment ? 0 : task.stop_id - task.first_id;
  t.episodesInFlight += episodes;
  const running = t.pool ? t.pool.submit(task, { priority }) : playLocally(t, task);
  return running.then(
    (result) => {
      if (episodes > 0 && result.ms != null) t.sizer.observe(episodes, result.ms);
      return { ...result, inFlight: episodes, segment };
    },
    (error) => {
      t.episodesInFlight -= episodes;
      throw error;
    },
  );
}

/** One training result into the run (Run.ingest), then the trainer's counts and the onIngested report. */
export function ingestResult(t, result) {
  t.episodesInFlight -= result.inFlight ?? 0;
  const array = result.array ?? t.tools.toNumpy(result.packed);
  const packed = result.packed ?? t.tools.fromNumpy(array);
  let summary;
  try {
    summary = t.tools.toJSON(t.run.ingest(array));
  } catch (error) {
    throw asError(error, 'ingest');
  } finally {
    array.destroy();
  }
  if (summary.duplicate) return;
  t.onIngested({
    rows: summary.episodes,
    envStepsBefore: t.counts.envSteps,
    seconds: t.trainingMs / 1000,
    staleness: summary.staleness,
    packed,
  });
  t.counts.episodes += summary.episodes.length;
  t.counts.envSteps += summary.transitions;
  if (!result.segment) t.sizer.observeSteps(summary.episodes.length, summary.transitions); // sizes episode tasks
  t.staleness.sum += summary.staleness;
  t.staleness.count += 1;
  t.staleness.max = Math.max(t.staleness.max, summary.staleness);
  t.newestResultVersion = Math.max(t.newestResultVersion, summary.policy_version);
  const now = performance.now();
  t.episodeRate.sample(t.counts.episodes, now);
  t.stepRate.sample(t.counts.envSteps, now);
}

/** An evaluation's result into the run (Run.ingest_eval); the first solved one is remembered. */
export function ingestEvaluation(t, result) {
  const array = result.array ?? t.tools.toNumpy(result.packed);
  try {
    const mean = t.timed('ingest', () => t.run.ingest_eval(array));
    if (t.solved === null && mean >= t.envInfo.solved_threshold) {
      const run = t.tools.toJSON(t.run.stats());
      t.solved = { page_ms: Math.round(performance.now()), training_ms: Math.round(t.trainingMs),
                   env_steps: run.solved_at_env_step, updates: run.updates };
    }
    t.onEvaluated({ step: t.pendingEvalStep, mean, seconds: t.trainingMs / 1000 });
  } catch (error) {
    throw asError(error, 'evaluation');
  } finally {
    array.destroy();
  }
  t.onChange();
}
