// Main mode: trainer `t` plays a task on the page's own thread, in slices of about LOCAL_SLICE_MS (the trainer's
// localBudget sizes them) between which the page renders; Actor.begin_task/advance/finish do the work.
import { yieldTask } from '../schedule.js';
import { CancelledError } from '../pool/queue.js';

/** Play `task` here; resolves with {array} (the packed trajectories as a numpy array). */
export async function playLocally(t, task) {
  await yieldTask();
  if (t.stopped) throw new CancelledError();
  if (task.lanes) t.actor.set_lanes(task.lanes);
  const pyTask = t.tools.fromJSON(task);
  try {
    t.actor.begin_task(pyTask);
  } finally {
    pyTask.destroy();
  }
  for (;;) {
    await t.gate();
    if (t.stopped) throw new CancelledError();
    const k = t.localBudget.units;
    const started = performance.now();
    const done = t.actor.advance(k);
    const ms = performance.now() - started;
    t.busyMs.local_episodes += ms;
    t.localBudget.observe(k, ms);
    t.longestLocalSliceMs = Math.max(t.longestLocalSliceMs, ms);
    if (done) break;
    await yieldTask();
  }
  return { array: t.timed('local_episodes', () => t.actor.finish()) };
}
