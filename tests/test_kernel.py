"""The WebAssembly SIMD kernel (py/robotrain/kernel) against numpy, under Pyodide.

The kernel runs only in Pyodide, so these tests build dist/ (build.py compiles the kernel from its C files) and run
tests/pyodide/kernel_checks.py inside Pyodide under Node, loaded as the page loads it. That script measures;
the tolerances are here. A run where the kernel did not load fails (no silent numpy fallback).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None and not os.environ.get("CI"), reason="needs node (build.py test installs it)")

sys.path.insert(0, str(ROOT))
import build  # noqa: E402

# float32 products of up to 256 terms, summed in another order than numpy's float64 reference: a few ulps of
# the result's scale. 1e-5 is the bound for 300 learner updates.
LAYER_TOL = 2e-6
LEARNER_TOL = 1e-5


def run_in_pyodide(script: Path, choice: str = "auto", broken: bool = False) -> dict:
    dist = build.ensure_built()["dist"]
    done = subprocess.run([NODE, "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", str(ROOT / "tests/pyodide/run.mjs"),
                           str(dist), str(script), choice, *(["broken"] if broken else [])],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def checks():
    return run_in_pyodide(ROOT / "tests/pyodide/kernel_checks.py")


def test_the_kernel_is_what_runs(checks):
    assert checks["status"] == {"kernel": "wasm-simd", "choice": "auto", "reason": None}
    assert all(path == "wasm-simd" for name, path in checks["network"].items() if name.startswith("path"))
    assert checks["learner"]["paths"] == ["wasm-simd", "numpy"]


def test_layer_passes_equal_numpy_on_odd_shapes_strided_inputs_and_batch_1(checks):
    layer = checks["layer"]
    assert len(layer) == 11 * 2 * 6  # every shape, contiguous and strided, 2 forwards + 4 backward outputs
    worst = max(layer, key=layer.get)
    assert layer[worst] < LAYER_TOL, worst


@pytest.mark.parametrize("layer_norm", [False, True])
def test_network_forward_and_backward_equal_the_numpy_path(checks, layer_norm):
    errors = {k: v for k, v in checks["network"].items()
              if not k.startswith("path") and ("layernorm" in k) == layer_norm}
    # Plain: 4 networks; LayerNorm: 6 (1 and 2 hidden layers, widths 1, 7, 33, 63, 84, 120, 128, batch 1,
    # strided rows); each forward with and without its record, and backward.
    assert len(errors) == (6 if layer_norm else 4) * 3
    worst = max(errors, key=errors.get)
    assert errors[worst] < LAYER_TOL, worst


def test_layer_norm_gradient_through_the_kernel_matches_finite_differences(checks):
    fd = checks["finite_differences"]
    assert fd["path"] == "wasm-simd"
    grad, numeric = np.array(fd["kernel"]), np.array(fd["numeric"])
    assert len(grad) == (3 * 8 + 8 + 2 * 8) + (8 * 7 + 7 + 2 * 7) + (7 * 2 + 2)
    assert np.abs(grad).max() > 1e-2
    # The tolerance of tests/test_learning.py's numpy check: float32 forward passes limit the differences.
    np.testing.assert_allclose(grad, numeric, atol=2e-3, rtol=2e-2)


def test_adam_and_the_soft_target_update_are_bit_exact_and_the_norm_is_close(checks):
    assert checks["adam_max_abs_diff"] == 0.0
    assert checks["soft_update_equal"] is True
    assert checks["sumsq_rel_err"] < 1e-5


def test_replay_sampling_gives_numpys_transitions_bit_for_bit(checks):
    assert checks["replay_gather_equal"] is True


def test_300_learner_updates_stay_within_1e_5_of_numpy(checks):
    learner = checks["learner"]
    assert learner["params_max_abs_diff"] < LEARNER_TOL
    assert learner["target_max_abs_diff"] < LEARNER_TOL
    assert learner["loss_max_rel_diff"] < 1e-4


def test_320_pqn_learner_updates_stay_within_1e_5_of_numpy(checks):
    pqn = checks["pqn_learner"]
    assert pqn["paths"] == ["wasm-simd", "numpy"] and pqn["updates"] == 320
    assert pqn["params_max_abs_diff"] < LEARNER_TOL
    assert pqn["loss_max_rel_diff"] < 1e-4


@pytest.fixture(scope="module")
def pqn_step(checks):
    """PQN's fused minibatch step against numpy and the separate calls (kernel_checks.py's pqn_step_checks)."""
    return checks["pqn_step"]


def test_the_fused_pqn_step_equals_numpys_and_the_kernels_separate_calls(pqn_step):
    cases = pqn_step["cases"]
    assert [case["size"] for case in cases.values()] == [32, 23, 23]
    for name, case in cases.items():
        assert case["paths"] == ["wasm-simd", "numpy"], name
        for step in range(2):
            assert case[f"loss_rel_diff_{step}"] < 1e-4, (name, step)
            assert case[f"grad_rel_err_{step}"] < LAYER_TOL, (name, step)
            assert case[f"params_max_abs_diff_{step}"] < LEARNER_TOL, (name, step)
        assert case["separate_calls_equal"] is True, name


@pytest.mark.parametrize("case, argument", [
    ("order int32", "order must be a contiguous 1-D int64 array"),
    ("row number outside the rollout", "order: its row numbers must lie in"),
    ("action outside the network", "rows: the action of every sampled row"),
    ("returns wrong length", "returns has shape"),
    ("rows wrong width", "rows have width"),
    ("slice past the order", "start 240 and n 32"),
    ("empty minibatch", "start 0 and n 0"),
    ("grad wrong length", "grad has shape"),
    ("m read-only", "m is read-only"),
])
def test_bad_input_to_the_fused_pqn_step_is_a_value_error_naming_the_argument(pqn_step, case, argument):
    assert pqn_step["bad_input"][case].startswith(f"ValueError: {argument}")
    assert pqn_step["params_untouched"] is True


@pytest.mark.parametrize("case, argument", [
    ("x float64", "x must be float32"),
    ("W wrong shape", "W has shape"),
    ("out too small", "out has shape"),
    ("W transposed view", "W must be C-contiguous"),
    ("x column stride", "x rows must be contiguous"),
    ("out read-only", "out is read-only"),
    ("b wrong length", "b has shape"),
    ("x not an array", "x must be a 2-D numpy array"),
    ("grad wrong length", "grad has shape"),
    ("idx out of ring", "idx must lie in"),
    ("idx int32", "idx must be a contiguous 1-D int64 array"),
    ("online wrong length", "online has shape"),
    ("network obs width", "x has shape"),
    ("network dout shape", "dout has shape"),
    ("network grad length", "grad has shape"),
    ("layernorm record of a plain network", "record must come from this network's forward"),
    ("layernorm grad without gain and offset", "grad has shape"),
])
def test_bad_input_is_a_value_error_naming_the_argument(checks, case, argument):
    assert checks["bad_input"][case].startswith(f"ValueError: {argument}")


def test_bad_input_never_writes_outside_an_array(checks):
    assert checks["guard_intact"] is True
    assert checks["select_bad"].startswith("ValueError: kernel must be one of")


def test_numpy_choice_runs_numpy_everywhere():
    out = run_in_pyodide(ROOT / "tests/pyodide/kernel_status.py", "numpy")
    assert out == {"status": {"kernel": "numpy", "choice": "numpy", "reason": "numpy selected"}, "paths": ["numpy"] * 3}


def test_an_engine_that_cannot_run_the_kernel_falls_back_to_numpy_and_says_why():
    out = run_in_pyodide(ROOT / "tests/pyodide/kernel_status.py", "auto", broken=True)
    assert out["paths"] == ["numpy"] * 3
    assert out["status"]["kernel"] == "numpy" and out["status"]["reason"].startswith("could not load robotrain_simd.so")


def test_asking_for_the_kernel_where_it_cannot_run_is_an_error_that_says_why():
    out = run_in_pyodide(ROOT / "tests/pyodide/kernel_status.py", "wasm-simd", broken=True)
    assert "could not load robotrain_simd.so" in out["error"]


def test_cpython_has_no_kernel_and_says_why():
    from robotrain import kernel
    from robotrain.qnet import QNetwork

    assert kernel.active() is None
    assert QNetwork(4, 2, (8,), np.random.default_rng(0)).path == "numpy"
    assert "only in Pyodide" in kernel.status()["reason"]
    with pytest.raises(OSError, match="only in Pyodide"):
        kernel.select("wasm-simd")
    assert kernel.status()["choice"] == "auto"  # a refused choice changes nothing
