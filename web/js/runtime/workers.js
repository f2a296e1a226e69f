// How an actor worker starts, served or opened from disk. Served: from a one-line blob: module that imports
// worker.js. A worker loaded from a URL takes its Content-Security-Policy only from that response's headers, and
// a static host may send none (the page's meta tag does not reach it); a worker started from a blob: URL
// inherits the page's policy, meta tag included (HTML's policy container), so the workers run under the page's
// policy on any host. From disk: Chromium refuses module workers from blob: URLs there, so runtime/disk.js hands
// over a classic blob: script holding the runtime and the module bundle, under the same policy.
import { shareRuntime } from '../pyhost.js';

let diskScript = null; // opened from disk: () => a new blob: URL of the workers' classic script (runtime/disk.js)

/** Opened from disk: later pools start their workers from the classic script `makeURL()` returns. */
export function startWorkersFrom(makeURL) {
  diskScript = makeURL;
}

/**
 * {start(name), close()}: start(name) is a new Worker running worker.js (at `workerURL`), sent its boot kit
 * (pyhost.shareRuntime); close() frees the script's blob: URL once no more workers are to start.
 */
export function workerStarter(workerURL) {
  const site = new URL('../', workerURL);
  const classic = diskScript !== null;
  const url = classic
    ? diskScript()
    : URL.createObjectURL(
        new Blob([`import ${JSON.stringify(new URL(workerURL, globalThis.location?.href).href)};\n`], { type: 'text/javascript' }),
      );
  return {
    start(name) {
      const worker = new Worker(url, classic ? { name } : { type: 'module', name });
      shareRuntime(worker, site); // the worker waits for it before loading Pyodide
      return worker;
    },
    close: () => URL.revokeObjectURL(url),
  };
}
