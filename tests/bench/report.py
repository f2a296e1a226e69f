"""The page benchmark's output (tests/bench/page_bench.py measures): the targets and their ratios, the terminal
table, the Markdown sections of docs/benchmarks.md and docs/benchmarks-solve.md, and the charts beside them."""

from __future__ import annotations

import statistics
from pathlib import Path

from tests.bench import chart

# Time-to-solve targets from navigation, s (the learner-kernel issue), per env, for the page defaults.
SOLVE_TARGETS_S = {"cartpole": 15, "acrobot": 20, "balancebot": 360}


def ratios(out: dict) -> dict:
    """The targets' ratios, all from this run's own figures."""
    r: dict = {}
    rows = {(s["mode"], s["workers"], s["learning"]): s["env_steps_per_s"] for s in out["scaling"]}
    for mode in ("sync", "async"):
        one = rows.get((mode, 1, False))
        if one:
            by_n = {n: v for (m, n, learning), v in rows.items() if m == mode and not learning}
            best = max(by_n.values())
            r[f"{mode}_vs_1_worker"] = {str(n): round(v / one, 2) for n, v in sorted(by_n.items())}
            r[f"{mode}_vs_best"] = {str(n): round(v / best, 2) for n, v in sorted(by_n.items())}
    a, nat = out["actor"]["env_steps_per_s"], out["native"]["env_steps_per_s"]
    r["lanes_64_vs_1_browser"] = round(a["64"] / a["1"], 1)
    r["lanes_64_vs_1_native"] = round(nat["64"] / nat["1"], 1)
    r["browser_vs_native_64"] = round(a["64"] / nat["64"], 2)
    r["browser_vs_native_1"] = round(a["1"] / nat["1"], 2)
    fixed = [s["env_steps_per_s"] for s in out.get("sizing", []) if s["sizing"] == "fixed"]
    auto = [s["env_steps_per_s"] for s in out.get("sizing", []) if s["sizing"] == "auto"]
    if fixed and auto:
        r["auto_sizing_vs_best_fixed"] = round(auto[0] / max(fixed), 2)
    learning = {s["mode"]: s["env_steps_per_s"] for s in out["scaling"] if s["learning"]}
    if learning.get("main"):
        r["defaults_vs_main"] = round(learning.get("sync", 0) / learning["main"], 2)
    return r


def targets(out: dict) -> list[tuple[str, str, str, bool | None]]:
    """(figure, target, measured, met) for every target of issue 5."""
    r = out["ratios"]
    rows = []
    sync2 = r.get("sync_vs_1_worker", {}).get("2")
    async2 = r.get("async_vs_1_worker", {}).get("2")
    best2 = max(x for x in (sync2, async2) if x is not None)
    rows.append(("rollout scaling, learning off: 2 workers vs 1", ">= 1.8x", f"sync {sync2}x, async {async2}x", best2 >= 1.8))
    many = [v for mode in ("sync", "async") for n, v in r.get(f"{mode}_vs_best", {}).items() if int(n) >= 4]
    if many:
        rows.append(("rollout, 4-12 workers vs the best", ">= 0.9x", f"lowest {min(many)}x", min(many) >= 0.9))
    rows.append(("vector lanes in one worker: K=64 vs K=1", ">= 15x", f"{r['lanes_64_vs_1_browser']}x (native {r['lanes_64_vs_1_native']}x)", r["lanes_64_vs_1_browser"] >= 15))
    rows.append(("browser vs native CPython, K=64", ">= 0.5", f"{r['browser_vs_native_64']}", r["browser_vs_native_64"] >= 0.5))
    if "defaults_vs_main" in r:
        rows.append(("training env-steps/s, defaults vs main", ">= 10x", f"{r['defaults_vs_main']}x", r["defaults_vs_main"] >= 10))
    if "auto_sizing_vs_best_fixed" in r:
        # "Ties": within the spread of repeated windows (a few percent on a quiet machine).
        rows.append(("adaptive task sizing vs the best fixed size", ">= 0.95x (beats or ties)", f"{r['auto_sizing_vs_best_fixed']}x",
                     r["auto_sizing_vs_best_fixed"] >= 0.95))
    fps = out.get("fps") or {}
    if fps:
        rows.append(("frame rate while training", "mean >= 58, p95 <= 20 ms", f"{fps['mean']} FPS, p95 {fps['p95_frame_ms']} ms",
                     fps["mean"] >= 58 and (fps["p95_frame_ms"] or 99) <= 20))
    mem = out["memory_mb"]["workers"].get("12")
    if mem is not None:
        rows.append(("memory, 12 workers above a blank page", "<= 500 MB", f"{mem:,.0f} MB", mem <= 500))
    rows.append(("first worker ready after navigation", "<= 1.5 s", f"{out['startup_s']['first_worker']} s", out["startup_s"]["first_worker"] <= 1.5))
    pool = out["startup_s"]["pool"].get("12")
    if pool is not None:
        rows.append(("12-worker pool ready", "<= 8 s", f"{pool} s", pool <= 8))
    learner = out.get("learner_ms", {})
    for env, limit in (("cartpole", 0.6), ("balancebot", 1.5)):
        ms = learner.get(env, {}).get("128", {}).get("wasm-simd")
        if ms is not None:
            rows.append((f"{env} learner update, batch 128, in the browser", f"<= {limit} ms", f"{ms} ms", ms <= limit))
    medians = out.get("time_to_solve", {}).get("median_from_navigation_s", {})
    for env, limit in SOLVE_TARGETS_S.items():
        if f"{env}/sync" in medians:
            t = medians[f"{env}/sync"]
            seeds = sorted({r["seed"] for r in out["time_to_solve"]["rows"] if r["env"] == env})
            what = f"median of seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
            rows.append((f"{env} solved with the defaults, from navigation ({what})", f"<= {limit} s",
                         "not solved" if t is None else f"{t} s", t is not None and t <= limit))
    return rows


def table(out: dict) -> str:
    lines = [f"{'figure':<45} {'target':<26} {'measured':<34} met"]
    for figure, target, measured, met in targets(out):
        lines.append(f"{figure:<45} {target:<26} {measured:<34} {'yes' if met else 'NO'}")
    lines.append("")
    lines.append(f"{'mode':<6} {'workers':>7} {'learning':>8} {'env steps/s':>12} {'episodes/min':>13}")
    for s in out["scaling"]:
        lines.append(f"{s['mode']:<6} {s['workers']:>7} {str(s['learning']):>8} {s['env_steps_per_s']:>12,.0f} {s['episodes_per_min']:>13,.0f}")
    return "\n".join(lines)


def markdown(out: dict, svg_name: str) -> str:
    head = (f"## {out['browser']} {out.get('browser_version', '')}, {out['cores']} cores, Pyodide {out['pyodide']}"
            f"{' (--quick)' if out['quick'] else ''}\n\n"
            f"Measured {out['started_utc']} in {out['wall_s']} s; load average {out['loadavg_start']} at the start, "
            f"{out['loadavg_end']} at the end (the machine is shared, so timings are noisy).\n\n")
    rows = ["| figure | target | measured | met |", "|---|---|---|---|"]
    for figure, target, measured, met in targets(out):
        rows.append(f"| {figure} | {target} | {measured} | {'yes' if met else '**no**'} |")
    scaling = ["", "| mode | workers | learning | env steps/s | episodes/min |", "|---|---:|---|---:|---:|"]
    for s in out["scaling"]:
        scaling.append(f"| {s['mode']} | {s['workers']} | {'on' if s['learning'] else 'off'} | {s['env_steps_per_s']:,.0f} | {s['episodes_per_min']:,.0f} |")
    if out.get("sizing"):
        scaling += ["", "Async task sizing, learning off, 1 worker (adaptive is the default; fixed rows set `sizing=fixed`):", "",
                    "| sizing | episodes per task | lanes | env steps/s | episodes/min |", "|---|---:|---:|---:|---:|"]
        for s in out["sizing"]:
            scaling.append(f"| {s['sizing']} | {s['episodes_per_task']} | {s['lanes']} | {s['env_steps_per_s']:,.0f} | {s['episodes_per_min']:,.0f} |")
    mem = out["memory_mb"]
    extra = ["", f"Memory (PSS of the whole browser, MB above a blank page of {mem['blank']:,.0f} MB), idle with the pool ready: "
             + ", ".join(f"{k} workers {v:,.0f}" for k, v in mem["workers"].items())
             + "; after the rollouts: " + ", ".join(f"{k} workers {v:,.0f}" for k, v in mem["workers_after_rollouts"].items()) + ".",
             "", f"Start-up (s after navigation): first worker {out['startup_s']['first_worker']}; pools "
             + ", ".join(f"{k}: {v}" for k, v in out["startup_s"]["pool"].items()) + "."
             + (f" The first worker's boot, ms: {out['startup_breakdown']['worker_stages_ms']} (the page's own Python was"
                f" ready at {out['startup_breakdown']['page_python_ready_s']} s)." if out.get("startup_breakdown") else ""),
             "", f"![scaling and time to solve]({svg_name})", ""]
    return head + "\n".join(rows + scaling + extra + learner_markdown(out, svg_name) + solve_markdown(out))


def learner_markdown(out: dict, svg_name: str) -> list[str]:
    """The learner section: ms per Double DQN update, numpy vs the SIMD kernel in the browser, CPython beside."""
    table = out.get("learner_ms")
    if not table:
        return []
    lines = ["### Learner: ms per update (median)", "",
             "One `Learner.update` (replay sampling with n-step returns, Double DQN target, backward, clipping, Adam,"
             " soft target update) in one browser worker, numpy and the WebAssembly SIMD kernel; CPython (numpy with"
             " OpenBLAS, one thread) on the same machine.", "",
             "| network | batch | numpy (browser) | SIMD kernel (browser) | kernel speed-up | CPython |", "|---|---:|---:|---:|---:|---:|"]
    for env, rows in table.items():
        for batch, v in rows.items():
            lines.append(f"| {env} | {batch} | {v['numpy']} | {v['wasm-simd']} | {v['numpy'] / v['wasm-simd']:.1f}x | {v['cpython']} |")
    return lines + ["", f"![learner ms per update]({svg_name.replace('.svg', '-learner.svg')})", ""]


def solve_markdown(out: dict) -> list[str]:
    """The time-to-solve section: every run, from navigation to the first solved greedy evaluation."""
    solve = out.get("time_to_solve")
    if not solve:
        return []
    settings = solve["rows"][0].get("settings") if solve["rows"] else None
    lines = ["### Time to solve (page defaults, from navigation to the first greedy evaluation at the threshold)", "",
             *([f"Every run with {' '.join(f'{k}={v}' for k, v in settings.items())} in the URL.", ""] if settings else []),
             "| env | algorithm | mode | workers | seed | kernel | from navigation, s | training, s | env steps | updates "
             "| Python ready, s | learning slices, ms per update | of the training: learning, s "
             "| waiting for workers (batch, evaluation), s | workers busy, s |",
             "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in solve["rows"]:
        when = (f"{r['from_navigation_s']}" if r["solved"] else
                "not solved: the step budget ended" if r.get("budget_reached") else f"not within {r['cap_s']}")
        b = r.get("breakdown_s")
        waits = f"{b['wait_batch']}, {b['wait_evaluation']}" if b and r["mode"] != "async" else "–"
        lines.append(f"| {r['env']} | {r.get('algorithm', 'ddqn')} | {r['mode']} | {r['workers']} | {r['seed']} | {r['kernel']} | {when} | "
                     f"{r['training_s'] if r['solved'] else '–'} | {r['env_steps']:,} | {r['updates']:,} | {r['python_ready_s']} | "
                     f"{r.get('learn_ms_per_update', '–')} | {b['learn'] if b else '–'} | {waits} | {b.get('workers_busy', '–') if b else '–'} |")
    return lines + ["", "(The last three columns are measured when the benchmark stops the run, a poll after the solve; "
                    "workers busy: their own time in finished tasks, evaluations included, summed.)", ""] + \
        worker_scaling_markdown(solve["rows"])


def worker_scaling_markdown(rows: list[dict]) -> list[str]:
    """Medians per worker count of each env, algorithm and mode run with several counts, and their ratio to the
    fewest workers (same seeds, same run): what more workers buy (issue 15's target: 2 vs 1 <= 0.7x)."""
    groups: dict[tuple, dict[int, list]] = {}
    for r in rows:
        groups.setdefault((r["env"], r.get("algorithm", "ddqn"), r["mode"]), {}).setdefault(r["workers"], []).append(r)
    lines = []
    for (env, algorithm, mode), by_count in groups.items():
        if len(by_count) < 2 or not all(r["solved"] for runs in by_count.values() for r in runs):
            continue
        if not lines:
            lines = ["### More workers (medians over the seeds; ratio to the fewest workers)", "",
                     "| env | algorithm | mode | workers | seeds | training, s | ratio | from navigation, s | ratio |",
                     "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        base = None
        for count in sorted(by_count):
            runs = by_count[count]
            train = statistics.median(r["training_s"] for r in runs)
            nav = statistics.median(r["from_navigation_s"] for r in runs)
            base = base or (train, nav)
            lines.append(f"| {env} | {algorithm} | {mode} | {count} | {len(runs)} | {train} | {train / base[0]:.2f}x | "
                         f"{nav} | {nav / base[1]:.2f}x |")
    return lines + [""] if lines else []


DOC_HEADER = """# Benchmarks

Figures from `python3 build.py bench` (tests/bench/page_bench.py): the built page driven headlessly on this
machine. Every timing is a median of repeated windows; every ratio is taken within one run. Rows "learning off"
run actor rollouts only (`learning_starts` beyond the run, no evaluation, one batch of 384 episodes whatever the
worker count, the page's adaptive task sizing); rows "learning on" are the page defaults. Memory is the PSS of the browser's
whole process tree (/proc/*/smaps_rollup) minus the same browser showing a blank page. Sections named
`<browser>-<parts>` (the learner's ms per update, time to solve) come from `build.py bench -- --only ...` runs,
each replaced by the next run of its kind; docs/benchmarks-solve.md keeps every such run.

"""


def _sections(doc: Path) -> dict[str, str]:
    """docs/benchmarks.md's sections by the first word of their heading ("chromium", "chromium-solve-balancebot")."""
    sections: dict[str, str] = {}
    if doc.exists():
        for part in doc.read_text(encoding="utf-8").split("\n## ")[1:]:
            sections[part.split(" ", 1)[0].rstrip(":")] = "## " + part.rstrip() + "\n"
    return sections


def _write_sections(doc: Path, sections: dict[str, str]) -> None:
    browsers = ("chromium", "firefox", "webkit")
    order = [b for b in browsers if b in sections] + [name for name in sections if name not in browsers]
    doc.write_text(DOC_HEADER + "\n".join(sections[name] for name in order), encoding="utf-8")


def write_doc(doc: Path, out: dict) -> None:
    """Replace this browser's section of docs/benchmarks.md (other sections stay; browsers first)."""
    svg = doc.parent / f"benchmarks-{out['browser']}.svg"
    svg.write_text(chart.render(out), encoding="utf-8")
    if out.get("learner_ms"):
        (doc.parent / f"benchmarks-{out['browser']}-learner.svg").write_text(chart.render_learner(out), encoding="utf-8")
    sections = _sections(doc)
    sections[out["browser"]] = markdown(out, svg.name)
    _write_sections(doc, sections)


def write_only_section(doc: Path, out: dict) -> None:
    """An --only run's tables and charts as their own section of docs/benchmarks.md, named by the browser, the
    sections and the envs it ran ("chromium-solve-balancebot"): a later run of the same kind replaces it."""
    rows = out.get("time_to_solve", {}).get("rows", [])
    # The envs, and the algorithms when the run named them ("chromium-solve-cartpole-pqn").
    envs = list(dict.fromkeys(r["env"] for r in rows)) + list(dict.fromkeys(
        r["algorithm"] for r in rows if r.get("key", "").count("/") >= 2 and r.get("algorithm")))
    name = "-".join([out["browser"], *out["only"], *envs])
    lines = [f"## {name}: {out['browser']} {out.get('browser_version', '')}, `--only {' '.join(out['only'])}`", "",
             f"Measured {out['started_utc']} in {out['wall_s']} s; load average {out['loadavg_start']} at the start, "
             f"{out['loadavg_end']} at the end.", ""]
    if out.get("learner_ms"):
        svg = doc.parent / f"benchmarks-{out['browser']}-learner.svg"
        svg.write_text(chart.render_learner(out), encoding="utf-8")
        lines += learner_markdown(out, f"benchmarks-{out['browser']}.svg")
    if out.get("time_to_solve"):
        svg = doc.parent / f"benchmarks-{'-'.join([out['browser'], 'solve', *envs])}.svg"
        svg.write_text(chart.render_solve(out), encoding="utf-8")
        lines += solve_markdown(out) + [f"![time to solve]({svg.name})", ""]
    sections = _sections(doc)
    sections[name] = "\n".join(lines)
    _write_sections(doc, sections)


def write_only_doc(doc: Path, out: dict, text: str) -> None:
    """An --only run's tables, appended under their own heading to ``doc`` (docs/benchmarks-solve.md by default):
    the full benchmark's sections in docs/benchmarks.md stay as they are."""
    head = (f"\n## {out['browser']} {out.get('browser_version', '')}, --only {' '.join(out['only'])}, "
            f"{out['started_utc']}\n\nLoad average {out['loadavg_start']} at the start, {out['loadavg_end']} at the end;"
            f" {out['wall_s']} s.\n\n")
    if not doc.exists():
        doc.write_text("# Benchmarks: learner and time to solve (`build.py bench -- --only ...`)\n", encoding="utf-8")
    with doc.open("a", encoding="utf-8") as f:
        f.write(head + text.replace("### ", "#### ") + "\n")
