"""robotrain.web and robotrain.webhost, the page's Python, under CPython: each helper does what the page and its
workers rely on."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from robotrain import codec, web, webhost
from robotrain.actor import Actor
from robotrain.config import Config
from robotrain.envs import ENV_NAMES
from robotrain.evaluation import evaluate
from robotrain.run import Run
from robotrain.viewer import Viewer

WEB_JS = Path(__file__).resolve().parents[1] / "web" / "js"


def test_config_helpers_name_the_bad_field():
    assert json.loads(web.env_names()) == list(ENV_NAMES)
    assert web.check_config("cartpole", json.dumps({"gamma": 0.9})) == ""
    assert web.check_config("cartpole", json.dumps({"gamma": 2})).startswith("gamma:")
    assert web.check_config("cartpole", json.dumps({"nope": 1})).startswith("config: unknown field")
    assert web.make_config("acrobot", json.dumps({"seed": 7})) == Config.for_env("acrobot", seed=7)
    assert json.loads(web.env_defaults("cartpole")) == json.loads(json.dumps(Config.for_env("cartpole").to_dict()))
    names = [spec["name"] for spec in json.loads(web.field_specs("cartpole"))]
    assert "publish_every" in names and "learning_rate" in names


def test_run_bytes_and_model_files_round_trip():
    run = Run(Config.for_env("cartpole", algorithm="ddqn", seed=1))
    again = web.run_from_bytes(web.run_to_bytes(run))
    assert np.array_equal(again.weights_packed(), run.weights_packed())
    with pytest.raises(ValueError, match="saved robotrain run"):
        web.run_from_bytes(b"junk")
    text = web.save_model(run)
    facts = json.loads(web.load_model(text, "cartpole"))
    assert facts["env_id"] == "cartpole" and facts["policy_version"] == run.policy_version
    with pytest.raises(ValueError):
        web.load_model(text, "acrobot")  # the page's env differs: refused, the last good model stays
    other = Run(Config.for_env("cartpole", algorithm="ddqn", seed=2))
    assert not np.array_equal(other.learner.q.params, run.learner.q.params)
    web.apply_model(other)
    assert np.array_equal(other.learner.q.params, run.learner.q.params)
    assert web.evaluate_now(other) == evaluate("cartpole", 2, (64, 64), run.learner.q.params, 20)


def test_schedule_commands_as_json():
    run = Run(Config.for_env("cartpole", algorithm="ddqn", seed=0))
    schedule = web.new_schedule(run, "main")
    assert schedule.mode == "sync"
    commands = schedule.sync_batch(4)
    first = json.loads(web.next_command(commands))
    assert first["op"] == "play" and [t["stop_id"] for t in first["tasks"]] == [4, 8]
    assert [json.loads(web.next_command(commands))["op"] for _ in range(2)] == ["learn", "ingest"]
    assert web.next_command(commands) is None  # nothing learned: no publication, no evaluation due
    with pytest.raises(ValueError, match="mode"):
        web.new_schedule(run, "turbo")


def test_view_push_and_replay():
    viewer = Viewer("cartpole", (64, 64), 0)
    state = web.view_state(viewer)
    assert len(state) == viewer.env.state_dim
    moved = json.loads(web.push(viewer, 1.0))
    assert moved["before"] == state and moved["after"][moved["index"]] != state[moved["index"]]
    actor = Actor("cartpole", 3, 1)
    actor.set_weights(Run(Config.for_env("cartpole", algorithm="ddqn", seed=3)).weights_packed())
    packed = actor.run(5, 6, 0.5)
    batch = codec.unpack_trajectories(packed)
    actions = batch.transitions[:, batch.obs_dim].astype(np.uint8).tobytes()
    flat, dim = web.replay("cartpole", 3, 5, actions)
    states = flat.reshape(-1, dim)
    assert flat.dtype == np.float32 and len(states) == len(batch.transitions) + 1
    assert np.allclose(states[1:, :batch.obs_dim], batch.transitions[:, batch.obs_dim + 2:2 * batch.obs_dim + 2], atol=1e-6)
    assert webhost.live_row(actor) == actor.env.state[0].tolist()


def test_trim_removes_unread_files_and_truncates_loaded_ones(tmp_path, monkeypatch):
    # A fake numpy tree: trim works on numpy.__file__'s folder.
    pkg = tmp_path / "numpy"
    (pkg / "core").mkdir(parents=True)
    files = {"__init__.py": b"x" * 10, "core/_multiarray.so": b"y" * 20, "core/header.h": b"z" * 30,
             "core/unused.py": b"w" * 40, "core/other.so": b"v" * 50}
    for name, data in files.items():
        (pkg / name).write_bytes(data)
    import sys
    import types

    fake = types.ModuleType("numpy")
    fake.__file__ = str(pkg / "__init__.py")
    monkeypatch.setitem(sys.modules, "numpy", fake)
    freed = webhost.trim_numpy_files([str(pkg / "core/_multiarray.so")])
    assert freed == 10 + 20 + 30
    assert (pkg / "__init__.py").stat().st_size == 0 and (pkg / "core/_multiarray.so").stat().st_size == 0
    assert not (pkg / "core/header.h").exists()
    assert (pkg / "core/unused.py").stat().st_size == 40 and (pkg / "core/other.so").stat().st_size == 50


def test_no_python_source_in_the_pages_javascript():
    # Python run from a JS string literal, or a line of Python (def, class, Python-style import) in a JS file.
    literal = re.compile(r"runPython\(\s*[`'\"]")
    python_line = re.compile(r"^\s*(def \w+\(|class \w+[(:]|from [\w.]+ import \w|import [\w.]+(, [\w.]+)*;?\s*$)", re.M)
    found = {}
    for path in sorted(WEB_JS.rglob("*.js")):
        text = path.read_text()
        hits = [m.group(0).strip() for m in literal.finditer(text)] + [m.group(0).strip() for m in python_line.finditer(text)]
        if hits:
            found[path.name] = hits
    assert found == {}
    assert literal.search("pyodide.runPython('while True: pass')") and python_line.search("x = `\ndef f(a):\n`")


def test_the_workers_helpers_load_nothing_else():
    # Every worker imports robotrain.webhost: it must not pull in the main thread's modules (memory x workers).
    import subprocess
    import sys

    code = "import sys, robotrain.webhost; print(sorted(m for m in sys.modules if m.startswith('robotrain')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['robotrain', 'robotrain.webhost']"
