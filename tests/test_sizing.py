"""The page's adaptive task sizing (web/js/sizing.js), run as the ES module it is under Node."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None and not os.environ.get("CI"), reason="needs node (build.py test installs it)")


def run_js(body: str):
    """Run `body` (an async function body with TaskSizer and the constants in scope) and return its JSON result."""
    script = (f"import * as S from {json.dumps((ROOT / 'web/js/sizing.js').as_uri())};\n"
              "const { TaskSizer, TARGET_TASK_MS, MAX_LANES, MAX_EPISODES, MIN_GROUP_LANES } = S;\n"
              f"const out = await (async () => {{ {body} }})();\n"
              "console.log(JSON.stringify(out));\n")
    done = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_adaptive_grows_to_the_target_task_length_at_most_2x_per_task():
    out = run_js("""
        const s = new TaskSizer({ episodes: 2 });
        const seen = [s.episodesPerTask()];
        // Short episodes: 1 ms each whatever the task size -> the target allows TARGET_TASK_MS episodes.
        for (let i = 0; i < 10; i++) { s.observe(s.episodesPerTask(), s.episodesPerTask() * 1); seen.push(s.episodesPerTask()); }
        return { seen, target: TARGET_TASK_MS, lanes: s.lanesFor(s.episodesPerTask()), max: MAX_LANES };
    """)
    assert out["seen"][:5] == [2, 4, 8, 16, 32]
    assert out["seen"][-1] == out["target"]  # 100 ms / 1 ms per episode
    assert out["lanes"] == out["max"]  # as many lanes as episodes, up to MAX_LANES


def test_adaptive_shrinks_at_once_when_episodes_get_long_and_never_below_one():
    out = run_js("""
        const s = new TaskSizer({ episodes: 64 });
        s.observe(64, 64 * 10);   // 10 ms per episode -> 10 episodes
        const after = s.episodesPerTask();
        for (let i = 0; i < 20; i++) s.observe(s.episodesPerTask(), 5000);  // 5 s per task
        return { after, floor: s.episodesPerTask(), lanes: s.lanesFor(1), capped: new TaskSizer({ episodes: 10 ** 6 }).episodesPerTask(), max: MAX_EPISODES };
    """)
    assert out["after"] == 10
    assert out["floor"] == 1 and out["lanes"] == 1
    assert out["capped"] == out["max"]


def test_fixed_sizing_and_user_lanes_are_kept():
    out = run_js("""
        const fixed = new TaskSizer({ adaptive: false, episodes: 2, defaultLanes: 8 });
        for (let i = 0; i < 5; i++) fixed.observe(2, 1);
        const userLanes = new TaskSizer({ episodes: 2, lanes: 3 });
        for (let i = 0; i < 5; i++) userLanes.observe(userLanes.episodesPerTask(), 1);
        const ignored = new TaskSizer({ episodes: 4 });
        ignored.observe(0, 10); ignored.observe(4, NaN); ignored.observe(-1, 5);
        return { fixed: [fixed.episodesPerTask(), fixed.lanesFor(2), fixed.describe()],
                 user: [userLanes.episodesPerTask(), userLanes.lanesFor(50)],
                 ignored: [ignored.episodesPerTask(), ignored.describe().tasks] };
    """)
    episodes, lanes, described = out["fixed"]
    assert (episodes, lanes) == (2, 8) and described["adaptive"] is False and described["tasks"] == 5
    assert out["user"][0] > 2 and out["user"][1] == 3  # episodes adapt, the user's lanes stay
    assert out["ignored"] == [4, 0]


def test_a_learning_run_holds_a_task_to_what_the_learner_consumes_in_the_target_time():
    out = run_js("""
        const s = new TaskSizer({ episodes: 2 });
        for (let i = 0; i < 10; i++) s.observe(s.episodesPerTask(), s.episodesPerTask() * 1);
        const free = s.episodesPerTask();
        s.setLearnerPace(1000);       // no episode length measured yet: no cap
        const unmeasured = s.episodesPerTask();
        s.observeSteps(4, 80);        // episodes of 20 steps
        s.setLearnerPace(1000);       // 1000 env steps/s -> 100 steps in 100 ms -> 5 episodes of 20 steps
        const capped = s.episodesPerTask();
        const described = s.describe();
        for (let i = 0; i < 30; i++) s.observeSteps(2, 1000);  // the average follows to episodes of 500 steps
        s.setLearnerPace(1000);       // long episodes: never below one
        const longEpisodes = s.episodesPerTask();
        s.setLearnerPace(null);       // learning off again
        const lifted = s.episodesPerTask();
        const fixed = new TaskSizer({ adaptive: false, episodes: 2 });
        fixed.observeSteps(2, 1000);
        fixed.setLearnerPace(1000);
        return { free, unmeasured, capped, described, longEpisodes, lifted, fixed: fixed.episodesPerTask() };
    """)
    assert out["free"] == 100 and out["unmeasured"] == 100 and out["capped"] == 5 and out["longEpisodes"] == 1 and out["lifted"] == 100
    assert out["described"]["episodes_per_task"] == 5 and out["described"]["learner_cap"] == 5
    assert out["described"]["lanes"] == 5
    assert out["fixed"] == 2  # fixed sizing keeps the config's size


def test_pqn_groups_give_each_worker_one_task_unless_the_lanes_are_fixed():
    out = run_js("""
        const s = new TaskSizer({});
        const counts = [1, 2, 3, 4, 12];
        return {
            small: counts.map((n) => s.segmentLanes(32, n)),
            adaptive: counts.map((n) => s.segmentLanes(256, n)),
            wide: s.segmentLanes(256, 1),
            min: MIN_GROUP_LANES,
            fixed: new TaskSizer({ lanes: 8 }).segmentLanes(32, 1),
            off: new TaskSizer({ adaptive: false }).segmentLanes(32, 2),
        };
    """)
    # Groups of fewer than MIN_GROUP_LANES (32) lanes are mostly fixed cost: 32 environments stay one group.
    assert out["min"] == 32 and out["small"] == [32, 32, 32, 32, 32]
    # 256 environments: the fewest groups that give each of n workers one (4 for 3), never under 32 lanes.
    assert out["adaptive"] == [64, 64, 64, 64, 32]
    assert out["wide"] == 64  # at most MAX_LANES lanes in one group
    assert out["fixed"] is None and out["off"] is None  # the user's lanes, or fixed sizing: the config's groups
