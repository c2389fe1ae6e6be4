"""Server-side SVG charts: no JavaScript, no vendored charting library."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe


def line_chart(
    points: list[tuple[date, float | None]],
    *,
    title: str,
    fmt: Callable[[float], str] = lambda v: f"{v:.0f}",
    width: int = 520,
    height: int = 150,
) -> SafeString:
    pad_l, pad_r, pad_t, pad_b = 44, 10, 22, 22
    known = [(d, v) for d, v in points if v is not None]
    label = escape(title)
    if len(known) < 1:
        return mark_safe(  # noqa: S308 - built from escaped parts
            f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}: no data">'
            f'<text x="{pad_l}" y="16" class="chart-title">{label}</text>'
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="chart-empty">no data</text></svg>'
        )
    lo = min(v for _, v in known)
    hi = max(v for _, v in known)
    lo = min(lo, 0.0)
    span = (hi - lo) or 1.0
    n = max(len(points) - 1, 1)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def x(i: int) -> float:
        return pad_l + plot_w * i / n

    def y(v: float) -> float:
        return pad_t + plot_h * (1 - (v - lo) / span)

    segments: list[list[str]] = [[]]
    for i, (_, v) in enumerate(points):
        if v is None:
            segments.append([])
        else:
            segments[-1].append(f"{x(i):.1f},{y(v):.1f}")
    lines = "".join(f'<polyline points="{" ".join(s)}" class="chart-line"/>' for s in segments if len(s) > 1)
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" class="chart-dot">'
        f"<title>{d:%Y-%m-%d}: {escape(fmt(v))}</title></circle>"
        for i, (d, v) in enumerate(points)
        if v is not None
    )
    first, last = points[0][0], points[-1][0]
    summary = f"{label}, {first:%d %b} to {last:%d %b}, from {escape(fmt(known[0][1]))} to {escape(fmt(known[-1][1]))}"
    return mark_safe(  # noqa: S308 - built from escaped parts
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{summary}">'
        f'<text x="{pad_l}" y="15" class="chart-title">{label}</text>'
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" class="chart-axis"/>'
        f'<text x="{pad_l - 4}" y="{y(hi) + 4:.1f}" text-anchor="end" class="chart-label">{escape(fmt(hi))}</text>'
        f'<text x="{pad_l - 4}" y="{y(lo) + 4:.1f}" text-anchor="end" class="chart-label">{escape(fmt(lo))}</text>'
        f'<text x="{pad_l}" y="{height - 6}" class="chart-label">{first:%d %b}</text>'
        f'<text x="{width - pad_r}" y="{height - 6}" text-anchor="end" class="chart-label">{last:%d %b}</text>'
        f"{lines}{dots}</svg>"
    )
