"""Decoding input lines into events: the :class:`Decoder` for every input format.

A :class:`Decoder` turns lines into an :class:`~samplerr.core.events.EventBatch`: series ids
(interned in a :class:`~samplerr.core.events.SeriesRegistry`), UTC epoch milliseconds and float
values, in arrival order, with rejections counted by reason and a few example lines per reason.
Decoding never raises on input and never reads the clock; its result does not depend on how the
lines are split into calls.

Lines
    Each line is decoded on its own. Empty and blank lines are skipped silently (and, in line
    protocol, ``#`` comments). A line longer than 1 MiB is ``not_parseable`` without being read.
    A line that is not valid UTF-8 is ``not_parseable``.

Formats
    ``json`` (Riemann)
        One JSON object per line: ``host``, ``service``, ``metric``, ``time``, ``tags``, any other
        attributes. The value is ``metric`` or, when it is absent or null, ``metric_sint64``,
        ``metric_d``, ``metric_f`` (the first present). ``time`` is epoch seconds (an integer or a
        float; another unit with ``timestamp_unit``) or an ISO 8601 string as Riemann writes it;
        when ``time`` is absent or null, ``@timestamp`` (Logstash) is used. A missing ``host`` or
        ``service`` is the empty string, like any missing key field: the event is kept (Riemann
        allows it), in the series whose key has ``""`` there. A boolean value is 1.0 or 0.0
        (as in the other formats). ``NaN``/``Infinity`` literals (as Python writes them) and the
        strings ``"NaN"``/``"Infinity"``/``"-Infinity"`` (as Jackson writes them) are
        ``not_finite``; any other string (``"12"`` included: no guessing), a list or an object
        as the value is ``no_value``. Field values that are not strings become text
        (``field_text``: ``12``, ``1.5``, ``true``; the ``tags`` list sorted and joined with
        ``,``). Duplicate keys: the last one wins.
    ``telegraf`` (Telegraf's JSON serializer)
        ``{"name": m, "tags": {...}, "fields": {...}, "timestamp": t}`` per line, or Telegraf's
        batch ``{"metrics": [...]}``. ``timestamp`` is in seconds unless ``timestamp_unit`` says
        otherwise (Telegraf's ``json_timestamp_units``); an ISO 8601 string is accepted too.
    ``influx`` (InfluxDB line protocol, Telegraf's default Kafka output)
        ``measurement[,tag=value...] field=value[,field=value...] [timestamp]`` with the
        protocol's escaping: ``\\,`` and ``\\ `` in the measurement; ``\\,``, ``\\=``, ``\\ ``
        in tag keys, tag values and field keys; ``\\"`` and ``\\\\`` inside quoted string
        values; any other backslash is itself. Values: floats (``1``, ``-1.5e3``, ``.5``; also
        ``nan``/``inf``, which are ``not_finite``), integers ``12i``, unsigned ``12u``, booleans
        (``t``, ``T``, ``true``, ``True``, ``TRUE``, ``f`` …), quoted strings. The timestamp is
        an integer in nanoseconds unless ``timestamp_unit`` (the writer's precision) says
        otherwise; a line without one is ``no_time`` (the decoder never reads the clock).
        Sections may be separated by several spaces. A malformed field, tag or timestamp makes
        the whole line ``not_parseable``, as InfluxDB would refuse it.
    ``graphite`` (plaintext)
        ``path value timestamp``, separated by spaces or tabs; the value as carbon reads it
        (``float()``); the timestamp in seconds, an integer or a float. Graphite tags
        (``path;tag=value;tag2=value2``) become fields; the order of the tags does not matter.

    In Telegraf JSON and line protocol every numeric field is an event of its own series:
    ``service`` is ``<measurement>.<field>`` and every tag (``host`` included) is a field.
    Booleans are 1.0 and 0.0. A string field is skipped and counted as ``not_numeric`` (visible,
    not an error); a metric without any field is ``no_value`` once. In graphite, ``service`` is
    the path and the tags are fields. A tag named ``service`` would clash with the computed
    ``service``: it is kept as ``service_tag``. A string field creates no series.

Series
    With ``[series] key`` set, the key is exactly those fields, a missing one being ``""``.
    Otherwise it is ``host`` + ``service`` for ``json`` and ``service`` + every tag for the other
    formats. ``include`` / ``exclude`` map a field to glob patterns (``fnmatch``, case-sensitive,
    matching the whole value; a missing field is ``""``): an event is kept when, for every
    ``include`` field, its value matches one of the patterns, and no ``exclude`` field matches.
    For Riemann's ``tags`` list, a pattern matches when it matches any one tag.

Rejections
    One outcome per would-be event (a line of JSON or graphite; a field of Telegraf JSON or
    line protocol), the first that applies in this order: ``not_parseable`` (the whole line,
    counted once), ``filtered``, ``no_value`` / ``not_numeric`` / ``not_finite`` (NaN, ±inf,
    and numbers that overflow a double), ``no_time`` (absent, or not a number or an ISO 8601
    date-time, or NaN), ``time_out_of_range`` (outside ``[MIN_TIME_MS, MAX_TIME_MS)``).
    Times are converted exactly as :mod:`samplerr.core.decoding_times` describes.
    ``EventBatch.reject_examples`` keeps the first few offending lines of a call per reason
    (each cut to about 200 characters, invalid UTF-8 escaped) for rate-limited logging.

Rejected lines (``keep_rejected``)
    A :class:`Decoder` made with ``keep_rejected=True`` also returns every line rejected for an
    input error in ``EventBatch.rejected_lines``, as ``(reason, line)`` in input order, each line
    exactly as given (``decode_buffer`` splits on ``\\n``), for a dead-letter topic. A line is
    kept **once**, with the reason of its first rejected would-be event that is an input error:
    ``not_parseable``, ``no_value``, ``not_finite``, ``no_time``, ``time_out_of_range``.
    ``filtered`` and ``not_numeric`` are not input errors (a Telegraf string field is normal): a
    line rejected only for them is not kept. So a line protocol line with one ``NaN`` field is kept
    (``not_finite``) although its other fields were decoded: the operator sees the offending line
    once, with why.

Several lines in one message (Telegraf batches several metrics into one Kafka message) are
split by the caller: ``decode_buffer(message)``, or ``decode_lines(message.split(b"\\n"))``.
A decoder keeps caches from raw bytes or values to series ids (bounded); it is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, Protocol, get_args

from samplerr.core.config import InputFormat, SeriesSettings
from samplerr.core.decoding_batch import BatchBuilder
from samplerr.core.decoding_graphite import GraphiteDecoder
from samplerr.core.decoding_influx import InfluxDecoder
from samplerr.core.decoding_json import RiemannJsonDecoder
from samplerr.core.decoding_series import SeriesMapper
from samplerr.core.decoding_telegraf import TelegrafJsonDecoder
from samplerr.core.decoding_times import TIME_UNITS, TimeUnit
from samplerr.core.events import EventBatch, SeriesRegistry

__all__ = ["MAX_LINE_BYTES", "Decoder", "TimeUnit"]

MAX_LINE_BYTES: Final = 1 << 20  # longer lines are not_parseable, unread

DEFAULT_TIME_UNIT: Final[dict[str, TimeUnit]] = {
    "json": "s",
    "telegraf": "s",
    "influx": "ns",
    "graphite": "s",
}


class _FormatDecoder(Protocol):
    def decode(self, lines: Sequence[bytes], out: BatchBuilder) -> None: ...


class Decoder:
    """Decodes lines of one input format into event batches.

    ``timestamp_unit`` is the unit of numeric timestamps: by default seconds for ``json``,
    ``telegraf`` and ``graphite`` and nanoseconds for ``influx``. It is never guessed.
    Raises ``ValueError`` for an unknown format or unit.
    """

    __slots__ = ("_format", "fmt", "keep_rejected", "timestamp_unit")

    def __init__(
        self,
        fmt: InputFormat,
        series: SeriesSettings,
        registry: SeriesRegistry,
        *,
        timestamp_unit: TimeUnit | None = None,
        keep_rejected: bool = False,
    ) -> None:
        if fmt not in get_args(InputFormat):
            raise ValueError(f"unknown input format {fmt!r} (valid: {', '.join(get_args(InputFormat))})")
        if timestamp_unit is not None and timestamp_unit not in TIME_UNITS:
            raise ValueError(f"unknown timestamp unit {timestamp_unit!r} (valid: {', '.join(TIME_UNITS)})")
        self.fmt = fmt
        self.timestamp_unit: TimeUnit = timestamp_unit or DEFAULT_TIME_UNIT[fmt]
        self.keep_rejected = keep_rejected  # may be changed between calls
        self._format: _FormatDecoder
        if fmt == "json":
            mapper = SeriesMapper(series, registry, ("host", "service"))
            self._format = RiemannJsonDecoder(mapper, self.timestamp_unit)
        else:  # the default key is service + every tag
            mapper = SeriesMapper(series, registry, None)
            decoders: dict[str, Callable[[SeriesMapper, str], _FormatDecoder]] = {
                "telegraf": TelegrafJsonDecoder,
                "influx": InfluxDecoder,
                "graphite": GraphiteDecoder,
            }
            self._format = decoders[fmt](mapper, self.timestamp_unit)

    def decode_lines(self, lines: Iterable[bytes]) -> EventBatch:
        """Decode lines (each one line, with or without its ``\\n``)."""
        items = lines if isinstance(lines, list) else list(lines)
        return self._decode(items, may_be_long=True)

    def decode_buffer(self, data: bytes) -> EventBatch:
        """Decode a chunk of whole lines separated by ``\\n`` (the last one may lack it)."""
        if isinstance(self._format, RiemannJsonDecoder) and _lines_fit(data):
            out = BatchBuilder(keep_rejected=self.keep_rejected)
            if self._format.decode_buffer(data, out):  # without splitting it, when it can
                return out.build()
        return self._decode(data.split(b"\n"), may_be_long=len(data) > MAX_LINE_BYTES)

    def _decode(self, items: list[bytes], *, may_be_long: bool) -> EventBatch:
        out = BatchBuilder(keep_rejected=self.keep_rejected)
        if may_be_long and items and max(map(len, items)) > MAX_LINE_BYTES:
            start = 0
            for index, line in enumerate(items):
                if len(line) > MAX_LINE_BYTES and len(line.rstrip(b"\r\n")) > MAX_LINE_BYTES:
                    if start < index:
                        self._format.decode(items[start:index], out)
                    out.reject("not_parseable", line)
                    start = index + 1
            if start < len(items):
                self._format.decode(items[start:], out)
        elif items:
            self._format.decode(items, out)
        return out.build()


def _lines_fit(data: bytes, limit: int = MAX_LINE_BYTES) -> bool:
    """Whether no line of ``data`` can be longer than ``limit`` bytes, without splitting it.

    A longer line would cover a whole window ``[k·h, (k+1)·h)`` of ``h = limit // 2`` bytes, so
    it is enough that each such window holds a newline (False may also mean that a line is
    merely long: the caller then looks at each line)."""
    half = max(1, limit // 2)
    return len(data) <= limit or all(
        data.find(b"\n", start, start + half) >= 0 for start in range(0, len(data) - half + 1, half)
    )
