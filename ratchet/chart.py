"""``ratchet history --svg``: the trend as a self-contained SVG chart.

Written by hand (no plotting library): an overall line, the overall target
as a dashed line, one line per tier's progress, labelled axes and a legend.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from ratchet.history import History

WIDTH, HEIGHT = 800, 400
LABEL_WIDTH = 80  # Pixels a date label needs.
LEFT, RIGHT, TOP, BOTTOM = 60, 210, 40, 60  # Margins; the legend sits on the right.
PALETTE = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def render_svg(history: History) -> str:
    points = history.points
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if points:
        t0 = points[0].when.timestamp()
        span = max(points[-1].when.timestamp() - t0, 1.0)
    else:
        t0, span = 0.0, 1.0

    def x(i: int) -> float:
        return LEFT + plot_w * (points[i].when.timestamp() - t0) / span

    def y(percent: float) -> float:
        return TOP + plot_h * (1 - percent / 100)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">'
        "Coverage: overall and tier progress</text>",
    ]
    for pct in (0, 25, 50, 75, 100):  # Grid and y labels.
        out.append(
            f'<line x1="{LEFT}" y1="{y(pct):.1f}" x2="{LEFT + plot_w}" y2="{y(pct):.1f}" '
            'stroke="#ddd"/>'
        )
        out.append(f'<text x="{LEFT - 8}" y="{y(pct) + 4:.1f}" text-anchor="end">{pct}%</text>')
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        'stroke="#333"/>'
    )
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#333"/>')
    placed: list[tuple[float, str]] = []  # x labels: first, middle and last dates,
    for i in sorted({0, len(points) // 2, len(points) - 1} if points else set()):
        label = points[i].when.date().isoformat()
        # each once, and never on top of another (commits of one day share a date).
        if any(label == seen or abs(x(i) - at) < LABEL_WIDTH for at, seen in placed):
            continue
        placed.append((x(i), label))
        out.append(
            f'<text x="{x(i):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{label}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 15}" text-anchor="middle">'
        "commit date</text>"
    )
    out.append(
        f'<text x="16" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2:.1f})">percent</text>'
    )
    legend: list[tuple[str, str, str]] = []
    if history.target is not None:
        ty = y(float(history.target))
        out.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{LEFT + plot_w}" y2="{ty:.1f}" '
            'stroke="#d62728" stroke-dasharray="6 4" stroke-width="1.5"/>'
        )
        legend.append(("#d62728", "6 4", f"overall target {float(history.target):.2f}%"))
    overall: list[float | None] = [float(p.percent) for p in points]
    series = [("overall coverage", "#1f77b4", overall)]
    names = sorted({name for p in points for name in p.tiers})
    for n, name in enumerate(names):
        # A tier's progress is a share of its way to the target, drawn as a percentage.
        shares = [p.tiers.get(name) for p in points]
        values = [None if v is None else float(v) * 100 for v in shares]
        series.append((f"{name} progress", PALETTE[n % len(PALETTE)], values))
    for label, colour, ys in series:
        coords = [(x(i), y(v)) for i, v in enumerate(ys) if v is not None]
        if coords:
            joined = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            out.append(
                f'<polyline points="{joined}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            for cx, cy in coords:
                out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{colour}"/>')
        legend.append((colour, "", label))
    lx = LEFT + plot_w + 20
    for k, (colour, dash, label) in enumerate(legend):
        ly = TOP + 10 + 20 * k
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{dashing}/>'
        )
        out.append(f'<text x="{lx + 30}" y="{ly + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
