"""robotrain's Python timed on its own, in one browser worker (web/js/bench-worker.js, loaded as the page's
workers load it) and under this CPython: actor env-steps/s and learner ms per update (numpy, the SIMD kernel)."""

from __future__ import annotations

import json

from robotrain.bench import actor_steps_per_s, learner_ms_per_update

from tests.bench.plan import Plan
from tests.bench.session import Session

# Learner benchmark grid: the cartpole (64x64) and balancebot (128x128) networks at these batch sizes.
LEARNER_ENVS = ("cartpole", "balancebot")
LEARNER_BATCHES = (32, 128, 512)

# One module worker (web/js/bench-worker.js) that loads robotrain exactly as the page's workers do, then calls the
# Python functions listed in CALLS ([{module, name, kwargs}], JSON) one after the other.
WORKER_CALLS_JS = """
const worker = new Worker(new URL('js/bench-worker.js', location.href), { type: 'module' });
const next = () => new Promise((resolve, reject) => {
  worker.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data));
  worker.onerror = (e) => reject(new Error(e.message || 'worker error'));
});
await next();
const results = [];
let version = null;
for (const call of CALLS) {
  worker.postMessage(call);
  const reply = await next();
  results.push(reply.ok);
  version = reply.pyodide;
}
worker.terminate();
return { pyodide: version, results };
"""


def native_actor(plan: Plan) -> dict:
    """robotrain.bench under this CPython (the same actor code the workers run)."""
    return {
        str(k): round(actor_steps_per_s("cartpole", k, plan.native_min_steps, plan.native_repeats)["env_steps_per_s"], 1)
        for k in (1, 64)
    }


def worker_calls(session: Session, calls: list[dict]) -> dict:
    """Run robotrain functions in one bench worker: {pyodide, results} (one result per call)."""
    tab = session.new_tab()
    tab.goto(session.base + "bench-blank")  # any same-origin document can start the worker
    out = tab.run(WORKER_CALLS_JS.replace("CALLS", json.dumps(calls)))
    session.close(tab)
    return out


def actor(session: Session) -> dict:
    """The same actor code as native_actor in one browser worker: {pyodide, actor: {K: robotrain.bench's result}}."""
    session.progress.step("actor code in one browser worker (K=1, K=64)")
    lanes = (1, 64)
    out = worker_calls(session, [{"module": "robotrain.bench", "name": "actor_steps_per_s",
                                  "kwargs": {"env_id": "cartpole", "lanes": k, "min_steps": session.plan.native_min_steps,
                                             "repeats": session.plan.native_repeats}} for k in lanes])
    return {"pyodide": out["pyodide"], "actor": {str(k): r for k, r in zip(lanes, out["results"])}}


def learner(session: Session) -> dict:
    """ms per learner update in one browser worker (numpy and the SIMD kernel), and natively (CPython)."""
    session.progress.step("learner updates in one browser worker (numpy, wasm-simd) and in CPython")
    grid = [(env, batch) for env in LEARNER_ENVS for batch in LEARNER_BATCHES]
    kwargs = {"updates": session.plan.learner_updates, "repeats": session.plan.learner_repeats}
    calls = [{"module": "robotrain.bench", "name": "learner_ms_per_update",
              "kwargs": {"env_id": env, "batch_size": batch, "kernel": kernel, **kwargs}}
             for kernel in ("numpy", "wasm-simd") for env, batch in grid]
    results = iter(worker_calls(session, calls)["results"])
    table: dict = {}
    for kernel in ("numpy", "wasm-simd"):
        for env, batch in grid:
            table.setdefault(env, {}).setdefault(str(batch), {})[kernel] = round(next(results)["ms"], 3)
    for env, batch in grid:
        table[env][str(batch)]["cpython"] = round(learner_ms_per_update(env, batch, **kwargs)["ms"], 3)
    for env, row in table.items():
        session.progress.done(f"{env} ms/update " + ", ".join(
            f"batch {b}: numpy {v['numpy']}, kernel {v['wasm-simd']}, CPython {v['cpython']}" for b, v in row.items()))
    return table
