"""Run an ES module snippet under Node (which the build needs anyway) and read the JSON it prints."""

import json
import shutil
import subprocess

import pytest

NODE = shutil.which("node")


def run_node(script: str, stdin: str = "") -> dict:
    if NODE is None:
        pytest.skip("node is not installed (python3 build.py test installs it)")
    done = subprocess.run([NODE, "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", "--input-type=module", "-e", script],
                          input=stdin, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
