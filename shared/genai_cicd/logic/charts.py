"""Inline SVG charts for the release report: axes, tick values, labelled lines, no scripts.

Two kinds, both plain strings of SVG that a browser draws without any asset:
- ``line_chart``: values over intervals, with confidence bands, reference lines (the
  decision bounds), shaded regions (the traffic weight of each canary step) and markers
  (the decision point);
- ``interval_chart``: one row per metric on a [0, 1] score axis, baseline and candidate
  means, the candidate's confidence interval, and the margin and threshold it must clear.

Every chart carries ``<title>``, a ``data-chart`` attribute and text elements with the
classes ``x-label``/``y-label``, which the report's Chromium test reads.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = {"canary": "#c0392b", "baseline": "#2c6fbb", "safe": "#1e8449", "harm": "#b03a2e", "grey": "#777"}
# Text is laid out before a browser measures it, so widths are estimated on the generous side: an 11 px
# system-ui character is 5.5 to 7 px wide. Labels that would overlap are moved or left out (values only);
# labels that would leave their SVG box are wrapped or shortened with their full text in a <title>.
CHAR_W = 6.6
LINE_H = 13.0

Box = tuple[float, float, float, float]  # left, top, right, bottom


def text_width(text: str, size: float = 11.0) -> float:
    return len(text) * CHAR_W * size / 11.0


def _fit(text: str, room: float) -> str:
    """``text`` shortened with "…" to fit ``room`` pixels (its full text goes in a tooltip)."""
    if text_width(text) <= room:
        return text
    return text[: max(1, int(room / CHAR_W) - 1)] + "…"


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def spread(desired: list[float], heights: list[float], low: float, high: float) -> list[float]:
    """Positions (tops) as near ``desired`` as possible, in the same order, none overlapping, within
    [low, high]: a one-dimensional label layout (push down, then push back up from the bottom)."""
    order = sorted(range(len(desired)), key=lambda k: desired[k])
    placed = [0.0] * len(desired)
    cursor = low
    for k in order:
        placed[k] = max(desired[k], cursor)
        cursor = placed[k] + heights[k]
    limit = high
    for k in reversed(order):
        placed[k] = max(low, min(placed[k], limit - heights[k]))
        limit = placed[k]
    return placed


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str


@dataclass(frozen=True)
class Band:
    name: str
    lower: Sequence[float | None]
    upper: Sequence[float | None]
    color: str


@dataclass(frozen=True)
class RefLine:
    label: str
    y: float
    color: str


@dataclass(frozen=True)
class Region:
    """Intervals ``first``..``last`` (1-based, inclusive) share one label, e.g. a step's weight."""

    first: int
    last: int
    label: str


@dataclass(frozen=True)
class Marker:
    x: int
    label: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("ticks need finite bounds")
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def fmt(value: float) -> str:
    """A short label: 0.0123 -> 0.012, 1234 -> 1,234."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def line_chart(*, title: str, x_label: str, y_label: str, n: int, series: Sequence[Series],
               bands: Sequence[Band] = (), lines: Sequence[RefLine] = (), regions: Sequence[Region] = (),
               markers: Sequence[Marker] = (), width: int = 760, height: int = 260,
               y_floor: float | None = None, y_ceiling: float | None = None) -> str:
    """Points 1..n on the x axis. Values outside [y_floor, y_ceiling] are clipped and marked."""
    e = html.escape
    left, right, top, bottom = 64, 150, 28, 44
    pw, ph = width - left - right, height - top - bottom
    values = [v for s in series for v in _finite(s.values)]
    values += [v for b in bands for v in _finite(b.lower) + _finite(b.upper)] + [r.y for r in lines]
    low = min(values, default=0.0)
    high = max(values, default=1.0)
    if y_floor is not None:
        low = max(low, y_floor)
    if y_ceiling is not None:
        high = min(high, y_ceiling)
    ticks = nice_ticks(low, high)
    y0, y1 = ticks[0], ticks[-1]

    def px(i: float) -> float:
        return left + (pw * (i - 1) / max(1, n - 1) if n > 1 else pw / 2)

    def py(v: float) -> float:
        v = min(max(v, y0), y1)
        return top + ph - (v - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="line" role="img" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="11">',
           f"<title>{e(title)}</title>",
           f'<text x="{left}" y="16" font-size="13" font-weight="600">{e(title)}</text>']
    region_boxes: list[Box] = []
    region_labels: list[str] = []
    for k, region in enumerate(regions):
        x_start = px(region.first - 0.5) if region.first > 1 else left
        x_end = px(region.last + 0.5) if region.last < n else left + pw
        # Each step's label at its start, kept inside the plot (a step that begins at the last interval is
        # labelled leftwards from the edge) and a line lower when it would cover the step before's label.
        label_w = text_width(region.label)
        label_left = min(x_start + 3, left + pw - 3 - label_w)
        row = 0
        while any(_overlaps((label_left, top + 2 + LINE_H * row, label_left + label_w, top + 14 + LINE_H * row), b)
                  for b in region_boxes):
            row += 1
        region_boxes.append((label_left, top + 2 + LINE_H * row, label_left + label_w, top + 14 + LINE_H * row))
        out.append(f'<rect x="{x_start:.1f}" y="{top}" width="{max(1.0, x_end - x_start):.1f}" height="{ph}" '
                   f'fill="{"#f2f2f2" if k % 2 == 0 else "#e6eef7"}"/>')
        region_labels.append(f'<text x="{label_left:.1f}" y="{top + 12 + LINE_H * row:.1f}" fill="#555">'
                             f"{e(region.label)}</text>")
    out += region_labels  # after every step's shading, which would otherwise cover a label that runs into it
    # axes, ticks and grid
    out.append(f'<g class="axis y-axis"><line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>')
    for t in ticks:
        out.append(f'<line x1="{left - 4}" y1="{py(t):.1f}" x2="{left + pw}" y2="{py(t):.1f}" stroke="#ddd"/>'
                   f'<text class="tick" x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
    out.append("</g>")
    out.append(f'<g class="axis x-axis"><line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" '
               'stroke="#333"/>')
    every = max(1, math.ceil(n / 12))
    for i in range(1, n + 1):
        if (i - 1) % every == 0 or i == n:
            out.append(f'<line x1="{px(i):.1f}" y1="{top + ph}" x2="{px(i):.1f}" y2="{top + ph + 4}" stroke="#333"/>'
                       f'<text class="tick" x="{px(i):.1f}" y="{top + ph + 16}" text-anchor="middle">{i}</text>')
    out.append("</g>")
    out.append(f'<text class="x-label" x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">'
               f"{e(x_label)}</text>")
    out.append(f'<text class="y-label" transform="translate(14,{top + ph / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{e(y_label)}</text>')
    for band in bands:
        pts = [(i + 1, lo, hi) for i, (lo, hi) in enumerate(zip(band.lower, band.upper, strict=True))
               if lo is not None and hi is not None and not math.isnan(lo) and not math.isnan(hi)]
        if pts:
            upper = " ".join(f"{px(i):.1f},{py(hi if math.isfinite(hi) else y1):.1f}" for i, _, hi in pts)
            lower = " ".join(f"{px(i):.1f},{py(lo if math.isfinite(lo) else y0):.1f}" for i, lo, _ in reversed(pts))
            out.append(f'<polygon points="{upper} {lower}" fill="{band.color}" fill-opacity="0.18" '
                       f'stroke="{band.color}" stroke-opacity="0.4"><title>{e(band.name)}</title></polygon>')
    # The right margin holds the decision lines' labels (at their height) and the legend (from the top),
    # spread so that none overlaps another; a label too wide for the margin goes on two lines.
    room = right - 8
    margin_items: list[tuple[float, list[str], str, str]] = []  # desired top, lines of text, colour, kind
    for line in lines:
        if y0 <= line.y <= y1:
            out.append(f'<line x1="{left}" y1="{py(line.y):.1f}" x2="{left + pw}" y2="{py(line.y):.1f}" '
                       f'stroke="{line.color}" stroke-dasharray="6 4"/>')
            words = [f"{line.label} {fmt(line.y)}"] if text_width(f"{line.label} {fmt(line.y)}") <= room else [
                line.label, fmt(line.y)]
            margin_items.append((py(line.y) - 9, words, line.color, "line"))
    legend = [*((s.name, s.color, "line") for s in series), *((b.name, b.color, "band") for b in bands)]
    for k, (name, color, kind) in enumerate(legend):
        margin_items.append((top + LINE_H * k - 4, [name], color, "legend-" + kind))
    tops = spread([m[0] for m in margin_items], [LINE_H * len(m[1]) + 2 for m in margin_items], 4.0, height - 4.0)
    placed: list[Box] = [(left, 2.0, left + text_width(title, 13), 20.0)]  # the title
    for (_, words, color, kind), y_top in zip(margin_items, tops, strict=True):
        x: float = left + pw + (22 if kind.startswith("legend") else 4)
        if kind == "legend-band":
            out.append(f'<rect x="{left + pw + 4}" y="{y_top + 3:.1f}" width="14" height="8" fill="{color}" '
                       'fill-opacity="0.3"/>')
        elif kind == "legend-line":
            out.append(f'<line x1="{left + pw + 4}" y1="{y_top + 7:.1f}" x2="{left + pw + 18}" y2="{y_top + 7:.1f}" '
                       f'stroke="{color}" stroke-width="2"/>')
        tspans = "".join(f'<tspan x="{x}" dy="{0 if j == 0 else LINE_H}">{e(w)}</tspan>'
                         for j, w in enumerate(words))
        css = "legend" if kind.startswith("legend") else "ref"
        fill = "" if kind.startswith("legend") else f' fill="{color}"'
        out.append(f'<text class="{css}" x="{x}" y="{y_top + 10:.1f}"{fill}>{tspans}</text>')
        placed.append((x, y_top, x + max(text_width(w) for w in words), y_top + LINE_H * len(words)))
    placed += region_boxes
    for m in markers:
        w = text_width(m.label)
        # Right of its line when the left would leave the plot (a decision at the first interval).
        x0 = px(m.x) - 4 - w if px(m.x) - 4 - w >= left else px(m.x) + 4
        placed.append((x0, top + ph - 15, x0 + w, top + ph - 2))
    for t in ticks:
        placed.append((left - 6 - text_width(fmt(t)), py(t) - 7, left - 6, py(t) + 5))
    labels: list[tuple[int, int, float, str, str]] = []  # priority, x, y, text, colour
    for s in series:
        points = [(i + 1, v) for i, v in enumerate(s.values) if v is not None and not math.isnan(v)]
        if len(points) > 1:
            coords = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in points)
            out.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2" points="{coords}"/>')
        show_values = len(points) <= 12
        for i, v in points:
            clipped = v < y0 or v > y1
            shown = fmt(v) if math.isfinite(v) else ("∞" if v > 0 else "-∞")
            out.append(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="{4 if clipped else 3}" fill="{s.color}">'
                       f"<title>{e(s.name)} at {i}: {shown}</title></circle>")
            if show_values or i == points[-1][0]:
                labels.append((0 if i == points[-1][0] else 1, i, py(v), shown, s.color))
    # Value labels are a help, not the data (every point has its value in a tooltip): the last point of each
    # series first, each above its point, else below, else left out where it would cover another label.
    for _, i, y, shown, color in sorted(labels, key=lambda item: item[0]):
        w = text_width(shown)
        x = px(i)
        anchor, x_left = "middle", x - w / 2
        if x_left + w > left + pw:
            anchor, x_left = "end", x - w
        elif x_left < left:
            anchor, x_left = "start", x
        for baseline in (y - 6, y + 15):
            box = (x_left, baseline - 10, x_left + w, baseline + 2)
            if box[1] >= 20 and box[3] <= top + ph + 2 and not any(_overlaps(box, b) for b in placed):
                placed.append(box)
                out.append(f'<text class="value" x="{x:.1f}" y="{baseline:.1f}" text-anchor="{anchor}" '
                           f'fill="{color}">{shown}</text>')
                break
    for m in markers:
        fits_left = px(m.x) - 4 - text_width(m.label) >= left
        out.append(f'<line x1="{px(m.x):.1f}" y1="{top}" x2="{px(m.x):.1f}" y2="{top + ph}" stroke="#000" '
                   f'stroke-width="1.5"/><text class="marker" x="{px(m.x) + (-4 if fits_left else 4):.1f}" '
                   f'y="{top + ph - 4}" text-anchor="{"end" if fits_left else "start"}" font-weight="600">'
                   f"{e(m.label)}</text>")
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class IntervalRow:
    """One gate metric: means in [0, 1] and the candidate-minus-baseline confidence interval."""

    metric: str
    baseline: float
    candidate: float
    lower: float  # of candidate - baseline
    upper: float
    margin: float
    threshold: float
    decision: str


def interval_chart(title: str, rows: Sequence[IntervalRow], width: float = 640) -> str:
    """Per metric: baseline (blue) and candidate (red) means; the bar is the range the candidate's
    mean can take given the interval (baseline + [lower, upper]); it passes when the bar's left end
    is right of the margin line (baseline - margin) and the candidate's mean right of the threshold."""
    e = html.escape
    # Margins sized to the longest metric name and verdict text (a name too long for 240 px is shortened,
    # its full text in a tooltip), so nothing leaves the box.
    names = {row.metric: _fit(row.metric, 240.0) for row in rows}
    verdicts = {row.metric: f"{row.decision}: {fmt(row.candidate)} vs {fmt(row.baseline)}" for row in rows}
    left = int(max(120.0, 14 + max((text_width(n) for n in names.values()), default=0.0)))
    right = int(max(150.0, 14 + max((text_width(v) for v in verdicts.values()), default=0.0)))
    top, row_h = 52, 34
    width = max(width, left + right + 300)
    height = top + row_h * len(rows) + 44
    pw = width - left - right

    def px(v: float) -> float:
        return left + min(max(v, 0.0), 1.0) * pw

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="interval" role="img" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="11">',
           f"<title>{e(title)}</title>", f'<text x="{left}" y="16" font-size="13" font-weight="600">{e(title)}</text>']
    bottom = top + row_h * len(rows)
    out.append(f'<g class="axis x-axis"><line x1="{left}" y1="{bottom}" x2="{left + pw}" y2="{bottom}" '
               'stroke="#333"/>')
    for t in nice_ticks(0.0, 1.0):
        out.append(f'<line x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{bottom + 4}" stroke="#e3e3e3"/>'
                   f'<text class="tick" x="{px(t):.1f}" y="{bottom + 16}" text-anchor="middle">{fmt(t)}</text>')
    out.append("</g>")
    out.append(f'<text class="x-label" x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">'
               "mean score (0 to 1): baseline, candidate, and the candidate's confidence interval</text>")
    out.append(f'<g class="axis y-axis"><line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>'
               f'<text class="y-label" x="{left - 6}" y="{top - 4}" text-anchor="end">metric</text>')
    for k, row in enumerate(rows):
        y = top + row_h * k + row_h / 2
        color = PALETTE["safe"] if row.decision == "pass" else PALETTE["harm"]
        lo, hi = row.baseline + row.lower, row.baseline + row.upper
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{e(names[row.metric])}'
                   f"<title>{e(row.metric)}</title></text>")
        out.append(f'<line x1="{px(lo):.1f}" y1="{y:.1f}" x2="{px(hi):.1f}" y2="{y:.1f}" stroke="{color}" '
                   f'stroke-width="6" stroke-opacity="0.35"><title>candidate mean, {fmt(lo)} to {fmt(hi)}'
                   "</title></line>")
        floor = row.baseline - row.margin
        out.append(f'<line x1="{px(floor):.1f}" y1="{y - 11:.1f}" x2="{px(floor):.1f}" y2="{y + 11:.1f}" '
                   f'stroke="{PALETTE["harm"]}" stroke-dasharray="3 2"><title>margin: baseline - {fmt(row.margin)}'
                   f" = {fmt(floor)}</title></line>")
        if row.threshold > 0:
            out.append(f'<line x1="{px(row.threshold):.1f}" y1="{y - 11:.1f}" x2="{px(row.threshold):.1f}" '
                       f'y2="{y + 11:.1f}" stroke="#000" stroke-dasharray="1 2"><title>threshold '
                       f"{fmt(row.threshold)}</title></line>")
        out.append(f'<circle cx="{px(row.baseline):.1f}" cy="{y:.1f}" r="4" fill="{PALETTE["baseline"]}">'
                   f"<title>baseline {fmt(row.baseline)}</title></circle>"
                   f'<circle cx="{px(row.candidate):.1f}" cy="{y:.1f}" r="4" fill="{PALETTE["canary"]}">'
                   f"<title>candidate {fmt(row.candidate)}</title></circle>")
        out.append(f'<text class="value" x="{left + pw + 6}" y="{y + 4:.1f}">{e(verdicts[row.metric])}</text>')
    out.append("</g>")
    legend_y = 34
    for k, (name, color) in enumerate((("baseline", PALETTE["baseline"]), ("candidate", PALETTE["canary"]))):
        x = left + 90 * k
        out.append(f'<circle cx="{x}" cy="{legend_y}" r="4" fill="{color}"/><text class="legend" x="{x + 8}" '
                   f'y="{legend_y + 4}">{name}</text>')
    out.append(f'<text class="legend" x="{left + 190}" y="{legend_y + 4}" fill="{PALETTE["harm"]}">'
               "┆ baseline − margin</text><text class=\"legend\" x=\"{0}\" y=\"{1}\">⋮ threshold</text>"
               .replace("{0}", str(left + 320)).replace("{1}", str(legend_y + 4)))
    out.append("</svg>")
    return "".join(out)
