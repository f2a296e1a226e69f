// Run a Python file inside Pyodide under Node, with robotrain loaded from a built dist/ exactly as the page
// loads it (numpy from dist/pyodide, the package from dist/py/robotrain.zip, the kernel through pyhost.js's
// selectKernel), and print what the file prints. Used by the tests that must run under Pyodide (the SIMD
// kernel cannot run under CPython).
//
//   node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON tests/pyodide/run.mjs DIST_DIR SCRIPT.py [KERNEL_CHOICE]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distArg, scriptArg, choice = 'auto'] = process.argv.slice(2);
const dist = resolve(distArg);
const { loadPyodide } = await import(pathToFileURL(`${dist}/pyodide/pyodide.mjs`).href);
const { selectKernel } = await import(pathToFileURL(`${dist}/js/pyhost.js`).href);

const pyodide = await loadPyodide({ indexURL: `${dist}/pyodide/`, stdout: (l) => console.log(l), stderr: (l) => console.error(l) });
await pyodide.loadPackage('numpy', { messageCallback: () => {} });
const packageDir = '/home/pyodide/robotrain_pkg';
pyodide.unpackArchive(new Uint8Array(readFileSync(`${dist}/py/robotrain.zip`)), 'zip', { extractDir: packageDir });
pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(packageDir)})\nimport robotrain`);
await selectKernel(pyodide, choice);
try {
  await pyodide.runPythonAsync(readFileSync(resolve(scriptArg), 'utf8'), { filename: scriptArg });
} catch (error) {
  console.error(String(error?.message ?? error));
  process.exit(1);
}
