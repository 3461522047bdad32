"""The picture of ``samplerr demo``: one series as served by the aliases, at every resolution kept.

Stacked panels over shrinking spans ending now (the whole run, the last week, the last hours):
in each, every window served is drawn at its place — the average as a line, min to max as a
band — coloured by the archive it comes from, so the hand-over from coarse to fine windows shows.
Hand-written SVG (no plotting library) and a terminal sparkline per panel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from rich.text import Text

from samplerr.demo_report import Window
from samplerr.plot import COLOURS, TERMINAL_COLOURS

HOUR = 3_600
DAY = 86_400
SPARKS = "▁▂▃▄▅▆▇█"
_TICK_STEPS = (HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY)


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    start: int
    end: int


def default_panels(start: int, end: int) -> list[Panel]:
    """The whole run, the last 7 days and the last 6 hours (those that fit in the run)."""
    days = (end - start) / DAY
    panels = [Panel(f"the whole run ({days:.0f} days)", start, end)]
    for title, span in (("the last 7 days", 7 * DAY), ("the last 6 hours", 6 * HOUR)):
        if end - span > start:
            panels.append(Panel(title, end - span, end))
    return panels


def _human_step(seconds: int) -> str:
    for unit, size in (("d", DAY), ("h", HOUR), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@dataclass(frozen=True, slots=True)
class Point:
    """A window reduced for drawing: x (epoch seconds, the window's middle) and its values."""

    x: float
    avg: float
    low: float
    high: float
    step: int


def _points(windows: Sequence[Window], panel: Panel, columns: int) -> list[list[Point]]:
    """Runs of consecutive windows of one step inside ``panel`` (a missing window breaks a run),
    thinned to about two points per column."""
    runs: list[list[Window]] = []
    for window in windows:
        if window.end <= panel.start or window.start >= panel.end or "avg" not in window.values:
            continue
        last = runs[-1][-1] if runs else None
        if last is None or last.step != window.step or window.start != last.end:
            runs.append([])
        runs[-1].append(window)
    per_column = (panel.end - panel.start) / max(columns, 1) / 2
    out: list[list[Point]] = []
    for run in runs:
        points: list[Point] = []
        bucket: list[Window] = []
        for window in run:
            if bucket and window.start - bucket[0].start >= per_column:
                points.append(_merge(bucket))
                bucket = []
            bucket.append(window)
        if bucket:
            points.append(_merge(bucket))
        out.append(points)
    return out


def _merge(windows: Sequence[Window]) -> Point:
    avg = sum(w.values["avg"] for w in windows) / len(windows)
    low = min(w.values.get("min", w.values["avg"]) for w in windows)
    high = max(w.values.get("max", w.values["avg"]) for w in windows)
    middle = (windows[0].start + windows[-1].end) / 2
    return Point(middle, avg, low, high, windows[0].step)


def _ticks(start: int, end: int, wanted: int = 7) -> list[tuple[int, str]]:
    step = next((s for s in _TICK_STEPS if (end - start) / s <= wanted), _TICK_STEPS[-1])
    first = -(-start // step) * step
    fmt = "%b %d" if step >= DAY else ("%a %H:%M" if end - start > DAY else "%H:%M")
    return [(t, datetime.fromtimestamp(t, tz=UTC).strftime(fmt)) for t in range(first, end + 1, step)]


def _number(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"


def svg_series(
    windows: Sequence[Window],
    panels: Sequence[Panel],
    steps: Sequence[int],
    title: str,
    subtitle: str = "",
    width: int = 960,
) -> str:
    """The SVG picture; ``steps`` are the archives' steps (finest first) to colour windows by archive."""
    left, right, panel_height, gap, top = 64, 16, 150, 44, 78
    plot_width = width - left - right
    height = top + len(panels) * (panel_height + gap) + 10
    archive_of = {step: number for number, step in enumerate(steps)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15">{escape(title)}</text>',
        f'<text x="{left}" y="40" fill="#555">{escape(subtitle)}</text>',
    ]
    x_legend = left
    for number, step in enumerate(steps):
        colour = COLOURS[number % len(COLOURS)]
        label = f"archive {number}: {_human_step(step)} windows"
        parts.append(f'<rect x="{x_legend}" y="50" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x_legend + 16}" y="60">{escape(label)}</text>')
        x_legend += 16 + 7 * len(label) + 18
    parts.append(f'<text x="{x_legend}" y="60" fill="#555">line: avg; band: min to max</text>')
    y0 = top
    for panel in panels:
        parts += _svg_panel(windows, panel, archive_of, left, y0, plot_width, panel_height)
        y0 += panel_height + gap
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_panel(
    windows: Sequence[Window],
    panel: Panel,
    archive_of: dict[int, int],
    left: int,
    top: int,
    plot_width: int,
    plot_height: int,
) -> list[str]:
    runs = _points(windows, panel, plot_width)
    values = [v for run in runs for p in run for v in (p.low, p.high)]
    parts = [
        f'<text x="{left}" y="{top + 14}" font-weight="bold">{escape(panel.title)}</text>',
        f'<rect x="{left}" y="{top + 20}" width="{plot_width}" height="{plot_height - 20}" '
        'fill="none" stroke="#ccc"/>',
    ]
    if not values:
        parts.append(f'<text x="{left + 10}" y="{top + 60}" fill="#555">no data served here</text>')
        return parts
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or 1.0
    low, high = low - pad, high + pad
    span = panel.end - panel.start
    y_top, y_bottom = top + 22, top + plot_height - 2

    def x_of(t: float) -> float:
        return left + (t - panel.start) / span * plot_width

    def y_of(v: float) -> float:
        return y_bottom - (v - low) / (high - low) * (y_bottom - y_top)

    for t, label in _ticks(panel.start, panel.end):
        x = x_of(t)
        parts.append(f'<line x1="{x:.1f}" y1="{y_top - 2}" x2="{x:.1f}" y2="{y_bottom}" stroke="#eee"/>')
        parts.append(f'<text x="{x:.1f}" y="{y_bottom + 14}" text-anchor="middle" fill="#555">{label}</text>')
    for value in (low + pad, (low + high) / 2, high - pad):
        y = y_of(value)
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{_number(value)}</text>'
        )
    for run in runs:
        colour = COLOURS[archive_of.get(run[0].step, len(archive_of)) % len(COLOURS)]
        upper = " ".join(f"{x_of(p.x):.1f},{y_of(p.high):.1f}" for p in run)
        lower = " ".join(f"{x_of(p.x):.1f},{y_of(p.low):.1f}" for p in reversed(run))
        parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.22" stroke="none"/>')
        line = " ".join(f"{x_of(p.x):.1f},{y_of(p.avg):.1f}" for p in run)
        if len(run) == 1:
            x, y = x_of(run[0].x), y_of(run[0].avg)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.5" fill="{colour}"/>')
        else:
            parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.2"/>')
    return parts


def sparkline(windows: Sequence[Window], panel: Panel, steps: Sequence[int], width: int = 60) -> Text:
    """The panel's averages as one line of block characters, coloured by the archive serving."""
    archive_of = {step: number for number, step in enumerate(steps)}
    span = panel.end - panel.start
    sums = [0.0] * width
    counts = [0] * width
    finest: list[int | None] = [None] * width
    for window in windows:
        if window.end <= panel.start or window.start >= panel.end or "avg" not in window.values:
            continue
        column = min(width - 1, max(0, math.floor((window.start - panel.start) / span * width)))
        sums[column] += window.values["avg"]
        counts[column] += 1
        current = finest[column]
        finest[column] = window.step if current is None else min(current, window.step)
    means = [s / c for s, c in zip(sums, counts, strict=True) if c]
    text = Text()
    if not means:
        return text.append("(nothing served)", style="dim")
    low, high = min(means), max(means)
    for total, count, step in zip(sums, counts, finest, strict=True):
        if not count or step is None:
            text.append(" ")
            continue
        level = 0 if high == low else round((total / count - low) / (high - low) * (len(SPARKS) - 1))
        colour = TERMINAL_COLOURS[archive_of.get(step, len(archive_of)) % len(TERMINAL_COLOURS)]
        text.append(SPARKS[level], style=colour)
    return text
