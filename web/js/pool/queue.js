// The pool's task queue: entries that settle exactly once, re-queued at the front when their worker dies.

/** Rejection reason of tasks dropped by cancel(); callers can ignore it. */
export class CancelledError extends Error {
  constructor() {
    super('task cancelled');
    this.name = 'CancelledError';
  }
}

/** Rejection of requests whose worker died (their tasks are handled by the pool, callers can ignore it). */
export class WorkerDied extends Error {
  constructor(message) {
    super(message);
    this.name = 'WorkerDied';
  }
}

export class TaskQueue {
  constructor() {
    this.entries = [];
  }

  get length() {
    return this.entries.length;
  }

  /**
   * A new entry for `task` in the queue (the front if `priority`); returns the promise its result settles.
   * entry.resolve(value) returns false if the entry had settled already (a late duplicate result).
   */
  add(task, priority = false) {
    return new Promise((resolve, reject) => {
      const entry = { task, attempts: 0, settled: false };
      entry.resolve = (value) => {
        if (entry.settled) return false;
        entry.settled = true;
        resolve(value);
        return true;
      };
      entry.reject = (error) => {
        if (entry.settled) return;
        entry.settled = true;
        reject(error);
      };
      if (priority) this.entries.unshift(entry);
      else this.entries.push(entry);
    });
  }

  shift() {
    return this.entries.shift();
  }

  /** Put entries back at the front, in their order (a dead worker's tasks run next). */
  requeue(entries) {
    this.entries.unshift(...entries);
  }

  /** Reject every queued entry with CancelledError. */
  cancel() {
    for (const entry of this.entries.splice(0)) entry.reject(new CancelledError());
  }
}
