"""Model files: round trip, continued training, and every kind of bad file rejected with a clear message."""

import base64
import json
import subprocess
import sys

import numpy as np
import pytest

from robotrain import modelfile
from robotrain.config import Config
from robotrain.learner import Learner


def good_model(env_id="cartpole"):
    cfg = Config.for_env(env_id, algorithm="ddqn", seed=3)  # a Double DQN learner's network
    learner = Learner(cfg, {"cartpole": 4, "acrobot": 6, "balancebot": 6}[env_id],
                      {"cartpole": 2, "acrobot": 3, "balancebot": 7}[env_id])
    return cfg, learner.q.params.copy(), modelfile.dumps(cfg, learner.q.params, 17, 1234)


def test_round_trip():
    cfg, params, text = good_model()
    m = modelfile.loads(text, expect_env="cartpole")
    assert m["config"] == cfg and m["policy_version"] == 17 and m["env_steps"] == 1234
    assert np.array_equal(m["params"], params) and m["params"].dtype == np.float32
    assert modelfile.loads(text.encode())["policy_version"] == 17


def edit(text, **changes):
    doc = json.loads(text)
    doc.update(changes)
    return json.dumps(doc)


def nan_params(text):
    doc = json.loads(text)
    raw = bytearray(base64.b64decode(doc["params_f32_b64"]))
    raw[0:4] = np.array([np.nan], dtype="<f4").tobytes()
    import hashlib

    doc["params_f32_b64"] = base64.b64encode(bytes(raw)).decode()
    doc["params_sha256"] = hashlib.sha256(bytes(raw)).hexdigest()
    return json.dumps(doc)


@pytest.mark.parametrize("make_bad, message", [
    (lambda t: "", "empty"),
    (lambda t: t[: len(t) // 2], "not valid JSON"),
    (lambda t: b"\x89PNG\r\n\x1a\n\x00\x00binary", "not text"),
    (lambda t: b" " * (modelfile.MAX_BYTES + 1), "limit is 50 MB"),
    (lambda t: "[1, 2, 3]", "not a robotrain model file"),
    (lambda t: edit(t, format_version=99), "format_version"),
    (lambda t: edit(t, obs_dim=5), "does not fit"),
    (lambda t: edit(t, env_id="acrobot"), "config says"),
    (lambda t: edit(t, hidden_sizes=[32]), "hidden_sizes"),
    (lambda t: edit(t, params_f32_b64="!!!"), "base64"),
    (lambda t: edit(t, params_f32_b64=base64.b64encode(b"\0" * 40).decode()), "parameters"),
    (lambda t: edit(t, params_sha256="0" * 64), "sha256"),
    (lambda t: edit(t, policy_version="7"), "policy_version"),
    (lambda t: edit(t, config={"learning_rate": -1}), "learning_rate"),
    (nan_params, "NaN or Inf"),
])
def test_bad_files_are_rejected_with_a_clear_message(make_bad, message):
    _, _, text = good_model()
    with pytest.raises(ValueError, match=message):
        modelfile.loads(make_bad(text))


def test_wrong_env_is_rejected():
    _, _, text = good_model("acrobot")
    with pytest.raises(ValueError, match="for env 'acrobot', not 'cartpole'"):
        modelfile.loads(text, expect_env="cartpole")


def test_cli_saves_and_continues_from_a_model(tmp_path):
    model = tmp_path / "m.json"
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "robotrain.train", "--env", "cartpole", "--max-steps", "1500", "--quiet"]
    subprocess.run([*cmd, "--save-model", str(model)], check=True, capture_output=True)
    m = modelfile.load(str(model), expect_env="cartpole")
    assert m["env_steps"] >= 1500 and m["policy_version"] > 0
    subprocess.run([*cmd, "--init-model", str(model), "--json", str(out)], check=True, capture_output=True)
    assert json.loads(out.read_text())["env_steps"] >= 1500
    bad = subprocess.run([*cmd, "--env", "acrobot", "--init-model", str(model)], capture_output=True, text=True)
    assert bad.returncode != 0 and "not 'acrobot'" in bad.stderr
