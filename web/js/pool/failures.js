// How a pool (pool.js) judges and handles failure: the watchdog's pass over the workers, a worker declared dead
// (its tasks back to the queue with the same episode ids, its slot given a spare or a new worker), a slot that
// is usable again. Functions of the pool and its slots; the verdicts themselves are pool/watchdog.js's.
import { WorkerDied } from './queue.js';
import { MAX_BOOT_FAILURES, failureRecord, forgetWorker } from './handle.js';
import { verdict } from './watchdog.js';
import { MAX_SPARES, faultSpares } from './spares.js';

// A task whose worker died this many times is failed instead of re-queued: a task that kills every worker
// must not loop forever. Injected faults draw afresh per attempt, so at a fault rate p the chance that one
// task fails this often is p**8 (3e-5 per task at p = 0.27).
export const MAX_TASK_ATTEMPTS = 8;
// The main thread itself may stall (a long learning slice, a hidden tab's 1 s timer clamp): messages then
// wait in the queue, so silence is only judged once checks have run without a gap longer than this.
const STALL_MS = 1500;
const SETTLE_AFTER_STALL_MS = 500; // and only this long after such a gap, when queued messages have arrived
export const FAILURES_KEPT = 500; // failure records kept for stats() (the counters keep counting past it)

/** Reject every pending request of `slot` with `error`; return the task entries they carried. */
export function takePending(slot, error) {
  const pending = [...slot.pending.values()];
  slot.pending.clear();
  slot.running = 0;
  slot.task = null;
  const entries = [];
  for (const p of pending) {
    p.reject(error instanceof WorkerDied ? error : new WorkerDied(error.message));
    if (p.entry && !p.entry.settled) entries.push(p.entry);
  }
  return entries;
}

/** Watchdog: busy workers of `pool` that went silent, tasks past their deadline. */
export function watch(pool) {
  if (pool.closed) return;
  const now = performance.now();
  const gap = now - pool.lastCheck;
  if (gap > STALL_MS) {
    // The page stalled or slept: nobody could answer meanwhile, so deadlines move by the lost time.
    pool.responsiveSince = now;
    for (const slot of pool.slots) if (slot.task) slot.task.deadline += gap;
    pool.counters.page_stalls += 1;
    pool.counters.longest_stall_ms = Math.max(pool.counters.longest_stall_ms, Math.round(gap));
  }
  pool.lastCheck = now;
  if (now - pool.responsiveSince < SETTLE_AFTER_STALL_MS) return;
  const limits = { heardSince: pool.responsiveSince - SETTLE_AFTER_STALL_MS, silenceLimit: pool.silenceLimitMs() };
  for (const slot of pool.slots) {
    const found = verdict(slot, now, limits);
    if (!found) continue;
    if (found.boot) slot.bootFailures += 1;
    workerDied(pool, slot, slot.worker, found.reason, found.kind);
  }
}

/**
 * A worker of `pool` failed: terminate it, re-queue its unfinished tasks (front of the queue, same ids), reject its
 * other requests, and give the slot a spare or a new worker.
 */
export function workerDied(pool, slot, worker, reason, kind = 'crash', answered = null) {
  if (worker !== slot.worker || pool.closed) return;
  worker.terminate();
  const detected = performance.now();
  slot.failures += 1;
  pool.counters.failures += 1;
  const requeue = [];
  const owed = [...slot.pending.values()].sort((a, b) => a.sent - b.sent).map((p) => p.type);
  const entries = takePending(slot, new WorkerDied(reason));
  // `answered`: the task whose reply (an error or a broken result) was the failure; no longer pending.
  if (answered && !answered.settled) entries.push(answered);
  for (const entry of entries) {
    entry.attempts += 1;
    if (entry.attempts >= MAX_TASK_ATTEMPTS) {
      pool.counters.tasks_failed += 1;
      entry.reject(new Error(`${reason} (this task failed ${entry.attempts} times)`));
    } else requeue.push(entry);
  }
  pool.counters.requeued += requeue.length;
  pool.queue.requeue(requeue);
  const record = failureRecord(slot, { kind, reason, requeued: requeue.length, detected, owed });
  pool.failures.push(record);
  if (pool.failures.length > FAILURES_KEPT) pool.failures.shift();
  forgetWorker(slot);
  pool.weights.forget(slot);
  slot.recovering = record;
  if (slot.bootFailures >= MAX_BOOT_FAILURES) {
    slot.gaveUp = true;
    slot.recovering = null;
    pool.onError(new Error(`${reason}; gave up after ${slot.bootFailures} attempts`));
  } else {
    slot.restarts += 1;
    pool.spares.want(pool.faults ? faultSpares(pool.slots.length) : 1);
    const spareWasReady = pool.spares.anyBooted();
    record.replacement = pool._giveWorker(slot);
    if (!spareWasReady) pool.spares.want(Math.min(MAX_SPARES, pool.spares.target + 1));
  }
  pool.onFailure(record);
  pool.onChange();
  pool._pump();
}

/** `slot` of `pool` is usable again: close its failure record with the recovery time. */
export function recovered(pool, slot) {
  const record = slot.recovering;
  if (!record) return;
  slot.recovering = null;
  record.recovered_ms = Math.round(performance.now() - record.detected_at_ms);
  pool.counters.recovered += 1;
  pool.onFailure(record);
}
