// A bare worker for the benchmark (tests/bench/page_bench.py): loads robotrain exactly as the actor workers do,
// then runs the Python source it is sent and posts back the value of its last expression. Not used by the page.
import { loadRobotrain } from './pyhost.js';

const started = performance.now();
const pyodide = await loadRobotrain(new URL('../', import.meta.url));
self.onmessage = (event) => {
  try {
    self.postMessage({ ok: pyodide.runPython(event.data), pyodide: pyodide.version });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
self.postMessage({ ready: true, ms: performance.now() - started });
