"""web/js/wire/codec.js, the one JS reader of codec.py's layouts: its constants are codec.py's, and it reads
buffers codec.py packed (run in Node, which the build needs anyway)."""

import json
import re
from pathlib import Path

import numpy as np

from jsnode import run_node
from robotrain import codec
from robotrain.actor import Actor
from robotrain.config import Config
from robotrain.run import Run

ROOT = Path(__file__).resolve().parents[1]
WIRE = ROOT / "web" / "js" / "wire" / "codec.js"


READ = """
import * as wire from %s;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { packed, task, bad } = JSON.parse(input);
const f32 = Float32Array.from(packed);
const out = {
  constants: { MAGIC: wire.MAGIC, FORMAT: wire.FORMAT, KIND_TRAJECTORIES: wire.KIND_TRAJECTORIES,
               KIND_WEIGHTS: wire.KIND_WEIGHTS, KIND_SEGMENT: wire.KIND_SEGMENT, HEADER_LEN: wire.HEADER_LEN, EPISODE_COLS: wire.EPISODE_COLS, H: wire.H },
  check: wire.checkTrajectories(f32, task),
  wrongTask: wire.checkTrajectories(f32, { first_id: task.first_id + 1, stop_id: task.stop_id + 1 }),
  truncated: wire.checkTrajectories(f32.subarray(0, f32.length - 1), task),
  bad: wire.checkTrajectories(Float32Array.from(bad), task),
  transitions: wire.transitionCount(f32),
  episodes: wire.episodesWithActions(f32).map((e) => ({ ...e, actions: Array.from(e.actions) })),
};
console.log(JSON.stringify(out));
""" % json.dumps(WIRE.as_uri())


def test_js_reader_matches_codec_py():
    actor = Actor("acrobot", 2, 4)
    actor.set_weights(Run(Config.for_env("acrobot", seed=2)).weights_packed())
    packed = actor.run(7, 10, 0.3)
    bad = packed.copy()
    bad[codec.H_MAGIC] = 1.0
    out = run_node(READ, json.dumps({"packed": packed.tolist(), "task": {"first_id": 7, "stop_id": 10},
                                     "bad": bad.tolist()}))
    c = out["constants"]
    assert (c["MAGIC"], c["FORMAT"], c["KIND_TRAJECTORIES"], c["KIND_WEIGHTS"], c["KIND_SEGMENT"], c["HEADER_LEN"],
            c["EPISODE_COLS"]) == (codec.MAGIC, codec.FORMAT, codec.KIND_TRAJECTORIES, codec.KIND_WEIGHTS,
                                   codec.KIND_SEGMENT, codec.HEADER_LEN, codec.EPISODE_COLS)
    # Every H_* index of codec.py under the same name, and no other.
    py_indices = {name[2:]: getattr(codec, name) for name in dir(codec) if re.fullmatch(r"H_[A-Z_]+", name)}
    assert c["H"] == py_indices
    assert out["check"] == ""
    assert "episode" in out["wrongTask"] and "floats" in out["truncated"] and "not a trajectory batch" in out["bad"]
    batch = codec.unpack_trajectories(packed)
    assert out["transitions"] == len(batch.transitions)
    # Episodes and their actions as codec.py unpacks them.
    start = 0
    for js, (eid, length, ret, terminated) in zip(out["episodes"], batch.episodes.tolist(), strict=True):
        n = int(length)
        actions = batch.transitions[start:start + n, codec.row_slices(batch.obs_dim)["action"]]
        assert (js["id"], js["length"], js["ret"], js["terminated"]) == (eid, n, np.float32(ret), terminated > 0)
        assert js["actions"] == actions.astype(int).tolist()
        start += n


SEGMENT = """
import * as wire from %s;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { packed, task } = JSON.parse(input);
const f32 = Float32Array.from(packed);
console.log(JSON.stringify({
  check: wire.checkSegment(f32, task),
  otherId: wire.checkSegment(f32, { ...task, segment_id: task.segment_id + 1 }),
  otherSteps: wire.checkSegment(f32, { ...task, steps: task.steps + 1 }),
  truncated: wire.checkSegment(f32.subarray(0, f32.length - 1), task),
  notSegment: wire.checkSegment(Float32Array.from(packed.map((x, i) => (i === wire.H.KIND ? wire.KIND_TRAJECTORIES : x))), task),
  transitions: wire.transitionCount(f32),
}));
""" % json.dumps(WIRE.as_uri())


def test_js_reader_checks_a_pqn_segment_as_codec_py_packs_it():
    run = Run(Config.for_env("cartpole", algorithm="pqn", seed=3, num_envs=8, lanes=4, num_steps=30))
    task = run.plan_segments(1)[0]
    actor = Actor("cartpole", 3, 4, (64, 64), layer_norm=True)
    actor.set_weights(run.weights_packed())
    packed = actor.run_task(task)
    out = run_node(SEGMENT, json.dumps({"packed": packed.tolist(), "task": task}))
    assert out["check"] == ""
    assert "the task was 1" in out["otherId"] and "4 x 31" in out["otherSteps"]
    assert "floats" in out["truncated"] and "not a segment" in out["notSegment"]
    assert out["transitions"] == 4 * 30 == codec.unpack_segment(packed).transitions.shape[0] * 30
