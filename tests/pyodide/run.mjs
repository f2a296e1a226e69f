// Run a Python file inside Pyodide under Node, with robotrain loaded from a built dist/ exactly as the page
// loads it (numpy from dist/pyodide, the package from dist/py/robotrain.zip, the kernel through pyhost.js's
// selectKernel), and print what the file prints. Used by the tests that must run under Pyodide (the SIMD
// kernel cannot run under CPython).
//
//   node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON tests/pyodide/run.mjs DIST_DIR SCRIPT.py [KERNEL_CHOICE] [broken]
//
// With `broken`, the kernel file is replaced by bytes no engine can instantiate before it is loaded: what an
// engine without WebAssembly SIMD sees.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distArg, scriptArg, choice = 'auto', broken] = process.argv.slice(2);
// The host's load averages (1, 5, 15 min), for scripts that measure time (`from js import hostLoadavg`).
globalThis.hostLoadavg = () => loadavg().map((v) => v.toFixed(2)).join(' ');
const dist = resolve(distArg);
const { loadPyodide } = await import(pathToFileURL(`${dist}/pyodide/pyodide.mjs`).href);
const { selectKernel } = await import(pathToFileURL(`${dist}/js/pyhost.js`).href);

const pyodide = await loadPyodide({ indexURL: `${dist}/pyodide/`, stdout: (l) => console.log(l), stderr: (l) => console.error(l) });
await pyodide.loadPackage('numpy', { messageCallback: () => {} });
const packageDir = '/home/pyodide/robotrain_pkg';
pyodide.unpackArchive(new Uint8Array(readFileSync(`${dist}/py/robotrain.zip`)), 'zip', { extractDir: packageDir });
pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(packageDir)})\nimport robotrain`);
if (broken === 'broken') {
  const kernel = pyodide.pyimport('robotrain.kernel');
  pyodide.FS.writeFile(kernel.LIBRARY_PATH, new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 2, 3]));
  kernel.destroy();
}
try {
  await selectKernel(pyodide, choice);
} catch (error) {
  console.log(`RESULT ${JSON.stringify({ error: String(error?.message ?? error).trim().split('\n').pop() })}`);
  process.exit(0);
}
try {
  await pyodide.runPythonAsync(readFileSync(resolve(scriptArg), 'utf8'), { filename: scriptArg });
} catch (error) {
  console.error(String(error?.message ?? error));
  process.exit(1);
}
