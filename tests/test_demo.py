"""``samplerr demo``: a small run end to end (subprocess), its kept server checked independently,
and the pieces (scale, generated metrics, schedule, served check, picture) on their own.

The end-to-end test reads the kept development server with its own queries, not the demo's: every
document served through ``samplerr-*`` once, windows of one series never overlapping, the 2-min
archive serving the kept days and the 1-h archive before them, and the expired indices purged.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from samplerr import demo_report
from samplerr.adapters.es_connection import EsConnection
from samplerr.cli import build_app
from samplerr.configfile import embedded_default_text, parse_text
from samplerr.core.config import ElasticsearchSettings
from samplerr.demo import job_times
from samplerr.demo_data import MAX_SERIES, demo_series, generate
from samplerr.demo_plot import Panel, default_panels, sparkline, svg_series
from samplerr.demo_report import (
    SeriesCheck,
    Stretch,
    Window,
    read_served,
    search_served,
    served_check,
    windows_of,
)
from samplerr.demo_scale import Tier, demo_config, demo_config_text, dense_events, sampling_tiers
from samplerr.plot import COLOURS

DAY = 86_400
HOUR = 3_600


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


# --- end to end --------------------------------------------------------------------------------

NOW = "2026-03-04T10:30:00Z"  # 10 days back: 2026-02-22, all inside the 2-month archive's reach


def search_all(connection: EsConnection, index: str, start: int, end: int) -> list[dict]:
    """Every document through ``index`` in [start, end), one UTC day per search (fewer than 10,000)."""
    found: list[dict] = []
    for day in range(start - start % DAY, end, DAY):
        body = {
            "size": 10_000,
            "track_total_hits": True,
            "query": {
                "range": {
                    "@timestamp": {"gte": day * 1000, "lt": (day + DAY) * 1000, "format": "epoch_millis"}
                }
            },
        }
        answer = connection.request("POST", f"/{index}/_search", body=body).body
        assert answer["hits"]["total"]["value"] == len(answer["hits"]["hits"]) < 10_000
        found += [hit["_source"] | {"_index": hit["_index"]} for hit in answer["hits"]["hits"]]
    return found


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samplerr", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def test_small_demo_end_to_end(tmp_path, start_devserver):
    keep = tmp_path / "keep"
    svg = tmp_path / "picture.svg"
    done = run_cli(
        "demo",
        "--days",
        "10",
        "--series",
        "3",
        "--keep",
        str(keep),
        "--svg",
        str(svg),
        "--now",
        NOW,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = " ".join(done.stdout.split())  # as one line, whatever the terminal width
    for heading in (
        "what went in",
        "what is kept",
        "storage",
        "served through the aliases",
        "picture",
        "explore it",
    ):
        assert heading in report
    assert "no instant served twice, resolution only finer towards now" in report
    assert re.search(r"events: [\d,]+ in InfluxDB line protocol", report)
    assert re.search(r"10 daily purges", report)
    assert f"samplerr devserver --data-dir {keep / 'data'} --port 9200 &" in done.stdout

    # the picture: well-formed SVG with lines in the colours of the two archives that serve
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    assert root.tag.endswith("svg")
    strokes = {line.get("stroke") for line in root.iter("{http://www.w3.org/2000/svg}polyline")}
    assert {COLOURS[0], COLOURS[1]} <= strokes

    # the kept server, read with this test's own queries
    server = start_devserver(data_dir=keep / "data")
    config = parse_text((keep / "archives.toml").read_text(), "kept", {})
    assert [a.step for a in config.archives] == [120, 3600, 21600]
    end = ts(NOW)
    with EsConnection(ElasticsearchSettings(hosts=(server.url,))) as connection:
        served = search_all(connection, "samplerr-*", ts("2026-02-21T00:00:00Z"), end + DAY)
        indices = connection.request(
            "GET", "/_cat/indices/.samplerr-*", params={"format": "json", "h": "index"}
        ).body
    names = sorted(row["index"] for row in indices)
    # expired daily indices (period end + 2 d at or before now) were purged; the rest is kept
    assert [n for n in names if re.fullmatch(r"\.samplerr-\d{4}\.\d\d\.\d\d", n)] == [
        ".samplerr-2026.03.02",
        ".samplerr-2026.03.03",
        ".samplerr-2026.03.04",
    ]
    assert {".samplerr-2026.02", ".samplerr-2026.03", ".samplerr-2026"} <= set(names)

    keys = Counter((d["host"], d["service"], d["cfunc"], d["@timestamp"], d["step"]) for d in served)
    assert max(keys.values()) == 1, "a document served twice"
    by_series: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for doc in served:
        by_series[(doc["host"], doc["service"], doc["cfunc"])].append(
            (ts(doc["@timestamp"]), int(doc["step"]))
        )
    assert {key[2] for key in by_series} == {"avg", "min", "max"}
    assert len({key[:2] for key in by_series}) == 3
    fine_from = ts("2026-03-02T00:00:00Z")
    for key, windows in by_series.items():
        windows.sort()
        for (start, step), (following, _) in itertools.pairwise(windows):
            assert following >= start + step, f"{key}: windows overlap at {start}"
        for start, step in windows:
            assert step == (120 if start >= fine_from else 3600), (key, start, step)
        fine = sum(1 for start, step in windows if step == 120)
        assert fine >= 0.9 * (end - fine_from) / 120, (key, fine)  # outages and dropped late events aside

    # the state the demo left is what rotate wants: nothing more to do
    kept_config = str(keep / "archives.toml")
    again = run_cli(
        "rotate", "--config", kept_config, "--es", server.url, "--now", NOW, "--dry-run", "--json"
    )
    assert again.returncode == 0, again.stderr
    assert orjson.loads(again.stdout) == {"actions": []}


def test_usage_errors_exit_2(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    runner = CliRunner()
    for args in (
        ["--series", str(MAX_SERIES + 1)],
        ["--series", "0"],
        ["--days", "0"],
        ["--now", "yesterday"],
        ["--step-factor", "7"],  # 140 s does not divide a day
        ["--keep", str(tmp_path / "full")],
    ):
        result = runner.invoke(build_app(), ["demo", *args])
        assert result.exit_code == 2, (args, result.output)


# --- the scale ---------------------------------------------------------------------------------


def test_demo_config_scales_only_the_steps():
    shipped = parse_text(embedded_default_text(), "shipped", {})
    config = demo_config(6, "http://es.example:9200")
    assert [a.step for a in config.archives] == [6 * a.step for a in shipped.archives] == [120, 3600, 21600]
    assert [(a.tf, a.ttl, a.cfuncs) for a in config.archives] == [
        (a.tf, a.ttl, a.cfuncs) for a in shipped.archives
    ]
    assert config.consolidation == shipped.consolidation
    assert config.elasticsearch.hosts == ("http://es.example:9200",)
    assert "multiplied by 6" in demo_config_text(6, "http://x:1")
    assert [a.step for a in demo_config(1, "http://x:1").archives] == [20, 600, 3600]


@pytest.mark.parametrize(
    ("end", "days", "expected"),
    [
        # 120 days to 2026-11-23 11:46: 2 min where the daily indices are kept (from 2 days before
        # today), 1 h back to the start of the month two months ago, 6 h before
        (
            "2026-11-23T11:46:00Z",
            120,
            [
                (2, "2026-07-26T06:00:00Z", "2026-09-01T00:00:00Z", 3 * HOUR),
                (1, "2026-09-01T00:00:00Z", "2026-11-21T00:00:00Z", HOUR),
                (0, "2026-11-21T00:00:00Z", "2026-11-23T11:46:00Z", 30),
            ],
        ),
        # 10 days: the monthly archive still holds the whole start
        (
            "2026-03-04T10:30:00Z",
            10,
            [
                (1, "2026-02-22T06:00:00Z", "2026-03-02T00:00:00Z", HOUR),
                (0, "2026-03-02T00:00:00Z", "2026-03-04T10:30:00Z", 30),
            ],
        ),
        # one day: only the finest
        ("2026-03-04T10:30:00Z", 1, [(0, "2026-03-03T06:00:00Z", "2026-03-04T10:30:00Z", 30)]),
    ],
)
def test_sampling_tiers(end, days, expected):
    config = demo_config(6, "http://x:1")
    finish = ts(end)
    start = finish - days * DAY
    start -= start % config.archives[-1].step
    tiers = sampling_tiers(config, start, finish)
    assert tiers == tuple(Tier(a, ts(s), ts(e), every) for a, s, e, every in expected)


def test_dense_events_counts_the_finest_rate_everywhere():
    tiers = (Tier(1, 0, DAY, HOUR), Tier(0, DAY, 2 * DAY, 30))
    assert dense_events(tiers, 3) == 3 * 2 * DAY // 30


# --- generated metrics -------------------------------------------------------------------------


def test_demo_series_go_round_three_hosts_a_metric_at_a_time():
    assert [(s.host, s.service) for s in demo_series(4)] == [
        ("web-1", "cpu.usage_user"),
        ("web-2", "cpu.usage_user"),
        ("db-1", "cpu.usage_user"),
        ("web-1", "mem.used_percent"),
    ]
    assert len({(s.host, s.service) for s in demo_series(MAX_SERIES)}) == MAX_SERIES
    with pytest.raises(ValueError, match="1 to"):
        demo_series(MAX_SERIES + 1)


def test_generated_events_arrive_in_order_with_outages_and_late_bursts():
    config = demo_config(6, "http://x:1")
    end = ts("2026-03-04T10:30:00Z")
    tiers = sampling_tiers(config, end - 10 * DAY, end)
    events = generate(demo_series(3), tiers, late_hold=600, seed=7)
    again = generate(demo_series(3), tiers, late_hold=600, seed=7)
    assert np.array_equal(events.values, again.values) and np.array_equal(events.arrivals, again.arrivals)
    assert np.all(np.diff(events.arrivals) >= 0), "not sorted by arrival"
    assert np.all(events.arrivals >= events.times)
    hosts = [s.host for s in events.series]
    for incident in events.incidents:
        mine = np.array([hosts[i] == incident.host for i in events.index.tolist()])
        inside = mine & (events.times >= incident.start) & (events.times < incident.end)
        if incident.delay == 0:
            assert not inside.any(), "an outage sent events"
        else:
            assert np.all(events.arrivals[inside] == incident.end + incident.delay)
    delays = [i.delay for i in events.incidents if i.delay]
    assert max(delays) > 600 and min(delays) < 600  # one burst later than late_hold, others within it
    lines = events.lines(0, 3).decode().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"cpu,host=[\w-]+ usage_user=\d+\.\d\d \d{19}", lines[0])
    cpu = events.values[
        np.array([events.series[i].metric.field == "usage_user" for i in events.index.tolist()])
    ]
    assert cpu.min() >= 0 and cpu.max() <= 100 and cpu.std() > 1


def test_daily_cycle_peaks_in_the_afternoon():
    config = demo_config(6, "http://x:1")
    end = ts("2026-03-06T00:00:00Z")  # a Friday: the days before are weekdays
    tiers = sampling_tiers(config, end - DAY, end)
    events = generate(demo_series(1), tiers, late_hold=600, seed=3)
    hours = (events.times % DAY) // HOUR
    afternoon = events.values[(hours >= 13) & (hours < 17)].mean()
    night = events.values[(hours >= 1) & (hours < 5)].mean()
    assert afternoon > night + 15


# --- the schedule ------------------------------------------------------------------------------


def test_jobs_every_simulated_day_at_the_scheduler_times():
    config = demo_config(6, "http://x:1")
    start, end = ts("2026-03-01T10:00:00Z"), ts("2026-03-04T10:30:00Z")
    jobs = job_times(config, start, end)
    assert [j.at for j in jobs] == sorted(j.at for j in jobs)
    assert jobs[-1].name == "end" and jobs[-1].at == end
    purges = [datetime.fromtimestamp(j.at, tz=UTC).isoformat() for j in jobs if j.name == "purge"]
    assert purges == [f"2026-03-0{d}T00:17:00+00:00" for d in (2, 3, 4)]
    ahead = [datetime.fromtimestamp(j.at, tz=UTC).isoformat() for j in jobs if j.name == "ahead"]
    assert ahead == [f"2026-03-0{d}T23:05:00+00:00" for d in (1, 2, 3)]
    ticks = [j.at for j in jobs if j.name == "tick"]
    assert all(t % (6 * HOUR) == 0 for t in ticks) and len(ticks) == 12


# --- the served check --------------------------------------------------------------------------


def aggregation(*series: tuple[str, str, list[tuple[int, int, int, int]]]) -> dict:
    """An answer to the check's aggregations: per series, (step, first, last, count) stretches."""
    return {
        "host": {
            "buckets": [
                {
                    "key": host,
                    "service": {
                        "buckets": [
                            {
                                "key": service,
                                "step": {
                                    "buckets": [
                                        {
                                            "key": step,
                                            "doc_count": count,
                                            "first": {"value": first * 1000},
                                            "last": {"value": last * 1000},
                                        }
                                        for step, first, last, count in stretches
                                    ]
                                },
                            }
                        ]
                    },
                }
                for host, service, stretches in series
            ]
        }
    }


def test_served_check_passes_a_clean_hand_over():
    check = served_check(aggregation(("a", "cpu", [(120, 7200, 9000, 16), (3600, 0, 3600, 2)])))
    assert check.ok and check.windows == 18
    assert check.series[0].stretches == (Stretch(3600, 0, 3600, 2), Stretch(120, 7200, 9000, 16))


def test_served_check_finds_overlaps_and_coarse_after_fine():
    overlapping = served_check(aggregation(("a", "cpu", [(3600, 0, 7200, 3), (120, 7000, 9000, 10)])))
    assert overlapping.overlaps == 1 and not overlapping.ok
    backwards = served_check(aggregation(("a", "cpu", [(120, 0, 1080, 10), (3600, 3600, 7200, 2)])))
    assert backwards.coarser_later == 1 and backwards.overlaps == 0 and not backwards.ok
    assert not served_check(aggregation()).ok  # nothing served is not a success


def test_series_check_counts():
    check = SeriesCheck("h", "s", (Stretch(600, 0, 600, 2), Stretch(120, 1200, 1320, 2)))
    assert (check.windows, check.overlaps, check.coarser_later) == (4, 0, 0)


def test_windows_gather_cfuncs_and_keep_duplicates_visible():
    docs = [
        {"@timestamp": "2026-03-04T10:00:00Z", "step": 120, "cfunc": "avg", "metric": 1.0},
        {"@timestamp": "2026-03-04T10:00:00Z", "step": 120, "cfunc": "max", "metric": 2.0},
        {"@timestamp": "2026-03-04T10:00:00Z", "step": 120, "cfunc": "avg", "metric": 1.5},  # served twice
        {"@timestamp": "2026-03-04T09:00:00Z", "step": 3600, "cfunc": "avg", "metric": 3.0},
    ]
    windows = windows_of(docs)
    assert [(w.start - ts("2026-03-04T09:00:00Z"), w.step) for w in windows] == [
        (0, 3600),
        (3600, 120),
        (3600, 120),
    ]
    assert windows[1].values == {"avg": 1.0, "max": 2.0}


# --- the picture -------------------------------------------------------------------------------


def sample_windows() -> list[Window]:
    coarse = [
        Window(t, 3600, {"avg": 10.0 + t % 7, "min": 5.0, "max": 20.0}) for t in range(0, 20 * HOUR, HOUR)
    ]
    # a 2-min stretch with a missing window (a gap) in the middle
    fine = [
        Window(t, 120, {"avg": 12.0, "min": 11.0, "max": 13.0})
        for t in range(20 * HOUR, 24 * HOUR, 120)
        if t != 22 * HOUR
    ]
    return coarse + fine


def test_svg_draws_each_run_of_windows_in_its_archive_colour():
    panels = [
        Panel("all", 0, 24 * HOUR),
        Panel("end", 21 * HOUR, 24 * HOUR),
        Panel("empty", 30 * HOUR, 31 * HOUR),
    ]
    text = svg_series(sample_windows(), panels, [120, 3600, 21600], title="t <&>", subtitle="s")
    root = ET.fromstring(text)
    lines = list(root.iter("{http://www.w3.org/2000/svg}polyline"))
    # panel "all": coarse, fine before the gap, fine after; panel "end": fine before and after the gap
    assert [line.get("stroke") for line in lines] == [
        COLOURS[1],
        COLOURS[0],
        COLOURS[0],
        COLOURS[0],
        COLOURS[0],
    ]
    assert "no data served here" in text
    assert "t &lt;&amp;&gt;" in text


def test_sparkline_shows_the_archive_serving_each_column():
    line = sparkline(sample_windows(), Panel("all", 0, 24 * HOUR), [120, 3600], width=24)
    assert len(line.plain) == 24
    styles = [span.style for span in line.spans]
    assert "green" in styles and "yellow" in styles  # archive 0, archive 1
    assert sparkline([], Panel("x", 0, 10), [120]).plain == "(nothing served)"


def test_default_panels_fit_the_run():
    assert [p.title for p in default_panels(0, 120 * DAY)] == [
        "the whole run (120 days)",
        "the last 7 days",
        "the last 6 hours",
    ]
    assert [p.title for p in default_panels(0, 3 * DAY)] == ["the whole run (3 days)", "the last 6 hours"]


# --- reading back through the aliases, page by page (the session's dev server) ---------------


@pytest.fixture
def paged_series(es, devserver, index_name, monkeypatch):
    """Three days of one series (avg/min/max every 10 min, two series at the same instants) behind
    daily aliases, and pages of 50 hits so that paging happens."""
    monkeypatch.setattr(demo_report, "MAX_HITS", 50)
    name = index_name("dr")[:40]
    prefix, index = f"{name}-a-", f"{name}-i-data"
    config = parse_text(
        f'[elasticsearch]\nhosts = ["{devserver.url}"]\n'
        f'index_prefix = "{name}-i-"\nalias_prefix = "{prefix}"\n'
        '[[archives]]\ntf = "YYYY.MM.DD"\nstep = "10m"\nttl = "2d"\n',
        "test",
        {},
    )
    es.indices.create(
        index=index,
        mappings={
            "properties": {
                "@timestamp": {"type": "date"},
                "host": {"type": "keyword"},
                "service": {"type": "keyword"},
                "cfunc": {"type": "keyword"},
                "metric": {"type": "double"},
                "step": {"type": "long"},
            }
        },
    )
    start = ts("2026-03-01T00:00:00Z")
    operations = []
    for t in range(start, start + 3 * DAY, 600):
        for host in ("a", "b"):
            for cfunc, value in (("avg", 1.0), ("min", 0.0), ("max", 2.0)):
                operations += [
                    {"index": {"_index": index}},
                    {
                        "@timestamp": datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "host": host,
                        "service": "cpu",
                        "cfunc": cfunc,
                        "metric": value + t % 7,
                        "step": 600,
                    },
                ]
    es.bulk(operations=operations, refresh=True)
    for day in ("2026.03.01", "2026.03.02", "2026.03.03"):
        es.indices.put_alias(index=index, name=prefix + day)
    return config, start


def test_search_served_pages_through_every_document_once(paged_series):
    config, start = paged_series
    with EsConnection(config.elasticsearch) as connection:
        docs = search_served(
            connection,
            config.elasticsearch.alias_prefix + "*",
            [{"term": {"host": "a"}}],
            start,
            start + 3 * DAY,
        )
    keys = [(d["@timestamp"], d["cfunc"]) for d in docs]
    assert len(keys) == len(set(keys)) == 3 * 144 * 3
    assert [d["@timestamp"] for d in docs] == sorted(d["@timestamp"] for d in docs)


def test_read_served_checks_every_series_and_reads_one_whole(paged_series):
    config, start = paged_series
    with EsConnection(config.elasticsearch) as connection:
        check, windows = read_served(connection, config, "a", "cpu", start, start + 3 * DAY)
    assert [(c.host, c.service, c.windows) for c in check.series] == [("a", "cpu", 432), ("b", "cpu", 432)]
    assert check.ok
    assert len(windows) == 432  # the newest page, then the older part through the daily aliases
    assert [w.start for w in windows] == list(range(start, start + 3 * DAY, 600))
    assert all(set(w.values) == {"avg", "min", "max"} for w in windows)
    with EsConnection(config.elasticsearch) as connection:
        _, windows = read_served(connection, config, "b", "cpu", start, start + 3 * DAY, start + 2 * DAY)
    assert len(windows) == 432
    assert {w.start for w in windows if set(w.values) == {"avg"}} == set(range(start, start + 2 * DAY, 600))
