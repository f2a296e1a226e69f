"""The page's pure parts, run as the ES modules they are under Node: the pool's worker states, watchdog and
task queue (web/js/pool/), and the curves the trainer's events feed (web/js/training/curves.js)."""

import json
from pathlib import Path

from jsnode import run_node
from robotrain.actor import Actor
from robotrain.config import Config
from robotrain.run import Run

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "web" / "js"


def module(path: str) -> str:
    return json.dumps((JS / path).as_uri())


def test_worker_states_and_watchdog_verdicts():
    out = run_node(f"""
import {{ WorkerState, newHandle, stateOf, isReady }} from {module('pool/handle.js')};
import {{ verdict, silenceLimitMs, deadlineMs, BOOT_DEADLINE_MS }} from {module('pool/watchdog.js')};
const h = (fields) => Object.assign(newHandle(0), {{ worker: {{}} }}, fields);
const states = {{
  starting: stateOf(h({{}}), 1),
  restarting: stateOf(h({{ failures: 1 }}), 1),
  booted_unconfigured: stateOf(h({{ booted: true }}), 1),
  booted_after_failure: stateOf(h({{ booted: true, failures: 1 }}), 1),
  no_config_yet: stateOf(h({{ booted: true, configured: 1 }}), null),
  idle: stateOf(h({{ booted: true, configured: 1 }}), 1),
  running: stateOf(h({{ booted: true, configured: 1, running: 1 }}), 1),
  old_config: stateOf(h({{ booted: true, configured: 1 }}), 2),
  failed: stateOf(h({{ booted: true, configured: 1, gaveUp: true }}), 1),
}};
const owing = (sent, lastHeard, task = null, warm = true) => {{
  const x = h({{ booted: true, configured: 1, lastHeard, task, warm }});
  x.pending.set(1, {{ sent }});
  return x;
}};
const limits = {{ heardSince: 0, silenceLimit: 2000 }};
const verdicts = {{
  healthy: verdict(owing(1000, 2500), 3000, limits),
  silent: verdict(owing(1000, 1000), 3500, limits)?.kind,
  late: verdict(owing(1000, 3400, {{ started: 1000, deadline: 3000 }}), 3500, limits)?.kind,
  stalled_page: verdict(owing(1000, 1000), 3500, {{ heardSince: 3000, silenceLimit: 2000 }}),
  boot: verdict(h({{ spawnedAt: 0 }}), BOOT_DEADLINE_MS + 1, limits)?.kind,
  idle: verdict(h({{ booted: true, configured: 1 }}), 1e9, limits),
  // A worker whose first task has not answered yet gets FIRST_TASK_SILENCE_MS (8 s), not the 2 s limit.
  first_task_3s: verdict(owing(1000, 1000, null, false), 4000, limits),
  first_task_9s: verdict(owing(1000, 1000, null, false), 10000, limits)?.kind,
}};
console.log(JSON.stringify({{
  enum: Object.values(WorkerState), frozen: Object.isFrozen(WorkerState), states,
  ready: [isReady(h({{ booted: true, configured: 1 }}), 1), isReady(h({{ booted: true }}), 1)], verdicts,
  limits: [silenceLimitMs([]), silenceLimitMs([1500]), silenceLimitMs([60000])],
  deadlines: [deadlineMs([1, 2, 3], 10), deadlineMs(Array(20).fill(100), 10), deadlineMs(Array(20).fill(1), 1)],
}}));
""")
    assert out["enum"] == ["starting", "restarting", "idle", "running", "failed"] and out["frozen"]
    assert out["states"] == {"starting": "starting", "restarting": "restarting", "booted_unconfigured": "starting",
                             "booted_after_failure": "restarting", "no_config_yet": "starting", "idle": "idle",
                             "running": "running", "old_config": "starting", "failed": "failed"}
    assert out["ready"] == [True, False]
    assert out["verdicts"] == {"healthy": None, "silent": "hang", "late": "deadline", "stalled_page": None,
                               "boot": "boot", "idle": None, "first_task_3s": None, "first_task_9s": "hang"}
    assert out["limits"] == [2000, 3000, 10000]
    assert out["deadlines"] == [120000, 40000, 10000]


def test_task_queue_settles_once_and_requeues_in_front():
    out = run_node(f"""
import {{ TaskQueue, CancelledError }} from {module('pool/queue.js')};
const q = new TaskQueue();
const results = [];
const track = (p, name) => p.then((v) => results.push([name, v]), (e) => results.push([name, e instanceof CancelledError ? 'cancelled' : e.message]));
track(q.add({{ first_id: 0 }}), 'a');
track(q.add({{ first_id: 2 }}), 'b');
track(q.add({{ first_id: 9 }}, true), 'eval');
const order = q.entries.map((e) => e.task.first_id);
const first = q.shift();
const twice = [first.resolve('done'), first.resolve('again')];
const second = q.shift();
q.requeue([second]);
const requeued = q.entries.map((e) => e.task.first_id);
q.cancel();
await new Promise((r) => setTimeout(r, 0));
console.log(JSON.stringify({{ order, twice, requeued, left: q.length, results }}));
""")
    assert out["order"] == [9, 0, 2]  # an evaluation goes first
    assert out["twice"] == [True, False]  # a late second result is refused
    assert out["requeued"] == [0, 2] and out["left"] == 0
    assert sorted(out["results"]) == [["a", "cancelled"], ["b", "cancelled"], ["eval", "done"]]


def test_curves_keep_what_the_trainer_reports():
    actor = Actor("cartpole", 0, 4)
    actor.set_weights(Run(Config.for_env("cartpole", algorithm="ddqn", seed=0)).weights_packed())
    packed = actor.run(0, 6, 1.0)
    out = run_node(f"""
import {{ Curves, MAX_CURVE_EPISODES }} from {module('training/curves.js')};
let input = '';
for await (const chunk of process.stdin) input += chunk;
const packed = Float32Array.from(JSON.parse(input));
const c = new Curves();
const rows = [];
for (let i = 0; i < 6; i++) rows.push([i, packed[16 + 4 * i + 2], packed[16 + 4 * i + 1]]);
c.addIngest({{ rows, envStepsBefore: 100, seconds: 1.26, staleness: 2, packed }});
c.addEval({{ step: 150, mean: 21.5, seconds: 2.04 }});
c.sampleSeries({{ env_steps: 5, loss: null, epsilon: 1, episodes_per_min: 1, env_steps_per_s: 2, updates_per_s: 0 }},
               {{ running: false, trainingMs: 10 }}, 5000);
const again = new Curves(JSON.parse(JSON.stringify(c.toJSON())));
const big = new Curves();
const many = Array.from({{ length: MAX_CURVE_EPISODES + 1 }}, (_, i) => [i, 1, 1]);
big.addIngest({{ rows: many, envStepsBefore: 0, seconds: 0, staleness: 0, packed: new Float32Array([7254, 1, 1, 16, 16, 0, 0, 0, 4, 12, 0, 0, 0, 0, 0, 0]) }});
console.log(JSON.stringify({{
  episodes: c.curve.episodes, evals: c.curve.evals, lag: c.curve.lag, series: c.curve.series.length,
  recent: c.recent.map((e) => [e.id, e.length, e.actions.length]), best: c.findEpisode('best').id,
  found: c.findEpisode(3)?.id, missing: c.findEpisode(99), restored: again.recent.length, thinned: big.curve.episodes.length,
}}));
""", json.dumps(packed.tolist()))
    table = packed[16:16 + 24].reshape(6, 4)
    steps = 100 + table[:, 1].cumsum()
    assert out["episodes"] == [[i, float(table[i, 2]), int(table[i, 1]), int(steps[i]), 1.3] for i in range(6)]
    assert out["evals"] == [[150, 21.5, 2.0]] and out["lag"] == {"2": 1} and out["series"] == 0  # not running
    assert out["recent"] == [[i, int(table[i, 1]), int(table[i, 1])] for i in range(6)]
    assert out["best"] == int(table[:, 2].argmax()) and out["found"] == 3 and out["missing"] is None
    assert out["restored"] == 6
    assert out["thinned"] == 10_001  # every other row, and the newest
