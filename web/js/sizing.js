// Adaptive task sizing: how many episodes a worker's task holds and on how many vector lanes it plays them.
//
// A task has a fixed cost (messages, weight refresh, packing, the main thread's ingest: a few ms) and a cost per
// vector step that grows slowly with the lane count (one worker plays 64 lanes about 11x faster per env step
// than 1 lane). So the biggest task is the fastest, up to two limits: every episode of a task is played with
// the weights it started with (policy lag), and async mode keeps two tasks per worker in flight, so a result
// arrives at most about two task lengths late. The sizer therefore picks the largest task that takes about
// TARGET_TASK_MS on a worker, from the measured worker time per episode, and plays it on as many lanes as it has
// episodes (up to MAX_LANES). Cartpole's episodes grow from ~20 to 500 steps as it learns, so a fixed episode
// count is wrong at one end of the run or the other; the measured time follows them.
//
// With learning on, the learner is the bottleneck (it takes train_frequency env steps per update, and async
// mode stops feeding workers when updates back up), so a bigger task buys no speed, only policy lag: then a
// task holds at most the env steps the learner consumes in TARGET_TASK_MS (setLearnerPace).
//
// Sync mode's batch (batch_episodes) is a learning hyperparameter (the curve depends on it and equals the
// CPython trainer's), so there the sizer only picks lanes: each worker's share of the batch on that many lanes.
// Episodes depend only on their ids, so lanes never change results, only speed.
//
// PQN's sync rollout is num_envs lanes in groups, one task per group (robotrain.run.Run.regroup). A vector step
// costs about a fixed part plus a part per lane (Pyodide, Node 20: cartpole 0.12 ms + 4.7 us per lane,
// balancebot 0.4 ms + 4 us per lane), so a group of fewer than MIN_GROUP_LANES lanes is mostly fixed cost:
// splitting it gains little wall time and spends cores that the learner's thread and the evaluations (which
// play beside the batches on a worker of their own) need. segmentLanes gives each worker one group of at least
// that many lanes.

export const TARGET_TASK_MS = 100; // worker time of one async task, ms
export const MAX_LANES = 64; // lanes beyond this gain little per env step and cost memory
export const MAX_EPISODES = 256; // episodes in one async task, whatever the measurements say
export const MIN_GROUP_LANES = 32; // PQN: sync mode splits a rollout into groups no smaller than this
const SMOOTHING = 0.3; // weight of the newest sample in the moving averages (ms and env steps per episode)

export class TaskSizer {
  /**
   * adaptive: false keeps {episodes, lanes} fixed (the config's episodes_per_task and lanes);
   * lanes: a number fixes the lanes even when adaptive (the user set them), null lets the sizer pick.
   */
  constructor({ adaptive = true, episodes = 2, lanes = null, defaultLanes = 8, targetMs = TARGET_TASK_MS } = {}) {
    this.adaptive = adaptive;
    this.fixedLanes = lanes;
    this.defaultLanes = defaultLanes;
    this.targetMs = targetMs;
    this.episodes = Math.max(1, Math.min(MAX_EPISODES, episodes));
    this.msPerEpisode = null; // moving average of worker ms per episode at the lanes in use
    this.tasks = 0;
    this.lastTaskMs = null;
    this.lastLanes = null;
    this.stepsPerEpisode = null; // moving average of training episodes' length, env steps
    this.learnerCap = null; // episodes the learner consumes in targetMs; null while it does not limit
  }

  /** Episodes in the next async task. */
  episodesPerTask() {
    return this.learnerCap === null ? this.episodes : Math.min(this.episodes, this.learnerCap);
  }

  /** An ingested training result: `episodes` episodes of `steps` env steps in all. */
  observeSteps(episodes, steps) {
    if (!(episodes > 0) || !(steps >= 0)) return;
    const sample = steps / episodes;
    this.stepsPerEpisode =
      this.stepsPerEpisode === null ? sample : this.stepsPerEpisode + SMOOTHING * (sample - this.stepsPerEpisode);
  }

  /**
   * The learner's pace: it consumes `envStepsPerS` env steps per second of the data (null: learning off or not
   * started, which lifts the cap). Needs an episode length from observeSteps. Ignored when fixed.
   */
  setLearnerPace(envStepsPerS) {
    const perEpisode = this.stepsPerEpisode;
    if (!this.adaptive || envStepsPerS == null || !(envStepsPerS > 0) || !(perEpisode > 0)) {
      this.learnerCap = null;
      return;
    }
    const steps = (envStepsPerS * this.targetMs) / 1000;
    this.learnerCap = Math.max(1, Math.min(MAX_EPISODES, Math.floor(steps / perEpisode)));
  }

  /** Lanes for a task of `episodes` episodes; a training task's are remembered for stats (`remember`). */
  lanesFor(episodes, { remember = true } = {}) {
    let lanes = this.defaultLanes;
    if (this.fixedLanes != null) lanes = this.fixedLanes;
    else if (this.adaptive) lanes = Math.max(1, Math.min(MAX_LANES, episodes));
    if (remember) this.lastLanes = lanes;
    return lanes;
  }

  /**
   * PQN: lanes per group when `numEnvs` environments are played by `actors` workers: the fewest groups (a
   * divisor of numEnvs) that give each worker one, unless that makes groups of fewer than MIN_GROUP_LANES
   * lanes; at most MAX_LANES lanes each. null when fixed (the config's lanes hold).
   */
  segmentLanes(numEnvs, actors) {
    if (!this.adaptive || this.fixedLanes != null) return null;
    const wanted = Math.max(1, Math.min(actors, Math.floor(numEnvs / MIN_GROUP_LANES)));
    for (let groups = wanted; groups <= numEnvs; groups += 1) {
      if (numEnvs % groups === 0 && numEnvs / groups <= MAX_LANES) return numEnvs / groups;
    }
    return 1;
  }

  /** A finished training task: `episodes` episodes took `ms` of worker time. */
  observe(episodes, ms) {
    if (!(episodes > 0) || !(ms >= 0)) return;
    this.tasks += 1;
    this.lastTaskMs = ms;
    const sample = ms / episodes;
    this.msPerEpisode = this.msPerEpisode === null ? sample : this.msPerEpisode + SMOOTHING * (sample - this.msPerEpisode);
    if (!this.adaptive) return;
    const wanted = Math.floor(this.targetMs / Math.max(this.msPerEpisode, 1e-3));
    // Grow at most 2x per task: a bigger task with more lanes is faster per episode, and the next measurement
    // shows how much; shrink at once when tasks run long (longer episodes).
    this.episodes = Math.max(1, Math.min(MAX_EPISODES, 2 * this.episodes, wanted));
  }

  /** JSON-safe state for stats(). */
  describe() {
    return {
      adaptive: this.adaptive,
      episodes_per_task: this.episodesPerTask(),
      learner_cap: this.learnerCap,
      lanes: this.lanesFor(this.episodesPerTask(), { remember: false }),
      lanes_last: this.lastLanes,
      target_task_ms: this.targetMs,
      ms_per_episode: this.msPerEpisode === null ? null : Math.round(this.msPerEpisode * 100) / 100,
      last_task_ms: this.lastTaskMs === null ? null : Math.round(this.lastTaskMs),
      tasks: this.tasks,
    };
  }
}
