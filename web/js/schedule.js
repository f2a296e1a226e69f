// Cooperative scheduling on the main thread: give the browser a chance to render between short slices.

const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();

/** Resolve in a new task (a MessageChannel message: no 4 ms timer clamping, rendering can happen before it). */
export function yieldTask() {
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Picks how many units of work (learner updates) fit in one slice of `targetMs`, from the measured cost of
 * earlier slices (an exponential moving average of the milliseconds per unit).
 */
export class SliceBudget {
  constructor({ targetMs = 6, initialMsPerUnit = 1, maxUnits = 4096 } = {}) {
    this.targetMs = targetMs;
    this.msPerUnit = initialMsPerUnit;
    this.maxUnits = maxUnits;
    this.longestMs = 0;
  }

  get units() {
    return Math.max(1, Math.min(this.maxUnits, Math.floor(this.targetMs / this.msPerUnit)));
  }

  observe(units, ms) {
    if (units <= 0) return;
    const sample = ms / units;
    // React faster when a slice ran long than when it ran short.
    const weight = sample > this.msPerUnit ? 0.5 : 0.2;
    this.msPerUnit = Math.max(1e-3, this.msPerUnit + weight * (sample - this.msPerUnit));
    this.longestMs = Math.max(this.longestMs, ms);
  }
}

/** Counts events and reports a rate per second over a sliding window of `windowMs`. */
export class RateMeter {
  constructor(windowMs = 10000) {
    this.windowMs = windowMs;
    this.samples = [];
  }

  /** Record the running total `value` at time `now`. */
  sample(value, now = performance.now()) {
    this.samples.push([now, value]);
    while (this.samples.length > 2 && now - this.samples[1][0] > this.windowMs) this.samples.shift();
  }

  reset() {
    this.samples = [];
  }

  /** Units per second over the window (0 with fewer than two samples). */
  perSecond() {
    if (this.samples.length < 2) return 0;
    const [t0, v0] = this.samples[0];
    const [t1, v1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((v1 - v0) * 1000) / (t1 - t0) : 0;
  }
}
