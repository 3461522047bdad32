"""Helpers of the lifecycle tests: configurations, writing events, Grafana/Kibana-style queries,
an expectation model written independently of samplerr's planner and periods, and
:class:`LifecycleEnv`, which sets all of it up for one test on the dev server.

The model knows which events were written (regular sampling per UTC day) and which indices exist;
from that alone it says what a search over the aliases must return: at each instant the finest
archive whose index for that instant exists, every window of that archive once, nothing else.
Calendar periods are computed here with the standard library, not with ``samplerr.core.periods``.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from typer.testing import CliRunner

from samplerr.adapters.es_bulk import BulkWriter
from samplerr.adapters.es_connection import EsConnection
from samplerr.adapters.es_template import install_template
from samplerr.cli import build_app
from samplerr.configfile import parse_text
from samplerr.core.config import Config
from samplerr.pipeline import Pipeline

DAY = 86_400
HOUR = 3_600
TF_REGEX = {
    "YYYY.MM.DD.HH": r"\d{4}\.\d{2}\.\d{2}\.\d{2}",
    "YYYY.MM.DD": r"\d{4}\.\d{2}\.\d{2}",
    "GGGG.[w]WW": r"\d{4}\.w\d{2}",
    "YYYY.MM": r"\d{4}\.\d{2}",
    "YYYY": r"\d{4}",
}


def ts(text: str) -> int:
    """``2026-11-22T10:00`` (UTC unless an offset is given) as epoch seconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_config(url: str, name: str, archives_toml: str, **elasticsearch: Any) -> Config:
    """A configuration with indices ``.name-…`` and aliases ``name-…`` on the server at ``url``."""
    extra = "".join(f"{key} = {orjson.dumps(value).decode()}\n" for key, value in elasticsearch.items())
    text = (
        f'[elasticsearch]\nhosts = ["{url}"]\nindex_prefix = ".{name}-"\nalias_prefix = "{name}-"\n{extra}'
        f"{archives_toml}"
    )
    return parse_text(text, f"<{name}>", {})


def config_file(config_text_dir: Any, config: Config, archives_toml: str) -> str:
    """Write ``config`` as archives.toml into ``config_text_dir`` (a tmp_path) for the real CLI."""
    es = config.elasticsearch
    path = config_text_dir / f"{es.alias_prefix.rstrip('-')}.toml"
    path.write_text(
        f'[elasticsearch]\nhosts = {list(es.hosts)!r}\nindex_prefix = "{es.index_prefix}"\n'
        f'alias_prefix = "{es.alias_prefix}"\n'.replace("'", '"')
        + archives_toml,
        encoding="utf-8",
    )
    return str(path)


# --- events ------------------------------------------------------------------------------------


def value(series: int, instant: int) -> float:
    """The metric of series ``series`` at ``instant``: constant within each UTC hour."""
    return float(series * 100 + (instant // HOUR) % 97)


@dataclass(frozen=True)
class Sampling:
    """Events of ``series`` series, every ``every(day_start)`` seconds through each written day."""

    series: int
    every: Callable[[int], int]

    def times(self, day_start: int) -> range:
        return range(day_start, day_start + DAY, self.every(day_start))

    def lines(self, day_start: int) -> bytes:
        out = bytearray()
        for instant in self.times(day_start):
            for j in range(self.series):
                out += orjson.dumps(
                    {"host": f"h{j}", "service": "cpu", "metric": value(j, instant), "time": instant}
                )
                out += b"\n"
        return bytes(out)


def write_days(connection: EsConnection, config: Config, sampling: Sampling, days: Iterable[int]) -> int:
    """Consolidate the events of ``days`` (day starts) with samplerr's pipeline and bulk-write them."""
    install_template(connection, config)
    pipeline = Pipeline(config, "json")
    for day in days:
        pipeline.feed_buffer(sampling.lines(day))
    writer = BulkWriter(connection)
    docs = 0
    for body in pipeline.finish():
        report = writer.write(body.body)
        assert report.docs_failed_total == 0, report
        docs += body.docs
    return docs


def refresh(connection: EsConnection, config: Config) -> None:
    connection.request("POST", f"/{config.elasticsearch.index_prefix}*/_refresh")


# --- periods, computed independently -------------------------------------------------------------


def _epoch(day: date) -> int:
    return calendar.timegm(day.timetuple())


@cache
def period_of(tf: str, instant: int) -> tuple[str, int, int]:
    """(index suffix, start, end) for the tfs the tests use, with the standard library only."""
    moment = datetime.fromtimestamp(instant, tz=UTC)
    day = moment.date()
    if tf == "YYYY.MM.DD.HH":
        start = instant - instant % HOUR
        return f"{day:%Y.%m.%d}.{moment.hour:02d}", start, start + HOUR
    if tf == "YYYY.MM.DD":
        return f"{day:%Y.%m.%d}", _epoch(day), _epoch(day) + DAY
    if tf == "GGGG.[w]WW":
        year, week, weekday = day.isocalendar()
        monday = day - timedelta(days=weekday - 1)
        return f"{year:04d}.w{week:02d}", _epoch(monday), _epoch(monday) + 7 * DAY
    if tf == "YYYY.MM":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return f"{day:%Y.%m}", _epoch(first), _epoch(following)
    if tf == "YYYY":
        return f"{day.year:04d}", _epoch(date(day.year, 1, 1)), _epoch(date(day.year + 1, 1, 1))
    raise AssertionError(f"no test model for tf {tf}")


def add_ttl(instant: int, ttl: str) -> int:
    """``instant + ttl`` for ttls like ``2d``, ``3w``, ``6h``, ``2mo``, ``10y`` (month ends clamp)."""
    number = int("".join(c for c in ttl if c.isdigit()))
    unit = ttl.lstrip("0123456789").strip()
    fixed = {"h": HOUR, "d": DAY, "w": 7 * DAY}
    if unit in fixed:
        return instant + number * fixed[unit]
    months = number * (12 if unit in ("y", "years") else 1)
    moment = datetime.fromtimestamp(instant, tz=UTC)
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    clamped = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return int(moment.replace(year=year, month=month + 1, day=clamped).timestamp())


@dataclass(frozen=True)
class ArchiveModel:
    """One archive: ``step`` in seconds, ``ttl`` spelt as in archives.toml (``2d``, ``2 months``)."""

    tf: str
    step: int
    ttl: str


def duration_text(seconds: int) -> str:
    """``20`` → ``20s``, ``600`` → ``10m``, ``3600`` → ``1h``, ``86400`` → ``1d``."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def archives_toml(archives: Iterable[ArchiveModel]) -> str:
    """The ``[[archives]]`` tables of ``archives``, each with the cfunc ``avg``."""
    return "".join(
        f'\n[[archives]]\ntf = "{archive.tf}"\nstep = "{duration_text(archive.step)}"\n'
        f'ttl = "{archive.ttl}"\ncfuncs = ["avg"]\n'
        for archive in archives
    )


# daily for 2 days, monthly for 2 months, yearly for 10 years: the rotate, purge and concurrency tests'
DAY_MONTH_YEAR = (
    ArchiveModel("YYYY.MM.DD", 20, "2d"),
    ArchiveModel("YYYY.MM", 600, "2 months"),
    ArchiveModel("YYYY", 3600, "10 years"),
)
DAY_WEEK_MONTH_YEAR = (  # with an ISO-week archive, whose periods straddle months and years
    ArchiveModel("YYYY.MM.DD", 20, "2d"),
    ArchiveModel("GGGG.[w]WW", 60, "3w"),
    ArchiveModel("YYYY.MM", 600, "2mo"),
    ArchiveModel("YYYY", 3600, "10y"),
)


@dataclass
class Model:
    """What was written and what must therefore be served."""

    archives: Sequence[ArchiveModel]
    index_prefix: str
    sampling: Sampling
    written_days: set[int] = field(default_factory=set)

    def windows(self, day: int, step: int) -> list[int]:
        return _windows(self.sampling.every(day), day, step)

    def index_names(self, archive: int, day: int) -> list[str]:
        """The indices of ``archive`` holding data of ``day`` (one, or one per hour for hourly tfs)."""
        model = self.archives[archive]
        starts = range(day, day + DAY, HOUR) if model.tf == "YYYY.MM.DD.HH" else (day,)
        return sorted({self.index_prefix + period_of(model.tf, start)[0] for start in starts})

    def kept_indices(self, now: int) -> set[str]:
        """Every index with data whose period has not expired at ``now`` (or is current or future)."""
        kept: set[str] = set()
        for day in self.written_days:
            for _number, model in enumerate(self.archives):
                starts = range(day, day + DAY, HOUR) if model.tf == "YYYY.MM.DD.HH" else (day,)
                for start in starts:
                    suffix, _, end = period_of(model.tf, start)
                    if add_ttl(end, model.ttl) > now:
                        kept.add(self.index_prefix + suffix)
        return kept

    def archive_of(self, name: str) -> int | None:
        """Which archive an index name belongs to (``None`` for any other name)."""
        suffix = name.removeprefix(self.index_prefix)
        if suffix == name:
            return None
        for number, model in enumerate(self.archives):
            if re.fullmatch(TF_REGEX[model.tf], suffix):
                return number
        return None

    def serving(self, instant: int, existing: set[str], now: int) -> int | None:
        """The finest archive whose index for ``instant`` exists and is unexpired at ``now``.

        Every archive's data is complete where its index exists. With no unexpired index, the finest
        existing one serves (the only copy of data a coarser policy still keeps).
        """
        if instant - instant % DAY not in self.written_days:
            return None
        found = []
        for number, model in enumerate(self.archives):
            suffix, _, end = period_of(model.tf, instant)
            if self.index_prefix + suffix in existing:
                if add_ttl(end, model.ttl) > now:
                    return number
                found.append(number)
        return found[0] if found else None

    def expected(self, start: int, end: int, existing: set[str], now: int) -> Expected:
        """What a search at ``now`` returns for ``@timestamp`` in ``[start, end)``."""
        count, total, steps = 0, 0.0, set()
        atom = HOUR
        cursor = start
        while cursor < end:
            stop = min(end, cursor - cursor % atom + atom)
            archive = self.serving(cursor, existing, now)
            if archive is not None:
                step = self.archives[archive].step
                day = cursor - cursor % DAY
                windows = [w for w in self.windows(day, step) if cursor <= w < stop]
                if windows:
                    steps.add(step)
                    count += len(windows) * self.sampling.series
                    total += sum(value(j, w) for w in windows for j in range(self.sampling.series))
            cursor = stop
        return Expected(count, total, min(steps) if steps else None, max(steps) if steps else None)


@cache
def _windows(every: int, day: int, step: int) -> list[int]:
    return sorted({t - t % step for t in range(day, day + DAY, every)})


@dataclass(frozen=True)
class Expected:
    count: int
    total: float
    min_step: int | None
    max_step: int | None


# --- Grafana and Kibana ---------------------------------------------------------------------------


def grafana_daily_names(alias_prefix: str, start: int, end: int) -> list[str]:
    """Grafana's daily index pattern ``[alias_prefix]YYYY.MM.DD`` resolved over ``[start, end]`` (UTC)."""
    names = []
    day = datetime.fromtimestamp(start, tz=UTC).date()
    last = datetime.fromtimestamp(end, tz=UTC).date()
    while day <= last:
        names.append(f"{alias_prefix}{day:%Y.%m.%d}")
        day += timedelta(days=1)
    return names


def _histogram_aggs(histogram: dict[str, Any]) -> dict[str, Any]:
    return {
        "2": {
            "date_histogram": histogram,
            "aggs": {
                "1": {"sum": {"field": "metric"}},
                "min_step": {"min": {"field": "step"}},
                "max_step": {"max": {"field": "step"}},
            },
        }
    }


def grafana_msearch(
    connection: EsConnection, names: list[str], start: int, end: int, interval: str
) -> list[dict]:
    """The request Grafana's Elasticsearch data source sends for a time series panel."""
    start_ms, end_ms = start * 1000, end * 1000
    header = {"search_type": "query_then_fetch", "ignore_unavailable": True, "index": ",".join(names)}
    body = {
        "size": 0,
        "query": {
            "bool": {
                "filter": [
                    {"range": {"@timestamp": {"gte": start_ms, "lte": end_ms, "format": "epoch_millis"}}},
                    {"query_string": {"analyze_wildcard": True, "query": "cfunc:avg"}},
                ]
            }
        },
        "aggs": _histogram_aggs(
            {
                "field": "@timestamp",
                "min_doc_count": 0,
                "extended_bounds": {"min": start_ms, "max": end_ms},
                "format": "epoch_millis",
                "fixed_interval": interval,
            }
        ),
    }
    payload = orjson.dumps(header) + b"\n" + orjson.dumps(body) + b"\n"
    answer = connection.request("POST", "/_msearch", body=payload, ndjson=True).body
    response = answer["responses"][0]
    assert "error" not in response, response
    return response["aggregations"]["2"]["buckets"]


def kibana_search(
    connection: EsConnection, pattern: str, start: int, end: int, time_zone: str = "UTC"
) -> list[dict]:
    """What Kibana's Discover sends for a data view ``pattern``: a daily histogram in the browser's zone."""
    body = {
        "size": 0,
        "track_total_hits": True,
        "query": {
            "bool": {
                "filter": [
                    {
                        "range": {
                            "@timestamp": {
                                "gte": iso(start),
                                "lte": iso(end),
                                "format": "strict_date_optional_time",
                            }
                        }
                    }
                ]
            }
        },
        "aggs": _histogram_aggs(
            {"field": "@timestamp", "calendar_interval": "1d", "time_zone": time_zone, "min_doc_count": 1}
        ),
    }
    answer = connection.request(
        "POST", f"/{pattern}/_search", params={"ignore_unavailable": True}, body=body
    ).body
    return answer["aggregations"]["2"]["buckets"]


def bucket_bounds(
    buckets: list[dict], start: int, end: int, width: Callable[[int], int]
) -> list[tuple[int, int, dict]]:
    """Each bucket's ``[from, to)`` clipped to the query's ``[start, end]``."""
    out = []
    for bucket in buckets:
        low = int(bucket["key"]) // 1000
        high = low + width(low)
        out.append((max(low, start), min(high, end + 1), bucket))
    return out


def check_buckets(
    model: Model, existing: set[str], now: int, bounded: list[tuple[int, int, dict]], what: str
) -> None:
    """Every bucket holds exactly the documents of the finest archive kept at each instant."""
    for low, high, bucket in bounded:
        want = model.expected(low, high, existing, now)
        got_min = bucket["min_step"]["value"]
        got_max = bucket["max_step"]["value"]
        where = f"{what}: bucket {iso(low)}..{iso(high)}"
        assert bucket["doc_count"] == want.count, (
            f"{where}: {bucket['doc_count']} documents, expected {want.count}"
        )
        if want.count:
            assert (got_min, got_max) == (want.min_step, want.max_step), (
                f"{where}: steps {got_min}..{got_max}"
            )
            assert abs(bucket["1"]["value"] - want.total) < 1e-6 * max(1.0, abs(want.total)), where


def fixed(width: int) -> Callable[[int], int]:
    return lambda _low: width


def local_day(zone: str) -> Callable[[int], int]:
    """The width of the day starting at a bucket's key in ``zone`` (23 or 25 hours across DST)."""
    tz = ZoneInfo(zone)

    def width(low: int) -> int:
        start = datetime.fromtimestamp(low, tz=tz)
        following = datetime.combine(start.date() + timedelta(days=1), start.time(), tzinfo=tz)
        return int(following.timestamp()) - low

    return width


def existing_indices(connection: EsConnection, config: Config) -> dict[str, int]:
    """Index name → document count, under the index prefix (the lock index left out)."""
    prefix = config.elasticsearch.index_prefix
    rows = connection.request(
        "GET",
        f"/_cat/indices/{prefix}*",
        params={"format": "json", "h": "index,docs.count", "expand_wildcards": "all"},
    ).body
    return {row["index"]: int(row["docs.count"] or 0) for row in rows if row["index"] != prefix + "lock"}


def aliases_by_index(connection: EsConnection, config: Config) -> dict[str, dict[str, Any]]:
    """Alias name → {index: filter or None} under the alias prefix."""
    answer = connection.request(
        "GET",
        f"/_alias/{config.elasticsearch.alias_prefix}*",
        params={"expand_wildcards": "all"},
        allow=(404,),
    )
    out: dict[str, dict[str, Any]] = {}
    if answer.status == 404:
        return out
    for index, entry in answer.body.items():
        for alias, definition in entry.get("aliases", {}).items():
            out.setdefault(alias, {})[index] = definition.get("filter")
    return out


def with_archives(config: Config, **replacements: Any) -> Config:
    return dataclasses.replace(config, **replacements)


# --- one test's archives on the dev server ---------------------------------------------------------


class LifecycleEnv:
    """One test's archives on the dev server: a configuration with its own index and alias prefixes,
    the configuration file the CLI reads, a connection, and the model of what was written."""

    def __init__(
        self, url: str, name: str, archives: Sequence[ArchiveModel], sampling: Sampling, tmp_path: Path
    ) -> None:
        toml = archives_toml(archives)
        self.config = make_config(url, name, toml)
        self.path = config_file(tmp_path, self.config, toml)
        self.connection = EsConnection(self.config.elasticsearch)
        self.prefix = self.config.elasticsearch.index_prefix
        self.alias = self.config.elasticsearch.alias_prefix
        self.model = Model(archives, self.prefix, sampling)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> LifecycleEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, *days: str | int) -> int:
        """Write the events of ``days`` (``2026-11-22`` or day starts); the model notes them as written."""
        starts = [ts(day) if isinstance(day, str) else day for day in days]
        docs = write_days(self.connection, self.config, self.model.sampling, starts)
        self.model.written_days.update(starts)
        return docs

    def names(self, *suffixes: str) -> list[str]:
        return [self.prefix + suffix for suffix in suffixes]

    def delete(self, *suffixes: str) -> None:
        self.connection.request("DELETE", "/" + ",".join(self.names(*suffixes)))

    def command(self, *args: str) -> list[str]:
        """The real CLI with this configuration, for a subprocess."""
        return [sys.executable, "-m", "samplerr", *args, "--config", self.path]

    def cli(self, *args: str) -> Any:
        """``samplerr ARGS --json`` with this configuration through typer's CliRunner: its JSON (exit 0)."""
        result = CliRunner().invoke(build_app(), [*args, "--config", self.path, "--json"])
        assert result.exit_code == 0, result.output
        return orjson.loads(result.stdout)

    def check_grafana(
        self, start: int, now: int, width: int, existing: set[str], what: str
    ) -> list[tuple[int, int, dict[str, Any]]]:
        """A Grafana panel over ``[start, now]`` with buckets of ``width`` seconds on the daily pattern:
        every bucket holds what the model says. Returns the buckets."""
        names = grafana_daily_names(self.alias, start, now)
        buckets = grafana_msearch(self.connection, names, start, now, duration_text(width))
        bounded = bucket_bounds(buckets, start, now, fixed(width))
        check_buckets(self.model, existing, now, bounded, what)
        return bounded

    def check_kibana(
        self, start: int, now: int, zone: str, existing: set[str], what: str
    ) -> list[tuple[int, int, dict[str, Any]]]:
        """Kibana's Discover over ``[start, now]`` on ``alias_prefix*``, daily buckets in ``zone``: every
        bucket holds what the model says. Returns the buckets."""
        buckets = kibana_search(self.connection, self.alias + "*", start, now, zone)
        bounded = bucket_bounds(buckets, start, now, local_day(zone))
        check_buckets(self.model, existing, now, bounded, what)
        return bounded

    def assert_served_correctly(self, now: int, days: int = 10) -> None:
        """Grafana (hourly) and Kibana (UTC days) over the last ``days`` at ``now`` serve the model."""
        refresh(self.connection, self.config)
        existing = set(existing_indices(self.connection, self.config))
        self.check_grafana(now - days * DAY, now, HOUR, existing, "grafana")
        self.check_kibana(now - days * DAY, now, "UTC", existing, "kibana")
