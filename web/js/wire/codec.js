// The one JavaScript reader of robotrain's flat float32 buffers (py/robotrain/codec.py defines the layouts;
// tests/test_wire.py checks these constants against it and runs these readers on buffers codec.py packed).
// Every buffer starts with a HEADER_LEN-float header; integers are exact float32 integers.

export const MAGIC = 7254;
export const FORMAT = 1;
export const KIND_TRAJECTORIES = 1;
export const KIND_WEIGHTS = 2;
export const KIND_SEGMENT = 3;
export const HEADER_LEN = 16;
export const EPISODE_COLS = 4; // episode_id, length, return, terminated (0/1)
// Header indices: shared by both kinds, then the trajectory batch's and the weight vector's own.
export const H = Object.freeze({
  MAGIC: 0,
  FORMAT: 1,
  KIND: 2,
  HEADER_LEN: 3,
  TOTAL: 4,
  VERSION: 5,
  EPISODES: 6,
  TRANSITIONS: 7,
  OBS_DIM: 8,
  ROW_WIDTH: 9,
  PARAMS: 6,
  LANES: 10,
  LANE_COLS: 11,
  SEGMENT_ID: 12,
  STEPS: 13,
});

/** '' if `packed` is a complete trajectory batch holding exactly episodes first_id..stop_id-1, else why not. */
export function checkTrajectories(packed, { first_id, stop_id }) {
  if (!(packed instanceof Float32Array)) return 'result is not a Float32Array';
  if (packed.length < HEADER_LEN) return `result has ${packed.length} floats, less than a header`;
  if (packed[H.MAGIC] !== MAGIC || packed[H.KIND] !== KIND_TRAJECTORIES || packed[H.HEADER_LEN] !== HEADER_LEN) {
    return 'result header is not a trajectory batch';
  }
  if (packed[H.TOTAL] !== packed.length) return `result says ${packed[H.TOTAL]} floats but holds ${packed.length}`;
  const count = packed[H.EPISODES];
  if (count !== stop_id - first_id) return `result holds ${count} episodes; the task asked for ${stop_id - first_id}`;
  if (HEADER_LEN + count * EPISODE_COLS + packed[H.TRANSITIONS] * packed[H.ROW_WIDTH] !== packed.length) {
    return 'result sizes do not add up';
  }
  for (let i = 0; i < count; i++) {
    const id = packed[HEADER_LEN + EPISODE_COLS * i];
    if (id !== first_id + i) return `result episode ${i} has id ${id}`;
  }
  return '';
}

/** '' if `packed` is a complete segment (PQN) of the task `{segment_id, steps, lanes}`, else why not. */
export function checkSegment(packed, { segment_id, steps, lane_table }) {
  if (!(packed instanceof Float32Array)) return 'result is not a Float32Array';
  if (packed.length < HEADER_LEN) return `result has ${packed.length} floats, less than a header`;
  if (packed[H.MAGIC] !== MAGIC || packed[H.KIND] !== KIND_SEGMENT || packed[H.HEADER_LEN] !== HEADER_LEN) {
    return 'result header is not a segment';
  }
  if (packed[H.TOTAL] !== packed.length) return `result says ${packed[H.TOTAL]} floats but holds ${packed.length}`;
  if (packed[H.SEGMENT_ID] !== segment_id) return `result is segment ${packed[H.SEGMENT_ID]}; the task was ${segment_id}`;
  if (packed[H.STEPS] !== steps || packed[H.LANES] !== lane_table.length) {
    return `result has ${packed[H.LANES]} lanes x ${packed[H.STEPS]} steps; the task asked for ${lane_table.length} x ${steps}`;
  }
  const size = HEADER_LEN + packed[H.EPISODES] * EPISODE_COLS + packed[H.LANES] * packed[H.LANE_COLS]
    + packed[H.TRANSITIONS] * packed[H.ROW_WIDTH];
  return size === packed.length ? '' : 'result sizes do not add up';
}

/** '' if `packed` is the complete result of `task` (episodes or a segment), else why not. */
export function checkResult(packed, task) {
  return task.kind === 'segment' ? checkSegment(packed, task) : checkTrajectories(packed, task);
}

/** Env steps (transitions) a trajectory batch or segment holds. */
export function transitionCount(packed) {
  return packed[H.TRANSITIONS];
}

/** The episodes of a trajectory batch with their actions: [{id, length, ret, terminated, actions: Uint8Array}];
 * none for a segment (its episodes began in earlier segments, so it does not hold all their actions). */
export function episodesWithActions(packed) {
  if (packed[H.KIND] !== KIND_TRAJECTORIES) return [];
  const count = packed[H.EPISODES];
  const obsDim = packed[H.OBS_DIM];
  const width = packed[H.ROW_WIDTH];
  const out = [];
  let offset = HEADER_LEN + EPISODE_COLS * count; // first transition row
  for (let i = 0; i < count; i++) {
    const row = HEADER_LEN + EPISODE_COLS * i;
    const length = packed[row + 1];
    const actions = new Uint8Array(length);
    // A transition row is [obs (obsDim), action, reward, next_obs (obsDim), terminated, truncated].
    for (let t = 0; t < length; t++) actions[t] = packed[offset + t * width + obsDim];
    offset += length * width;
    out.push({ id: packed[row], length, ret: packed[row + 2], terminated: packed[row + 3] > 0, actions });
  }
  return out;
}
