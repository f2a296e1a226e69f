// What the pool reports: a JSON-safe line per worker (stats().workers) and its reliability figures.
import { stateOf } from './handle.js';
import { deadlineMs } from './watchdog.js';

const RATE_WINDOW_MS = 30000; // per-worker env-steps/s over the tasks finished in this window

/** Env steps per second of the last finished task (0 if none). */
function lastRate(log) {
  const last = log[log.length - 1];
  return last && last[2] > 0 ? Math.round((last[1] * 1000) / last[2]) : 0;
}

/** One summary per handle; `live` adds the state row of the episode being played. */
export function describeHandles(handles, configSerial, { live = false, now = performance.now() } = {}) {
  return handles.map((s) => {
    const recent = s.stepLog.filter(([t]) => now - t < RATE_WINDOW_MS);
    const steps = recent.reduce((sum, [, n]) => sum + n, 0);
    const since = recent.length ? recent[0][0] - recent[0][2] : now;
    const out = {
      id: s.id,
      state: stateOf(s, configSerial),
      episodes: s.episodes,
      env_steps: s.envSteps,
      env_steps_per_s: steps > 0 ? Math.round((steps * 1000) / Math.max(1, now - since)) : lastRate(s.stepLog),
      failures: s.failures,
      restarts: s.restarts,
      tasks: s.tasks,
      busy_ms: Math.round(s.busyMs), // in finished tasks: with the run's wall time, how idle the worker was
      load_progress: s.booted ? 1 : Math.round(s.progress * 100) / 100,
      boot_ms: s.bootMs === null ? null : Math.round(s.bootMs),
      boot_stages_ms: s.bootStages, // whole ms already (worker.js)
      policy_version: s.policyVersion,
      heap_bytes: s.heapBytes,
    };
    if (live) out.live_state = s.liveState;
    return out;
  });
}

/**
 * Failure detection and recovery figures of `pool`: counters, the recent failure records, what the pool holds
 * now (to show nothing grows over a long run) and the current task deadline per stream.
 */
export function reliabilityReport(pool) {
  const recoveries = pool.failures.filter((f) => f.recovered_ms !== null).map((f) => f.recovered_ms);
  let pending = 0;
  for (const s of pool.slots) pending += s.pending.size;
  return {
    ...pool.counters,
    faults: pool.faults ? { ...pool.faults } : null,
    faults_injected_by_kind: { ...pool.faultsInjected },
    recovery_ms_max: recoveries.length ? Math.round(Math.max(...recoveries)) : null,
    recovery_ms_mean: recoveries.length ? Math.round(recoveries.reduce((a, b) => a + b, 0) / recoveries.length) : null,
    recent_failures: pool.failures.slice(-50),
    held: {
      slots: pool.slots.length,
      spares: pool.spares.length,
      spare_target: pool.spares.target,
      workers: pool.slots.filter((s) => s.worker).length + pool.spares.length,
      pending_requests: pending,
      queued_tasks: pool.queue.length,
      timers: pool.watchdog === null ? 0 : 1,
      awaiting_spares: pool.awaitingSpares,
    },
    silence_limit_ms: Math.round(pool.silenceLimitMs()),
    deadline_ms: Object.fromEntries([...pool.taskTimes.entries()].map(([stream, times]) => [stream, Math.round(deadlineMs(times, 1))])),
  };
}
