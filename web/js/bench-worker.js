// A bare worker for the benchmark (tests/bench/page_bench.py): loads robotrain exactly as the actor workers do
// (the SIMD kernel included), then calls the Python function each message names, {module, name, kwargs}, and
// posts back its JSON-safe result. Not used by the page.
import { loadRobotrain } from './pyhost.js';

const started = performance.now();
const pyodide = await loadRobotrain(new URL('../', import.meta.url));
const json = pyodide.pyimport('json');
self.onmessage = ({ data: { module, name, kwargs = {} } }) => {
  const proxies = [];
  try {
    const fn = pyodide.pyimport(module)[name];
    proxies.push(fn);
    const result = fn.callKwargs(kwargs);
    proxies.push(result);
    self.postMessage({ ok: JSON.parse(json.dumps(result)), pyodide: pyodide.version });
  } catch (error) {
    self.postMessage({ error: String(error) });
  } finally {
    for (const proxy of proxies) proxy?.destroy?.();
  }
};
self.postMessage({ ready: true, ms: performance.now() - started });
