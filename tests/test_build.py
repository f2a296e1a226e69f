"""Tests for build.py: dist/ contents, hash checks, reproducibility, offline rebuilds, serve().

The first build on a fresh machine downloads the numpy wheel's source distribution (~77 MB) into
the cache ($ROBOTRAIN_CACHE or ~/.cache/robotrain); with a warm cache no test needs the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402

# sha256 of numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl as recorded by Pyodide 0.27.7's lock.
NUMPY_SHA256 = "ebb61241d962b98b21597d7ce43b67668a6d5bab3acec4fbe958657320d7cd08"
NUMPY_WHEEL = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dist() -> Path:
    """dist/, built once per test process (reused if another module of this process built it)."""
    return build.ensure_built()["dist"]


@pytest.fixture
def no_pip(monkeypatch):
    """Make any attempt to download with pip fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the build tried to download with pip although the cache is warm")

    monkeypatch.setattr(build, "pip_download", refuse)


def test_lock_lists_exactly_the_files_present(dist):
    lock = json.loads((dist / "lock.json").read_text())
    present = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    listed = {entry["path"] for entry in lock["files"]}
    assert listed == present - {"lock.json"}
    for entry in lock["files"]:
        path = dist / entry["path"]
        assert entry["size"] == path.stat().st_size, entry["path"]
        assert entry["sha256"] == sha256(path), entry["path"]
    assert lock["versions"]["pyodide"] == "0.27.7"
    assert lock["versions"]["numpy"] == "2.0.2"
    assert lock["versions"]["uplot"] == "1.6.32"


def test_pyodide_dir_holds_only_the_runtime_and_numpy(dist):
    names = {p.name for p in (dist / "pyodide").iterdir()}
    assert names == {*build.PYODIDE_RUNTIME_FILES, "pyodide-lock.json", NUMPY_WHEEL}
    assert {p.name for p in (dist / "vendor" / "uplot").iterdir()} == set(build.UPLOT_FILES)


def test_numpy_wheel_matches_the_rewritten_pyodide_lock(dist):
    lock = json.loads((dist / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == "0.27.7"
    assert set(lock["packages"]) == {"numpy"}
    entry = lock["packages"]["numpy"]
    assert entry["file_name"] == NUMPY_WHEEL
    assert entry["sha256"] == NUMPY_SHA256
    assert sha256(dist / "pyodide" / NUMPY_WHEEL) == entry["sha256"]


def test_robotrain_zip_layout(dist):
    with zipfile.ZipFile(dist / "py" / "robotrain.zip") as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    expected = sorted(
        "robotrain/" + p.relative_to(build.PY_PACKAGE_DIR).as_posix()
        for p in build.PY_PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert names == sorted([*expected, build.KERNEL_ZIP_NAME])
    assert all(info.date_time == build.ZIP_DATE_TIME for info in infos)


def test_the_kernel_is_built_from_source_checked_and_locked(dist):
    with zipfile.ZipFile(dist / "py" / "robotrain.zip") as archive:
        data = archive.read(build.KERNEL_ZIP_NAME)
    imports, exports = build.wasm_imports_exports(data)
    assert set(build.KERNEL_EXPORTS) <= set(exports)
    assert {field for _, field, _ in imports} <= build.KERNEL_ALLOWED_IMPORTS
    assert not [kind for _, _, kind in imports if kind == 0]  # no function imports: no libc calls
    locked = json.loads((dist / "lock.json").read_text())["versions"]["kernel"]
    assert locked["sha256"] == hashlib.sha256(data).hexdigest() and locked["size"] == len(data)
    assert build.build_kernel() == data  # the same source gives the same bytes


def test_without_root_and_compiler_the_build_warns_and_ships_no_kernel(tmp_path, monkeypatch, capsys, no_pip):
    which = shutil.which
    monkeypatch.setattr(build.shutil, "which", lambda name: None if name in build.KERNEL_TOOLS else which(name))
    monkeypatch.setattr(build.os, "geteuid", lambda: 1000)
    out = build.build(tmp_path / "dist")["dist"]
    assert "gets no SIMD kernel" in capsys.readouterr().out
    with zipfile.ZipFile(out / "py" / "robotrain.zip") as archive:
        assert build.KERNEL_ZIP_NAME not in archive.namelist()
    assert json.loads((out / "lock.json").read_text())["versions"]["kernel"] is None


def test_a_kernel_that_calls_outside_functions_stops_the_build(tmp_path):
    source = tmp_path / "bad.c"
    source.write_text("float sqrtf(float);\n__attribute__((visibility(\"default\"))) float rt_sumsq(float x) { return sqrtf(x); }\n")
    with pytest.raises(build.BuildError, match="must not call outside functions"):
        build.build_kernel(source)


def test_corrupted_cached_wheel_stops_the_build(dist, tmp_path, no_pip, capsys):
    good = build.cache_dir_from_env() / f"pyodide-{build.PYODIDE_VERSION}" / NUMPY_WHEEL
    cache = tmp_path / "cache"
    bad = cache / f"pyodide-{build.PYODIDE_VERSION}" / NUMPY_WHEEL
    bad.parent.mkdir(parents=True)
    shutil.copyfile(good, bad)
    data = bytearray(bad.read_bytes())
    data[1000:1016] = bytes(b ^ 0xFF for b in data[1000:1016])
    bad.write_bytes(bytes(data))
    bad_sha = sha256(bad)

    out = tmp_path / "dist"
    with pytest.raises(build.BuildError) as caught:
        build.build(dist_dir=out, cache_dir=cache)
    message = str(caught.value)
    assert NUMPY_SHA256 in message and bad_sha in message and str(bad) in message
    assert not bad.exists(), "the bad cached wheel must be deleted"
    assert not out.exists(), "a failed check must not touch the output directory"
    assert good.exists() and sha256(good) == NUMPY_SHA256, "the real cache must survive"


def test_cli_reports_a_bad_wheel_and_exits_1(dist, tmp_path, no_pip, monkeypatch, capsys):
    cache = tmp_path / "cache"
    bad = cache / f"pyodide-{build.PYODIDE_VERSION}" / NUMPY_WHEEL
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a wheel")
    monkeypatch.setenv(build.CACHE_ENV, str(cache))
    before = (dist / "lock.json").read_bytes()
    assert build.main(["build"]) == 1
    err = capsys.readouterr().err
    assert "sha256 mismatch" in err and NUMPY_SHA256 in err and str(bad) in err
    assert (dist / "lock.json").read_bytes() == before, "dist/ must be left as it was"


def test_warm_rebuild_is_offline_and_reproducible(dist, tmp_path, no_pip):
    again = build.build(dist_dir=tmp_path / "dist")["dist"]
    zip_path = Path("py") / "robotrain.zip"
    assert sha256(again / zip_path) == sha256(dist / zip_path)
    assert (again / "lock.json").read_bytes() == (dist / "lock.json").read_bytes()


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "isolated"])
def server(request, dist):
    """A running serve() on a free port; yields (base URL, isolated)."""
    srv = build.serve(dist, "127.0.0.1", 0, isolated=request.param)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", request.param
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def head(url: str):
    """Send a HEAD request and return the response headers."""
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as response:
        assert response.status == 200
        return response.headers


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/pyodide/pyodide.asm.wasm", "application/wasm"),
        ("/pyodide/pyodide.mjs", "text/javascript"),
        ("/pyodide/pyodide.asm.js", "text/javascript"),
        ("/pyodide/pyodide-lock.json", "application/json"),
        ("/pyodide/" + NUMPY_WHEEL, "application/octet-stream"),
        ("/py/robotrain.zip", "application/zip"),
        ("/vendor/uplot/uPlot.min.css", "text/css"),
    ],
)
def test_serve_mime_types_and_headers(server, path, content_type):
    base, isolated = server
    headers = head(base + path)
    assert headers["Content-Type"].split(";")[0] == content_type
    assert headers["Cache-Control"] == "no-cache"
    for name, value in build.ISOLATION_HEADERS.items():
        assert headers.get(name) == (value if isolated else None), name


# ---- the page opened from disk (issue 18): the modules' bundle and the carried files -------------------------

def test_disk_files_carry_every_fetched_file_base64_with_its_sha256(dist):
    text = (dist / build.DISK_MANIFEST).read_text()
    manifest = json.loads(text[text.index("{"):text.rindex("}") + 1])
    lock = json.loads((dist / "pyodide" / "pyodide-lock.json").read_text())
    wanted = set(build.DISK_CARRIED) | {f"pyodide/{entry['file_name']}" for entry in lock["packages"].values()}
    assert set(manifest["files"]) == wanted
    for path, entry in manifest["files"].items():
        data = (dist / path).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest(), path
        script = (dist / entry["script"]).read_text()
        prefix = f"robotrainCarry({json.dumps(path)}, '"
        assert script.startswith(prefix) and script.endswith("');\n"), path
        assert base64.b64decode(script[len(prefix):-4]) == data, path
    assert manifest["scripts"] == ["pyodide/pyodide.asm.js", build.DISK_PYODIDE_LOADER, build.DISK_MODULES]
    assert all((dist / path).is_file() for path in manifest["scripts"])


def test_the_bundle_holds_the_page_and_the_worker_as_one_classic_script(dist):
    bundle = (dist / build.DISK_MODULES).read_text()
    for path in ("js/main.js", "js/worker.js", "js/runtime/disk.js", "js/app/session.js", "vendor/uplot/uPlot.esm.js"):
        assert f"defined[{json.dumps(path)}] = function (require, meta)" in bundle, path
    assert not re.search(r"^(import|export)\b", build._JS_BLOCK_COMMENT.sub("", bundle), re.M)  # uPlot comments one out
    assert "import.meta" not in bundle
    node = shutil.which("node")
    if node:  # parsed as a classic script (not a module), as the page and the workers run it
        subprocess.run([node, "--check", str(dist / build.DISK_MODULES)], check=True, capture_output=True)


def test_bundling_turns_imports_and_exports_into_require_and_a_returned_object():
    source = (
        "import { a, b as c } from './x.js';\n"
        "import {\n  d,\n} from '../y.js';\n"
        "import Plot from '../vendor/p.esm.js';\n"
        "/*\nexport function notReally() {}\n*/\n"
        "export const K = 1;\n"
        "export async function f() { return new URL('.', import.meta.url); }\n"
        "const later = () => import('./z.js');\n"
        "export class C {}\n"
        "function g() {}\n"
        "export { g as default };\n"
    )
    body, deps = build.transform_module("js/sub/m.js", source)
    assert deps == ["js/sub/x.js", "js/y.js", "js/vendor/p.esm.js", "js/sub/z.js"]
    assert 'const later = () => Promise.resolve().then(() => require("js/sub/z.js"));' in body
    assert 'const { a, b: c } = require("js/sub/x.js");' in body
    assert 'const Plot = require("js/vendor/p.esm.js").default;' in body
    assert "export function notReally" in body, "a commented-out export stays as it was"
    assert "new URL('.', meta.url)" in body
    assert body.rstrip().endswith('return { "K": K, "f": f, "C": C, "default": g };')


@pytest.mark.parametrize("statement", [
    "import * as all from './x.js';",
    "import './side-effect.js';",
    "export default function () {}",
    "export let counter = 0;",
    "import { x } from 'bare-package';",
    "export * from './x.js';",
])
def test_bundling_refuses_forms_it_does_not_understand(statement):
    with pytest.raises(build.BuildError, match="cannot bundle"):
        build.transform_module("js/m.js", statement + "\n")


def test_bundling_refuses_an_import_circle(tmp_path):
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("import { b } from './b.js';\nexport const a = 1;\n")
    (tmp_path / "js" / "b.js").write_text("import { a } from './a.js';\nexport const b = 2;\n")
    with pytest.raises(build.BuildError, match="import circle: js/a.js -> js/b.js -> js/a.js"):
        build.bundle_modules(tmp_path, ("js/a.js",))


def test_the_download_zip_holds_dist_under_one_folder_reproducibly(dist, tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    build.write_dist_zip(dist, first)
    build.write_dist_zip(dist, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = set(archive.namelist())
        assert archive.read("robotrain/index.html") == (dist / "index.html").read_bytes()
    assert names == {f"robotrain/{p.relative_to(dist).as_posix()}" for p in dist.rglob("*") if p.is_file()}
