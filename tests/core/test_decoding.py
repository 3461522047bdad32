"""Decoding input lines into events: every format, every kind of bad line, filters and keys."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from samplerr.core.config import SeriesSettings
from samplerr.core.decoding import MAX_LINE_BYTES, Decoder
from samplerr.core.events import MAX_TIME_MS, MIN_TIME_MS, REJECT_REASONS, EventBatch, SeriesRegistry

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
T0_MS = T0 * 1000

Event = tuple[dict[str, str], int, float]


def decode(
    fmt: str, lines: list[bytes] | bytes, series: SeriesSettings | None = None, **options: str
) -> tuple[list[Event], Counter[str], EventBatch]:
    """Decode, then describe every event by its series fields, time and value."""
    registry = SeriesRegistry()
    decoder = Decoder(fmt, series or SeriesSettings(), registry, **options)  # type: ignore[arg-type]
    batch = decoder.decode_buffer(lines) if isinstance(lines, bytes) else decoder.decode_lines(lines)
    assert batch.series.dtype == np.int64 and batch.times_ms.dtype == np.int64
    assert batch.values.dtype == np.float64
    assert set(batch.rejected) <= set(REJECT_REASONS)
    events = [
        (registry.fields(int(sid)), int(ms), float(value))
        for sid, ms, value in zip(batch.series, batch.times_ms, batch.values, strict=True)
    ]
    return events, batch.rejected, batch


def one(fmt: str, line: bytes, **options: str) -> Event:
    events, rejected, _ = decode(fmt, [line], **options)
    assert not rejected, rejected
    assert len(events) == 1, events
    return events[0]


def reason(fmt: str, line: bytes, **options: str) -> str:
    events, rejected, _ = decode(fmt, [line], **options)
    assert not events, events
    assert sum(rejected.values()) == 1, rejected
    return next(iter(rejected))


def riemann(**fields: object) -> bytes:
    import orjson

    return orjson.dumps(fields)


# -- Riemann JSON ---------------------------------------------------------------------------------


class TestRiemannJson:
    def test_a_plain_event(self):
        line = b'{"host":"web-1","service":"cpu.user","metric":21.5,"time":1700000000,"ttl":60}'
        assert one("json", line) == ({"host": "web-1", "service": "cpu.user"}, T0_MS, 21.5)

    @pytest.mark.parametrize(
        ("time", "ms"),
        [
            (T0, T0_MS),
            (1700000000.123, T0_MS + 123),  # not ...122.99999
            (1700000000.9999, T0_MS + 999),  # floor to the millisecond
            (1700000000.0000004, T0_MS),  # rounded to the microsecond first
            ("2023-11-14T22:13:20.123Z", T0_MS + 123),  # as Riemann writes it
            ("2023-11-14T22:13:20.123456789Z", T0_MS + 123),
            ("2023-11-14T23:13:20.5+01:00", T0_MS + 500),
            ("2023-11-14T22:13:20", T0_MS),  # no offset: UTC
            ("20231114T221320Z", T0_MS),  # basic format
        ],
    )
    def test_times(self, time, ms):
        assert one("json", riemann(host="h", service="s", metric=1, time=time))[1] == ms

    def test_logstash_timestamp_when_time_is_absent_or_null(self):
        at = "2023-11-14T22:13:20.250Z"
        assert one("json", riemann(host="h", service="s", metric=1, **{"@timestamp": at}))[1] == T0_MS + 250
        line = riemann(host="h", service="s", metric=1, time=None, **{"@timestamp": at})
        assert one("json", line)[1] == T0_MS + 250
        line = riemann(host="h", service="s", metric=1, time=T0, **{"@timestamp": "2001-01-01T00:00:00Z"})
        assert one("json", line)[1] == T0_MS

    @pytest.mark.parametrize(
        ("fields", "value"),
        [
            ({"metric": 3}, 3.0),
            ({"metric": -0.5}, -0.5),
            ({"metric": 18446744073709551615}, 18446744073709551615.0),
            ({"metric_sint64": 7}, 7.0),
            ({"metric_d": 2.5}, 2.5),
            ({"metric_f": 1.25}, 1.25),
            ({"metric": None, "metric_d": 4.5}, 4.5),
            ({"metric_sint64": 1, "metric_d": 2.0, "metric_f": 3.0}, 1.0),
            ({"metric": True}, 1.0),
            ({"metric": False}, 0.0),
        ],
    )
    def test_values(self, fields, value):
        assert one("json", riemann(host="h", service="s", time=T0, **fields))[2] == value

    def test_missing_host_or_service_is_an_empty_key_field(self):
        assert one("json", riemann(service="s", metric=1, time=T0))[0] == {"host": "", "service": "s"}
        assert one("json", riemann(host="h", metric=1, time=T0))[0] == {"host": "h", "service": ""}
        assert one("json", riemann(host=None, service="s", metric=1, time=T0))[0] == {
            "host": "",
            "service": "s",
        }

    def test_non_text_key_values_become_text(self):
        fields = one("json", riemann(host=12, service=1.5, metric=1, time=T0))[0]
        assert fields == {"host": "12", "service": "1.5"}
        # 1, 1.0 and True are equal as dict keys: each still gets its own text
        events, _, _ = decode(
            "json", [riemann(host=h, service="s", metric=1, time=T0) for h in ("1", 1, 1.0, True, "1")]
        )
        assert [fields["host"] for fields, _, _ in events] == ["1", "1", "1.0", "true", "1"]

    def test_unicode(self):
        line = '{"host":"hôte-é","service":"温度 \\u00b0C","metric":1,"time":1700000000}'.encode()
        assert one("json", line)[0] == {"host": "hôte-é", "service": "温度 °C"}

    def test_series_ids_follow_first_appearance(self):
        lines = [riemann(host=h, service="s", metric=i, time=T0) for i, h in enumerate("abab")]
        _, _, batch = decode("json", lines)
        assert batch.series.tolist() == [0, 1, 0, 1]
        assert batch.values.tolist() == [0.0, 1.0, 2.0, 3.0]

    @pytest.mark.parametrize(
        ("line", "why"),
        [
            (b'{"host":"h","service":"s","metric":1.0', "not_parseable"),  # truncated
            (b"this is not json", "not_parseable"),
            (b"[1, 2]", "not_parseable"),  # not an object
            (b'"text"', "not_parseable"),
            (b"42", "not_parseable"),
            (b"null", "not_parseable"),
            (b'{"host":"\xff","service":"s","metric":1,"time":1700000000}', "not_parseable"),  # bad UTF-8
            (
                b'{"host":"\\ud800","service":"s","metric":1,"time":1700000000}',
                "not_parseable",
            ),  # lone surrogate
            (b'\xef\xbb\xbf{"host":"h","service":"s","metric":1,"time":1700000000}', "not_parseable"),  # BOM
            (b'{"host":"h","service":"s","time":1700000000}', "no_value"),
            (b'{"host":"h","service":"s","metric":null,"time":1700000000}', "no_value"),
            (b'{"host":"h","service":"s","metric":"12","time":1700000000}', "no_value"),
            (b'{"host":"h","service":"s","metric":[1],"time":1700000000}', "no_value"),
            (b'{"host":"h","service":"s","metric":{"a":1},"time":1700000000}', "no_value"),
            (b'{"host":"h","service":"s","metric":NaN,"time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":Infinity,"time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":-Infinity,"time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":"NaN","time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":"-Infinity","time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":1e400,"time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":-1e999,"time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":1' + b"0" * 400 + b',"time":1700000000}', "not_finite"),
            (b'{"host":"h","service":"s","metric":1}', "no_time"),
            (b'{"host":"h","service":"s","metric":1,"time":null}', "no_time"),
            (b'{"host":"h","service":"s","metric":1,"time":"yesterday"}', "no_time"),
            (b'{"host":"h","service":"s","metric":1,"time":"1700000000"}', "no_time"),  # no guessing
            (b'{"host":"h","service":"s","metric":1,"time":[1700000000]}', "no_time"),
            (b'{"host":"h","service":"s","metric":1,"time":NaN}', "no_time"),
            (b'{"host":"h","service":"s","metric":1,"time":"2023-11-14T22:13:60Z"}', "no_time"),
            (b'{"host":"h","service":"s","metric":1,"time":Infinity}', "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":1e300}', "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":99999999999999}', "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":1700000000000}', "time_out_of_range"),  # ms
            (b'{"host":"h","service":"s","metric":1,"time":-1}', "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":0}', "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":true}', "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":1' + b"0" * 30 + b"}", "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":"1999-12-31T23:59:59.999Z"}', "time_out_of_range"),
            (b'{"host":"h","service":"s","metric":1,"time":"2100-01-01T00:00:00Z"}', "time_out_of_range"),
        ],
    )
    def test_bad_lines(self, line, why):
        assert reason("json", line) == why

    def test_time_range_bounds(self):
        assert (
            one("json", riemann(host="h", service="s", metric=1, time=MIN_TIME_MS // 1000))[1] == MIN_TIME_MS
        )
        last = (MAX_TIME_MS - 1) / 1000
        assert one("json", riemann(host="h", service="s", metric=1, time=last))[1] == MAX_TIME_MS - 1
        assert reason("json", riemann(host="h", service="s", metric=1, time=MAX_TIME_MS // 1000)) == (
            "time_out_of_range"
        )

    def test_the_first_reason_wins(self):
        assert reason("json", b'{"host":"h","service":"s","metric":NaN}') == "not_finite"
        assert reason("json", b'{"host":"h","service":"s","time":-5}') == "no_value"

    def test_empty_and_blank_lines_are_skipped_silently(self):
        events, rejected, _ = decode(
            "json", b'\n   \n\r\n{"host":"h","service":"s","metric":1,"time":1700000000}\n\n'
        )
        assert len(events) == 1 and not rejected

    def test_lines_with_and_without_newline(self):
        lines = [
            riemann(host="h", service="s", metric=1, time=T0) + b"\n",
            riemann(host="h", service="s", metric=2, time=T0),
        ]
        events, rejected, _ = decode("json", lines)
        assert [value for _, _, value in events] == [1.0, 2.0] and not rejected

    def test_rejections_keep_a_few_short_examples(self):
        lines = [b"garbage %d " % i + b"x" * 1000 for i in range(10)] + [b'{"host":"h","service":"s"}']
        _, rejected, batch = decode("json", lines)
        assert rejected == {"not_parseable": 10, "no_value": 1}
        examples = batch.reject_examples["not_parseable"]
        assert 1 <= len(examples) <= 3 and examples[0].startswith("garbage 0 ")
        assert all(len(example) <= 201 for example in examples)
        assert batch.reject_examples["no_value"] == ['{"host":"h","service":"s"}']

    def test_timestamp_unit_is_explicit(self):
        line = riemann(host="h", service="s", metric=1, time=T0_MS + 5)
        assert one("json", line, timestamp_unit="ms")[1] == T0_MS + 5
        assert reason("json", line) == "time_out_of_range"  # seconds by default: never guessed
        ns = riemann(host="h", service="s", metric=1, time=T0 * 10**9 + 123_999_999)
        assert one("json", ns, timestamp_unit="ns")[1] == T0_MS + 123


# -- every format: oversized lines, garbage -------------------------------------------------------

FORMATS = ("json",)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_line_over_one_mebibyte_is_not_parseable(fmt):
    huge = b'{"host":"' + b"h" * MAX_LINE_BYTES + b'","service":"s","metric":1,"time":1700000000}'
    good = riemann(host="h", service="s", metric=1, time=T0)
    registry = SeriesRegistry()
    decoder = Decoder(fmt, SeriesSettings(), registry)  # type: ignore[arg-type]
    batch = decoder.decode_lines([good, huge, good])
    assert batch.rejected["not_parseable"] == 1 + (2 if fmt != "json" else 0)
    batch = decoder.decode_buffer(b"\n".join([good, huge, good]))
    assert batch.rejected["not_parseable"] == 1 + (2 if fmt != "json" else 0)


def test_unknown_format_or_unit_is_refused():
    with pytest.raises(ValueError, match="unknown input format"):
        Decoder("xml", SeriesSettings(), SeriesRegistry())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown timestamp unit"):
        Decoder("json", SeriesSettings(), SeriesRegistry(), timestamp_unit="min")  # type: ignore[arg-type]
