// The page opened from disk (file://). Browsers refuse module scripts, fetch() of file:// URLs and, in Chromium,
// module workers from blob: URLs there; classic <script src> files load. So build.py carries the files the page
// would fetch (Pyodide's runtime and standard library, numpy, robotrain) base64 in classic scripts under disk/,
// and the page's modules as one classic bundle (disk/modules.js); js/boot.js loads them and calls startFromDisk.
// Here the carried files are decoded and checked against the build's sha256 manifest, a fetch stand-in serves
// them to Pyodide and to robotrain's loader unchanged, and workers start as classic blob: scripts holding the
// runtime's JS and the bundle; they get the files by message (a worker may not fetch the page's blob: URLs).
// Nothing here runs when the page is served.

let carried = null; // Map: path in the site -> Uint8Array, once startFromDisk has checked them
let siteBase = null; // the site's URL, ending in '/'
let modules = null; // the bundle's function robotrainModules (disk/modules.js), whose source each worker runs

/** True when the page (or this worker) runs from the files carried in classic scripts. */
export function onDisk() {
  return carried !== null;
}

function decodeBase64(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) throw new Error('this browser cannot check the files (no crypto.subtle on file://)');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Decode every carried file listed in `manifest` (robotrainDiskFiles) from `texts` (path -> base64, filled by
 * the disk/files/*.js scripts), check its size and sha256, and serve them through fetch; `bundle` is the
 * function robotrainModules. Throws, naming the file, if one is missing or differs from what the build wrote.
 */
export async function startFromDisk(manifest, texts, base, bundle) {
  modules = bundle;
  const files = new Map();
  for (const [path, entry] of Object.entries(manifest.files)) {
    if (typeof texts[path] !== 'string') throw new Error(`${entry.script} did not load`);
    const bytes = decodeBase64(texts[path]);
    delete texts[path]; // the base64 text is as big again as the bytes
    if (bytes.length !== entry.size || (await sha256Hex(bytes)) !== entry.sha256) {
      throw new Error(`${entry.script} is damaged (its sha256 differs from the build's); download the folder again`);
    }
    files.set(path, { bytes, type: entry.type });
  }
  useFiles(files, base);
}

/** Serve `files` (path -> {bytes, type}) at `base` through globalThis.fetch; in a worker, what the page sent. */
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

/**
 * What a worker needs to load robotrain with fetch as on the page: the carried files it reads (copies; the
 * runtime's .wasm is left out when the page hands the worker its compiled module) and the site's URL.
 */
export function filesForWorker(withWasm) {
  const files = new Map();
  for (const [path, file] of carried) {
    if (withWasm || !path.endsWith('.wasm')) files.set(path, { bytes: file.bytes.slice(), type: file.type });
  }
  return { files, base: siteBase };
}

/**
 * The blob: URL of the actor worker's classic script: Pyodide's runtime JS and loader (as their own <script>s
 * would define them), then the page's module bundle, which runs js/worker.js.
 */
export function diskWorkerURL() {
  const text = (path) => carried.get(path).bytes;
  const source = [
    text('pyodide/pyodide.asm.js'),
    '\n;\n',
    text('disk/pyodide.js'),
    '\n;\n',
    modules.toString(),
    `\n${modules.name}(${JSON.stringify(siteBase)})('js/worker.js');\n`,
  ];
  return URL.createObjectURL(new Blob(source, { type: 'text/javascript' }));
}
