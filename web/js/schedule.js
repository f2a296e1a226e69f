// Cooperative scheduling on the main thread: give the browser a chance to render between short slices.

const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();

// Firefox runs a waiting task before a due frame: a loop that yields through MessageChannel messages (or
// scheduler.postTask / scheduler.yield) got a frame every ~75 ms there (13 FPS in Firefox 153, main thread
// 100% busy), where Chromium renders between the same tasks at 60 FPS. So a yield whose frame is overdue
// waits for that frame first. Firefox then renders at once (the wait is ~1 ms: the frame was only held back
// by our tasks); Chromium's frames are rarely overdue (~1.5% of its time went to such waits). WebKitGTK paces
// its frames itself: there the wait lasted most of a frame, idling the learner (-20% updates/s for +2 FPS),
// so waits that are not cheap stop, and only every FRAME_PROBE_EVERY-th overdue frame is waited for, to
// notice when they become cheap again.
const FRAME_PERIODS_KEPT = 30; // recent intervals between animation frames; their minimum is the display's period
const FRAME_LATE_MS = 4; // a frame is overdue once none has started for the display's period plus this, ms
const FRAME_WAIT_MAX_MS = 50; // never wait longer for a frame (a page that stopped rendering), ms
const FRAME_WAIT_CHEAP_MS = 4; // waiting for overdue frames goes on while the average wait is below this, ms
const FRAME_PROBE_EVERY = 20; // while waits are dear, wait for one overdue frame in this many
// Weight of the newest wait in the average: slow, so that a few long waits (Firefox: up to 12 ms among ~1 ms
// ones) do not stop the waiting; WebKitGTK's (~7 ms on average at 30 Hz) keep it stopped.
const FRAME_WAIT_SMOOTHING = 0.05;
// Time of the latest frame (noteFrame); recent intervals, ms; average wait for an overdue frame (moving, ms);
// overdue frames not waited for since the last wait.
const frames = {
  last: null,
  intervals: [],
  waitMs: 0,
  skipped: 0,
  // For stats(): waits made, their total and longest ms, overdue frames not waited for.
  waits: 0,
  waitedMs: 0,
  longestWaitMs: 0,
  notWaited: 0,
};

/**
 * The page's animation-frame loop reports each frame here with the frame's own time (its vsync, on
 * performance.now()'s clock), not the callback's: intervals between them are whole display periods.
 */
export function noteFrame(frameTime) {
  if (frames.last !== null) {
    const interval = frameTime - frames.last;
    if (!(interval > 0)) return;
    frames.intervals.push(interval);
    if (frames.intervals.length > FRAME_PERIODS_KEPT) frames.intervals.shift();
  }
  frames.last = frameTime;
}

function frameOverdue() {
  if (frames.last === null || frames.intervals.length === 0) return false;
  // A hidden tab has no frames to wait for.
  if (globalThis.document?.visibilityState === 'hidden') return false;
  const period = Math.min(...frames.intervals);
  return performance.now() - frames.last > period + FRAME_LATE_MS;
}

function nextFrame() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FRAME_WAIT_MAX_MS);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Resolve in a new task (a MessageChannel message: no 4 ms timer clamping), after the next frame if one is
 * overdue. The message after the frame puts the caller's next slice after that frame's paint, not before it.
 */
export async function yieldTask() {
  if (frameOverdue()) {
    if (frames.waitMs < FRAME_WAIT_CHEAP_MS || ++frames.skipped >= FRAME_PROBE_EVERY) {
      frames.skipped = 0;
      const started = performance.now();
      await nextFrame();
      const waited = performance.now() - started;
      frames.waitMs += FRAME_WAIT_SMOOTHING * (waited - frames.waitMs);
      frames.waits += 1;
      frames.waitedMs += waited;
      frames.longestWaitMs = Math.max(frames.longestWaitMs, waited);
    } else frames.notWaited += 1;
  }
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
}

/** How yields waited for overdue frames since the page loaded (for stats(): ms, counts). */
export function frameWaitStats() {
  return {
    waits: frames.waits,
    waited_ms: Math.round(frames.waitedMs),
    longest_ms: Math.round(frames.longestWaitMs * 10) / 10,
    average_ms: Math.round(frames.waitMs * 100) / 100,
    overdue_not_waited: frames.notWaited,
  };
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
