"""Two builds of the SIMD kernel timed side by side in one Pyodide process under Node: its C files at a git
revision against the working tree's (how docs/kernel.md's before/after figures of a kernel change were measured).

    .venv/bin/python tests/pyodide/kernel_ab.py REV

Runs on the host: builds both (build.build_kernel; at REV, every .c file of py/robotrain/kernel/), writes a
script that carries both modules, loads each with ctypes.CDLL inside one interpreter (dist/ as the tests build
it) and times the LayerNorm networks' backward and forward passes interleaved, 31 runs of 20 calls each, so
both builds see the same load. Prints medians, whether the gradients agree bit for bit, and the load average.
Both builds must share the working tree's C signatures (robotrain/kernel/__init__.py wraps both).
"""

import base64
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import build  # noqa: E402

TIMING = '''
import base64, ctypes, time
import numpy as np
from robotrain import kernel
from robotrain.qnet import QNetwork

builds = {}
for name, data in LIBS.items():
    path = f"/home/pyodide/kernel_{name}.so"
    open(path, "wb").write(base64.b64decode(data))
    builds[name] = kernel.Kernel(ctypes.CDLL(path))


def run_us(fn, calls=20):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


for obs, hidden, actions, n in [(4, (64, 64), 2, 64), (4, (120, 84), 2, 128), (6, (128, 128), 7, 128)]:
    rng = np.random.default_rng(0)
    net = QNetwork(obs, actions, hidden, rng, layer_norm=True)
    x = rng.standard_normal((n, obs)).astype(np.float32)
    dout = rng.standard_normal((n, actions)).astype(np.float32)
    nets = {name: k.network(net.params, net.sizes, True) for name, k in builds.items()}
    grads = {name: np.zeros_like(net.params) for name in nets}
    records = {name: k.forward(x, keep=True)[1] for name, k in nets.items()}
    cases = {}
    for name, k in nets.items():
        cases[f"backward {name}"] = lambda k=k, r=records[name], g=grads[name]: k.backward(r, dout, g)
        cases[f"forward {name}"] = lambda k=k: k.forward(x)
    times = {case: [] for case in cases}
    for fn in cases.values():
        run_us(fn)
    for _ in range(31):
        for case, fn in cases.items():
            times[case].append(run_us(fn))
    medians = "  ".join(f"{case} {np.median(t):.1f} us" for case, t in times.items())
    print(f"{obs}-{'-'.join(map(str, hidden))}-{actions} batch {n}: {medians}; same gradient bits: "
          f"{np.array_equal(*grads.values())}")
'''


def git(*args: str) -> str:
    """A git command's output in this checkout."""
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def sources_at(rev: str, target: Path) -> list[Path]:
    """The kernel's C files and headers at rev, written into target; returns the .c files (what build compiles)."""
    for name in git("ls-tree", "--name-only", f"{rev}:py/robotrain/kernel").split():
        if name.endswith((".c", ".h")):
            (target / name).write_text(git("show", f"{rev}:py/robotrain/kernel/{name}"))
    return sorted(target.glob("*.c"))


def main(rev: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        libs = {f"at {rev}": build.build_kernel(*sources_at(rev, Path(tmp))), "working tree": build.build_kernel()}
        script = Path(tmp) / "ab.py"
        script.write_text(f"LIBS = {({k: base64.b64encode(v).decode() for k, v in libs.items()})!r}\n{TIMING}")
        dist = build.ensure_built()["dist"]
        print("load average before:", Path("/proc/loadavg").read_text().strip())
        subprocess.run(["node", "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", str(ROOT / "tests/pyodide/run.mjs"),
                        str(dist), str(script)], check=True, cwd=ROOT)
        print("load average after:", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main(sys.argv[1])
