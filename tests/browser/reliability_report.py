"""Reliability report: the fault scenario, each bad input, and a long no-fault run, in headless Chromium;
writes the figures to docs/reliability.json and the table in docs/reliability.md.

    .venv/bin/python tests/browser/reliability_report.py                      # everything (long)
    .venv/bin/python tests/browser/reliability_report.py --only fault --episodes 2000 --workers 8
    .venv/bin/python tests/browser/reliability_report.py --only inputs
    .venv/bin/python tests/browser/reliability_report.py --only long --minutes 30 --long-workers 12

Each part replaces its own section of docs/reliability.json and the page is regenerated from all sections,
so parts can be run on different days. Not collected by pytest (the file name does not start with test_).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.engines import launch_args  # noqa: E402
from tests.browser.helpers import chromium_processes, pss_bytes  # noqa: E402

JSON_OUT = ROOT / "docs" / "reliability.json"
MD_OUT = ROOT / "docs" / "reliability.md"
ACCEPTANCE_FAULTS = {"fault_crash": 0.05, "fault_hang": 0.01, "fault_slow": 0.05}


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def wait_for(page, expression: str, timeout_s: float) -> bool:
    """Poll the JS expression from here (the page's CSP forbids the eval wait_for_function needs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(f"window.robotrain !== undefined && Boolean({expression})"):
            return True
        page.wait_for_timeout(500)
    return False


def stats(page) -> dict:
    return page.evaluate("robotrain.stats()")


def browser_pss_bytes() -> int:
    """Proportional set size of every Chromium process this script started (the whole browser), bytes."""
    return pss_bytes(chromium_processes())


class Session:
    """A built site, its server and one Chromium."""

    def __init__(self, isolated: bool = False):
        self.tmp = tempfile.mkdtemp(prefix="robotrain-reliability-")
        site = Path(self.tmp) / "dist"
        build.build(site)
        self.server = build.serve(site, "127.0.0.1", 0, isolated=isolated)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(**launch_args("chromium"))

    def page(self, query: str):
        context = self.browser.new_context(viewport={"width": 1280, "height": 720})
        record = {"requests": [], "problems": []}
        context.on("request", lambda r: record["requests"].append(r.url))
        page = context.new_page()
        page.on("console", lambda m: m.type in ("error", "warning") and record["problems"].append(m.text))
        page.on("pageerror", lambda e: record["problems"].append(str(e)))
        page.goto(f"{self.url}?{query}")
        return page, record

    def foreign(self, record) -> list[str]:
        origin = self.url.rstrip("/")
        return [u for u in record["requests"] if urlsplit(u).scheme not in ("data", "blob") and not u.startswith(origin)]

    def close(self):
        self.browser.close()
        self.pw.stop()
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- the fault scenario --------------------------------------------------------------------------------

def fault_run(session: Session, episodes: int, workers: int, seed: int, fault_seed: int, budget: int, batch: int) -> dict:
    faults = "&".join(f"{k}={v}" for k, v in ACCEPTANCE_FAULTS.items())
    # Default cartpole config except the step budget (the default 50,000 steps ends a run long before 2,000
    # episodes once it is solved) and the exploration fraction, which keeps epsilon's decay at its default
    # length of 10,000 steps. `batch` episodes per sync batch, two per task: batch 16 keeps 8 workers busy.
    fraction = round(10_000 / budget, 6)
    query = (f"env=cartpole&workers={workers}&mode=sync&batch={batch}&seed={seed}&{faults}&fault_seed={fault_seed}"
             f"&total_timesteps={budget}&exploration_fraction={fraction}&autostart=1")
    log(f"fault run: {query}")
    page, record = session.page(query)
    wait_for(page, "true", 120)
    started = time.monotonic()
    failures: dict[tuple, dict] = {}
    degraded = []  # times of samples, once the pool was first complete, that found it below full size
    first_full = None
    samples = 0
    while True:
        s = stats(page)
        samples += 1
        r = s.get("reliability") or {}
        for f in r.get("recent_failures", []):
            failures[(f["worker"], f["detected_at_ms"])] = f
        full = bool(s["workers"]) and s["workers_ready"] == len(s["workers"])
        if full and first_full is None:
            first_full = time.monotonic()
        if first_full is not None and not full:
            degraded.append(round(time.monotonic() - started, 1))
        if samples % 30 == 0:
            log(f"  {s['episodes']} episodes, {s['env_steps']} steps, failures {r.get('failures')}, "
                f"recovered {r.get('recovered')}, best eval {s.get('best_eval_return')}, state {s['state']}")
        if s["episodes"] >= episodes or s["state"] in ("finished", "error") or s.get("finished"):
            break
        page.wait_for_timeout(1000)
    page.evaluate("robotrain.pause()")
    # Drained: the pool at rest. A sync batch already played may wait in memory for Start (in flight).
    drained = wait_for(page, "robotrain.stats().reliability.held.queued_tasks === 0 && robotrain.stats().reliability.held.pending_requests === 0 "
                             "&& robotrain.stats().workers.every(w => w.state === 'idle')", 300)
    wall = time.monotonic() - started
    s = stats(page)
    r = s["reliability"]
    for f in r["recent_failures"]:
        failures[(f["worker"], f["detected_at_ms"])] = f
    ids = [e[0] for e in page.evaluate("robotrain.history()")["episodes"]]
    greedy = page.evaluate("robotrain.evaluate()")
    records = sorted(failures.values(), key=lambda f: f["detected_at_ms"])
    recovered = [f["recovered_ms"] for f in records if f["recovered_ms"] is not None]
    total = [f["recovered_ms"] + (f["detection_ms"] or 0) for f in records if f["recovered_ms"] is not None]
    by_replacement: dict[str, list[int]] = {}
    for f in records:
        if f["recovered_ms"] is not None:
            by_replacement.setdefault(f["replacement"], []).append(f["recovered_ms"])
    out = {
        "query": query,
        "workers": workers,
        "wall_s": round(wall, 1),
        "drained": drained,
        "episodes": s["episodes"],
        "env_steps": s["env_steps"],
        "episodes_issued": s["episodes_issued"],
        "episodes_lost": s["episodes_lost"],
        "episodes_duplicated": s["episodes_duplicated"],
        "episodes_in_flight": s["episodes_in_flight"],
        "ids_exactly_once": ids == list(range(s["episodes"])) and s["episodes"] + s["episodes_in_flight"] == s["episodes_issued"],
        "faults_injected": r["faults_injected_by_kind"],
        "failures": r["failures"],
        "recovered": r["recovered"],
        "requeued": r["requeued"],
        "tasks_failed": r["tasks_failed"],
        "late_results_dropped": r["late_results_dropped"],
        "bad_results": r["bad_results"],
        "detected_by": {k: sum(1 for f in records if f["kind"] == k) for k in sorted({f["kind"] for f in records})},
        "detection_ms": summary([f["detection_ms"] for f in records if f["detection_ms"] is not None]),
        "recovery_ms": summary(recovered),
        "fault_to_ready_ms": summary(total),
        "recovery_ms_by_replacement": {k: summary(v) for k, v in sorted(by_replacement.items())},
        "recoveries_within_3s": sum(1 for v in recovered if v <= 3000),
        "degraded_samples_s": len(degraded),
        "best_eval_return": s["best_eval_return"],
        "last_eval_return": s["last_eval_return"],
        "solved_at_env_step": s["solved_at_env_step"],
        "greedy_eval_at_end": greedy.get("mean_return"),
        "errors": s["errors"],
        "deadline_ms": r["deadline_ms"],
        "held_at_end": r["held"],
        "foreign_requests": session.foreign(record),
        "console_problems": sorted({p for p in record["problems"] if "injected crash" not in p})[:10],
        "failure_records": records,
    }
    page.context.close()
    return out


def summary(values: list) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"n": len(values), "min": ordered[0], "median": round(statistics.median(ordered)),
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], "max": ordered[-1]}


# ---- bad inputs ---------------------------------------------------------------------------------------

def _model_variant(text: str, change) -> bytes:
    doc = json.loads(text)
    change(doc)
    return json.dumps(doc).encode()


def _set_params(doc, values):
    raw = struct.pack(f"<{len(values)}f", *values)
    doc["params_f32_b64"] = base64.b64encode(raw).decode()
    doc["params_sha256"] = hashlib.sha256(raw).hexdigest()


def bad_inputs(session: Session) -> list[dict]:
    rows = []
    # Malformed URL parameters: the page names the parameter and starts nothing.
    for query in ["workers=0", "workers=abc", "seed=-1", "mode=turbo", "lanes=0", "batch=x", "autostart=maybe",
                  "fault_crash=2", "fault_hang=-0.1", "fault_slow=abc", "fault_seed=x", "sizing=turbo", "learning_rate=abc",
                  "gamma=2", "hidden_sizes=0,5", "total_timesteps=1e99", "nonsense=1"]:
        page, record = session.page(f"{query}&autostart=1")
        wait_for(page, "robotrain.stats().state === 'invalid' || robotrain.stats().state === 'ready' || robotrain.stats().state === 'running'", 90)
        s = stats(page)
        text = page.locator("#message").inner_text() if page.locator("#message").is_visible() else ""
        untouched = "nothing started" if s["state"] == "invalid" and s["episodes"] == 0 else f"started ({s['state']})"
        rows.append({"input": f"URL ?{query}", "seen": text.replace("\n", " ")[:220], "state": s["state"],
                     "training_untouched": untouched,
                     "lost": None, "duplicated": None})
        page.context.close()
        log(f"  URL {query}: {s['state']}")

    # Files and fields while a run trains: the run must go on untouched.
    page, record = session.page("workers=2&mode=sync&seed=7&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 16", 180)
    good = page.evaluate("robotrain.modelText()")
    card = json.dumps(page.evaluate("robotrain.runCard()"))

    def notice() -> str:
        return page.locator("#notice-text").inner_text()

    def check(label: str, act) -> None:
        before = stats(page)
        act()
        page.wait_for_timeout(300)
        seen = notice()
        ok = wait_for(page, f"robotrain.stats().episodes > {before['episodes'] + 4}", 120)
        after = stats(page)
        untouched = ok and after["state"] == "running" and after["config"] == before["config"] and after["errors"] == []
        rows.append({"input": label, "seen": seen[:220], "state": after["state"], "training_untouched": untouched,
                     "lost": after["episodes_lost"], "duplicated": after["episodes_duplicated"]})
        log(f"  {label}: untouched={untouched}")

    def load(name: str, data: bytes):
        return lambda: page.set_input_files("#load-file", files=[{"name": name, "mimeType": "application/json", "buffer": data}])

    n_params = len(base64.b64decode(json.loads(good)["params_f32_b64"])) // 4
    files = [
        ("model: empty file", "empty.json", b""),
        ("model: truncated", "truncated.json", good[: len(good) // 2].encode()),
        ("model: binary", "binary.json", bytes(range(256)) * 4),
        ("model: wrong env", "acrobot.json", _model_variant(good, lambda d: (d.__setitem__("env_id", "acrobot"), d["config"].__setitem__("env_id", "acrobot")))),
        ("model: wrong shape", "shape.json", _model_variant(good, lambda d: _set_params(d, [0.0] * (n_params - 3)))),
        ("model: NaN-laden", "nan.json", _model_variant(good, lambda d: _set_params(d, [float("nan")] * n_params))),
        ("run card: truncated", "card.json", card[: len(card) // 3].encode()),
        ("run card: model removed", "card2.json", json.dumps({**json.loads(card), "model": None}).encode()),
        ("run card: NaN weights", "card3.json", json.dumps({**json.loads(card), "model": _model_variant(good, lambda d: _set_params(d, [float("inf")] * n_params)).decode()}).encode()),
    ]
    for label, name, data in files:
        check(label, load(name, data))
    check("model: 51 MB file", lambda: page.evaluate("""() => {
        const file = new File([new Uint8Array(51 * 1024 * 1024)], 'huge.json');
        const dt = new DataTransfer(); dt.items.add(file);
        const input = document.getElementById('load-file'); input.files = dt.files;
        input.dispatchEvent(new Event('change'));
    }"""))

    def quota():
        page.evaluate("""() => {
            window.__put = IDBObjectStore.prototype.put;
            IDBObjectStore.prototype.put = function () { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
        }""")
        page.evaluate("robotrain.autosave()")
        page.evaluate("() => { IDBObjectStore.prototype.put = window.__put; }")
    check("IndexedDB quota error on autosave", quota)

    # UI fields at and beyond their limits: typing a bad value blocks Start and names the limit; the running
    # run is paused (a changed setting would start a fresh run), and a good value again trains.
    for field, value in [("seed", "-1"), ("seed", "99999999999"), ("lanes", "0"), ("lanes", "99999"), ("batch", "abc"), ("batch", "0")]:
        before = stats(page)
        page.fill(f"#{field}", value)
        page.dispatch_event(f"#{field}", "change")
        page.wait_for_timeout(300)
        s = stats(page)
        kept = s["episodes"] >= before["episodes"] and s["config"] == before["config"]
        rows.append({"input": f"field {field} = {value!r}", "seen": page.locator("#message").inner_text().replace("\n", " ")[:220],
                     "state": s["state"], "training_untouched": f"paused, run kept: {kept}",
                     "lost": s["episodes_lost"], "duplicated": s["episodes_duplicated"]})
        log(f"  field {field}={value}: {s['state']}")
        page.fill(f"#{field}", {"seed": "7", "lanes": "", "batch": ""}[field])
        page.dispatch_event(f"#{field}", "change")
        page.wait_for_timeout(300)
        page.evaluate("robotrain.start()")
    page.context.close()
    return rows


# ---- a long run without faults ------------------------------------------------------------------------

def long_run(session: Session, minutes: float, workers: int) -> dict:
    query = f"env=cartpole&workers={workers}&mode=async&seed=11&total_timesteps=100000000&autostart=1"
    log(f"long run: {query} for {minutes} min")
    page, record = session.page(query)
    wait_for(page, f"robotrain.stats().workers_ready === {workers} && robotrain.stats().episodes > 0", 600)
    started = time.monotonic()
    samples = []
    fps = []  # one frame-rate sample per second (the page's rate over its last second)
    while time.monotonic() - started < minutes * 60:
        for _ in range(15):
            page.wait_for_timeout(1000)
            fps.append(page.evaluate("robotrain.stats().fps"))
        s = stats(page)
        r = s["reliability"]
        samples.append({"t_s": round(time.monotonic() - started), "pss_mb": round(browser_pss_bytes() / 2**20),
                        "fps": s["fps"], "episodes": s["episodes"], "env_steps": s["env_steps"],
                        "failures": r["failures"], "held": r["held"], "page_heap_mb": round((s["memory"].get("page_heap") or 0) / 2**20),
                        "workers_heap_mb": round((s["memory"].get("workers_heap") or 0) / 2**20),
                        "curve_rows": s.get("curve_rows")})
        log(f"  {samples[-1]}")
    page.evaluate("robotrain.pause()")
    s = stats(page)
    after5 = [x for x in samples if x["t_s"] >= 300]
    growth = None
    if len(after5) >= 2:
        growth = round(100 * (after5[-1]["pss_mb"] - after5[0]["pss_mb"]) / after5[0]["pss_mb"], 1)
    out = {"query": query, "minutes": minutes, "workers": workers, "episodes": s["episodes"], "env_steps": s["env_steps"],
           "failures": s["reliability"]["failures"], "episodes_lost": s["episodes_lost"], "episodes_duplicated": s["episodes_duplicated"],
           "pss_growth_after_5_min_pct": growth, "fps_min": min(fps) if fps else None, "fps_median": statistics.median(fps) if fps else None,
           "fps_at_least_55_pct": round(100 * sum(1 for f in fps if f >= 55) / len(fps), 1) if fps else None,
           "held_first": samples[0]["held"] if samples else None, "held_last": samples[-1]["held"] if samples else None,
           "samples": samples, "errors": s["errors"], "foreign_requests": session.foreign(record),
           "failure_records": s["reliability"]["recent_failures"], "last_eval_return": s["last_eval_return"],
           "best_eval_return": s["best_eval_return"]}
    page.context.close()
    return out


# ---- the page ------------------------------------------------------------------------------------------

def ms(v) -> str:
    return "–" if v is None else f"{v / 1000:.2f} s"


def render(data: dict) -> str:
    lines = ["# Reliability", "",
             "Generated by `tests/browser/reliability_report.py` (figures in `docs/reliability.json`) on a 2-core",
             "machine shared with other work, headless Debian Chromium. What the pool does is described in",
             "`web/js/pool.js`; the CI checks are `tests/browser/test_reliability.py` and `tests/test_divergence.py`.", "",
             "## How failures are handled", "",
             "- **Fault injection** (tests and demos): `?fault_crash=p&fault_hang=p&fault_slow=p&fault_seed=n`. Whether a task",
             "  attempt faults is a hash of (fault_seed, stream, first episode id, attempt), so a run meets the same faults",
             "  whichever worker runs which task. A crash throws an uncaught error or calls `self.close()`; a hang runs",
             "  `while True: pass` in the worker's Python; a slow task holds its result 9x its run time longer while beating.",
             "- **Detection**: the worker's `error` and `messageerror` events; a heartbeat (a busy worker sends a live frame",
             "  or heartbeat at least every 250 ms; silence while it owes a reply longer than 2 s, or 2x the longest gap",
             "  healthy busy workers left among their last 256 (at most 10 s), means hung, judged only after the",
             "  page itself has run checks without a gap, so a stalled or sleeping page does not kill healthy workers); a task",
             "  deadline of 40x the p95 of recent task times per episode (per stream; 120 s until 8 tasks are measured, never",
             "  under 10 s); a result that is not exactly the task's episodes (header, sizes, ids) counts as a failure too.",
             "- **Recovery**: the worker is terminated, its requests are rejected, its task goes back to the front of the",
             "  queue with the same episode ids (up to 8 attempts), and its slot takes a booted spare worker (a new actor,",
             "  ~0.1 s) or, without one, the spare furthest into its boot. After the first failure the pool keeps one spare",
             "  booted; with faults injected two plus one per 4 workers, and no task is handed out until they have",
             "  booted; each failure that finds no booted spare keeps one more, up to 4.",
             "- **Exactly once**: the pool hands on a result once per task (later ones are counted in",
             "  `late_results_dropped`), `Run.ingest` takes a batch whole or not at all and each id at most once.",
             "  `robotrain.stats()` reports `episodes_issued`, `episodes_in_flight`, `episodes_lost` (issued, not ingested,",
             "  not in flight) and `episodes_duplicated` (ingests beyond one per id), and `reliability` (counters, recent",
             "  failure records with detection and recovery times, and what the pool holds: workers, spares, pending",
             "  requests, queued tasks, timers).",
             "- **Divergence**: `Run.learn` keeps the learner's last finite state every 100 updates; NaN or Inf in the loss",
             "  or the weights (also when found at a publication: actors never get them) restores it, and the page pauses",
             "  with a message; Start goes on from the good weights.",
             "- **Content-Security-Policy** (meta tag in `index.html`; `build.py serve` also sends it as a header):",
             "  `script-src 'self' 'wasm-unsafe-eval'`, `worker-src 'self' blob:`, `connect-src 'self'`, no inline script,",
             "  no eval. Workers start from a one-line `blob:` module that imports `worker.js`, so they inherit the page's",
             "  policy even from a host that sends no header (tested against Python's plain file server).",
             "- **Long runs**: the run keeps the newest 16,384 per-episode rows in Python and the return curve thins",
             "  itself past 20,000 rows, so memory stays flat over hours; exactly-once bookkeeping keeps one byte per id.",
             "- **Frozen page, sleep**: a stopped renderer (what Chromium does to a frozen background tab) or a stopped",
             "  browser (a laptop's sleep) leaves a gap the watchdog sees as a stall: no worker is judged until checks",
             "  run without a gap again, and task deadlines move by the gap (CI test: 8 s stops, 0 failures, nothing",
             "  piled up).",
             "- **Limits**: a page hidden for more than 5 minutes gets its timers throttled to once a minute by Chromium;",
             "  the watchdog then treats each tick as a stall and does not judge silence, so a worker that hangs in a",
             "  long-hidden tab is found when the tab is shown again (crashes still are found at once).", ""]
    f = data.get("fault")
    if f:
        inj = f["faults_injected"]
        lines += ["## Injected faults", "",
                  f"`?{f['query']}` — {f['workers']} workers, run until {f['episodes']} episodes ({f['env_steps']:,} env steps), "
                  f"{f['wall_s'] / 60:.1f} min wall." + (f" {f['note']}" if f.get("note") else ""), "",
                  "| fault / event | count | what the user saw | lost | duplicated |", "|---|---|---|---|---|",
                  f"| crash (uncaught throw or `self.close()`) | {inj.get('crash', 0)} injected | worker tile shows the failure count, "
                  "a notice names the worker and the reason, then that it is back | 0 | 0 |",
                  f"| hang (endless Python loop) | {inj.get('hang', 0)} injected | same; found by the missing heartbeat | 0 | 0 |",
                  f"| slow task (10x) | {inj.get('slow', 0)} injected | nothing: it beats and finishes | 0 | 0 |",
                  f"| whole run | {f['failures']} failures, {f['recovered']} recovered, {f['requeued']} tasks re-queued, "
                  f"{f['tasks_failed']} given up | training never stopped | **{f['episodes_lost']}** | **{f['episodes_duplicated']}** |", "",
                  f"- Every issued episode id ingested exactly once: {f['ids_exactly_once']} ({f['episodes_issued']} ids);"
                  f" late results dropped: {f['late_results_dropped']}; incomplete results: {f['bad_results']}.",
                  f"- Detected by: {f['detected_by']} (`crash` = error event, `hang` = no heartbeat for 2 s; a closed worker"
                  " sends no event, so it is found as a hang).",
                  f"- Detection time (fault to detection): {fmt_summary(f['detection_ms'])}.",
                  f"- Recovery time (detection to the slot's worker ready again): {fmt_summary(f['recovery_ms'])};"
                  f" within 3 s: {f['recoveries_within_3s']} of {f['recovered']}.",
                  f"- Fault to ready: {fmt_summary(f['fault_to_ready_ms'])}.",
                  "- Recovery by replacement: " + "; ".join(f"{k}: {fmt_summary(v)}" for k, v in f["recovery_ms_by_replacement"].items()) + ".",
                  f"- One-second samples that found the pool below full size (after it was first complete): {f['degraded_samples_s']} of ~{f['wall_s']:.0f}.",
                  f"- Learning: best greedy eval {f['best_eval_return']}, last {f['last_eval_return']}, greedy eval of the final"
                  f" weights {f['greedy_eval_at_end']}, solved at env step {f['solved_at_env_step']}.",
                  f"- Errors shown: {f['errors'] or 'none'}; requests to other origins: {len(f['foreign_requests'])}.", ""]
    rows = data.get("inputs")
    if rows:
        lines += ["## Bad input", "",
                  "URL rows open a fresh page with the parameter and `autostart=1`; file, storage and field rows act on a page",
                  "that is training (2 workers, sync) and check that it goes on (files, storage) or pauses and keeps the run",
                  "(an invalid field blocks Start until fixed).", "",
                  "| input tried | what the user saw | state after | training | lost | duplicated |",
                  "|---|---|---|---|---|---|"]
        for r in rows:
            seen = r["seen"].replace("|", "\\|") or "–"
            lines.append(f"| {r['input']} | {seen} | {r['state']} | {r['training_untouched']} | {dash(r['lost'])} | {dash(r['duplicated'])} |")
        lines.append("")
    for key in sorted(k for k in data if k.startswith("long")):
        lg = data[key]
        lines += [f"## Long run without faults ({key})", "",
                  f"`?{lg['query']}`: {lg['minutes']} min with {lg['workers']} workers, {lg['episodes']:,} episodes.", "",
                  f"- Worker failures: {lg['failures']}; lost {lg['episodes_lost']}, duplicated {lg['episodes_duplicated']}.",
                  f"- Whole-browser PSS growth from minute 5 to the end: {lg['pss_growth_after_5_min_pct']} %.",
                  f"- Frame rate (one sample a second): median {lg['fps_median']}, lowest {lg['fps_min']},"
                  f" {lg['fps_at_least_55_pct']} % of samples at 55 FPS or more.",
                  f"- Held by the pool at the first and last sample: {lg['held_first']} / {lg['held_last']}.",
                  f"- Errors shown: {lg['errors'] or 'none'}; failure records: {lg.get('failure_records', 'not recorded')}.",
                  f"- Best greedy eval: {lg.get('best_eval_return', 'not recorded')}." + (f" {lg['note']}" if lg.get("note") else ""), ""]
    lines += ["## Not covered here", "",
              "- The 2,000-episode fault run in Firefox and WebKit: this script drives Chromium only; a shorter fault run",
              "  (2 workers, 80 episodes, higher fault rates) runs in both in CI (`tests/browser/test_engines.py`).",
              "- A real laptop suspend (the CI test stops the browser's processes instead; the machine's clock runs on,",
              "  the harder case for the watchdog) and a tab hidden by the browser itself (headless Chromium here keeps",
              "  every page visible; the page's own hidden-tab behaviour is tested by faking the visibility state).", ""]
    missing = [name for name in ("fault", "inputs", "long") if name not in data]
    if missing:
        lines += ["## Not measured yet", "", f"Parts not run: {', '.join(missing)}.", ""]
    return "\n".join(lines)


def dash(v) -> str:
    return "–" if v is None else str(v)


def fmt_summary(s: dict | None) -> str:
    if not s:
        return "–"
    return f"median {ms(s['median'])}, p95 {ms(s['p95'])}, max {ms(s['max'])} (n = {s['n']})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["fault", "inputs", "long"], action="append")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16, help="episodes per sync batch of the fault run")
    parser.add_argument("--budget", type=int, default=1_000_000, help="total_timesteps of the fault run")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--long-workers", type=int, default=12)
    parser.add_argument("--long-key", default="long", help="section name of the long run's figures")
    parser.add_argument("--render-only", action="store_true", help="only regenerate the page from the JSON")
    args = parser.parse_args()
    parts = [] if args.render_only else args.only or ["fault", "inputs", "long"]
    for part in parts:
        session = Session(isolated=(part == "long"))
        try:
            if part == "fault":
                result = fault_run(session, args.episodes, args.workers, args.seed, args.fault_seed, args.budget, args.batch)
            elif part == "inputs":
                result = bad_inputs(session)
            else:
                result = long_run(session, args.minutes, args.long_workers)
                part = args.long_key
        finally:
            session.close()
        data = json.loads(JSON_OUT.read_text()) if JSON_OUT.exists() else {}  # read late: parts may run at once
        data[part] = result
        JSON_OUT.write_text(json.dumps(data, indent=1) + "\n")
        MD_OUT.write_text(render(data))
        log(f"wrote {JSON_OUT.relative_to(ROOT)} and {MD_OUT.relative_to(ROOT)} ({part})")
    if args.render_only:
        MD_OUT.write_text(render(json.loads(JSON_OUT.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
