"""The lifecycle planner, case by case (ARCHITECTURE §5).

Timelines read left to right; ``D`` a daily index, ``M`` monthly, ``Y`` yearly, ``W`` weekly,
``H`` hourly, ``.`` a missing index, ``x`` an expired one. Expected targets are written by hand
as ``{alias: {index: "what it serves"}}`` where ``"all"`` means unfiltered and a range reads
``MM-DD..MM-DD`` (or full ISO when years or hours matter); the filters are parsed back with the
standard library, not with the planner's own reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from samplerr.core.config import Archive
from samplerr.core.durations import parse_duration
from samplerr.core.lifecycle import (
    AliasInfo,
    IndexInfo,
    Plan,
    coverage,
    next_period_indices,
    plan_lifecycle,
    summary,
)
from samplerr.core.periods import Period, parse_tf


def ts(text: str) -> int:
    """``2026-11-22T10:00`` (UTC) as epoch seconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def archive(tf: str, step: str, ttl: str) -> Archive:
    return Archive(parse_tf(tf), parse_duration(step).seconds, parse_duration(ttl), ("avg",))


DEFAULT = (
    archive("YYYY.MM.DD", "20s", "2d"),
    archive("YYYY.MM", "10m", "2mo"),
    archive("YYYY", "1h", "10y"),
)


def plan(
    indices: Iterable[str | IndexInfo],
    now: str,
    aliases: Iterable[AliasInfo] = (),
    archives: tuple[Archive, ...] = DEFAULT,
) -> Plan:
    return plan_lifecycle(archives, ".samplerr-", "samplerr-", indices, aliases, now=ts(now))


def daily(*days: str) -> list[str]:
    return [f".samplerr-{day}" for day in days]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _short(start: datetime, end: datetime, style: str) -> str:
    if style == "day":
        return f"{start:%m-%d}..{end:%m-%d}"
    if style == "hour":
        return f"{start:%m-%dT%H}..{end:%m-%dT%H}"
    return f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"


def served_text(query: Mapping[str, Any] | None, style: str = "day") -> str:
    """What a filter selects, read with the standard library: ``all`` or ``MM-DD..MM-DD, …``."""
    if query is None:
        return "all"
    clauses = query["bool"]["should"] if "bool" in query else [query]
    if "bool" in query:
        assert query["bool"]["minimum_should_match"] == 1
        assert len(clauses) > 1
    parts = []
    for clause in clauses:
        bounds = clause["range"]["@timestamp"]
        assert set(bounds) == {"gte", "lt", "format"}
        assert bounds["format"] == "strict_date_optional_time"
        parts.append(_short(_instant(bounds["gte"]), _instant(bounds["lt"]), style))
    return ", ".join(parts)


def targets(result: Plan, alias: str, style: str = "day") -> dict[str, str]:
    found = result.desired_alias_map()
    assert alias in found, f"no alias {alias}"
    return {index: served_text(query, style) for index, query in found[alias].items()}


def decisions(result: Plan) -> dict[str, str]:
    table = {d.index: d.reason for d in result.kept}
    table.update({d.index: "DELETE" for d in result.deletions})
    return table


# --- the steady state of the default archives ------------------------------------------------
#
# now = 2026-11-22T10:00Z
#   daily 2d      x  x  D  D  D                       11-18 .. 11-22 (11-18, 11-19 expired)
#   monthly 2mo   x  x  M  M  M                       07 .. 11       (07, 08 expired)
#   yearly 10y    x  Y  Y  Y  Y  Y  Y  Y  Y  Y  Y  Y  2015 .. 2026   (2015 expired)

STEADY = (
    daily("2026.11.18", "2026.11.19", "2026.11.20", "2026.11.21", "2026.11.22")
    + [f".samplerr-2026.{month:02d}" for month in range(7, 12)]
    + [f".samplerr-{year}" for year in range(2015, 2027)]
)
STEADY_NOW = "2026-11-22T10:00"


@cache
def steady() -> Plan:
    return plan(STEADY, STEADY_NOW)


def test_steady_state_decisions():
    result = steady()
    assert decisions(result) == {
        ".samplerr-2026.11.18": "DELETE",  # 11-19 + 2 d = 11-21 <= now
        ".samplerr-2026.11.19": "DELETE",  # 11-20 + 2 d = 11-22T00:00 <= now
        ".samplerr-2026.11.20": "unexpired",  # until 11-23
        ".samplerr-2026.11.21": "unexpired",
        ".samplerr-2026.11.22": "current period",
        ".samplerr-2026.07": "DELETE",  # 08-01 + 2 mo = 10-01
        ".samplerr-2026.08": "DELETE",  # 09-01 + 2 mo = 11-01
        ".samplerr-2026.09": "unexpired",  # until 12-01
        ".samplerr-2026.10": "unexpired",
        ".samplerr-2026.11": "current period",
        ".samplerr-2015": "DELETE",  # 2016 + 10 y = 2026-01-01
        **{f".samplerr-{year}": "unexpired" for year in range(2016, 2026)},
        ".samplerr-2026": "current period",
    }
    assert [d.detail for d in result.deletions if d.index == ".samplerr-2026.11.19"] == [
        "expired 2026-11-22T00:00:00Z (period end + 2d)"
    ]
    assert result.unknown == ()
    assert result.problems == ()


def test_steady_state_coverage():
    #   ... Y2025 | Y2026 | M09 | M10 | M11 | D20 | D21 | D22 | M11 (rest of Nov) | Y2026 (Dec)
    result = steady()
    assert [(s.start, s.end, s.index) for s in coverage(result)] == [
        (ts(f"{year}-01-01"), ts(f"{year + 1}-01-01"), f".samplerr-{year}") for year in range(2016, 2026)
    ] + [
        (ts("2026-01-01"), ts("2026-09-01"), ".samplerr-2026"),
        (ts("2026-09-01"), ts("2026-10-01"), ".samplerr-2026.09"),
        (ts("2026-10-01"), ts("2026-11-01"), ".samplerr-2026.10"),
        (ts("2026-11-01"), ts("2026-11-20"), ".samplerr-2026.11"),
        (ts("2026-11-20"), ts("2026-11-21"), ".samplerr-2026.11.20"),
        (ts("2026-11-21"), ts("2026-11-22"), ".samplerr-2026.11.21"),
        (ts("2026-11-22"), ts("2026-11-23"), ".samplerr-2026.11.22"),
        (ts("2026-11-23"), ts("2026-12-01"), ".samplerr-2026.11"),
        (ts("2026-12-01"), ts("2027-01-01"), ".samplerr-2026"),
    ]
    assert [s.archive for s in coverage(result)][-6:] == [1, 0, 0, 0, 1, 2]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("samplerr-2026.11.22", {".samplerr-2026.11.22": "all"}),
        ("samplerr-2026.11.20", {".samplerr-2026.11.20": "all"}),
        # expired day: the monthly index serves it, filtered to that day
        ("samplerr-2026.11.19", {".samplerr-2026.11": "11-19..11-20"}),
        ("samplerr-2026.11.01", {".samplerr-2026.11": "11-01..11-02"}),
        # the monthly index serves its month but the three kept days (and the future ones)
        (
            "samplerr-2026.11",
            {
                ".samplerr-2026.11": "11-01..11-20, 11-23..12-01",
                ".samplerr-2026.11.20": "all",
                ".samplerr-2026.11.21": "all",
                ".samplerr-2026.11.22": "all",
            },
        ),
        ("samplerr-2026.10", {".samplerr-2026.10": "all"}),
        ("samplerr-2026.10.31", {".samplerr-2026.10": "10-31..11-01"}),
        # expired month: the yearly index serves it
        ("samplerr-2026.08", {".samplerr-2026": "08-01..09-01"}),
        ("samplerr-2026.08.15", {".samplerr-2026": "08-15..08-16"}),
        (
            "samplerr-2026",
            {
                ".samplerr-2026": "01-01..09-01, 12-01..01-01",
                ".samplerr-2026.09": "all",
                ".samplerr-2026.10": "all",
                ".samplerr-2026.11": "11-01..11-20, 11-23..12-01",
                ".samplerr-2026.11.20": "all",
                ".samplerr-2026.11.21": "all",
                ".samplerr-2026.11.22": "all",
            },
        ),
        ("samplerr-2016", {".samplerr-2016": "all"}),
        ("samplerr-2016.02", {".samplerr-2016": "02-01..03-01"}),
        ("samplerr-2016.02.29", {".samplerr-2016": "02-29..03-01"}),
    ],
)
def test_steady_state_aliases(alias, expected):
    assert targets(steady(), alias) == expected


def test_steady_state_alias_names_run_from_the_oldest_kept_data_to_now():
    names = set(steady().desired_alias_map())
    days = (ts("2026-11-23") - ts("2016-01-01")) // 86_400  # 2016-01-01 .. 2026-11-22
    months = 10 * 12 + 11
    assert len(names) == days + months + 11
    assert {"samplerr-2016.01.01", "samplerr-2016.01", "samplerr-2016"} <= names
    # nothing from the expired 2015, nothing for days or months that have not started
    assert not {"samplerr-2015.12.31", "samplerr-2015", "samplerr-2026.11.23", "samplerr-2026.12"} & names


def test_steady_state_first_rotation_adds_then_nothing_more():
    first = steady()
    assert {action.op for action in first.actions} == {"add"}
    applied = [AliasInfo(a.alias, a.index, a.filter) for a in first.actions]
    assert plan(STEADY, STEADY_NOW, applied).actions == ()


# --- exact request bodies ----------------------------------------------------------------------

SMALL = (archive("YYYY.MM.DD", "20s", "2d"), archive("YYYY.MM", "10m", "2mo"))


def test_exact_body_with_a_filter_change_a_stale_alias_and_foreign_aliases():
    #   monthly  M2026.11 ........................................
    #   daily                                       D21  D22
    # now 2026-11-22T10:00; the current state is yesterday's: 11-21 was served by M.
    current = [
        AliasInfo("samplerr-2026.11", ".samplerr-2026.11", {"range": {"@timestamp": {"gte": "x"}}}),
        AliasInfo("samplerr-2026.11.22", ".samplerr-2026.11.22"),
        AliasInfo("samplerr-2026.11.21", ".samplerr-2026.11"),  # stale: D21 exists now
        AliasInfo("grafana-everything", ".samplerr-2026.11"),  # not ours: untouched
        AliasInfo("samplerr-2026.11.22", "someone-else"),  # not on our index: untouched
    ]
    result = plan_lifecycle(
        SMALL,
        ".samplerr-",
        "samplerr-",
        [".samplerr-2026.11", ".samplerr-2026.11.21", ".samplerr-2026.11.22", "someone-else"],
        current,
        now=ts("2026-11-22T10:00"),
    )
    day = {"format": "strict_date_optional_time"}
    assert result.body() == {
        "actions": [
            {"remove": {"index": ".samplerr-2026.11", "alias": "samplerr-2026.11"}},
            {
                "add": {
                    "index": ".samplerr-2026.11",
                    "alias": "samplerr-2026.11",
                    "filter": {
                        "bool": {
                            "should": [
                                {
                                    "range": {
                                        "@timestamp": {
                                            "gte": "2026-11-01T00:00:00Z",
                                            "lt": "2026-11-21T00:00:00Z",
                                            **day,
                                        }
                                    }
                                },
                                {
                                    "range": {
                                        "@timestamp": {
                                            "gte": "2026-11-23T00:00:00Z",
                                            "lt": "2026-12-01T00:00:00Z",
                                            **day,
                                        }
                                    }
                                },
                            ],
                            "minimum_should_match": 1,
                        }
                    },
                }
            },
            {"add": {"index": ".samplerr-2026.11.21", "alias": "samplerr-2026.11"}},
            {"add": {"index": ".samplerr-2026.11.22", "alias": "samplerr-2026.11"}},
            {
                "add": {
                    "index": ".samplerr-2026.11",
                    "alias": "samplerr-2026.11.01",
                    "filter": {
                        "range": {
                            "@timestamp": {"gte": "2026-11-01T00:00:00Z", "lt": "2026-11-02T00:00:00Z", **day}
                        }
                    },
                }
            },
        ]
        + [
            {
                "add": {
                    "index": ".samplerr-2026.11",
                    "alias": f"samplerr-2026.11.{d:02d}",
                    "filter": {
                        "range": {
                            "@timestamp": {
                                "gte": f"2026-11-{d:02d}T00:00:00Z",
                                "lt": f"2026-11-{d + 1:02d}T00:00:00Z",
                                **day,
                            }
                        }
                    },
                }
            }
            for d in range(2, 21)
        ]
        + [
            {"remove": {"index": ".samplerr-2026.11", "alias": "samplerr-2026.11.21"}},
            {"add": {"index": ".samplerr-2026.11.21", "alias": "samplerr-2026.11.21"}},
        ]
    }
    assert [(row.alias, row.index, row.change) for row in summary(result)][:3] == [
        ("samplerr-2026.11", ".samplerr-2026.11", "remove"),
        ("samplerr-2026.11", ".samplerr-2026.11", "add"),
        ("samplerr-2026.11", ".samplerr-2026.11.21", "add"),
    ]
    rows = {(row.alias, row.index, row.change): row.range for row in summary(result)}
    assert rows[("samplerr-2026.11.22", ".samplerr-2026.11.22", "keep")] == "whole index"
    assert rows[("samplerr-2026.11.21", ".samplerr-2026.11", "remove")] == "whole index"
    assert rows[("samplerr-2026.11.01", ".samplerr-2026.11", "add")] == (
        "2026-11-01T00:00:00Z .. 2026-11-02T00:00:00Z"
    )
    assert result.problems == (
        "alias samplerr-2026.11.22 on someone-else, which samplerr does not manage: left alone "
        "(searches through it may return data twice)",
    )


# --- missing indices ---------------------------------------------------------------------------


def test_a_missing_daily_index_is_served_by_the_monthly_one_filtered_to_that_day():
    #   daily    D20  .   D22           (11-21 missing)
    #   monthly  M2026.11 ..........
    result = plan([*daily("2026.11.20", "2026.11.22"), ".samplerr-2026.11", ".samplerr-2026"], STEADY_NOW)
    assert targets(result, "samplerr-2026.11.21") == {".samplerr-2026.11": "11-21..11-22"}
    assert targets(result, "samplerr-2026.11") == {
        ".samplerr-2026.11": "11-01..11-20, 11-21..11-22, 11-23..12-01",
        ".samplerr-2026.11.20": "all",
        ".samplerr-2026.11.22": "all",
    }


def test_a_missing_monthly_index_is_served_by_the_yearly_one():
    #   monthly  M09  .  M11            (2026.10 missing)
    #   yearly   Y2026 ...............
    result = plan(
        [".samplerr-2026.09", ".samplerr-2026.11", ".samplerr-2026", ".samplerr-2026.11.22"], STEADY_NOW
    )
    assert targets(result, "samplerr-2026.10") == {".samplerr-2026": "10-01..11-01"}
    assert targets(result, "samplerr-2026.10.05") == {".samplerr-2026": "10-05..10-06"}
    assert targets(result, "samplerr-2026")[".samplerr-2026"] == ("01-01..09-01, 10-01..11-01, 12-01..01-01")


def test_nothing_but_a_yearly_index():
    result = plan([".samplerr-2026"], STEADY_NOW)
    assert targets(result, "samplerr-2026") == {".samplerr-2026": "all"}
    assert targets(result, "samplerr-2026.11") == {".samplerr-2026": "11-01..12-01"}
    assert targets(result, "samplerr-2026.11.22") == {".samplerr-2026": "11-22..11-23"}
    assert "samplerr-2026.11.23" not in result.desired_alias_map()


def test_no_index_at_all_plans_nothing():
    result = plan([], STEADY_NOW, [AliasInfo("samplerr-2026", "elsewhere")])
    assert (result.desired_aliases, result.actions, result.deletions, result.kept) == ((), (), (), ())
    assert coverage(result) == ()


# --- expiry and the only copy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "now", "reason"),
    [
        # daily 2d: 2026.11.20 ends 11-21T00:00, expires 11-23T00:00
        (".samplerr-2026.11.20", "2026-11-20T23:59:59", "current period"),
        (".samplerr-2026.11.20", "2026-11-21T00:00", "unexpired"),
        (".samplerr-2026.11.20", "2026-11-22T23:59:59", "unexpired"),
        (".samplerr-2026.11.20", "2026-11-23T00:00", "DELETE"),
        (".samplerr-2026.11.20", "2026-11-19T00:00", "future period"),
        # monthly 2 months: 2026.12 ends 2027-01-01, expires 2027-03-01
        (".samplerr-2026.12", "2027-02-28T23:59:59", "unexpired"),
        (".samplerr-2026.12", "2027-03-01T00:00", "DELETE"),
        # yearly 10 years, across a leap day: 2027 ends 2028-01-01, expires 2038-01-01
        (".samplerr-2027", "2037-12-31T23:59:59", "unexpired"),
        (".samplerr-2027", "2038-01-01T00:00", "DELETE"),
    ],
)
def test_expiry_exactly_at_the_boundary(index, now, reason):
    # each index with the coarser ones of its period, so no only-copy rule applies
    coarser = {
        ".samplerr-2026.11.20": [".samplerr-2026.11", ".samplerr-2026"],
        ".samplerr-2026.12": [".samplerr-2026"],
    }.get(index, [])
    assert decisions(plan([index, *coarser], now))[index] == reason


@pytest.mark.parametrize(
    ("index", "now", "reason"),
    [
        # daily with a one-month ttl: 01-30 and 01-31 both expire on 02-29 (leap year clamp)
        (".samplerr-2028.01.29", "2028-02-29T23:59:59", "DELETE"),  # 01-30 + 1 mo = 02-29T00:00
        (".samplerr-2028.01.30", "2028-02-28T23:59:59", "unexpired"),
        (".samplerr-2028.01.30", "2028-02-29T00:00", "DELETE"),  # 01-31 + 1 mo = 02-29
        (".samplerr-2028.01.31", "2028-02-29T23:59:59", "unexpired"),  # 02-01 + 1 mo = 03-01
        (".samplerr-2028.01.31", "2028-03-01T00:00", "DELETE"),
        (".samplerr-2027.01.30", "2027-02-28T00:00", "DELETE"),  # 01-31 + 1 mo = 02-28
    ],
)
def test_calendar_ttl_across_month_ends(index, now, reason):
    archives = (archive("YYYY.MM.DD", "1m", "1mo"), archive("YYYY", "1h", "5y"))
    assert decisions(plan([index, ".samplerr-" + index[10:14]], now, archives=archives))[index] == reason


def test_an_expired_daily_index_is_the_only_copy_when_its_month_is_missing():
    #   daily    x18 x19 D20 D21 D22    (18 and 19 expired)
    #   monthly  .                      (2026.11 missing)
    #   yearly   Y2026                  (holds the days, but only at 1 h: not the monthly 10 min)
    indices = [*daily("2026.11.18", "2026.11.19", "2026.11.20", "2026.11.21", "2026.11.22"), ".samplerr-2026"]
    result = plan(indices, STEADY_NOW)
    assert decisions(result)[".samplerr-2026.11.19"] == "only copy"
    assert decisions(result)[".samplerr-2026.11.18"] == "only copy"
    detail = next(d.detail for d in result.kept if d.index == ".samplerr-2026.11.19")
    assert detail == (
        "only copy of data archive YYYY.MM still keeps: 2026-11-19T00:00:00Z .. 2026-11-20T00:00:00Z"
    )
    # kept data is served: the day is read from the finest index holding it
    assert targets(result, "samplerr-2026.11.19") == {".samplerr-2026.11.19": "all"}
    assert targets(result, "samplerr-2026")[".samplerr-2026"] == "01-01..11-18, 11-23..01-01"
    # once the monthly index exists the expired days go
    with_month = plan([*indices, ".samplerr-2026.11"], STEADY_NOW)
    assert decisions(with_month)[".samplerr-2026.11.19"] == "DELETE"
    assert decisions(with_month)[".samplerr-2026.11.18"] == "DELETE"


def test_when_the_yearly_index_is_missing_the_expired_monthly_one_is_kept_not_the_daily_ones():
    # now 2027-01-10: 2026.10 expired on 2027-01-01; the year 2026 keeps it, but .samplerr-2026 is missing
    indices = [".samplerr-2026.10", ".samplerr-2026.10.31", ".samplerr-2027.01.10", ".samplerr-2027"]
    result = plan(indices, "2027-01-10T12:00")
    assert decisions(result) == {
        ".samplerr-2026.10": "only copy",
        ".samplerr-2026.10.31": "DELETE",  # the coarser copy suffices for the yearly archive
        ".samplerr-2027.01.10": "current period",
        ".samplerr-2027": "current period",
    }
    assert targets(result, "samplerr-2026") == {".samplerr-2026.10": "all"}


def test_of_two_expired_copies_the_coarser_one_is_kept():
    #   hourly 6h   x00 x01 ... x23          (every hour of 11-20, all expired)
    #   daily 2d    x2026.11.20              (expired on 11-23)
    #   yearly 1y   .                        (2026 missing: the year keeps 11-20)
    archives = (
        archive("YYYY.MM.DD.HH", "10s", "6h"),
        archive("YYYY.MM.DD", "1m", "2d"),
        archive("YYYY", "1h", "1y"),
    )
    hours = [f".samplerr-2026.11.20.{hour:02d}" for hour in range(24)]
    result = plan([*hours, ".samplerr-2026.11.20"], "2026-11-23T10:00", archives=archives)
    assert decisions(result) == {**dict.fromkeys(hours, "DELETE"), ".samplerr-2026.11.20": "only copy"}
    assert targets(result, "samplerr-2026.11.20.05", "hour") == {".samplerr-2026.11.20": "11-20T05..11-20T06"}


def test_without_a_fine_enough_copy_the_finest_coarser_one_is_kept():
    # A week can outlive the month it starts in: ISO week 2026-05 (01-26 .. 02-02) kept 28 d lives
    # until 03-02, its January expires (1 month) on 03-01. Without weekly indices, January's
    # monthly index is what is left of 01-26 .. 02-01; the yearly index is coarser.
    archives = (archive("GGGG-WW", "1h", "28d"), archive("YYYY.MM", "2h", "1mo"), archive("YYYY", "1d", "1y"))
    result = plan([".samplerr-2026.01", ".samplerr-2026"], "2026-03-01T12:00", archives=archives)
    assert decisions(result)[".samplerr-2026.01"] == "only copy"
    assert next(d.detail for d in result.kept if d.index == ".samplerr-2026.01") == (
        "only copy of data archive GGGG-WW still keeps: 2026-01-26T00:00:00Z .. 2026-02-01T00:00:00Z"
    )
    assert targets(result, "samplerr-2026-05") == {
        ".samplerr-2026.01": "01-26..02-01",
        ".samplerr-2026": "02-01..02-02",
    }
    # a day later the week has expired too
    assert (
        decisions(plan([".samplerr-2026.01", ".samplerr-2026"], "2026-03-02T00:00", archives=archives))[
            ".samplerr-2026.01"
        ]
        == "DELETE"
    )


def test_when_the_coarsest_archive_expires_everything_goes():
    indices = [".samplerr-2015", ".samplerr-2015.12", ".samplerr-2015.12.31"]
    result = plan(indices, "2026-01-01T00:00")
    assert [d.index for d in result.deletions] == sorted(indices)
    assert result.desired_aliases == ()


def test_an_empty_past_index_serves_nothing_and_is_no_copy():
    #   daily    D20 (0 docs)  D21  D22     monthly M2026.11
    indices: list[str | IndexInfo] = [
        IndexInfo(".samplerr-2026.11.20", docs=0),
        IndexInfo(".samplerr-2026.11.21", docs=5),
        IndexInfo(".samplerr-2026.11.22", docs=0),  # current period: data may be arriving
        IndexInfo(".samplerr-2026.11.18", docs=0),  # expired, empty: no copy of anything
        ".samplerr-2026",
    ]
    result = plan(indices, STEADY_NOW)
    assert targets(result, "samplerr-2026.11.20") == {".samplerr-2026": "11-20..11-21"}
    assert targets(result, "samplerr-2026.11.22") == {".samplerr-2026.11.22": "all"}
    assert decisions(result)[".samplerr-2026.11.20"] == "unexpired"
    assert decisions(result)[".samplerr-2026.11.18"] == "DELETE"


# --- names -------------------------------------------------------------------------------------


def test_unknown_names_are_reported_and_never_touched():
    names = [
        ".samplerr-2026.13",  # month 13
        ".samplerr-2026.11.22-old",
        ".samplerr-2026.11.2",
        ".samplerr-foo",
        ".samplerr-2026.02.30",
        ".samplerr-9999",  # its period ends after the year 9999
        "not-ours-2026.11.22",
    ]
    current = [AliasInfo("samplerr-2026.11.22", ".samplerr-foo"), AliasInfo("mine", ".samplerr-2026.11.22")]
    result = plan([*names, ".samplerr-2026.11.22"], STEADY_NOW, current)
    assert result.classification == {
        **dict.fromkeys(names[:-1]),
        ".samplerr-2026.11.22": (0, Period(ts("2026-11-22"), ts("2026-11-23"))),
    }
    assert decisions(result) == {
        **dict.fromkeys(names[:-1], "unknown name"),
        ".samplerr-2026.11.22": "current period",
    }
    touched = {action.index for action in result.actions}
    assert touched == {".samplerr-2026.11.22"}
    assert [(a.op, a.alias) for a in result.actions] == [
        ("add", "samplerr-2026"),
        ("add", "samplerr-2026.11"),
        ("add", "samplerr-2026.11.22"),
    ]
    assert len(result.problems) == 1
    assert "samplerr-2026.11.22 on .samplerr-foo" in result.problems[0]


def test_a_name_two_archives_read_is_unknown():
    # configuration validation rejects such tfs; the planner still never guesses
    archives = (archive("GGGG.WW", "1h", "8w"), archive("YYYY.MM", "2h", "1y"))
    result = plan([".samplerr-2026.11", ".samplerr-2026.47"], STEADY_NOW, archives=archives)
    assert result.classification == {
        ".samplerr-2026.11": None,  # ISO week 11 or November?
        ".samplerr-2026.47": (0, Period(ts("2026-11-16"), ts("2026-11-23"))),
    }
    assert "ambiguous" in result.unknown[0].reason
    assert decisions(result)[".samplerr-2026.11"] == "unknown name"


def test_alias_names_two_archives_share_are_left_out():
    #   daily    D2026.03.10 (ISO week 11)        D2026.11.20 (November)
    # the weekly alias of week 11 and the monthly alias of November are both samplerr-2026.11
    archives = (
        archive("YYYY.MM.DD", "1m", "1y"),
        archive("GGGG.WW", "1h", "2y"),
        archive("YYYY.MM", "2h", "3y"),
    )
    result = plan(daily("2026.03.10", "2026.11.20"), STEADY_NOW, archives=archives)
    aliases = result.desired_alias_map()
    assert "samplerr-2026.11" not in aliases
    assert {"samplerr-2026.03", "samplerr-2026.47", "samplerr-2026.11.20"} <= aliases.keys()
    assert result.problems == (
        "alias samplerr-2026.11 would name periods of archives GGGG.WW and YYYY.MM: left out "
        "(make the tfs tell their periods apart)",
    )


def test_an_alias_named_like_an_index_is_left_out():
    result = plan_lifecycle(
        DEFAULT, "samplerr-", "samplerr-", ["samplerr-2026.11.22"], [], now=ts(STEADY_NOW)
    )
    assert "samplerr-2026.11.22" not in result.desired_alias_map()
    assert "samplerr-2026.11" in result.desired_alias_map()
    assert result.problems == (
        "alias samplerr-2026.11.22 is also the name of an index: left out (use different prefixes)",
    )


# --- calendars: month ends, leap day, ISO week 53, hours --------------------------------------


def test_leap_day_and_month_end():
    #   daily    D02-28 D02-29 D03-01      now 2028-03-01T12:00
    #   monthly  M2028.01  M2028.02  M2028.03
    indices = [
        *daily("2028.02.28", "2028.02.29", "2028.03.01"),
        ".samplerr-2027.12",
        ".samplerr-2028.01",
        ".samplerr-2028.02",
        ".samplerr-2028.03",
        ".samplerr-2027",
        ".samplerr-2028",
    ]
    result = plan(indices, "2028-03-01T12:00")
    assert decisions(result)[".samplerr-2028.02.28"] == "unexpired"  # 02-29 + 2 d = 03-02
    assert decisions(result)[".samplerr-2027.12"] == "DELETE"  # 2028-01-01 + 2 mo = 03-01
    assert targets(result, "samplerr-2028.02.29") == {".samplerr-2028.02.29": "all"}
    assert targets(result, "samplerr-2028.02") == {
        ".samplerr-2028.02": "02-01..02-28",
        ".samplerr-2028.02.28": "all",
        ".samplerr-2028.02.29": "all",
    }
    assert targets(result, "samplerr-2028.03") == {
        ".samplerr-2028.03.01": "all",
        ".samplerr-2028.03": "03-02..04-01",
    }
    assert targets(result, "samplerr-2027.12.31") == {".samplerr-2027": "12-31..01-01"}


WEEKLY = (
    archive("YYYY.MM.DD", "20s", "2d"),
    archive("GGGG.WW", "10m", "8w"),
    archive("YYYY", "1h", "10y"),
)


def test_iso_week_53_straddles_two_years():
    #                 2026-12-28 (Mon)          2027-01-01       2027-01-04 (Mon)
    #   weekly        W2026.53 ......................................|
    #   daily                            D12-31 D01-01 D01-02
    #   yearly        Y2026 ..........|  Y2027 .......................................
    indices = [
        *daily("2026.12.31", "2027.01.01", "2027.01.02"),
        ".samplerr-2026.52",
        ".samplerr-2026.53",
        ".samplerr-2026",
        ".samplerr-2027",
    ]
    result = plan(indices, "2027-01-02T12:00", archives=WEEKLY)
    assert result.classification[".samplerr-2026.53"] == (1, Period(ts("2026-12-28"), ts("2027-01-04")))
    assert targets(result, "samplerr-2026.53") == {
        ".samplerr-2026.53": "12-28..12-31, 01-03..01-04",
        ".samplerr-2026.12.31": "all",
        ".samplerr-2027.01.01": "all",
        ".samplerr-2027.01.02": "all",
    }
    assert targets(result, "samplerr-2026")[".samplerr-2026.53"] == "12-28..12-31"
    assert targets(result, "samplerr-2026")[".samplerr-2026.12.31"] == "all"
    assert targets(result, "samplerr-2027") == {
        ".samplerr-2026.53": "01-03..01-04",
        ".samplerr-2027.01.01": "all",
        ".samplerr-2027.01.02": "all",
        ".samplerr-2027": "01-04..01-01",
    }
    assert targets(result, "samplerr-2026.12.29") == {".samplerr-2026.53": "12-29..12-30"}
    # the weekly alias for the (2027) week 53 of 2026 exists; 2027 has no week 53
    assert targets(result, "samplerr-2026.52") == {".samplerr-2026.52": "all"}
    assert plan([".samplerr-2027.53"], "2027-01-02T12:00", archives=WEEKLY).classification == {
        ".samplerr-2027.53": None
    }


HOURLY = (archive("YYYY.MM.DD.HH", "10s", "6h"), archive("YYYY.MM.DD", "10m", "7d"))


def test_hourly_archive():
    #   hourly   x03 H04 H05 H06 H07 H08 H09 H10         now 10:30; 03 ends 04:00 + 6 h = 10:00
    #   daily    D2026.11.22 ......................................
    indices = [f".samplerr-2026.11.22.{hour:02d}" for hour in range(3, 11)] + [".samplerr-2026.11.22"]
    result = plan(indices, "2026-11-22T10:30", archives=HOURLY)
    assert decisions(result)[".samplerr-2026.11.22.03"] == "DELETE"
    assert decisions(result)[".samplerr-2026.11.22.04"] == "unexpired"
    assert decisions(result)[".samplerr-2026.11.22.10"] == "current period"
    assert targets(result, "samplerr-2026.11.22.03", "hour") == {".samplerr-2026.11.22": "11-22T03..11-22T04"}
    assert targets(result, "samplerr-2026.11.22.04", "hour") == {".samplerr-2026.11.22.04": "all"}
    expected = {f".samplerr-2026.11.22.{hour:02d}": "all" for hour in range(4, 11)}
    expected[".samplerr-2026.11.22"] = "11-22T00..11-22T04, 11-22T11..11-23T00"
    assert targets(result, "samplerr-2026.11.22", "hour") == expected
    hourly_aliases = [a.name for a in result.desired_aliases if a.archive == 0]
    assert hourly_aliases == [f"samplerr-2026.11.22.{hour:02d}" for hour in range(11)]


# --- indices created ahead ---------------------------------------------------------------------


def test_an_index_created_ahead_gets_its_alias_and_takes_its_day():
    indices = [*daily("2026.11.21", "2026.11.22", "2026.11.23"), ".samplerr-2026.11"]
    result = plan(indices, "2026-11-22T23:55")
    assert decisions(result)[".samplerr-2026.11.23"] == "future period"
    assert targets(result, "samplerr-2026.11.23") == {".samplerr-2026.11.23": "all"}
    assert targets(result, "samplerr-2026.11")[".samplerr-2026.11"] == "11-01..11-21, 11-24..12-01"
    assert "samplerr-2026.11.24" not in result.desired_alias_map()


@pytest.mark.parametrize(
    ("now", "ahead", "expected"),
    [
        ("2026-11-22T10:00", 600, ()),
        ("2026-11-22T23:50", 600, (".samplerr-2026.11.23",)),
        ("2026-11-22T23:49:59", 600, ()),
        ("2026-11-30T23:55", 600, (".samplerr-2026.12.01", ".samplerr-2026.12")),
        ("2026-12-31T23:55", 600, (".samplerr-2027.01.01", ".samplerr-2027.01", ".samplerr-2027")),
        ("2028-02-28T23:59", 60, (".samplerr-2028.02.29",)),
        ("2026-12-31T00:00", 86_400, (".samplerr-2027.01.01", ".samplerr-2027.01", ".samplerr-2027")),
    ],
)
def test_next_period_indices(now, ahead, expected):
    assert next_period_indices(DEFAULT, ".samplerr-", ts(now), ahead) == expected


def test_next_period_indices_for_weeks_and_hours():
    assert next_period_indices(WEEKLY, ".samplerr-", ts("2026-12-27T23:58"), 300) == (
        ".samplerr-2026.12.28",
        ".samplerr-2026.53",
    )
    assert next_period_indices(HOURLY, "i-", ts("2026-11-22T10:59"), 120) == ("i-2026.11.22.11",)


# --- purity --------------------------------------------------------------------------------------


def test_the_plan_depends_on_its_inputs_only():
    first = steady()
    assert plan(list(reversed(STEADY)), STEADY_NOW) == first
    # a clock going backwards is just another now: nothing deleted that the earlier now keeps
    earlier = plan(STEADY, "2026-11-21T10:00")
    assert {d.index for d in earlier.deletions} <= {d.index for d in first.deletions}
