"""Charts as inline SVG, drawn on the server: no script, no external file, prints as vectors.

Every text that reaches the SVG goes through `escape`; numbers are formatted by us.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence

from markupsafe import Markup, escape

COLORS = {"inbound": "#2f6db5", "outbound": "#3a9a5b", "missed": "#d0473a"}
MAX_TICKS = 7


def _round_steps() -> Iterator[int]:
    """1, 2, 5, 10, 20, 50, 100, …"""
    base = 1
    while True:
        yield from (base, 2 * base, 5 * base)
        base *= 10


def nice_ticks(peak: float) -> list[int]:
    """Ticks of a count axis: 0, s, 2s, … up to the first at or above `peak`, with the
    smallest round step `s` (1, 2, 5 × 10ⁿ) that needs at most `MAX_TICKS` ticks; at least 3
    (a peak of 0, 1 or 2 gives 0, 1, 2)."""
    top = max(float(peak), 0.0)
    step = next(s for s in _round_steps() if math.ceil(top / s) < MAX_TICKS)
    return [i * step for i in range(max(2, math.ceil(top / step)) + 1)]


def weekly_bars(
    weeks: Sequence[str],
    series: Mapping[str, Sequence[int]],
    labels: dict[str, str],
    week_label: Sequence[str],
    title: str,
    number: Callable[[int], str] = str,
) -> Markup:
    """Stacked bars per week (one colour per direction / outcome), a y-axis with `nice_ticks`
    and a grid line at each."""
    n = len(weeks)
    if n == 0:
        return Markup("")
    width, height, left, bottom, top = 720, 180, 40, 22, 8
    plot_w, plot_h = width - left - 8, height - bottom - top
    totals = [sum(series[k][i] for k in series) for i in range(n)]
    ticks = nice_ticks(max(totals))
    peak = ticks[-1]
    bar = plot_w / n
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height + 18}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
    ]
    for t in ticks:
        y_t = top + plot_h - plot_h * t / peak
        out.append(
            f'<line x1="{left}" y1="{y_t:.1f}" x2="{width - 8}" y2="{y_t:.1f}" '
            f'class="{"axis" if t == 0 else "grid"}"/><text x="{left - 4}" y="{y_t + 3.5:.1f}" '
            f'class="tick ytick" text-anchor="end">{escape(number(t))}</text>'
        )
    step = max(1, n // 8)
    for i in range(n):
        x = left + i * bar
        y: float = top + plot_h
        for key, values in series.items():
            v = values[i]
            if not v:
                continue
            h = plot_h * v / peak
            y -= h
            out.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{COLORS.get(key, "#888")}"><title>{escape(week_label[i])}: '
                f"{escape(labels.get(key, key))} {v}</title></rect>"
            )
        if i % step == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" class="tick" '
                f'text-anchor="middle">{escape(week_label[i])}</text>'
            )
    lx: float = left
    for key in series:
        out.append(
            f'<rect x="{lx}" y="{height + 6}" width="10" height="10" fill="{COLORS.get(key, "#888")}"/>'
        )
        label = escape(labels.get(key, key))
        out.append(f'<text x="{lx + 14}" y="{height + 15}" class="tick">{label}</text>')
        lx += 24 + 8 * len(str(labels.get(key, key)))
    out.append("</svg>")
    return Markup("".join(out))


def heatmap(grid: Sequence[Sequence[int]], weekdays: Sequence[str], title: str) -> Markup:
    """7 × 24 cells, darker for more calls; each cell says its count in a tooltip."""
    cell, left, top = 22, 30, 16
    width, height = left + 24 * cell + 4, top + 7 * cell + 4
    peak = max((max(row) for row in grid), default=0) or 1
    out = [
        f'<svg class="chart heat" role="img" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for h in range(0, 24, 3):
        out.append(
            f'<text x="{left + h * cell + cell / 2}" y="11" class="tick" text-anchor="middle">{h}</text>'
        )
    size = cell - 2
    for d in range(7):
        y = top + d * cell
        day = str(escape(weekdays[d]))
        out.append(f'<text x="{left - 4}" y="{y + 15}" class="tick" text-anchor="end">{day}</text>')
        row = grid[d]
        for h in range(24):
            v = row[h]
            x = left + h * cell
            if v:
                fill = f"rgba(47,109,181,{0.06 + 0.94 * v / peak:.2f})"
                out.append(
                    f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="{fill}">'
                    f"<title>{day} {h}:00 — {v}</title></rect>"
                )
            else:
                out.append(f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="#f3f3f3"/>')
    out.append("</svg>")
    return Markup("".join(out))
