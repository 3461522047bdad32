"""What ``samplerr demo`` reads back at the end: series as served by the aliases, and a check of them.

Everything here goes through the aliases (``alias_prefix*`` as Kibana searches them, the daily
alias names as Grafana does): the documents of a series come back from whichever index serves each
instant, with the alias filters applied by the server. :func:`read_served` checks the promise of the
aliases on every series — no instant is served twice, and resolution only gets finer towards now
(a coarser archive never serves after a finer one) — and reads one series for the picture.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from samplerr.adapters.es_connection import EsConnection
from samplerr.core.config import Config
from samplerr.core.errors import SinkError

MAX_HITS = 10_000  # Elasticsearch's default index.max_result_window
SOURCE_FIELDS = ("@timestamp", "metric", "cfunc", "step")


@dataclass(frozen=True, slots=True)
class Window:
    """One window of a series as served: start (epoch seconds), step, and its cfunc values."""

    start: int
    step: int
    values: dict[str, float]

    @property
    def end(self) -> int:
        return self.start + self.step


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def msearch(connection: EsConnection, index: str, body: dict[str, Any]) -> dict[str, Any]:
    """One search sent as Grafana sends them: ``_msearch`` with the index list in the header."""
    header = {"index": index, "ignore_unavailable": True, "search_type": "query_then_fetch"}
    payload = orjson.dumps(header) + b"\n" + orjson.dumps(body) + b"\n"
    answer = connection.request("POST", "/_msearch", body=payload, ndjson=True).body
    response: dict[str, Any] = answer["responses"][0]
    if "error" in response:
        error = response["error"]
        reason = error.get("reason", error) if isinstance(error, dict) else error
        raise SinkError(f"search of {index[:80]} failed: {reason}")
    return response


def daily_alias_names(config: Config, start: int, end: int) -> str:
    """The finest archive's alias names over ``[start, end]``, comma-separated: what Grafana's index
    pattern ``[samplerr-]YYYY.MM.DD`` (interval Daily) resolves to."""
    tf = config.archives[0].tf
    prefix = config.elasticsearch.alias_prefix
    return ",".join(prefix + tf.format(period.start) for period in tf.periods(start, end + 1))


def _body(filters: Sequence[dict[str, Any]], start: int, end: int, order: str) -> dict[str, Any]:
    return {
        "size": MAX_HITS,
        "track_total_hits": True,
        "_source": list(SOURCE_FIELDS),
        "sort": [{"@timestamp": order}],
        "query": {
            "bool": {
                "filter": [
                    *filters,
                    {"range": {"@timestamp": {"gte": _iso(start), "lt": _iso(end)}}},
                ]
            }
        },
    }


def search_served(
    connection: EsConnection, index: str, filters: Sequence[dict[str, Any]], start: int, end: int
) -> list[dict[str, Any]]:
    """Every document matching ``filters`` in ``[start, end)`` through ``index``, oldest first.

    Pages of :data:`MAX_HITS` sorted by ``@timestamp``: a full page keeps the documents before its
    last timestamp and the next page starts at that timestamp.
    """
    found: list[dict[str, Any]] = []
    since = start
    while True:
        hits = msearch(connection, index, _body(filters, since, end, "asc"))["hits"]["hits"]
        page = [hit["_source"] for hit in hits]
        if len(page) < MAX_HITS:
            return found + page
        last = _epoch(str(page[-1]["@timestamp"]))
        if last == since:
            raise SinkError(f"more than {MAX_HITS} documents at {_iso(since)}: cannot page through them")
        found += [source for source in page if _epoch(str(source["@timestamp"])) < last]
        since = last


def windows_of(sources: Iterable[dict[str, Any]]) -> list[Window]:
    """Documents of one series gathered into windows (one per start and step), oldest first.

    Two documents of the same cfunc for the same window (which the aliases must never serve) stay
    visible: the second one starts a window of its own.
    """
    windows: list[Window] = []
    open_windows: dict[tuple[int, int], Window] = {}
    for source in sources:
        key = (_epoch(str(source["@timestamp"])), int(source["step"]))
        cfunc, value = str(source["cfunc"]), float(source["metric"])
        window = open_windows.get(key)
        if window is None or cfunc in window.values:
            window = Window(key[0], key[1], {})
            open_windows[key] = window
            windows.append(window)
        window.values[cfunc] = value
    windows.sort(key=lambda window: (window.start, window.step))
    return windows


@dataclass(frozen=True, slots=True)
class Stretch:
    """The windows of one archive (``step``) served for one series: from ``first`` to ``last`` start."""

    step: int
    first: int
    last: int
    windows: int

    @property
    def end(self) -> int:
        return self.last + self.step


@dataclass(frozen=True, slots=True)
class SeriesCheck:
    """One series as served. ``overlaps``: stretches of two archives that share an instant (served
    twice); ``coarser_later``: a coarser archive serving after a finer one (not the finest kept)."""

    host: str
    service: str
    stretches: tuple[Stretch, ...]  # oldest first

    @property
    def windows(self) -> int:
        return sum(stretch.windows for stretch in self.stretches)

    def _pairs(self) -> list[tuple[Stretch, Stretch]]:
        return list(itertools.pairwise(self.stretches))

    @property
    def overlaps(self) -> int:
        return sum(1 for before, after in self._pairs() if after.first < before.end)

    @property
    def coarser_later(self) -> int:
        return sum(1 for before, after in self._pairs() if after.step > before.step)


@dataclass(frozen=True, slots=True)
class ServedCheck:
    series: tuple[SeriesCheck, ...]

    @property
    def windows(self) -> int:
        return sum(check.windows for check in self.series)

    @property
    def overlaps(self) -> int:
        return sum(check.overlaps for check in self.series)

    @property
    def coarser_later(self) -> int:
        return sum(check.coarser_later for check in self.series)

    @property
    def ok(self) -> bool:
        return self.overlaps == 0 and self.coarser_later == 0 and self.windows > 0


def _terms(name: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {"terms": {"field": name, "size": 10_000}, "aggs": inner}


CHECK_AGGS: dict[str, Any] = {
    "avg": {
        "filter": {"term": {"cfunc": "avg"}},
        "aggs": {
            "host": _terms(
                "host",
                {
                    "service": _terms(
                        "service",
                        {
                            "step": _terms(
                                "step",
                                {
                                    "first": {"min": {"field": "@timestamp"}},
                                    "last": {"max": {"field": "@timestamp"}},
                                },
                            )
                        },
                    )
                },
            )
        },
    }
}


def served_check(aggregation: dict[str, Any]) -> ServedCheck:
    """The check from :data:`CHECK_AGGS`' answer: per series and archive, the windows served."""
    checks: list[SeriesCheck] = []
    for host in aggregation["host"]["buckets"]:
        for service in host["service"]["buckets"]:
            stretches = sorted(
                (
                    Stretch(
                        step=int(step["key"]),
                        first=int(step["first"]["value"]) // 1000,
                        last=int(step["last"]["value"]) // 1000,
                        windows=int(step["doc_count"]),
                    )
                    for step in service["step"]["buckets"]
                ),
                key=lambda stretch: (stretch.first, stretch.step),
            )
            checks.append(SeriesCheck(str(host["key"]), str(service["key"]), tuple(stretches)))
    checks.sort(key=lambda check: (check.service, check.host))
    return ServedCheck(tuple(checks))


def read_served(
    connection: EsConnection,
    config: Config,
    host: str,
    service: str,
    start: int,
    end: int,
    extremes_since: int | None = None,
) -> tuple[ServedCheck, list[Window]]:
    """Check every series through ``alias_prefix*`` and read one series' windows, in few searches.

    The check: each series' ``avg`` windows per archive (count, first and last), aggregated in the
    same search that returns the newest :data:`MAX_HITS` documents of ``host``/``service``
    (``post_filter``: the aggregations see every series). Within one archive a window is in
    exactly one index (its period's), so an instant served twice can only come from two archives,
    whose stretches then overlap. The series comes with every cfunc, or with ``avg`` only before
    ``extremes_since`` when given (fewer documents: one search is often enough). Older documents,
    if any, are read the way Grafana reads them: through the finest archive's alias of each day
    (``[samplerr-]YYYY.MM.DD``).
    """
    pattern = f"{config.elasticsearch.alias_prefix}*"
    mine: list[dict[str, Any]] = [{"term": {"host": host}}, {"term": {"service": service}}]
    if extremes_since is not None:
        recent = {"range": {"@timestamp": {"gte": _iso(extremes_since)}}}
        mine.append({"bool": {"should": [{"term": {"cfunc": "avg"}}, recent], "minimum_should_match": 1}})
    body = _body([], start, end, "desc") | {"post_filter": {"bool": {"filter": mine}}, "aggs": CHECK_AGGS}
    answer = msearch(connection, pattern, body)
    check = served_check(answer["aggregations"]["avg"])
    sources = [hit["_source"] for hit in answer["hits"]["hits"]]
    if int(answer["hits"]["total"]["value"]) > len(sources) and sources:
        oldest = _epoch(str(sources[-1]["@timestamp"]))
        sources = [source for source in sources if _epoch(str(source["@timestamp"])) > oldest]
        names = daily_alias_names(config, start, oldest)
        sources += search_served(connection, names, mine, start, oldest + 1)
    return check, windows_of(sources)
