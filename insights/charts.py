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
    start: date | None = None,
    end: date | None = None,
    width: int = 520,
    height: int = 150,
) -> SafeString:
    """A line over the days from `start` to `end` (default: the first and last point), each point at its
    own date. Days without a figure break the line rather than being drawn across, and a lone point
    is labelled with its value: one day of data is a dot on a month's axis, not a month squeezed into
    one day."""
    pad_l, pad_r, pad_t, pad_b = 44, 14, 22, 22
    known = [(d, v) for d, v in points if v is not None]
    label = escape(title)
    if len(known) < 1:
        return mark_safe(  # noqa: S308 - built from escaped parts
            f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}: no data">'
            f'<text x="{pad_l}" y="16" class="chart-title">{label}</text>'
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="chart-empty">no data</text></svg>'
        )
    first = start or points[0][0]
    last = end or points[-1][0]
    lo = min(min(v for _, v in known), 0.0)
    hi = max(v for _, v in known)
    span = (hi - lo) or 1.0
    days = max((last - first).days, 1)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def x(d: date) -> float:
        if first == last:
            return pad_l + plot_w / 2
        return pad_l + plot_w * (d - first).days / days

    def y(v: float) -> float:
        return pad_t + plot_h * (1 - (v - lo) / span)

    segments: list[list[str]] = [[]]
    previous: date | None = None
    for d, v in points:
        if v is None or (previous is not None and (d - previous).days > 1):
            segments.append([])
        if v is not None:
            segments[-1].append(f"{x(d):.1f},{y(v):.1f}")
        previous = d if v is not None else None
    lines = "".join(f'<polyline points="{" ".join(s)}" class="chart-line"/>' for s in segments if len(s) > 1)
    dots = "".join(
        f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="3" class="chart-dot">'
        f"<title>{d:%Y-%m-%d}: {escape(fmt(v))}</title></circle>"
        for d, v in known
    )
    if len(known) == 1:
        d, v = known[0]
        anchor = "end" if x(d) > pad_l + plot_w * 0.8 else "start"
        shift = -6 if anchor == "end" else 6
        dots += (
            f'<text x="{x(d) + shift:.1f}" y="{y(v) - 6:.1f}" text-anchor="{anchor}" class="chart-value">'
            f"{escape(fmt(v))}</text>"
        )
    if first == last:
        axis = (
            f'<text x="{pad_l + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" class="chart-label">'
            f"{first:%d %b}</text>"
        )
    else:
        axis = (
            f'<text x="{pad_l}" y="{height - 6}" class="chart-label">{first:%d %b}</text>'
            f'<text x="{width - pad_r}" y="{height - 6}" text-anchor="end" class="chart-label">{last:%d %b}</text>'
        )
    with_data = f"{len(known)} day{'s' if len(known) != 1 else ''} with data"
    summary = (
        f"{label}, {first:%d %b} to {last:%d %b} ({with_data}), "
        f"from {escape(fmt(known[0][1]))} to {escape(fmt(known[-1][1]))}"
    )
    return mark_safe(  # noqa: S308 - built from escaped parts
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{summary}">'
        f'<text x="{pad_l}" y="15" class="chart-title">{label}</text>'
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" class="chart-axis"/>'
        f'<text x="{pad_l - 4}" y="{y(hi) + 4:.1f}" text-anchor="end" class="chart-label">{escape(fmt(hi))}</text>'
        f'<text x="{pad_l - 4}" y="{y(lo) + 4:.1f}" text-anchor="end" class="chart-label">{escape(fmt(lo))}</text>'
        f"{axis}{lines}{dots}</svg>"
    )


def outcome_bar(parts: list[tuple[str, int, str]], *, title: str, width: int = 520, height: int = 64) -> SafeString:
    """One horizontal bar split by outcome (label, count, css class), each part labelled with its count:
    how a flow's runs ended, at a glance."""
    label = escape(title)
    total = sum(n for _, n, _ in parts)
    pad_l, pad_r, top, bar_h = 8, 8, 22, 18
    if not total:
        return mark_safe(  # noqa: S308 - built from escaped parts
            f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}: no data">'
            f'<text x="{pad_l}" y="16" class="chart-title">{label}</text>'
            f'<text x="{width / 2}" y="{top + 14}" text-anchor="middle" class="chart-empty">no runs</text></svg>'
        )
    plot_w = width - pad_l - pad_r
    x = float(pad_l)
    rects, legend = [], []
    for name, n, css in parts:
        w = plot_w * n / total
        if n:
            rects.append(
                f'<rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{bar_h}" class="bar {escape(css)}">'
                f"<title>{escape(name)}: {n}</title></rect>"
            )
        x += w
        legend.append(f"{escape(name)} {n}")
    summary = " · ".join(legend)
    return mark_safe(  # noqa: S308 - built from escaped parts
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}: {summary}">'
        f'<text x="{pad_l}" y="16" class="chart-title">{label}</text>{"".join(rects)}'
        f'<text x="{pad_l}" y="{top + bar_h + 16}" class="chart-label">{summary}</text></svg>'
    )
