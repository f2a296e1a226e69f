// A pool's (pool.js) handling of one message from a worker: progress, live frames, heartbeats, announced
// faults, boot, and replies to its pending requests.
import { MSG, EVENT, errorFromJSON } from '../protocol.js';
import { SILENCE_GAPS_KEPT, owedSince } from './watchdog.js';
import { recovered, workerDied } from './failures.js';

/** `message` from `worker`, which `slot` of `pool` holds (or held: a message from a dead worker is dropped). */
export function handleMessage(pool, slot, worker, message) {
  if (worker !== slot.worker) {
    // A message from a worker that was already declared dead (terminate() normally stops them all).
    if (message?.ok && message.result?.packed) pool.counters.late_results_dropped += 1;
    return;
  }
  const now = performance.now();
  if (slot.booted && slot.pending.size > 0) {
    pool.silenceGaps.push(now - Math.max(slot.lastHeard, owedSince(slot), pool.responsiveSince));
    if (pool.silenceGaps.length > SILENCE_GAPS_KEPT) pool.silenceGaps.shift();
  }
  slot.lastHeard = now;
  if (message.event === EVENT.PROGRESS) {
    slot.progress = message.fraction;
    pool.onChange();
    return;
  }
  if (message.event === EVENT.LIVE) {
    slot.liveState = message.state;
    slot.policyVersion = message.policy_version;
    slot.heapBytes = message.heap_bytes;
    return;
  }
  if (message.event === EVENT.HEARTBEAT) return;
  if (message.event === EVENT.FAULT) {
    pool.counters.faults_injected += 1;
    pool.faultsInjected[message.kind] = (pool.faultsInjected[message.kind] ?? 0) + 1;
    slot.faultAt = message.at_ms;
    slot.faultKind = message.kind;
    return;
  }
  if (message.event === EVENT.BOOTED) {
    slot.booted = true;
    slot.heapBytes = message.heap_bytes ?? null;
    slot.bootMs = message.ms;
    slot.bootStages = message.stages ?? null;
    slot.progress = 1;
    if (pool.initArgs) pool._sendInit(slot);
    else recovered(pool, slot);
    pool.spares.topUp();
    pool.onChange();
    return;
  }
  if (message.event === EVENT.BOOT_FAILED) {
    slot.bootFailures += 1;
    workerDied(pool, slot, worker, `worker ${slot.id} could not load Python: ${message.error?.message}`, 'boot');
    return;
  }
  const pending = slot.pending.get(message.id);
  if (!pending) return;
  slot.pending.delete(message.id);
  if (message.ok) {
    if (pending.type === MSG.RUN) {
      slot.warm = true;
      // A task answered whole: the fault it announced (only 'slow' ones answer) is over, so a later
      // failure of this worker is not put down to it.
      slot.faultAt = null;
      slot.faultKind = null;
    }
    pending.resolve(message.result);
  } else pending.reject(errorFromJSON(message.error, `worker ${slot.id}, ${pending.type}: `));
}
