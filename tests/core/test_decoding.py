"""Decoding input lines into events: every format, every kind of bad line, filters and keys."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from samplerr.core.config import SeriesSettings
from samplerr.core.decoding import MAX_LINE_BYTES, Decoder
from samplerr.core.events import MAX_TIME_MS, MIN_TIME_MS, REJECT_REASONS, EventBatch, SeriesRegistry

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
T0_MS = T0 * 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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

    def test_null_metric_and_time_fall_back_also_for_a_known_series(self):
        first = riemann(host="h", service="s", metric=1, time=T0)
        line = riemann(
            host="h",
            service="s",
            metric=None,
            metric_d=4.5,
            time=None,
            **{"@timestamp": "2023-11-14T22:13:20Z"},
        )
        events, rejected, _ = decode("json", [first, line])
        assert [(ms, value) for _, ms, value in events] == [(T0_MS, 1.0), (T0_MS, 4.5)] and not rejected

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


# -- Telegraf JSON --------------------------------------------------------------------------------


def telegraf(name="cpu", tags=None, fields=None, timestamp=T0, **extra) -> bytes:
    metric = {"name": name, "tags": {"host": "h"} if tags is None else tags, "fields": fields, **extra}
    if timestamp is not None:
        metric["timestamp"] = timestamp
    return orjson.dumps(metric)


class TestTelegrafJson:
    def test_one_series_per_numeric_field(self):
        line = telegraf(tags={"host": "h", "cpu": "cpu0"}, fields={"usage_idle": 99.5, "usage_user": 0.5})
        events, rejected, _ = decode("telegraf", [line])
        assert events == [
            ({"cpu": "cpu0", "host": "h", "service": "cpu.usage_idle"}, T0_MS, 99.5),
            ({"cpu": "cpu0", "host": "h", "service": "cpu.usage_user"}, T0_MS, 0.5),
        ]
        assert not rejected

    def test_field_types(self):
        fields = {
            "f": 1.5,
            "i": -3,
            "big": 2**64 - 1,
            "yes": True,
            "no": False,
            "text": "up",
            "null": None,
            "list": [1],
        }
        events, rejected, _ = decode("telegraf", [telegraf(fields=fields)])
        assert {fields["service"]: value for fields, _, value in events} == {
            "cpu.f": 1.5,
            "cpu.i": -3.0,
            "cpu.big": 2.0**64,
            "cpu.yes": 1.0,
            "cpu.no": 0.0,
        }
        assert rejected == {"not_numeric": 3}

    def test_string_fields_make_no_series(self):
        registry = SeriesRegistry()
        decoder = Decoder("telegraf", SeriesSettings(), registry)
        decoder.decode_lines([telegraf(fields={"state": "up"}), telegraf(fields={"state": "down"})])
        assert len(registry) == 0
        batch = decoder.decode_lines([telegraf(fields={"state": 1})])  # the same field, numeric now
        assert len(batch) == 1 and registry.fields(0)["service"] == "cpu.state"

    def test_batch_format(self):
        line = orjson.dumps(
            {
                "metrics": [
                    {"name": "mem", "tags": {"host": "a"}, "fields": {"used": 12}, "timestamp": T0},
                    {"name": "disk", "tags": {"host": "b"}, "fields": {"free": 3.5}, "timestamp": T0 + 10},
                    "not a metric",
                ]
            }
        )
        events, rejected, _ = decode("telegraf", [line])
        assert events == [
            ({"host": "a", "service": "mem.used"}, T0_MS, 12.0),
            ({"host": "b", "service": "disk.free"}, T0_MS + 10_000, 3.5),
        ]
        assert rejected == {"not_parseable": 1}

    @pytest.mark.parametrize(
        ("timestamp", "unit", "ms"),
        [
            (T0, None, T0_MS),
            (T0 * 1000 + 7, "ms", T0_MS + 7),
            (T0 * 10**6 + 7_999, "us", T0_MS + 7),
            (T0 * 10**9 + 7_999_999, "ns", T0_MS + 7),
            (T0 + 0.25, None, T0_MS + 250),
            ("2023-11-14T22:13:20.125Z", None, T0_MS + 125),
        ],
    )
    def test_timestamps(self, timestamp, unit, ms):
        options = {"timestamp_unit": unit} if unit else {}
        assert one("telegraf", telegraf(fields={"v": 1}, timestamp=timestamp), **options)[1] == ms

    def test_units_are_never_guessed(self):
        assert reason("telegraf", telegraf(fields={"v": 1}, timestamp=T0 * 10**9)) == "time_out_of_range"

    def test_tags_become_text_and_service_tag_is_kept_apart(self):
        fields = one("telegraf", telegraf(tags={"host": "h", "n": 3, "service": "web"}, fields={"v": 1}))[0]
        assert fields == {"host": "h", "n": "3", "service": "cpu.v", "service_tag": "web"}

    @pytest.mark.parametrize(
        ("line", "why"),
        [
            (b'{"name":"cpu","fields":{"v":1}', "not_parseable"),  # truncated
            (b"[]", "not_parseable"),
            (b'{"tags":{},"fields":{"v":1},"timestamp":1700000000}', "not_parseable"),  # no name
            (b'{"name":"","fields":{"v":1},"timestamp":1700000000}', "not_parseable"),
            (b'{"name":3,"fields":{"v":1},"timestamp":1700000000}', "not_parseable"),
            (b'{"name":"cpu","tags":["a"],"fields":{"v":1},"timestamp":1700000000}', "not_parseable"),
            (b'{"name":"cpu","fields":[1],"timestamp":1700000000}', "not_parseable"),
            (b'{"name":"cpu","fields":{},"timestamp":1700000000}', "no_value"),
            (b'{"name":"cpu","timestamp":1700000000}', "no_value"),
            (b'{"name":"cpu","fields":{"v":"x"},"timestamp":1700000000}', "not_numeric"),
            (b'{"name":"cpu","fields":{"v":NaN},"timestamp":1700000000}', "not_finite"),
            (b'{"name":"cpu","fields":{"v":1e999},"timestamp":1700000000}', "not_finite"),
            (b'{"name":"cpu","fields":{"v":1}}', "no_time"),
            (b'{"name":"cpu","fields":{"v":1},"timestamp":"soon"}', "no_time"),
            (b'{"name":"cpu","fields":{"v":1},"timestamp":-1}', "time_out_of_range"),
        ],
    )
    def test_bad_lines(self, line, why):
        assert reason("telegraf", line) == why

    def test_outcomes_count_per_field(self):
        line = b'{"name":"cpu","fields":{"a":1,"b":2,"c":"x"}}'
        _, rejected, _ = decode("telegraf", [line])
        assert rejected == {"no_time": 2, "not_numeric": 1}


# -- InfluxDB line protocol -----------------------------------------------------------------------

NS = T0 * 10**9


class TestInfluxLineProtocol:
    def test_telegraf_output(self):
        line = b"cpu,cpu=cpu0,host=h usage_idle=99.5,usage_user=0.5 %d\n" % NS
        events, rejected, _ = decode("influx", [line])
        assert events == [
            ({"cpu": "cpu0", "host": "h", "service": "cpu.usage_idle"}, T0_MS, 99.5),
            ({"cpu": "cpu0", "host": "h", "service": "cpu.usage_user"}, T0_MS, 0.5),
        ]
        assert not rejected

    @pytest.mark.parametrize(
        ("token", "value"),
        [
            (b"1", 1.0),
            (b"-1.5e3", -1500.0),
            (b"1.", 1.0),
            (b".5", 0.5),
            (b"+2", 2.0),
            (b"12i", 12.0),
            (b"-12i", -12.0),
            (b"0i", 0.0),
            (b"9223372036854775807i", 9223372036854775807.0),
            (b"18446744073709551615u", 18446744073709551615.0),
            *((word, 1.0) for word in (b"t", b"T", b"true", b"True", b"TRUE")),
            *((word, 0.0) for word in (b"f", b"F", b"false", b"False", b"FALSE")),
        ],
    )
    def test_values(self, token, value):
        assert one("influx", b"m v=" + token + b" %d" % NS)[2] == value

    @pytest.mark.parametrize(
        "line",
        [
            b"cpu",  # no fields
            b"cpu ",
            b"cpu v",
            b"cpu v=",
            b"cpu =1",
            b"cpu,host v=1",
            b"cpu,=h v=1",
            b"cpu,host= v=1",
            b",host=h v=1",
            b" v=1",
            b"cpu v=1,",
            b"cpu v=1,,w=2",
            b"cpu v=-12u",
            b"cpu v=12x",
            b"cpu v=1_000",
            b"cpu v=0x10",
            b"cpu v=tru",
            b"cpu v=1i2",
            b'cpu v="unterminated',
            b'cpu v="a" "b"',
            b"cpu v=1 12.5",
            b"cpu v=1 abc",
            b"cpu v=1 1700000000000000000 extra",
            b"cpu\\",
            b"cpu v=1\\",
            b"c\xffpu v=1 1700000000000000000",
            b"cpu,h\xff=a v=1 1700000000000000000",
            b"cpu,h=\xff v=1 1700000000000000000",
            b"cpu v\xff=1 1700000000000000000",
            b"cpu v\\\xff=1 1700000000000000000",
        ],
    )
    def test_malformed_lines(self, line):
        assert reason("influx", line) == "not_parseable"

    @pytest.mark.parametrize(
        ("line", "why"),
        [
            (b"cpu v=nan 1700000000000000000", "not_finite"),
            (b"cpu v=NaN 1700000000000000000", "not_finite"),
            (b"cpu v=inf 1700000000000000000", "not_finite"),
            (b"cpu v=-Infinity 1700000000000000000", "not_finite"),
            (b"cpu v=1e400 1700000000000000000", "not_finite"),
            (b"cpu v=" + b"9" * 500 + b"i 1700000000000000000", "not_finite"),
            (b"cpu v=-" + b"9" * 320 + b"i 1700000000000000000", "not_finite"),
            (b'cpu v="up" 1700000000000000000', "not_numeric"),
            (b"cpu v=1", "no_time"),
            (b"cpu v=1 -1700000000000000000", "time_out_of_range"),
            (b"cpu v=1 0", "time_out_of_range"),
            (b"cpu v=1 " + b"9" * 5000, "time_out_of_range"),
            (b"cpu v=1 1700000000", "time_out_of_range"),  # seconds, read as ns: never guessed
        ],
    )
    def test_bad_values_and_times(self, line, why):
        assert reason("influx", line) == why

    def test_escaping(self):
        line = (
            b"wea\\,ther\\ st=ation,ta\\=g\\ k\\,ey=va\\,l\\ u\\=e,path=C:\\temp "
            b'fi\\ eld\\,x\\=y=1,s="a, b=c \\"d\\" \\\\",after=2 %d' % NS
        )
        events, rejected, _ = decode("influx", [line])
        tags = {"ta=g k,ey": "va,l u=e", "path": "C:\\temp"}
        assert events == [
            ({**tags, "service": "wea,ther st=ation.fi eld,x=y"}, T0_MS, 1.0),
            ({**tags, "service": "wea,ther st=ation.after"}, T0_MS, 2.0),
        ]
        assert rejected == {"not_numeric": 1}

    def test_string_values_may_hold_anything(self):
        line = b'm s="x=1 y,z\\\\",v=1,t="#\\"" %d' % NS
        events, rejected, _ = decode("influx", [line])
        assert [(fields["service"], value) for fields, _, value in events] == [("m.v", 1.0)]
        assert rejected == {"not_numeric": 2}

    def test_several_spaces_comments_blank_lines(self):
        lines = [b"# a comment", b"", b"   ", b"  m,h=a   v=1   %d  \r\n" % NS, b"m,h=a\tx v=2 %d" % NS]
        lines += [b"m  v=3"]
        events, rejected, _ = decode("influx", lines)
        assert events == [
            ({"h": "a", "service": "m.v"}, T0_MS, 1.0),
            ({"h": "a\tx", "service": "m.v"}, T0_MS, 2.0),
        ]
        assert rejected == {"no_time": 1}

    def test_unicode(self):
        line = f"mesure,hôte=été température=21.5 {NS}"
        assert one("influx", line.encode()) == ({"hôte": "été", "service": "mesure.température"}, T0_MS, 21.5)

    @pytest.mark.parametrize(
        ("unit", "timestamp"),
        [
            (None, NS + 7_999_999),
            ("ns", NS + 7_999_999),
            ("us", NS // 1000 + 7_999),
            ("ms", T0_MS + 7),
            ("s", T0),
        ],
    )
    def test_precision(self, unit, timestamp):
        options = {"timestamp_unit": unit} if unit else {}
        expected = T0_MS if unit == "s" else T0_MS + 7
        assert one("influx", b"m v=1 %d" % timestamp, **options)[1] == expected

    def test_a_line_without_time_counts_each_field(self):
        _, rejected, _ = decode("influx", [b'm a=1,b=2,c="x"'])
        assert rejected == {"no_time": 2, "not_numeric": 1}


# -- graphite -------------------------------------------------------------------------------------


class TestGraphite:
    def test_plain_and_tagged(self):
        lines = [
            b"servers.web1.cpu 21.5 1700000000\n",
            b"disk.used;host=web1;dc=eu\t3\t1700000000.25",
            b"a.b;service=x 1 1700000000",
        ]
        events, rejected, _ = decode("graphite", lines)
        assert events == [
            ({"service": "servers.web1.cpu"}, T0_MS, 21.5),
            ({"dc": "eu", "host": "web1", "service": "disk.used"}, T0_MS + 250, 3.0),
            ({"service": "a.b", "service_tag": "x"}, T0_MS, 1.0),
        ]
        assert not rejected

    def test_tag_order_does_not_make_another_series(self):
        _, _, batch = decode("graphite", [b"m;a=1;b=2 1 1700000000", b"m;b=2;a=1 2 1700000000"])
        assert batch.series.tolist() == [0, 0]

    @pytest.mark.parametrize(
        ("line", "why"),
        [
            (b"lonely", "not_parseable"),
            (b"a 1 1700000000 extra", "not_parseable"),
            (b"a one 1700000000", "not_parseable"),
            (b"a 1 yesterday", "not_parseable"),
            (b"a;b 1 1700000000", "not_parseable"),
            (b"a;=x 1 1700000000", "not_parseable"),
            (b"a;x= 1 1700000000", "not_parseable"),
            (b";x=y 1 1700000000", "not_parseable"),
            (b"\xff.cpu 1 1700000000", "not_parseable"),
            (b"a nan 1700000000", "not_finite"),
            (b"a -inf 1700000000", "not_finite"),
            (b"a 1e400 1700000000", "not_finite"),
            (b"a 1", "no_time"),
            (b"a 1 nan", "no_time"),
            (b"a 1 -1", "time_out_of_range"),
            (b"a 1 inf", "time_out_of_range"),
            (b"a 1 " + b"9" * 5000, "time_out_of_range"),
            (b"a 1 1700000000000", "time_out_of_range"),
        ],
    )
    def test_bad_lines(self, line, why):
        assert reason("graphite", line) == why


# -- series keys and filters -----------------------------------------------------------------------


def with_series(**settings) -> SeriesSettings:
    return SeriesSettings(**settings)


class TestSeriesKeys:
    def test_an_explicit_key_is_exactly_those_fields(self):
        line = riemann(host="h", service="s", region="eu", metric=1, time=T0)
        events, _, _ = decode("json", [line], with_series(key=("host", "region", "rack")))
        assert events[0][0] == {"host": "h", "region": "eu", "rack": ""}

    def test_an_explicit_key_merges_series(self):
        lines = [riemann(host="h", service=s, metric=1, time=T0) for s in ("a", "b")]
        _, _, batch = decode("json", lines, with_series(key=("host",)))
        assert batch.series.tolist() == [0, 0]

    def test_tags_in_a_key_are_sorted_and_joined(self):
        lines = [
            riemann(host="h", service="s", tags=tags, metric=1, time=T0) for tags in (["b", "a"], ["a", "b"])
        ]
        events, _, batch = decode("json", lines, with_series(key=("service", "tags")))
        assert events[0][0] == {"service": "s", "tags": "a,b"}
        assert batch.series.tolist() == [0, 0]

    def test_telegraf_key_selection(self):
        line = telegraf(tags={"host": "h", "cpu": "cpu0"}, fields={"v": 1})
        assert decode("telegraf", [line], with_series(key=("host", "service")))[0][0][0] == {
            "host": "h",
            "service": "cpu.v",
        }

    def test_graphite_key_selection(self):
        assert decode("graphite", [b"a.b;dc=eu 1 1700000000"], with_series(key=("service",)))[0][0][0] == {
            "service": "a.b"
        }


class TestFilters:
    LINES = (
        riemann(host="web-1", service="cpu.user", tags=["prod", "eu"], metric=1, time=T0),
        riemann(host="web-2", service="cpu.system", tags=["dev"], metric=2, time=T0),
        riemann(host="db-1", service="cpu.user", metric=3, time=T0),
        riemann(service="memory", metric=4, time=T0),
    )

    def kept(self, **settings) -> list[float]:
        events, rejected, _ = decode("json", list(self.LINES), with_series(**settings))
        assert rejected == (
            {"filtered": len(self.LINES) - len(events)} if len(events) < len(self.LINES) else {}
        )
        return [value for _, _, value in events]

    def test_include(self):
        assert self.kept(include={"host": ("web-*",)}) == [1.0, 2.0]
        assert self.kept(include={"host": ("web-?", "db-1")}) == [1.0, 2.0, 3.0]
        assert self.kept(include={"host": ("web-*",), "service": ("*.user",)}) == [1.0]  # every field

    def test_exclude(self):
        assert self.kept(exclude={"service": ("cpu.*",)}) == [4.0]
        assert self.kept(exclude={"host": ("db-*",), "service": ("memory",)}) == [1.0, 2.0]  # any field

    def test_include_and_exclude(self):
        assert self.kept(include={"service": ("cpu.*",)}, exclude={"host": ("web-2",)}) == [1.0, 3.0]

    def test_a_missing_field_is_empty(self):
        assert self.kept(include={"host": ("*",)}) == [1.0, 2.0, 3.0, 4.0]
        assert self.kept(include={"host": ("?*",)}) == [1.0, 2.0, 3.0]
        assert self.kept(exclude={"host": ("",)}) == [1.0, 2.0, 3.0]

    def test_a_bare_pattern_is_one_pattern(self):
        assert self.kept(include={"host": "web-*"}) == [1.0, 2.0]

    def test_no_pattern_matches_nothing(self):
        assert self.kept(include={"host": ()}) == []
        assert self.kept(exclude={"host": ()}) == [1.0, 2.0, 3.0, 4.0]

    def test_globs_are_case_sensitive_and_whole(self):
        assert self.kept(include={"host": ("WEB-*",)}) == []
        assert self.kept(include={"host": ("web",)}) == []
        assert self.kept(include={"host": ("[wd]*-1",)}) == [1.0, 3.0]

    def test_tags_match_any_element(self):
        assert self.kept(include={"tags": ("eu",)}) == [1.0]
        assert self.kept(include={"tags": ("prod", "dev")}) == [1.0, 2.0]
        assert self.kept(exclude={"tags": ("d*",)}) == [1.0, 3.0, 4.0]

    def test_telegraf_and_influx_filter_on_tags_and_service(self):
        settings = with_series(include={"cpu": ("cpu-total",)}, exclude={"service": ("*.usage_guest*",)})
        line = b"cpu,cpu=%s,host=h usage_idle=1,usage_guest=2,usage_guest_nice=3 %d"
        events, rejected, _ = decode("influx", [line % (b"cpu0", NS), line % (b"cpu-total", NS)], settings)
        assert [(fields["cpu"], fields["service"]) for fields, _, _ in events] == [
            ("cpu-total", "cpu.usage_idle")
        ]
        assert rejected == {"filtered": 5}
        tags = {"cpu": "cpu-total", "host": "h"}
        events, rejected, _ = decode(
            "telegraf", [telegraf(tags=tags, fields={"usage_idle": 1, "usage_guest": 2})], settings
        )
        assert len(events) == 1 and rejected == {"filtered": 1}

    def test_filtered_comes_before_other_reasons(self):
        settings = with_series(exclude={"service": ("s",)})
        events, rejected, _ = decode("json", [b'{"host":"h","service":"s","metric":"x"}'], settings)
        assert not events and rejected == {"filtered": 1}
        events, rejected, _ = decode("influx", [b'm s="x",v=1'], with_series(exclude={"service": ("m.s",)}))
        assert rejected == {"filtered": 1, "no_time": 1}


# -- every format ---------------------------------------------------------------------------------

GOOD_LINE = {
    "json": riemann(host="h", service="s", metric=1, time=T0),
    "telegraf": telegraf(fields={"v": 1}),
    "influx": b"m,host=h v=1 %d" % NS,
    "graphite": b"h.s 1 %d" % T0,
}
FORMATS = tuple(GOOD_LINE)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_line_over_one_mebibyte_is_not_parseable_unread(fmt):
    good = GOOD_LINE[fmt]
    huge = good + b" " * MAX_LINE_BYTES
    decoder = Decoder(fmt, SeriesSettings(), SeriesRegistry())  # type: ignore[arg-type]
    for batch in (
        decoder.decode_lines([good, huge, good]),
        decoder.decode_buffer(b"\n".join([good, huge, good])),
    ):
        assert len(batch) == 2
        assert batch.rejected == {"not_parseable": 1}
        assert len(batch.reject_examples["not_parseable"][0]) <= 201
    # exactly 1 MiB (plus its newline) is still a line
    fits = good + b" " * (MAX_LINE_BYTES - len(good))
    assert len(decoder.decode_lines([fits + b"\n"])) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_big_hostile_lines_take_linear_time(fmt):
    hostile = [
        b"\\" * (MAX_LINE_BYTES - 1),
        b"a" + b"\\ " * (MAX_LINE_BYTES // 2 - 1),
        b"m," + b"a\\,=b," * (MAX_LINE_BYTES // 7),
        b"m v=" + b'"\\"' * (MAX_LINE_BYTES // 3 - 2),
        b"m " + b"v=1," * (MAX_LINE_BYTES // 4 - 1),
        b"[" * (MAX_LINE_BYTES // 2) + b"]" * (MAX_LINE_BYTES // 2),
        b'{"a":' * (MAX_LINE_BYTES // 5),
        b"1" * MAX_LINE_BYTES,
        b"a;" + b"t=v;" * (MAX_LINE_BYTES // 4 - 1),
    ]
    decoder = Decoder(fmt, SeriesSettings(), SeriesRegistry())  # type: ignore[arg-type]
    for line in hostile:
        started = time.perf_counter()
        batch = decoder.decode_lines([line])
        assert time.perf_counter() - started < 2.0, line[:20]
        assert sum(batch.rejected.values()) >= 1 or len(batch) >= 1


def test_unknown_format_or_unit_is_refused():
    with pytest.raises(ValueError, match="unknown input format"):
        Decoder("xml", SeriesSettings(), SeriesRegistry())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown timestamp unit"):
        Decoder("json", SeriesSettings(), SeriesRegistry(), timestamp_unit="min")  # type: ignore[arg-type]


# -- properties -----------------------------------------------------------------------------------

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_texts = st.sampled_from(["a", "b", "web-1", "", "é", "x y", "a,b", "a=b", 'q"', "\\"])
_in_range = st.one_of(
    st.integers(MIN_TIME_MS // 1000 - 2, MAX_TIME_MS // 1000 + 2),
    st.floats(MIN_TIME_MS / 1000 - 2, MAX_TIME_MS / 1000 + 2),
)
_iso_in_range = st.integers(MIN_TIME_MS - 5, MAX_TIME_MS + 5).map(
    lambda ms: (EPOCH + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")
)
_moments = st.one_of(
    _in_range,
    _in_range,
    _in_range,
    _iso_in_range,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**80), 2**80),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    st.sampled_from([None, True, "soon", [1], "2023-11-14T22:13:20.125+01:00"]),
)
_garbage = st.binary(max_size=30).map(lambda b: b.replace(b"\n", b""))
_metrics = st.one_of(
    st.floats(-1e300, 1e300),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([None, True, False, "NaN", "12", [], {}]),
)


@st.composite
def riemann_lines(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(_garbage)
    event: dict[str, object] = {}
    # few: series repeat; numbers and booleans equal as dict keys (1, 1.0, True) but not as texts
    host_service = st.sampled_from(["a", "b", "", None, 1, 1.0, True, "1", "True", [1]])
    for name, values in (
        ("host", host_service),
        ("service", host_service),
        ("time", _moments),
        ("metric", _metrics),
    ):
        if draw(st.integers(0, 7)):
            event[name] = draw(st.one_of(st.none(), values))
    if draw(st.booleans()):
        event["tags"] = draw(st.lists(_texts, max_size=3))
    for name in draw(
        st.lists(st.sampled_from(["metric_d", "metric_f", "metric_sint64", "@timestamp"]), max_size=2)
    ):
        event[name] = draw(_iso_in_range if name == "@timestamp" else _metrics)
    line = json.dumps(event).encode()  # NaN and Infinity as Python writes them
    if event and draw(st.integers(0, 5)) == 0:  # raw bytes in a field no decoder reads
        extra = draw(st.sampled_from(["é".encode(), b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800", b"\x01"]))
        line = line[:-1] + b', "other": "' + extra + b'"}'
    return line


def _escape(text: str, special: str) -> bytes:
    for char in special:
        text = text.replace(char, "\\" + char)
    return text.encode()


@st.composite
def influx_lines(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(_garbage)
    names = st.text(st.sampled_from('ab =,\\"é#'), min_size=1, max_size=4).map(
        lambda t: t.rstrip("\\") or "a"
    )
    head = _escape(draw(names), ", ")
    for _ in range(draw(st.integers(0, 2))):
        head += b"," + _escape(draw(names), ",= ") + b"=" + _escape(draw(names), ",= ")
    values = st.one_of(
        st.floats(allow_nan=False).map(lambda v: repr(v).encode()),
        st.integers(-(2**70), 2**70).map(lambda v: b"%di" % v),
        st.sampled_from([b"t", b"FALSE", b"nan", b"1e999", b'"s p,a=ce"', b'"q\\"q"', b"12u", b"bad"]),
    )
    fields = b",".join(
        _escape(draw(names), ",= ") + b"=" + draw(values) for _ in range(draw(st.integers(1, 3)))
    )
    line = head + b" " * draw(st.integers(1, 2)) + fields
    if draw(st.integers(0, 4)):
        line += b" %d" % draw(st.integers(MIN_TIME_MS * 10**6 - 5, MAX_TIME_MS * 10**6 + 5))
    return line


@st.composite
def telegraf_lines(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(_garbage)

    def metric() -> dict[str, object]:
        fields = draw(st.dictionaries(_texts, st.one_of(_metrics, _texts), max_size=3))
        return {
            "name": draw(st.sampled_from(["cpu", "mem", "", 3])),
            "tags": draw(st.dictionaries(_texts, _texts, max_size=2)),
            "fields": fields,
            "timestamp": draw(_moments),
        }

    if draw(st.booleans()):
        return json.dumps({"metrics": [metric() for _ in range(draw(st.integers(0, 3)))]}).encode()
    return json.dumps(metric()).encode()


@st.composite
def graphite_lines(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(_garbage)
    path = draw(
        st.sampled_from([b"a.b", b"c", b"a.b;x=1", b"a.b;x=1;y=2", b"a;y=2;x=1", b"a;bad", "é".encode()])
    )
    value = draw(st.one_of(st.floats().map(lambda v: repr(v).encode()), st.sampled_from([b"1", b"x", b"-0"])))
    parts = [path, value]
    if draw(st.integers(0, 4)):
        moments = st.one_of(_in_range, _in_range, st.floats(allow_nan=True, allow_infinity=True))
        parts.append(draw(moments.map(lambda m: repr(m).encode())))
    return draw(st.sampled_from([b" ", b"\t", b"  "])).join(parts)


LINES = {
    "json": riemann_lines(),
    "telegraf": telegraf_lines(),
    "influx": influx_lines(),
    "graphite": graphite_lines(),
}


def _decode_in_pieces(fmt: str, lines: list[bytes], cuts: list[int], as_buffer: bool) -> tuple[list, Counter]:
    registry = SeriesRegistry()
    decoder = Decoder(fmt, SeriesSettings(), registry)  # type: ignore[arg-type]
    events: list[tuple[object, int, float]] = []
    rejected: Counter[str] = Counter()
    bounds = [0, *sorted(cuts), len(lines)]
    for start, end in itertools.pairwise(bounds):
        piece = lines[start:end]
        batch = decoder.decode_buffer(b"\n".join(piece)) if as_buffer else decoder.decode_lines(piece)
        assert len(batch.series) == len(batch.times_ms) == len(batch.values)
        assert np.isfinite(batch.values).all()
        assert ((batch.times_ms >= MIN_TIME_MS) & (batch.times_ms < MAX_TIME_MS)).all()
        events += [
            (registry.key(int(sid)), int(ms), float(value))
            for sid, ms, value in zip(batch.series, batch.times_ms, batch.values, strict=True)
        ]
        rejected += batch.rejected
    return events, rejected


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY
@given(data=st.data())
def test_decoding_does_not_depend_on_how_lines_are_batched(fmt, data):
    lines = data.draw(st.lists(LINES[fmt], min_size=3, max_size=25))
    cuts = data.draw(st.lists(st.integers(0, len(lines)), max_size=5))
    whole = _decode_in_pieces(fmt, lines, [], as_buffer=False)
    assert _decode_in_pieces(fmt, lines, cuts, as_buffer=False) == whole
    assert _decode_in_pieces(fmt, lines, cuts, as_buffer=True) == whole
    # and one at a time: every line has exactly one outcome per would-be event
    single = _decode_in_pieces(fmt, lines, list(range(len(lines))), as_buffer=False)
    assert single == whole
    # and each line alone, by a decoder that has seen nothing before (no cached series)
    alone_events, alone_rejected = [], Counter()
    for line in lines:
        events, rejected = _decode_in_pieces(fmt, [line], [], as_buffer=False)
        alone_events += events
        alone_rejected += rejected
    assert (alone_events, alone_rejected) == whole


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY
@given(data=st.binary(max_size=200))
def test_random_bytes_never_raise(fmt, data):
    decoder = Decoder(fmt, SeriesSettings(), SeriesRegistry())  # type: ignore[arg-type]
    decoder.decode_buffer(data)
    decoder.decode_lines(data.split(b"\n"))
    decoder.decode_lines([data, data + b"\n"])


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.integers(MIN_TIME_MS - 5, MAX_TIME_MS + 5).map(lambda ms: ms / 1000),  # s, ms grid
                st.integers(MIN_TIME_MS * 1000 - 5, MAX_TIME_MS * 1000 + 5).map(lambda us: us / 1e6),
                st.integers(MIN_TIME_MS // 1000 - 5, MAX_TIME_MS // 1000 + 5),  # s
                st.integers(MIN_TIME_MS - 5, MAX_TIME_MS + 5),  # ms
                st.integers(MIN_TIME_MS * 1000 - 5, MAX_TIME_MS * 1000 + 5),  # us
                st.integers(MIN_TIME_MS - 5, MAX_TIME_MS + 5).map(lambda ms: ms + 0.5),  # ms, halves
                st.integers(MIN_TIME_MS - 5, MAX_TIME_MS + 5).map(
                    lambda ms: (ms * 1000 - 0.3) / 1e6
                ),  # s, .7 µs short
                st.floats(allow_nan=True, allow_infinity=True),
                st.integers(-(2**70), 2**70),
            ),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**64), 2**64)),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["s", "ms", "us"]),
)
def test_json_whole_batch_checks_agree_with_line_by_line_rules(pairs, unit):
    """Numeric batches take NumPy's way; a string time in the batch sends all through the scalar way."""
    lines = [json.dumps({"host": "h", "service": "s", "time": t, "metric": m}).encode() for t, m in pairs]
    iso = json.dumps({"host": "h", "service": "s", "time": "2023-11-14T22:13:20Z", "metric": "x"}).encode()
    vector = _decode_in_pieces("json", lines, [], as_buffer=False)
    registry = SeriesRegistry()
    batch = Decoder("json", SeriesSettings(), registry, timestamp_unit=unit).decode_lines([*lines, iso])
    scalar = batch.times_ms.tolist(), batch.values.tolist(), batch.rejected - Counter({"no_value": 1})
    vector_batch = Decoder("json", SeriesSettings(), SeriesRegistry(), timestamp_unit=unit).decode_lines(
        lines
    )
    assert scalar == (vector_batch.times_ms.tolist(), vector_batch.values.tolist(), vector_batch.rejected)
    assert vector[1] == _decode_in_pieces("json", lines, [], as_buffer=True)[1]


@PROPERTY
@given(st.lists(influx_lines(), min_size=1, max_size=10))
@example([b"m  v=1", b"m v=1  ", b"m,a=b  v=1,w=2  5", b"m,a=b v=1 5 6", b"m v=1,w"])
def test_influx_quick_split_agrees_with_the_careful_one(lines):
    from samplerr.core.decoding_influx import split_line, split_line_carefully

    for line in lines:
        line = line.strip()
        if b"\\" not in line and b'"' not in line:
            assert split_line(line) == split_line_carefully(line)


_BLANKS = st.sampled_from([b"", b" ", b"\t", b"\r", b" \t\r "])


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.sampled_from(["a", "b", "web-1"]),
                st.integers(MIN_TIME_MS // 1000, MAX_TIME_MS // 1000 - 1),
                st.floats(-1e300, 1e300),
            ),
            _BLANKS,
        ),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_blank_lines_in_a_buffer_are_skipped_on_the_whole_batch_path_too(items, trailing):
    """Chunks of files end with a newline and Kafka messages often do: the batch stays whole."""
    lines = [
        item
        if isinstance(item, bytes)
        else json.dumps({"host": item[0], "service": "s", "time": item[1], "metric": item[2]}).encode()
        for item in items
    ]
    buffer = b"\n".join(lines) + (b"\n" if trailing else b"")
    expected = _decode_in_pieces("json", lines, list(range(len(lines))), as_buffer=False)  # line by line
    registry = SeriesRegistry()
    batch = Decoder("json", SeriesSettings(), registry).decode_buffer(buffer)
    got = [
        (registry.key(int(sid)), int(ms), float(value))
        for sid, ms, value in zip(batch.series, batch.times_ms, batch.values, strict=True)
    ]
    assert (got, batch.rejected) == expected


def test_a_buffer_ending_with_a_newline_takes_the_whole_batch_path(monkeypatch):
    from samplerr.core import decoding_json

    lines = [
        json.dumps({"host": "h", "service": "s", "time": 1.7e9 + i, "metric": i}).encode() for i in range(50)
    ]
    decoder = Decoder("json", SeriesSettings(), SeriesRegistry())
    decoder.decode_buffer(b"\n".join(lines))  # the series is known from here on

    def line_by_line(*args: object) -> object:
        raise AssertionError("a line was decoded on its own")

    monkeypatch.setattr(decoding_json, "_COMMON", _OnlyWhole(decoding_json._COMMON))
    monkeypatch.setattr(decoding_json.RiemannJsonDecoder, "_careful", line_by_line)
    batch = decoder.decode_buffer(b"\n".join(lines) + b"\n\n")
    assert len(batch) == 50


class _OnlyWhole:
    """msgspec's decoder, refusing to decode one line at a time."""

    def __init__(self, decoder: object) -> None:
        self._decoder = decoder

    def decode_lines(self, data: bytes) -> object:
        return self._decoder.decode_lines(data)  # type: ignore[attr-defined]

    def decode(self, data: bytes) -> object:
        raise AssertionError("a line was decoded on its own")


@PROPERTY
@given(
    lengths=st.lists(st.integers(0, 40), max_size=30),
    limit=st.integers(2, 30),
    final_newline=st.booleans(),
)
def test_lines_fit_never_passes_a_line_over_the_limit(lengths, limit, final_newline):
    from samplerr.core.decoding import _lines_fit

    data = b"\n".join(b"x" * n for n in lengths) + (b"\n" if final_newline else b"")
    longest = max(map(len, data.split(b"\n")))
    if _lines_fit(data, limit):
        assert longest <= limit
    if longest < limit // 2:  # short lines always fit: the buffer is not split for nothing
        assert _lines_fit(data, limit)


@PROPERTY
@given(data=st.binary(max_size=300) | st.lists(st.sampled_from([b"\n", b"x", b"\x8a"])).map(b"".join))
def test_newlines_counts_as_bytes_count(data):
    from samplerr.core.decoding_json import newlines

    assert newlines(data) == data.count(b"\n")


@PROPERTY
@given(
    items=st.lists(
        st.one_of(riemann_lines(), st.sampled_from([b"", b"  ", b"{", b'{"host":"h"}', b"[1]"])),
        max_size=25,
    ),
    final_newline=st.booleans(),
)
@example(
    items=[b"", b'{"host":"h"}', b'{"host":"a","service":"b","time":1.7e9,"metric":2}'], final_newline=False
)
def test_a_buffer_decodes_as_its_lines_rejections_included(items, final_newline):
    """decode_buffer splits a buffer only when a line needs a closer look: the same events,
    counts and kept lines as decoding its lines one at a time, the same examples as a list."""
    buffer = b"\n".join(items) + (b"\n" if final_newline else b"")
    outcomes = []
    for how in ("buffer", "list", "alone"):
        registry = SeriesRegistry()
        decoder = Decoder("json", SeriesSettings(), registry, keep_rejected=True)
        decoder.decode_buffer(b'{"host":"a","service":"b","time":1.7e9,"metric":1}')  # a cached series
        if how == "alone":
            batches = [decoder.decode_lines([line]) for line in buffer.split(b"\n")]
        else:
            batches = [
                decoder.decode_buffer(buffer)
                if how == "buffer"
                else decoder.decode_lines(buffer.split(b"\n"))
            ]
        events, rejected, kept, examples = [], Counter(), [], []
        for batch in batches:
            events += [
                (registry.key(int(sid)), int(ms), float(value))
                for sid, ms, value in zip(batch.series, batch.times_ms, batch.values, strict=True)
            ]
            rejected += batch.rejected
            kept += batch.rejected_lines
            examples.append(batch.reject_examples)
        outcomes.append((events, rejected, kept, examples if how != "alone" else None))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:3] == outcomes[2][:3]


def test_a_long_buffer_of_short_lines_is_decoded_whole(monkeypatch):
    """Over MAX_LINE_BYTES in all, but every line short: not split into lines."""
    from samplerr.core import decoding_json

    line = json.dumps({"host": "h", "service": "s", "time": 1.7e9, "metric": 1.0}).encode()
    decoder = Decoder("json", SeriesSettings(), SeriesRegistry())
    decoder.decode_buffer(line)  # the series is known from here on
    buffer = b"\n".join([line] * (2 * MAX_LINE_BYTES // len(line)))
    monkeypatch.setattr(decoding_json, "_COMMON", _OnlyWhole(decoding_json._COMMON))
    monkeypatch.setattr(decoding_json.RiemannJsonDecoder, "decode", None)  # the line-by-line way
    assert len(decoder.decode_buffer(buffer)) == buffer.count(b"\n") + 1
