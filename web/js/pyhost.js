// Loading robotrain into a Pyodide interpreter, and moving buffers in and out of it.
// Used by the actor workers and by the main thread alike.

const PACKAGE_DIR = '/home/pyodide/robotrain_pkg';

const RUNTIME_WASM = 'pyodide/pyodide.asm.wasm';

// A site opened from disk (file://) reads its files through runtime/carried.js, imported only then: a served page and
// its workers never load it.
const onDisk = (baseURL) => new URL(baseURL).protocol === 'file:';
const diskFiles = () => import('./runtime/carried.js');
let runtimeModule = null;

/**
 * The Pyodide runtime (pyodide.asm.wasm, about 9 MB) compiled once on this thread: a WebAssembly.Module that
 * every worker instantiates instead of fetching and compiling its own (one copy of the compiled code, measured
 * about 13 MB less per worker in Chromium). Resolves to null if compiling fails (each worker then compiles).
 */
export function compiledRuntime(baseURL) {
  runtimeModule ??= WebAssembly.compileStreaming(fetch(new URL(RUNTIME_WASM, baseURL))).catch(() => null);
  return runtimeModule;
}

// The page's memory snapshot of a bare interpreter (Python started, no numpy yet; about 20 MB), taken by the
// page's own loadRobotrain({makeSnapshot: true}); null if it could not be made. A worker restores it in well
// under a second instead of starting Python from scratch (measured ~0.8-1.1 s against ~9.9 s for the page's
// bare start on the loaded 2-core machine). Pyodide 0.27 snapshots keep only the wasm heap and the JS handle
// table, not dynamically loaded libraries, so numpy is loaded after the restore, not snapshotted.
let snapshotReady;
const pageSnapshot = new Promise((resolve) => {
  snapshotReady = resolve;
});

/**
 * Send a new worker its boot kit: the compiled runtime and the page's snapshot (structured-cloned, so each
 * worker gets its own copy), and on a page opened from disk the files it would fetch (runtime/carried.js). The
 * worker waits for it (receiveRuntime) before loading Pyodide.
 */
export function shareRuntime(worker, baseURL) {
  const disk = onDisk(baseURL) ? diskFiles() : null;
  Promise.all([compiledRuntime(baseURL), pageSnapshot, disk]).then(([module, snapshot, files]) => {
    const kit = { bootRuntime: module, bootSnapshot: snapshot, bootKernel: kernelChoice };
    if (!files) return worker.postMessage(kit);
    kit.bootFiles = files.filesForWorker(!module);
    worker.postMessage(kit, [...kit.bootFiles.files.values()].map((file) => file.bytes.buffer));
  });
}

// Which path the Q-network takes on this page and in its workers (robotrain.kernel.CHOICES): 'auto' (the SIMD
// kernel where it loads), 'numpy' (the reference) or 'wasm-simd' (the kernel or an error). Every interpreter of
// a page takes the same path, so a run's curve does not depend on which worker played an episode.
let kernelChoice = 'auto';

/** Set the page's kernel choice (before loadRobotrain and before any worker starts). */
export function setKernelChoice(choice) {
  kernelChoice = choice;
}

/**
 * In a worker: a promise of the boot kit {runtime, snapshot, kernel, release?} sent by shareRuntime (runtime and
 * snapshot may be null; release, opened from disk, frees the carried files once loaded). Call it
 * before setting self.onmessage: this listener runs first and keeps the boot message away from the worker's
 * own protocol handler.
 */
export function receiveRuntime() {
  return new Promise((resolve) => {
    const listener = (event) => {
      if (!event.data || !('bootRuntime' in event.data)) return;
      event.stopImmediatePropagation();
      self.removeEventListener('message', listener);
      const kit = {
        runtime: event.data.bootRuntime,
        snapshot: event.data.bootSnapshot ?? null,
        kernel: event.data.bootKernel ?? 'auto',
      };
      const carried = event.data.bootFiles; // opened from disk: the files this worker reads through fetch
      if (!carried) return resolve(kit);
      resolve(
        diskFiles().then((disk) => {
          disk.useFiles(carried.files, carried.base);
          return { ...kit, release: disk.forgetFiles };
        }),
      );
    };
    self.addEventListener('message', listener);
  });
}

/**
 * Run `load` (loadPyodide) so that its one fetch + instantiateStreaming of the runtime uses `runtime`, a
 * compiled WebAssembly.Module, instead (Pyodide 0.27 has no option for it). Both hooks undo themselves once used.
 */
async function withRuntime(runtime, wasmURL, load) {
  if (!runtime) return load();
  const { instantiateStreaming } = WebAssembly;
  const realFetch = globalThis.fetch;
  const restore = () => {
    WebAssembly.instantiateStreaming = instantiateStreaming;
    globalThis.fetch = realFetch;
  };
  globalThis.fetch = (resource, init) =>
    String(resource) === wasmURL ? Promise.resolve(new Response(new Uint8Array(0))) : realFetch(resource, init);
  WebAssembly.instantiateStreaming = async (source, imports) => {
    restore();
    return { module: runtime, instance: await WebAssembly.instantiate(runtime, imports) };
  };
  try {
    return await load();
  } finally {
    restore();
  }
}

/**
 * Load Pyodide + numpy + robotrain from the site root `baseURL` (a URL ending in '/').
 * onProgress(stage, fraction) is called as loading advances; `runtime` is a compiled pyodide.asm.wasm
 * (compiledRuntime) or null; `snapshot` a bare-interpreter snapshot to restore instead of starting Python;
 * `makeSnapshot` takes that snapshot for the workers (the page does); `release()`, if given, runs once loaded (a
 * worker opened from disk drops its carried files). Returns the pyodide object.
 */
export async function loadRobotrain(
  baseURL,
  onProgress = () => {},
  { runtime = null, snapshot = null, makeSnapshot = false, kernel = kernelChoice, release = null } = {},
) {
  const started = performance.now();
  // Where the time goes, ms from each stage's start to the next's (the benchmark's start-up breakdown).
  const stages = {};
  let stage = null;
  let stageStarted = started;
  const progress = (next, fraction) => {
    const now = performance.now();
    if (stage) stages[stage] = Math.round(now - stageStarted);
    stage = next;
    stageStarted = now;
    onProgress(next, fraction);
  };
  progress('runtime', 0.05);
  let pyodide;
  try {
    // Opened from disk, Pyodide's classic loader (disk/pyodide.js) has defined loadPyodide: no module loads there.
    const { loadPyodide } = onDisk(baseURL) ? globalThis : await import(new URL('pyodide/pyodide.mjs', baseURL).href);
    pyodide = await withRuntime(runtime, new URL(RUNTIME_WASM, baseURL).href, () =>
      loadPyodide({
        indexURL: new URL('pyodide/', baseURL).href,
        stdout: (line) => console.log(`[python] ${line}`),
        stderr: (line) => console.log(`[python stderr] ${line}`),
        ...(snapshot ? { _loadSnapshot: snapshot } : {}),
        ...(makeSnapshot ? { _makeSnapshot: true } : {}),
      }),
    );
    if (makeSnapshot) {
      progress('snapshot', 0.5);
      snapshotReady(pyodide.makeMemorySnapshot());
    }
    if (snapshot) {
      // The restored heap is a copy: free the 20 MB snapshot now (Pyodide keeps its options for the interpreter's
      // lifetime, and an idle worker may not collect garbage for a long time). transfer(0) frees the bytes at once.
      if (pyodide._api?.config) pyodide._api.config._loadSnapshot = null;
      snapshot.buffer.transfer?.(0);
    }
  } finally {
    if (makeSnapshot) snapshotReady(null); // no-op once resolved; otherwise workers start without a snapshot
  }
  progress('numpy', 0.6);
  await pyodide.loadPackage('numpy', { messageCallback: () => {}, errorCallback: (m) => console.log(m) });
  progress('robotrain', 0.85);
  const response = await fetch(new URL('py/robotrain.zip', baseURL));
  if (!response.ok) throw new Error(`could not fetch py/robotrain.zip: HTTP ${response.status}`);
  pyodide.unpackArchive(await response.arrayBuffer(), 'zip', { extractDir: PACKAGE_DIR });
  const path = pyodide.pyimport('sys').path;
  if (!path.toJs().includes(PACKAGE_DIR)) path.insert(0, PACKAGE_DIR);
  path.destroy();
  for (const name of ['numpy', 'robotrain']) pyodide.pyimport(name).destroy();
  await selectKernel(pyodide, kernel);
  trimPackageFiles(pyodide);
  release?.();
  progress('ready', 1);
  pyodide.robotrainLoadMs = performance.now() - started;
  pyodide.robotrainStagesMs = stages; // {runtime, snapshot (the page), numpy, robotrain}
  return pyodide;
}

/**
 * Load the SIMD kernel (robotrain/kernel/robotrain_simd.so, unpacked with the package) into `pyodide` and make
 * `choice` the path its Q-networks take. The module is instantiated asynchronously through Pyodide's dynamic
 * linker first: a main thread may not compile a WebAssembly module over 4 KB synchronously, which is what
 * ctypes.CDLL would do. Python's ctypes.CDLL then finds the library already loaded. If the engine cannot
 * instantiate it (no WebAssembly SIMD), 'auto' falls back to numpy and says why in robotrain.kernel.status().
 * Exported for the test harness, which loads the package the same way under Node.
 */
export async function selectKernel(pyodide, choice = 'auto') {
  const kernel = pyodide.pyimport('robotrain.kernel');
  try {
    if (choice !== 'numpy') {
      try {
        await pyodide._api.loadDynlib(kernel.LIBRARY_PATH, false, []);
      } catch (error) {
        kernel.mark_unavailable(String(error?.message ?? error));
      }
    }
    kernel.select(choice);
  } finally {
    kernel.destroy();
  }
}

// Every interpreter holds numpy's unpacked files in its in-memory file system (about 12 MB);
// robotrain.webhost.trim_numpy_files frees the ones a loaded interpreter never reads again.
function trimPackageFiles(pyodide) {
  const webhost = pyodide.pyimport('robotrain.webhost');
  const loaded = pyodide.toPy(Object.keys(pyodide._module.LDSO?.loadedLibsByName ?? {}));
  try {
    pyodide.trimmedBytes = webhost.trim_numpy_files(loaded);
  } finally {
    loaded.destroy();
    webhost.destroy();
  }
}

/** Helpers bound to one interpreter. Every PyProxy they create is destroyed before they return. */
export function pyTools(pyodide) {
  const np = pyodide.pyimport('numpy');
  const json = pyodide.pyimport('json');
  const float32 = np.float32;
  return {
    np,
    /** A new numpy float32 array holding a copy of `f32` (one memcpy into the wasm heap). */
    toNumpy(f32) {
      const array = np.empty(f32.length, float32);
      const view = array.getBuffer('f32');
      try {
        view.data.set(f32);
      } finally {
        view.release();
      }
      return array;
    },
    /** A JS-owned Float32Array copy of a contiguous numpy float32 array (the proxy is not destroyed). */
    fromNumpy(array) {
      const view = array.getBuffer('f32');
      try {
        return view.data.slice();
      } finally {
        view.release();
      }
    },
    /** JSON-safe JS value of a Python object (through json.dumps); destroys `proxy` if asked. */
    toJSON(proxy, destroy = true) {
      try {
        return JSON.parse(json.dumps(proxy));
      } finally {
        if (destroy && proxy && typeof proxy.destroy === 'function') proxy.destroy();
      }
    },
    /** A Python object built from a JSON-safe JS value (lists, dicts, numbers, strings). */
    fromJSON(value) {
      return json.loads(JSON.stringify(value));
    },
  };
}

/** Turn a Python exception (PythonError) into a short Error whose message is the exception line. */
export function pythonErrorMessage(error) {
  const text = String(error?.message ?? error);
  if (error?.type) {
    const lines = text.trim().split('\n');
    return lines[lines.length - 1];
  }
  return text;
}

/** The page's Python helpers (the module robotrain.web): one call each for what would take many. */
export function loadGlue(pyodide) {
  return pyodide.pyimport('robotrain.web');
}
