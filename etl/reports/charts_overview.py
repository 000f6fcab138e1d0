"""The overview's charts as inline SVG (no script, no external file; prints as vectors).

Readable by design: a y-axis with round ticks (`charts.nice_ticks`), a grid line at each and
the unit written above it; dates on the x-axis; a legend in the page's language; every column
says its numbers on hover (`<title>`); the colours differ in lightness, so the series stay
apart when printed in grey. Every text goes through `escape`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

from .charts import heatmap, nice_ticks

# luminance ≈ 71, 169, 117 (inbound, outbound, missed) and 166, 63 (new, returning):
# distinct greys on a black-and-white printer
COLORS = {
    "inbound": "#1f4e8c",
    "outbound": "#8fbf7f",
    "missed": "#c8553d",
    "new": "#e0a030",
    "returning": "#2f3e6e",
}
PREVIOUS = "#222"


def bars(
    labels: Sequence[str],
    tick_labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    names: Mapping[str, str],
    *,
    title: str,
    unit: str,
    number: Callable[[int], str] = str,
    previous: Sequence[int] | None = None,
    previous_name: str = "",
    total_name: str = "",
) -> Markup:
    """Stacked columns per label; with `previous`, a dashed line of the previous period's
    totals at the same positions."""
    n = len(labels)
    if not n:
        return Markup("")
    width, height, left, bottom, top = 760, 200, 46, 30, 18
    plot_w, plot_h = width - left - 8, height - bottom - top
    totals = [sum(series[k][i] for k in series) for i in range(n)]
    ticks = nice_ticks(max(totals + list(previous or [0])))
    peak = ticks[-1] or 1
    col = plot_w / n

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    out = [
        f'<svg class="chart ov" role="img" viewBox="0 0 {width} {height + 22}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<text x="{left - 4}" y="{top - 6}" class="tick unit" text-anchor="end">{escape(unit)}</text>',
    ]
    for t in ticks:
        y = y_of(t)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" '
            f'class="{"axis" if t == 0 else "grid"}"/><text x="{left - 4}" y="{y + 3.5:.1f}" '
            f'class="tick ytick" text-anchor="end">{escape(number(t))}</text>'
        )
    step = max(1, -(-n // 10))
    for i in range(n):
        x = left + i * col
        y = top + plot_h
        for key, values in series.items():
            v = values[i]
            if v:
                h = plot_h * v / peak
                y -= h
                out.append(
                    f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(col - 2, 1):.1f}" '
                    f'height="{h:.1f}" fill="{COLORS.get(key, "#888")}"/>'
                )
        parts = [f"{names.get(k, k)} {number(series[k][i])}" for k in series]
        if total_name:
            parts.append(f"{total_name} {number(totals[i])}")
        if previous is not None:
            parts.append(f"{previous_name} {number(previous[i])}")
        tip = f"{labels[i]}: " + ", ".join(parts)
        out.append(
            f'<rect class="hover" x="{x:.1f}" y="{top}" width="{col:.1f}" height="{plot_h}" '
            f'fill="transparent"><title>{escape(tip)}</title></rect>'
        )
        if i % step == 0:
            out.append(
                f'<text x="{x + col / 2:.1f}" y="{top + plot_h + 14}" class="tick" '
                f'text-anchor="middle">{escape(tick_labels[i])}</text>'
            )
    if previous is not None:
        points = " ".join(f"{left + (i + 0.5) * col:.1f},{y_of(v):.1f}" for i, v in enumerate(previous))
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{PREVIOUS}" stroke-width="1.5" '
            'stroke-dasharray="4 3" pointer-events="none"/>'
        )
    lx: float = left
    ly = height + 8
    for key in series:
        label = str(names.get(key, key))
        out.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{COLORS.get(key, "#888")}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly + 9}" class="tick legend">{escape(label)}</text>')
        lx += 26 + 6.5 * len(label)
    if previous is not None:
        out.append(
            f'<line x1="{lx}" y1="{ly + 5}" x2="{lx + 16}" y2="{ly + 5}" stroke="{PREVIOUS}" '
            'stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        out.append(f'<text x="{lx + 20}" y="{ly + 9}" class="tick legend">{escape(previous_name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def busiest_hours(grid: Sequence[Sequence[int]], weekdays: Sequence[str], title: str) -> Markup:
    """The weekday × hour heat map of `charts.heatmap` (one blue, darker for more calls, so
    it reads the same in grey; each cell's count on hover)."""
    return heatmap(grid, weekdays, title)
