"""Coverage timelines: which archive serves each stretch of time, in the terminal and as SVG.

Archives keep data for spans that differ by orders of magnitude (2 days, 2 months, 10 years), so
time runs on a logarithmic scale of age: equal widths for the last hour, day, week, month, year.
Both renderings read the plan's coverage (:func:`samplerr.core.lifecycle.coverage`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from rich.text import Text

from samplerr.core.lifecycle import Segment
from samplerr.core.lifecycle_spans import iso
from samplerr.lifecycle_report import StatusReport

HOUR = 3_600
DAY = 86_400
COLOURS = ("#2e7d32", "#f9a825", "#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#4e342e")
TERMINAL_COLOURS = ("green", "yellow", "blue", "magenta", "cyan", "red", "white")
_TICKS: tuple[tuple[int, str], ...] = (
    (0, "now"),
    (HOUR, "1h"),
    (DAY, "1d"),
    (7 * DAY, "1w"),
    (30 * DAY, "1mo"),
    (365 * DAY, "1y"),
    (3650 * DAY, "10y"),
    (36500 * DAY, "100y"),
)


@dataclass(frozen=True, slots=True)
class Stretch:
    """Consecutive coverage served by one archive (``None``: nothing holds data there)."""

    start: int
    end: int
    archive: int | None
    first_index: str | None
    last_index: str | None
    indices: int


def stretches(segments: Sequence[Segment]) -> tuple[Stretch, ...]:
    """Merge consecutive segments served by the same archive."""
    out: list[Stretch] = []
    for segment in segments:
        last = out[-1] if out else None
        if last is not None and last.archive == segment.archive and last.end == segment.start:
            fresh = segment.index is not None and segment.index != last.last_index
            out[-1] = Stretch(
                last.start,
                segment.end,
                last.archive,
                last.first_index,
                segment.index,
                last.indices + (1 if fresh else 0),
            )
        else:
            count = 0 if segment.index is None else 1
            out.append(
                Stretch(segment.start, segment.end, segment.archive, segment.index, segment.index, count)
            )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class AgeScale:
    """Maps instants in ``[oldest, now]`` to ``[0, 1]`` on a logarithmic scale of age (1 = now)."""

    oldest: int
    now: int
    unit: int = HOUR

    @property
    def _span(self) -> float:
        return math.log1p(max(self.now - self.oldest, 1) / self.unit)

    def x(self, instant: int) -> float:
        age = min(max(self.now - instant, 0), self.now - self.oldest)
        return 1.0 - math.log1p(age / self.unit) / self._span

    def instant(self, x: float) -> int:
        return self.now - round(self.unit * math.expm1((1.0 - x) * self._span))

    def ticks(self) -> list[tuple[float, str]]:
        ages = [(age, label) for age, label in _TICKS if age <= self.now - self.oldest]
        return [(self.x(self.now - age), label) for age, label in ages]


def _scale(report: StatusReport) -> AgeScale | None:
    if not report.coverage:
        return None
    oldest = report.coverage[0].start
    return AgeScale(oldest, max(report.now, oldest + 1))


def _archive_at(segments: Sequence[Segment], instant: int) -> int | None:
    for segment in segments:
        if segment.start <= instant < segment.end:
            return segment.archive
    return None


def terminal_timeline(report: StatusReport, width: int = 72) -> Text:
    """One line per column of age: the archive serving it (its number), ``·`` where nothing does."""
    scale = _scale(report)
    text = Text()
    if scale is None:
        text.append("no data yet")
        return text
    for column in range(width):
        instant = scale.instant((column + 0.5) / width)
        archive = _archive_at(report.coverage, instant)
        if archive is None:
            text.append("·", style="dim")
        else:
            text.append("█", style=TERMINAL_COLOURS[archive % len(TERMINAL_COLOURS)])
    text.append("\n")
    axis = [" "] * (width + 4)
    for x, label in reversed(scale.ticks()):
        position = min(round(x * (width - 1)), width - 1)
        start = max(0, min(position - len(label) // 2, width + 4 - len(label)))
        if all(char == " " for char in axis[max(0, start - 1) : start + len(label) + 1]):
            axis[start : start + len(label)] = label
    text.append("".join(axis).rstrip() + "   (age, logarithmic)\n", style="dim")
    for shown in report.archives:
        text.append("█", style=TERMINAL_COLOURS[shown.number % len(TERMINAL_COLOURS)])
        text.append(f" archive {shown.number} {shown.tf} step {shown.step_seconds}s  ")
    text.append("· nothing")
    return text


def svg_timeline(report: StatusReport, width: int = 960) -> str:
    """An SVG of the coverage: a "served" lane, then one lane per archive with its indices.

    Indices that serve are solid, kept but not serving pale, to be deleted outlined in red.
    """
    lane, gap, left, top = 28, 8, 150, 40
    plot_width = width - left - 20
    lanes = 1 + len(report.archives)
    height = top + lanes * (lane + gap) + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14">samplerr coverage at {escape(iso(report.now))} '
        f"({escape(report.alias_prefix)}* over {escape(report.index_prefix)}*)</text>",
    ]
    scale = _scale(report)
    if scale is None:
        parts.append(f'<text x="{left}" y="{top + 20}">no data yet</text></svg>')
        return "\n".join(parts)

    def x_of(instant: int) -> float:
        return left + scale.x(instant) * plot_width

    def rect(start: int, end: int, y: float, fill: str, extra: str, title: str) -> str:
        x0, x1 = x_of(max(start, scale.oldest)), x_of(min(end, scale.now))
        return (
            f'<rect x="{x0:.2f}" y="{y:.1f}" width="{max(x1 - x0, 0.8):.2f}" height="{lane}" '
            f'fill="{fill}" {extra}><title>{escape(title)}</title></rect>'
        )

    y = float(top)
    parts.append(f'<text x="10" y="{y + lane * 0.65:.1f}">served</text>')
    for segment in report.coverage:
        if segment.archive is None:
            fill, title = "#eeeeee", f"nothing: {iso(segment.start)} .. {iso(segment.end)}"
        else:
            fill = COLOURS[segment.archive % len(COLOURS)]
            title = f"{segment.index}: {iso(segment.start)} .. {iso(segment.end)}"
        parts.append(rect(segment.start, segment.end, y, fill, "", title))
    for archive in report.archives:
        y += lane + gap
        colour = COLOURS[archive.number % len(COLOURS)]
        label = f"{archive.number}: {archive.tf} ({archive.step_seconds}s, {archive.ttl})"
        parts.append(f'<text x="10" y="{y + lane * 0.65:.1f}">{escape(label)}</text>')
        for index in archive.indices:
            if index.end <= scale.oldest or index.start >= scale.now:
                continue
            title = f"{index.name}: {index.docs} docs, {index.decision} ({index.reason})"
            if index.decision == "delete":
                extra = 'fill-opacity="0.15" stroke="#c62828" stroke-width="1"'
            elif index.serves:
                extra = 'stroke="white" stroke-width="0.5"'
            else:
                extra = 'fill-opacity="0.3" stroke="white" stroke-width="0.5"'
            parts.append(rect(index.start, index.end, y, colour, extra, title))
    axis_y = y + lane + gap + 12
    for x, label in scale.ticks():
        px = left + x * plot_width
        parts.append(f'<line x1="{px:.2f}" y1="{top - 4}" x2="{px:.2f}" y2="{axis_y - 10}" stroke="#999" />')
        parts.append(f'<text x="{px:.2f}" y="{axis_y + 2}" text-anchor="middle">{escape(label)}</text>')
    parts.append(
        f'<text x="{left}" y="{axis_y + 22}" fill="#555">age, logarithmic; solid: serves, pale: kept, '
        "red outline: expired, deleted by the next purge</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)
