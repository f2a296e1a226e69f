// Spare workers: booted (or booting) workers that no slot uses yet, so a failed worker's slot is filled at once
// instead of after a Pyodide start (2-20 s, by load). The pool keeps one once a worker has failed, more while
// faults are injected (faultSpares), and one more each time a failure finds none booted, up to MAX_SPARES
// (about 100 MB each). Measurements behind the numbers: docs/tuning.md.
import { EVENT } from '../protocol.js';
import { MAX_BOOT_FAILURES } from './handle.js';

export const MAX_SPARES = 4;
/** Spares kept while faults are injected: two, one more per 4 workers (failures come in proportion). */
export const faultSpares = (workers) => Math.min(MAX_SPARES, 2 + Math.floor(workers / 4));

export class Spares {
  /**
   * startWorker(name) -> Worker; canStart() -> whether spares may boot now (the slots' first boots go first);
   * onBooted(spare): a spare finished booting; onGiveUp(reason): spares failed to boot MAX_BOOT_FAILURES times.
   */
  constructor({ startWorker, canStart, onBooted, onGiveUp }) {
    this.startWorker = startWorker;
    this.canStart = canStart;
    this.onBooted = onBooted;
    this.onGiveUp = onGiveUp;
    this.list = []; // {worker, booted, progress, bootMs, bootStages, heapBytes}
    this.target = 0;
    this.bootFailures = 0;
  }

  get length() {
    return this.list.length;
  }

  /** As many spares as wanted, all booted. */
  allBooted() {
    return this.list.length >= this.target && this.list.every((spare) => spare.booted);
  }

  anyBooted() {
    return this.list.some((spare) => spare.booted);
  }

  get heapBytes() {
    return this.list.reduce((sum, s) => sum + (s.heapBytes ?? 0), 0);
  }

  /** Keep at least `n` spares. */
  want(n) {
    this.target = Math.max(this.target, n);
    this.topUp();
  }

  topUp() {
    if (this.bootFailures >= MAX_BOOT_FAILURES || !this.canStart()) return;
    while (this.list.length < this.target) this.add(this.startWorker('robotrain-actor-spare'));
  }

  /** Keep `worker` (new, or a slot's worker still booting) as a spare. */
  add(worker, progress = 0) {
    const spare = { worker, booted: false, progress, bootMs: null, heapBytes: null };
    worker.onmessage = (event) => this._onMessage(spare, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this._drop(spare, `a spare worker crashed while starting: ${event.message || 'error event'}`);
    };
    worker.onmessageerror = null;
    this.list.push(spare);
  }

  /** Remove and return the spare a slot should take: a booted one, else the one furthest into its boot; or null. */
  takeBest() {
    if (!this.list.length) return null;
    const best = this.list.reduce((a, b) => (b.booted && !a.booted) || (b.booted === a.booted && b.progress > a.progress) ? b : a);
    this.list.splice(this.list.indexOf(best), 1);
    return best;
  }

  terminate() {
    for (const spare of this.list) spare.worker.terminate();
    this.list = [];
  }

  _onMessage(spare, message) {
    if (!this.list.includes(spare)) return;
    if (message.event === EVENT.PROGRESS) spare.progress = message.fraction;
    else if (message.event === EVENT.BOOTED) {
      spare.booted = true;
      spare.bootMs = message.ms;
      spare.bootStages = message.stages ?? null;
      spare.heapBytes = message.heap_bytes ?? null;
      this.bootFailures = 0;
      this.onBooted(spare);
    } else if (message.event === EVENT.BOOT_FAILED) {
      this._drop(spare, `a spare worker could not load Python: ${message.error?.message}`);
    }
  }

  _drop(spare, reason) {
    const index = this.list.indexOf(spare);
    if (index < 0) return;
    this.list.splice(index, 1);
    spare.worker.terminate();
    this.bootFailures += 1;
    if (this.bootFailures >= MAX_BOOT_FAILURES) this.onGiveUp(reason);
    else this.topUp();
  }
}
