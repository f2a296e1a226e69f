// The pool's watchdog, as pure functions of worker handles and time: silence (a worker that owes a reply and
// says nothing), task deadlines and boot deadlines.

// A worker that owes a reply and says nothing for this long is hung: HEARTBEAT_TIMEOUT_MS, or SILENCE_FACTOR x
// the longest gap healthy workers left recently (the last SILENCE_GAPS_KEPT gaps between messages while a reply
// was owed), up to MAX_SILENCE_MS; FIRST_TASK_SILENCE_MS at least until a worker's first task answered. Healthy
// workers beat every 250 ms, but on busy cores they can be silent for seconds (docs/tuning.md).
const HEARTBEAT_TIMEOUT_MS = 2000;
const SILENCE_FACTOR = 2;
export const SILENCE_GAPS_KEPT = 256;
const MAX_SILENCE_MS = 10_000;
// A worker's first task runs cold code (the engine has not compiled the hot paths yet): in WebKit under load
// it was silent for over 2 s while warm tasks beat every 250 ms, so until one task answered the limit is at
// least this (docs/tuning.md).
const FIRST_TASK_SILENCE_MS = 8000;
// Task deadline: DEADLINE_FACTOR x p95 of the recent ms per episode (per stream) x the task's episodes, but
// never under DEADLINE_MIN_MS; until DEADLINE_MIN_SAMPLES tasks of a stream are measured, FIRST_DEADLINE_MS.
// The factor leaves room for a 'slow' fault (10x) on a task that itself ran 2-3x its p95 (docs/tuning.md).
// Hangs are found by the heartbeat; the deadline is for a worker that beats but never finishes.
const DEADLINE_FACTOR = 40;
const DEADLINE_MIN_MS = 10_000;
const FIRST_DEADLINE_MS = 120_000;
const DEADLINE_MIN_SAMPLES = 8;
export const TASK_TIMES_KEPT = 64; // recent task times per stream that the p95 is taken over
// A worker that has not booted after this long is stuck (12 workers booting at once on 2 busy cores take
// about 60 s; one boot alone about 5 s).
export const BOOT_DEADLINE_MS = 240_000;

function p95(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))];
}

/** How long a worker that owes a reply may stay silent, ms, given the recent healthy gaps. */
export function silenceLimitMs(gaps) {
  const longest = gaps.reduce((a, b) => Math.max(a, b), 0);
  return Math.min(MAX_SILENCE_MS, Math.max(HEARTBEAT_TIMEOUT_MS, SILENCE_FACTOR * longest));
}

/** A task's deadline, ms from its start, from recent `times` (ms per episode) of its stream. */
export function deadlineMs(times, episodes) {
  if (times.length < DEADLINE_MIN_SAMPLES) return FIRST_DEADLINE_MS;
  return Math.max(DEADLINE_MIN_MS, DEADLINE_FACTOR * p95(times) * episodes);
}

/** When `handle`'s oldest unanswered request was sent (performance.now() ms); call only with requests pending. */
export function owedSince(handle) {
  return Math.min(...[...handle.pending.values()].map((p) => p.sent));
}

/**
 * The watchdog's verdict on one handle at time `now`: null (fine) or {kind, reason, boot}. `heardSince`: the
 * earliest time a silence may count from (the page's own stalls suspend the verdict); `silenceLimit` in ms.
 */
export function verdict(handle, now, { heardSince, silenceLimit }) {
  if (handle.worker && !handle.booted && now - handle.spawnedAt > BOOT_DEADLINE_MS) {
    return { kind: 'boot', boot: true, reason: `worker ${handle.id} did not start within ${BOOT_DEADLINE_MS / 1000} s` };
  }
  if (!handle.worker || !handle.booted || handle.pending.size === 0) return null;
  const silentMs = now - Math.max(handle.lastHeard, owedSince(handle), heardSince);
  if (silentMs > (handle.warm ? silenceLimit : Math.max(silenceLimit, FIRST_TASK_SILENCE_MS))) {
    const s = (silentMs / 1000).toFixed(1);
    return { kind: 'hang', boot: false, reason: `worker ${handle.id} stopped answering (no heartbeat for ${s} s)` };
  }
  if (handle.task && now > handle.task.deadline) {
    const s = ((now - handle.task.started) / 1000).toFixed(1);
    return { kind: 'deadline', boot: false, reason: `worker ${handle.id} ran one task for ${s} s, past its deadline` };
  }
  return null;
}

/** Recent task times per stream (ms per episode), for the deadlines. */
export class TaskTimes extends Map {
  record(stream, ms, episodes) {
    if (!(ms > 0) || episodes < 1) return;
    let times = this.get(stream);
    if (!times) this.set(stream, (times = []));
    times.push(ms / episodes);
    if (times.length > TASK_TIMES_KEPT) times.shift();
  }

  deadline(stream, episodes) {
    return deadlineMs(this.get(stream) ?? [], episodes);
  }
}
