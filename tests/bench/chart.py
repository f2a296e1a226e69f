"""The benchmark chart as a standalone SVG (standard library only): the rollout scaling curve and time to solve."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 860, 360
PANEL = {"scaling": (60, 40, 440, 260), "solve": (580, 40, 240, 260)}  # x, y, w, h of each plot area, px
COLORS = {"sync": "#1f77b4", "async": "#d62728", "ideal": "#999999", "bar": "#2ca02c", "target": "#ff7f0e"}


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
        parts.append(_text(x0 - 6, y + 4, f"{value:,.0f}", anchor="end", size=11))
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

    x0, y0, w, h = PANEL["solve"]
    tts = out.get("time_to_solve_s", {})
    runs = [t for t in tts.get("runs_s", []) if t is not None]
    median = tts.get("cartpole")
    target = 60.0
    ymax = _nice_max(max(runs + [target, median or 0]) * 1.1)
    parts.append(_text(x0 + w / 2, y0 - 16, "cartpole time to solve", weight="bold"))
    parts += _axes(x0, y0, w, h, [], [ymax * i / 4 for i in range(5)], ymax, "page defaults", "training seconds", lambda v: x0)
    if median is not None:
        bar_h = h * median / ymax
        parts.append(f'<rect x="{x0 + w * 0.3}" y="{y0 + h - bar_h:.1f}" width="{w * 0.4}" height="{bar_h:.1f}" fill="{COLORS["bar"]}"/>')
        parts.append(_text(x0 + w / 2, y0 + h - bar_h - 6, f"{median} s (median)", size=11))
    else:
        parts.append(_text(x0 + w / 2, y0 + h / 2, f"not solved within {tts.get('cap_s')} s", size=11))
    for t in runs:
        parts.append(f'<circle cx="{x0 + w / 2:.1f}" cy="{y0 + h - h * t / ymax:.1f}" r="3" fill="#222"/>')
    ty = y0 + h - h * target / ymax
    parts.append(f'<line x1="{x0}" y1="{ty:.1f}" x2="{x0 + w}" y2="{ty:.1f}" stroke="{COLORS["target"]}" stroke-dasharray="6,3"/>')
    parts.append(_text(x0 + w - 4, ty - 4, "target 60 s", anchor="end", size=11))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
