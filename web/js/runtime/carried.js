// The files a page opened from disk carries (runtime/disk.js checked them), served through a fetch stand-in so
// that Pyodide and robotrain's loader read them as they fetch a served site's. The page and each of its workers
// (which get them by message, pyhost.receiveRuntime) hold their own copy. A served page never loads this module.

let carried = null; // Map: path in the site -> {bytes: Uint8Array, type: content type}
let siteBase = null; // the site's URL, ending in '/'

/** Serve `files` (path -> {bytes, type}) at `base` (the site's URL) through globalThis.fetch. */
export function useFiles(files, base) {
  carried = files;
  siteBase = base;
  const realFetch = globalThis.fetch?.bind(globalThis);
  globalThis.fetch = (resource, init) => {
    const url = new URL(resource instanceof Request ? resource.url : String(resource), base).href;
    if (!url.startsWith(base)) return realFetch(resource, init);
    const file = carried.get(url.slice(base.length).split(/[?#]/)[0]);
    if (!file) return Promise.reject(new TypeError(`${url} is not among the files a page opened from disk carries`));
    return Promise.resolve(new Response(file.bytes, { headers: { 'Content-Type': file.type } }));
  };
}

/** Drop the files: a worker's interpreter, once loaded, never reads them again (about 5.5 MB per worker). */
export function forgetFiles() {
  carried = new Map();
}

/** The bytes of one carried file (a path in the site). */
export function carriedBytes(path) {
  return carried.get(path).bytes;
}

/**
 * What a worker needs to read the files as the page does: copies of them (the runtime's .wasm left out when the
 * page hands the worker its compiled module) and the site's URL.
 */
export function filesForWorker(withWasm) {
  const files = new Map();
  for (const [path, file] of carried) {
    if (withWasm || !path.endsWith('.wasm')) files.set(path, { bytes: file.bytes.slice(), type: file.type });
  }
  return { files, base: siteBase };
}
