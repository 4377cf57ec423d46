"""Small inline SVG line charts, drawn on the server from the per-minute flow history.

No front-end framework and no script: a chart is a string of SVG the page embeds (and the live
updates replace whole). Pure functions of their points, so a test reads the polyline back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT, PAD = 360, 120, 22
COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a")

Point = tuple[float, float]


def line_chart(series: Mapping[str, Sequence[Point]], *, title: str, x_span: tuple[float, float]) -> str:
    """One polyline per series over `x_span` (x0, x1), y from 0 to the largest value (at least 1)."""
    x0, x1 = x_span
    top = max([1.0, *(y for points in series.values() for _, y in points)])
    width_x = max(x1 - x0, 1e-9)

    def at(x: float, y: float) -> str:
        px = PAD + (x - x0) / width_x * (WIDTH - 2 * PAD)
        py = HEIGHT - PAD - y / top * (HEIGHT - 2 * PAD)
        return f"{px:.1f},{py:.1f}"

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
        f'<text x="2" y="{PAD - 8}" font-size="10">{_number(top)}</text>',
        f'<text x="2" y="{HEIGHT - PAD}" font-size="10">0</text>',
    ]
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS[i % len(COLOURS)]
        coords = " ".join(at(x, y) for x, y in points)
        parts.append(
            f'<polyline data-series="{escape(name)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5" points="{coords}"/>'
        )
        parts.append(
            f'<text x="{PAD + 4}" y="{HEIGHT - 4 - 11 * (len(series) - 1 - i)}" font-size="10" '
            f'fill="{colour}">{escape(name)}</text>'
        )
    if not series:
        parts.append(f'<text x="{WIDTH / 2 - 10}" y="{HEIGHT / 2}" font-size="11">—</text>')
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:.0f}k"
