"""The benchmark charts as standalone SVGs (standard library only): the rollout scaling curve and time to solve,
and the learner's ms per update."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 860, 360
PANEL = {"scaling": (60, 40, 440, 260), "solve": (580, 40, 240, 260)}  # x, y, w, h of each plot area, px
COLORS = {"sync": "#1f77b4", "async": "#d62728", "ideal": "#999999", "bar": "#2ca02c", "target": "#ff7f0e",
          "numpy": "#999999", "wasm-simd": "#2ca02c", "cpython": "#1f77b4"}
SOLVE_TARGETS = {"cartpole": 15, "acrobot": 20, "balancebot": 360}  # s from navigation (the learner-kernel issue's targets)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _text(x, y, s, anchor="middle", size=12, weight="normal"):
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}">{escape(str(s))}</text>'


def _axes(x0, y0, w, h, xticks, yticks, ymax, xlabel, ylabel, xpos):
    parts = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>']
    for value in yticks:
        y = y0 + h - h * value / ymax
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#ddd"/>')
        label = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        parts.append(_text(x0 - 6, y + 4, label, anchor="end", size=11))
    for label, value in xticks:
        parts.append(_text(xpos(value), y0 + h + 16, label, size=11))
    parts.append(_text(x0 + w / 2, y0 + h + 36, xlabel))
    parts.append(f'<text x="{x0 - 48}" y="{y0 + h / 2}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 {x0 - 48} {y0 + h / 2})">{escape(ylabel)}</text>')
    return parts


def render(out: dict) -> str:
    """SVG text for one benchmark result (the JSON of page_bench)."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    rows = [s for s in out["scaling"] if not s["learning"]]
    counts = sorted({s["workers"] for s in rows})
    x0, y0, w, h = PANEL["scaling"]
    top = max([s["env_steps_per_s"] for s in rows] + [1.0])
    one = {s["mode"]: s["env_steps_per_s"] for s in rows if s["workers"] == 1}
    ideal_top = max(one.values(), default=0) * 2  # linear speed-up is capped by the 2 cores of this machine
    ymax = _nice_max(max(top, ideal_top) * 1.05)
    nmax = max(counts, default=1)

    def xpos(n):
        return x0 + w * (n - 1) / max(1, nmax - 1) if nmax > 1 else x0 + w / 2

    def ypos(v):
        return y0 + h - h * v / ymax

    parts.append(_text(x0 + w / 2, y0 - 16, f"Actor rollouts, learning off ({out['browser']}, {out['cores']} cores)", weight="bold"))
    parts += _axes(x0, y0, w, h, [(str(n), n) for n in counts], [ymax * i / 4 for i in range(5)], ymax,
                   "workers", "env steps/s", xpos)
    if one:
        base = max(one.values())
        cores = out.get("cores") or 2
        ideal = [(n, base * min(n, cores)) for n in counts]
        points = " ".join(f"{xpos(n):.1f},{ypos(v):.1f}" for n, v in ideal)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{COLORS["ideal"]}" stroke-dasharray="5,4"/>')
    legend_y = y0 + 14
    for mode in ("sync", "async"):
        series = sorted((s["workers"], s["env_steps_per_s"]) for s in rows if s["mode"] == mode)
        if not series:
            continue
        points = " ".join(f"{xpos(n):.1f},{ypos(v):.1f}" for n, v in series)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{COLORS[mode]}" stroke-width="2"/>')
        for n, v in series:
            parts.append(f'<circle cx="{xpos(n):.1f}" cy="{ypos(v):.1f}" r="3.5" fill="{COLORS[mode]}"/>')
        parts.append(f'<line x1="{x0 + 10}" y1="{legend_y}" x2="{x0 + 30}" y2="{legend_y}" stroke="{COLORS[mode]}" stroke-width="2"/>')
        parts.append(_text(x0 + 36, legend_y + 4, mode, anchor="start", size=11))
        legend_y += 16
    parts.append(f'<line x1="{x0 + 10}" y1="{legend_y}" x2="{x0 + 30}" y2="{legend_y}" stroke="{COLORS["ideal"]}" stroke-dasharray="5,4"/>')
    parts.append(_text(x0 + 36, legend_y + 4, "1 worker x min(workers, cores)", anchor="start", size=11))

    medians = out.get("time_to_solve", {}).get("median_from_navigation_s", {})
    # cartpole and acrobot (balancebot's minutes would flatten them): one bar per mode, the target as a line.
    bars = [(key, t) for key, t in medians.items() if key.split("/")[0] in ("cartpole", "acrobot")]
    parts += _solve_panel(bars, *PANEL["solve"], "time to solve, from navigation")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def render_learner(out: dict) -> str:
    """SVG: ms per learner update by network and batch, numpy and the SIMD kernel in the browser, CPython."""
    table = out["learner_ms"]
    groups = [(env, batch, v) for env, rows in table.items() for batch, v in rows.items()]
    kinds = ("numpy", "wasm-simd", "cpython")
    width, height, x0, y0, w, h = 860, 340, 70, 40, 760, 230
    top = max(v[k] for _, _, v in groups for k in kinds)
    ymax = _nice_max(top * 1.1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             _text(x0 + w / 2, y0 - 16, f"Learner: ms per update ({out['browser']})", weight="bold")]
    parts += _axes(x0, y0, w, h, [], [ymax * i / 4 for i in range(5)], ymax, "network, batch", "ms per update", lambda v: x0)
    slot = w / len(groups)
    for i, (env, batch, v) in enumerate(groups):
        x = x0 + slot * i
        parts.append(_text(x + slot / 2, y0 + h + 16, f"{env} {batch}", size=11))
        for j, kind in enumerate(kinds):
            bar_h = h * v[kind] / ymax
            bx = x + slot * (0.15 + 0.23 * j)
            parts.append(f'<rect x="{bx:.1f}" y="{y0 + h - bar_h:.1f}" width="{slot * 0.2:.1f}" height="{bar_h:.1f}" fill="{COLORS[kind]}"/>')
            parts.append(_text(bx + slot * 0.1, y0 + h - bar_h - 3, f"{v[kind]:g}", size=9))
    for j, kind in enumerate(kinds):
        lx = x0 + 10 + 150 * j
        parts.append(f'<rect x="{lx}" y="{y0 + 6}" width="12" height="12" fill="{COLORS[kind]}"/>')
        label = {"numpy": "numpy (browser)", "wasm-simd": "SIMD kernel (browser)", "cpython": "CPython + OpenBLAS"}[kind]
        parts.append(_text(lx + 16, y0 + 16, label, anchor="start", size=11))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _solve_panel(bars, x0, y0, w, h, title) -> list[str]:
    """One bar per (env/mode, median seconds or None) in the plot area x0, y0, w, h; each env's target dashed."""
    ymax = _nice_max(max([t or 0 for _, t in bars] + [SOLVE_TARGETS[key.split("/")[0]] for key, _ in bars]) * 1.15)
    parts = [_text(x0 + w / 2, y0 - 16, title, weight="bold")]
    slot = w / max(1, len(bars))
    parts += _axes(x0, y0, w, h, [], [ymax * i / 4 for i in range(5)], ymax, "env / mode (median)", "seconds", lambda v: x0)
    for i, (key, t) in enumerate(bars):
        x = x0 + slot * i
        parts.append(_text(x + slot / 2, y0 + h + 16, key, size=10))
        if t is None:
            parts.append(_text(x + slot / 2, y0 + h - 8, "not solved", size=10))
        else:
            bar_h = h * t / ymax
            parts.append(f'<rect x="{x + slot * 0.2:.1f}" y="{y0 + h - bar_h:.1f}" width="{slot * 0.6:.1f}" height="{bar_h:.1f}" fill="{COLORS["bar"]}"/>')
            parts.append(_text(x + slot / 2, y0 + h - bar_h - 4, f"{t} s", size=10))
        target = SOLVE_TARGETS[key.split("/")[0]]  # drawn over the bar
        ty = y0 + h - h * target / ymax
        parts.append(f'<line x1="{x + slot * 0.1:.1f}" y1="{ty:.1f}" x2="{x + slot * 0.9:.1f}" y2="{ty:.1f}" stroke="{COLORS["target"]}" stroke-dasharray="4,3" stroke-width="2"/>')
    parts.append(_text(x0 + w - 4, y0 + 14, "dashed: target", anchor="end", size=10))
    return parts


def render_solve(out: dict) -> str:
    """SVG: median time to solve from navigation per env and mode, one panel per env (their scales differ)."""
    medians = out["time_to_solve"]["median_from_navigation_s"]
    envs = list(dict.fromkeys(key.split("/")[0] for key in medians))
    width, height = 860, 340
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    panel_w = (width - 40) / max(1, len(envs))
    for i, env in enumerate(envs):
        bars = [(key, t) for key, t in medians.items() if key.split("/")[0] == env]
        parts += _solve_panel(bars, 40 + 60 + panel_w * i, 50, panel_w - 90, 220, f"{env}: time to solve ({out['browser']})")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
