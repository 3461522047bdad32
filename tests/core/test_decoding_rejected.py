"""``Decoder(keep_rejected=True)``: every line rejected for an input error, once, with its reason."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from samplerr.core.config import SeriesSettings
from samplerr.core.decoding import MAX_LINE_BYTES, Decoder
from samplerr.core.decoding_batch import NOT_ERRORS
from samplerr.core.events import REJECT_REASONS, EventBatch, SeriesRegistry
from tests.core.test_decoding import FORMATS, LINES, PROPERTY, T0, riemann, telegraf

ERRORS = frozenset(REJECT_REASONS) - NOT_ERRORS
NS = T0 * 10**9


def decoder(fmt: str, series: SeriesSettings | None = None, *, keep: bool = True) -> Decoder:
    return Decoder(fmt, series or SeriesSettings(), SeriesRegistry(), keep_rejected=keep)  # type: ignore[arg-type]


def kept(fmt: str, lines: list[bytes], series: SeriesSettings | None = None) -> list[tuple[str, bytes]]:
    return decoder(fmt, series).decode_lines(lines).rejected_lines


def summary(batch: EventBatch) -> tuple[list[object], Counter[str], dict[str, list[str]]]:
    columns = list(zip(batch.series.tolist(), batch.times_ms.tolist(), batch.values.tolist(), strict=True))
    return columns, batch.rejected, batch.reject_examples


# -- what is kept -----------------------------------------------------------------------------------


def test_nothing_is_kept_unless_asked():
    batch = decoder("json", keep=False).decode_lines([b"not json", riemann(host="h", service="s")])
    assert batch.rejected == {"not_parseable": 1, "no_value": 1}
    assert batch.rejected_lines == []


@pytest.mark.parametrize(
    ("fmt", "line", "expected"),
    [
        ("json", b"\xff not utf-8", "not_parseable"),
        ("json", riemann(host="h", service="s", metric=1), "no_time"),
        ("json", riemann(host="h", service="s", metric="NaN", time=T0), "not_finite"),
        ("json", riemann(host="h", service="s", metric=1, time=-5), "time_out_of_range"),
        ("json", riemann(host="h", service="s", metric=1, time=T0), None),
        ("graphite", b"a.b x %d" % T0, "not_parseable"),
        ("graphite", b"a.b nan %d" % T0, "not_finite"),
        ("graphite", b"a.b 1", "no_time"),
        ("graphite", b"a.b 1 %d" % T0, None),
        # one NaN field among good ones: the line is kept once, its good field still decoded
        ("influx", b'cpu,host=a v=1,w=nan,s="up" %d' % NS, "not_finite"),
        # every field bad, for two reasons: kept once, with the first
        ("influx", b"cpu w=nan,v=1 %d" % (10**30), "not_finite"),
        ("influx", b"cpu v=1,w=2", "no_time"),
        ("influx", b"cpu v=1,w=2 x", "not_parseable"),
        ("influx", b'cpu s="up",t="down" %d' % NS, None),  # string fields only: not an error
        (
            "telegraf",
            b'{"name": "cpu", "fields": {"v": 1, "w": NaN, "s": "up"}, "timestamp": %d}' % T0,
            "not_finite",
        ),
        ("telegraf", telegraf(fields={"s": "up"}), None),
        ("telegraf", telegraf(fields={}), "no_value"),
        (
            "telegraf",
            b'{"metrics": [%s, %s, 7]}'
            % (telegraf(fields={"v": "x"}), telegraf(fields={"v": 1}, timestamp=None)),
            "no_time",  # a string field is no error; the second metric has no time; 7 is not_parseable
        ),
    ],
)
def test_a_line_is_kept_once_with_its_first_input_error(fmt, line, expected):
    assert kept(fmt, [line]) == ([] if expected is None else [(expected, line)])


def test_filtered_lines_are_not_kept():
    series = SeriesSettings(include={"host": ("web-*",)})
    lines = [riemann(host="db-1", service="s", metric=1, time=T0), riemann(host="web-1", service="s")]
    assert kept("json", lines, series) == [("no_value", lines[1])]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_line_over_one_mebibyte_is_kept_whole(fmt):
    long = b"x" * (MAX_LINE_BYTES + 1)
    batch = decoder(fmt).decode_buffer(b"\n".join([b"", long, b"\xff", b"  "]))
    assert batch.rejected_lines == [("not_parseable", long), ("not_parseable", b"\xff")]


def test_lines_come_as_given_carriage_returns_included():
    line = b"a.b x %d\r" % T0
    assert decoder("graphite").decode_buffer(b"a.b 1 %d\n%s\n" % (T0, line)).rejected_lines == [
        ("not_parseable", line)
    ]


# -- properties -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY
@given(data=st.data())
def test_keeping_rejected_lines_changes_nothing_else(fmt, data):
    lines = data.draw(st.lists(LINES[fmt], min_size=1, max_size=25))
    plain = decoder(fmt, keep=False).decode_lines(lines)
    keeping = decoder(fmt).decode_lines(lines)
    assert summary(keeping) == summary(plain)
    assert plain.rejected_lines == []
    assert all(reason in ERRORS for reason, _ in keeping.rejected_lines)
    assert len(keeping.rejected_lines) <= sum(keeping.rejected[r] for r in ERRORS)


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY
@given(data=st.data())
def test_each_line_is_kept_once_exactly_when_one_of_its_events_is_an_input_error(fmt, data):
    lines = data.draw(st.lists(LINES[fmt], min_size=1, max_size=25))
    cuts = data.draw(st.lists(st.integers(0, len(lines)), max_size=4))
    expected: list[tuple[str, bytes]] = []
    for line in lines:  # each line alone, by a fresh decoder
        alone = decoder(fmt).decode_lines([line])
        errors = {reason for reason in alone.rejected if reason in ERRORS}
        assert len(alone.rejected_lines) == (1 if errors else 0)
        for reason, kept_line in alone.rejected_lines:
            assert kept_line == line
            assert reason in errors
            if fmt in ("json", "graphite"):  # one event per line: its only outcome
                assert errors == {reason}
        expected += alone.rejected_lines
    # the same whatever the batching, as lines or as one buffer
    one = decoder(fmt)
    bounds = [0, *sorted(cuts), len(lines)]
    pieces = [one.decode_lines(lines[start:end]) for start, end in itertools.pairwise(bounds)]
    assert [entry for piece in pieces for entry in piece.rejected_lines] == expected
    if all(b"\n" not in line for line in lines):
        assert decoder(fmt).decode_buffer(b"\n".join(lines)).rejected_lines == expected


def test_kept_lines_are_the_input_objects_not_copies():
    lines = [b"garbage %d" % i for i in range(3)]
    batch = decoder("json").decode_lines(lines)
    assert all(kept_line is line for (_, kept_line), line in zip(batch.rejected_lines, lines, strict=True))
    assert np.array_equal(batch.series, np.empty(0, dtype=np.int64))
