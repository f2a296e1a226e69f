// The trainer's two loops: the host side of robotrain.schedule on the page. Sync (and main mode) carries out
// one batch's commands at a time; async one step's, between worker arrivals. `t` is the Trainer.
import { yieldTask, sleep } from '../schedule.js';

const INGEST_SLICE_MS = 4; // async mode: stop ingesting queued results after this long, learn, then go on
const ASYNC_DEPTH = 2; // async mode: tasks in flight per worker

/**
 * Sync mode: episodes per task so that each worker gets one task of the batch and plays all its episodes
 * on its lanes at once (fewer, fuller tasks: less per-task overhead and a shorter batch); main mode with
 * adaptive sizing plays the whole batch as one task. The split does not change the curve: episodes depend
 * only on their ids.
 */
function syncEpisodesPerTask(t) {
  if (!t.pool && !t.sizer.adaptive) return t.config.episodes_per_task;
  return Math.max(1, Math.ceil(t.config.batch_episodes / Math.max(1, t.pool?.size ?? 1)));
}

/** Learn up to `updates` updates in slices of about LEARN_SLICE_MS, yielding to the page between them. */
async function learnUpTo(t, updates) {
  let left = updates;
  while (left > 0 && !t.stopped) {
    await t.gate(); // a divergence pauses: the rest waits for a restart
    if (t.stopped) return;
    const done = t.learnSlice(left);
    if (done === 0 && t.state === 'running') return; // nothing more is due
    left -= done;
    await yieldTask();
  }
}

/** `promise`, awaited, the wait added to t.waitedMs[what]. */
async function waited(t, what, promise) {
  const started = performance.now();
  try {
    return await promise;
  } finally {
    t.waitedMs[what] += performance.now() - started;
  }
}

/** Main mode: the batch's tasks on this thread, one after the other. */
async function playHere(t, tasks) {
  const results = [];
  for (const task of tasks) {
    await t.gate();
    results.push(await t.execute(task));
  }
  return results;
}

export async function syncLoop(t) {
  while (!t.stopped) {
    if (t.budgetReached && t.evaluating) await waited(t, 'evaluation', t.evaluating); // the run's last one
    t.checkBudget();
    await t.gate();
    if (t.stopped) return;
    if (t.config.algorithm === 'pqn') t.regroup(t.sizer.segmentLanes(t.config.num_envs, t.pool?.size ?? 1));
    const commands = t.schedule.sync_batch(syncEpisodesPerTask(t));
    try {
      await syncBatch(t, commands);
    } finally {
      commands.destroy();
    }
  }
}

/** One sync batch: batch k plays (with the weights published after batch k - 1) while this thread learns. */
async function syncBatch(t, commands) {
  let tasks = [];
  let playing = null;
  for (let command = t.commandFrom(commands); command && !t.stopped; command = t.commandFrom(commands)) {
    if (command.op === 'play') {
      tasks = t.tasksOf(command);
      playing = t.pool ? Promise.all(tasks.map((task) => t.execute(task))) : null;
      playing?.catch(() => {}); // a failure is rethrown by the ingest's await, after the learning slices
    } else if (command.op === 'learn') {
      await learnUpTo(t, command.updates);
    } else if (command.op === 'ingest') {
      const results = playing ? await waited(t, 'batch', playing) : await playHere(t, tasks);
      if (t.stopped) return;
      for (const result of results) t.ingest(result); // tasks come in id order
      t.onChange();
      await yieldTask();
    } else if (command.op === 'publish') {
      t.publishNow();
    } else if (command.op === 'await_evaluation') {
      if (t.evaluating) await waited(t, 'evaluation', t.evaluating); // the next evaluation is due
      if (t.stopped) return;
    } else if (command.op === 'evaluate') {
      if (t.pool) evaluateBesideLearning(t, command);
      else {
        const result = await t.execute(t.evalTaskOf(command), true); // main mode: one thread, nothing to overlap
        if (t.stopped) return;
        t.ingestEval(result);
      }
    } else {
      throw new Error(`unknown command ${command.op}`);
    }
  }
}

/**
 * Sync mode with workers: start the greedy evaluation (first in the pool's queue) and go on with the batches
 * after it; its result is ingested as soon as it arrives. It plays the weights its task carries (the version
 * its command names) and never changes training, so when it is ingested changes no curve (robotrain.schedule);
 * the schedule's await_evaluation, when the next one is due, waits for it at the latest. The learner does not
 * idle while a worker plays the evaluation's episodes (balancebot: 20 x 8,000 steps), and with two or more
 * workers the others play the batches meanwhile.
 */
function evaluateBesideLearning(t, command) {
  const tracked = t.execute(t.evalTaskOf(command), true)
    .then((result) => {
      if (!t.stopped) t.ingestEval(result);
    })
    .catch((error) => t.fail(error)) // as in async mode: a failed evaluation stops the run with its reason
    .finally(() => {
      if (t.evaluating === tracked) t.evaluating = null;
    });
  t.evaluating = tracked;
}

function waitArrival(t, ms) {
  return Promise.race([new Promise((resolve) => t.arrivalWaiters.push(resolve)), sleep(ms)]);
}

function arrived(t, result) {
  t.arrivals.push(result);
  for (const resolve of t.arrivalWaiters.splice(0)) resolve();
}

function playAsync(t, tasks) {
  for (const task of tasks) {
    t.inflight += 1;
    t.execute(task).then(
      (result) => {
        t.inflight -= 1;
        if (!t.stopped) arrived(t, result);
      },
      (error) => {
        t.inflight -= 1;
        t.fail(error);
      },
    );
  }
}

function evaluateAsync(t, task) {
  t.execute(task, true).then(
    (result) => {
      if (!t.stopped) arrived(t, { ...result, evaluation: true });
    },
    (error) => t.fail(error),
  );
}

/** Ingest what has arrived, for at most INGEST_SLICE_MS. */
function ingestArrivals(t) {
  const started = performance.now();
  let ingested = false;
  while (t.arrivals.length && performance.now() - started < INGEST_SLICE_MS) {
    const result = t.arrivals.shift();
    if (result.evaluation) t.ingestEval(result);
    else t.ingest(result);
    ingested = true;
  }
  if (ingested) t.onChange();
}

export async function asyncLoop(t) {
  while (!t.stopped) {
    t.checkBudget();
    await t.gate();
    if (t.stopped) return;
    // Once learning starts the learner sets the pace (train_frequency env steps per update): tasks hold what
    // it consumes in about 100 ms (sizing.js).
    const learning = t.counts.envSteps >= t.config.learning_starts;
    t.sizer.setLearnerPace(learning ? (t.config.train_frequency * 1000) / t.budget.msPerUnit : null);
    const free = t.budgetReached ? 0 : Math.max(0, ASYNC_DEPTH * t.pool.size - t.inflight);
    const commands = t.schedule.async_step(
      free, t.sizer.episodesPerTask(), t.budget.msPerUnit / 1000, t.budget.units, !t.budgetReached,
    );
    let learned = false;
    try {
      for (let command = t.commandFrom(commands); command && !t.stopped; command = t.commandFrom(commands)) {
        if (command.op === 'ingest') ingestArrivals(t);
        else if (command.op === 'evaluate') evaluateAsync(t, t.evalTaskOf(command));
        else if (command.op === 'play') playAsync(t, t.tasksOf(command));
        else if (command.op === 'learn') learned = t.learnSlice(command.updates) > 0 || learned;
        else if (command.op === 'publish') t.publishNow();
        else throw new Error(`unknown command ${command.op}`);
      }
    } finally {
      commands.destroy();
    }
    if (learned || t.arrivals.length) await yieldTask();
    else await waitArrival(t, 50);
  }
}
