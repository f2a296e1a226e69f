// The page opened from disk (file://). Browsers refuse module scripts, fetch() of file:// URLs and, in Chromium,
// module workers from blob: URLs there; classic <script src> files load. So build.py carries the files the page
// would fetch (Pyodide's runtime and standard library, numpy, robotrain) base64 in classic scripts under disk/,
// and the page's modules as one classic bundle (disk/modules.js); js/boot.js loads them and calls startFromDisk.
// Here the carried files are decoded and checked against the build's sha256 manifest and served through fetch
// (runtime/carried.js), and workers start as classic blob: scripts holding the runtime's JS and the bundle; they
// get the files by message (a worker may not fetch the page's blob: URLs). A served page never loads this module.
import { carriedBytes, useFiles } from './carried.js';
import { startWorkersFrom } from './workers.js';

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
 * the disk/files/*.js scripts), check its size and sha256, serve them through fetch and start workers from
 * `bundle` (the function robotrainModules) at `base` (the site's URL). Throws, naming the file, if one is
 * missing or differs from what the build wrote.
 */
export async function startFromDisk(manifest, texts, base, bundle) {
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
  startWorkersFrom(() => workerScriptURL(bundle, base));
}

// The blob: URL of the actor worker's classic script: Pyodide's runtime JS and loader (as their own <script>s
// would define them), then the page's module bundle, which runs js/worker.js.
function workerScriptURL(bundle, base) {
  const source = [
    carriedBytes('pyodide/pyodide.asm.js'),
    '\n;\n',
    carriedBytes('disk/pyodide.js'),
    '\n;\n',
    bundle.toString(),
    `\n${bundle.name}(${JSON.stringify(base)})('js/worker.js');\n`,
  ];
  return URL.createObjectURL(new Blob(source, { type: 'text/javascript' }));
}
