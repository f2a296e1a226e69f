// The live view: the robot acting with the published weights (robotrain.viewer.Viewer on this thread), pushes,
// and exact replays of recorded episodes. The frame loop steps it; the trainer hands it every publication.

export class LiveView {
  /** pyodide, tools, glue (robotrain.web): the main thread's interpreter; config: the run's Config dict. */
  constructor({ pyodide, tools, glue, config, drawSpec }) {
    this.tools = tools;
    this.glue = glue;
    this.config = config;
    this.drawSpec = drawSpec;
    this.accumulator = 0;
    this.lastState = null;
    this.busyMs = 0; // main-thread time spent stepping the view
    const Viewer = pyodide.pyimport('robotrain.viewer').Viewer;
    const hidden = tools.fromJSON(config.hidden_sizes);
    try {
      this.viewer = Viewer(config.env_id, hidden, config.seed, config.algorithm === 'pqn');
    } finally {
      hidden.destroy();
      Viewer.destroy();
    }
  }

  /** The published weights (a numpy packed weight vector). */
  setWeights(packed) {
    this.viewer.set_weights(packed);
  }

  /** Advance the robot by `seconds` of simulated time (real time); return the state row to draw. */
  step(seconds) {
    if (!this.viewer) return this.lastState;
    const dt = this.drawSpec.tau_s ?? this.drawSpec.dt_s ?? 0.02;
    const rate = Math.min(60, Math.max(15, 1 / dt)); // env steps per second of wall time
    this.accumulator = Math.min(this.accumulator + seconds * rate, 4);
    if (this.lastState === null) this.accumulator = Math.max(this.accumulator, 1);
    const started = performance.now();
    while (this.accumulator >= 1) {
      this.accumulator -= 1;
      const row = this.viewer.step();
      this.lastState = typeof row?.toJs === 'function' ? row.toJs() : row;
      row?.destroy?.();
    }
    this.busyMs += performance.now() - started;
    return this.lastState;
  }

  /** Apply a push (rad/s on the robot's main angular velocity); returns {before, after, index}. */
  push(impulse) {
    return JSON.parse(this.glue.push(this.viewer, impulse));
  }

  /** The robot's current state row (no step). */
  state() {
    const row = this.glue.view_state(this.viewer);
    try {
      return row.toJs();
    } finally {
      row.destroy();
    }
  }

  info() {
    return this.tools.toJSON(this.viewer.info());
  }

  /** Re-simulate a recorded episode: {states: Float32Array (T+1)*dim, dim, length, episode}. */
  replay(episode) {
    const out = this.glue.replay(this.config.env_id, this.config.seed, episode.id, episode.actions);
    try {
      const flat = out.get(0);
      const states = this.tools.fromNumpy(flat);
      flat.destroy();
      const dim = out.get(1);
      return { states, dim, length: states.length / dim - 1, episode };
    } finally {
      out.destroy();
    }
  }

  dispose() {
    this.viewer?.destroy();
    this.viewer = null;
  }
}
