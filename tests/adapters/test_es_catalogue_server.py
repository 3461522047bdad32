"""The catalogue against the dev server: indices by archive and period, aliases, deletes, the lock."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from samplerr.adapters.es_bulk import BulkWriter
from samplerr.adapters.es_catalogue import (
    AliasInfo,
    LifecycleLock,
    classify_indices,
    create_index,
    delete_indices,
    list_aliases,
    list_indices,
    update_aliases,
)
from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.configfile import load_config
from samplerr.core.config import Config
from tests.adapters.es_support import ndjson, settings_for
from tests.devserver.process import DevServerProcess


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


@pytest.fixture
def config(devserver: DevServerProcess) -> Config:
    base = load_config(None, env={})  # archives YYYY.MM.DD / YYYY.MM / YYYY
    return dataclasses.replace(base, elasticsearch=settings_for(devserver.url))


@pytest.fixture
def connection(config: Config) -> Iterator[EsConnection]:
    with EsConnection(config.elasticsearch) as conn:
        yield conn


@pytest.fixture
def prefix(config: Config) -> str:
    return config.elasticsearch.index_prefix


@pytest.fixture
def alias_prefix(config: Config) -> str:
    return config.elasticsearch.alias_prefix


def test_indices_are_classified_by_archive_and_period(config, connection, prefix):
    #  name under the prefix      what it is
    table = {
        "2026.11.22": (0, utc(2026, 11, 22), utc(2026, 11, 23)),
        "2024.02.29": (0, utc(2024, 2, 29), utc(2024, 3, 1)),
        "2026.11": (1, utc(2026, 11, 1), utc(2026, 12, 1)),
        "2026": (2, utc(2026, 1, 1), utc(2027, 1, 1)),
        "2026.02.30": None,  # no such day
        "2026.13": None,  # no such month
        "2026.11.22-old": None,  # not anchored at the end
        "2026.1.5": None,  # not zero-padded: not a name tf gives
        "junk": None,
    }
    for suffix in table:
        assert create_index(connection, prefix + suffix)
    create_index(connection, prefix + "lock")  # the lifecycle lock index: neither kind
    create_index(connection, prefix.rstrip("-") + "x-2026")  # another prefix: not listed

    listed = list_indices(connection, prefix)
    assert [i.name for i in listed] == sorted(prefix + s for s in [*table, "lock"])
    assert all(i.creation_ms > utc(2020, 1, 1) * 1000 for i in listed)

    found = classify_indices(listed, config.archives, prefix)
    got = {a.info.name[len(prefix) :]: (a.archive, a.period.start, a.period.end) for a in found.archived}
    assert got == {s: v for s, v in table.items() if v is not None}
    assert [a.archive for a in found.archived] == sorted(a.archive for a in found.archived)
    assert [i.name for i in found.unknown] == sorted(prefix + s for s, v in table.items() if v is None)


def test_documents_and_sizes_are_listed(connection, prefix):
    index = prefix + "2026.11.22"
    BulkWriter(connection).write(ndjson(index, 120))
    connection.request("POST", f"/{index}/_refresh")
    [info] = list_indices(connection, prefix)
    assert (info.name, info.docs) == (index, 120)
    assert info.size_bytes > 0


def test_nothing_under_the_prefix_is_an_empty_catalogue(connection, prefix, alias_prefix):
    assert list_indices(connection, prefix) == ()
    assert list_aliases(connection, alias_prefix) == ()


def test_alias_actions_apply_together_with_their_filters(connection, prefix, alias_prefix):
    day, month = prefix + "2026.11.22", prefix + "2026.11"
    create_index(connection, day)
    create_index(connection, month)
    window = {"range": {"@timestamp": {"gte": "2026-11-01T00:00:00Z", "lt": "2026-11-22T00:00:00Z"}}}
    update_aliases(
        connection,
        [
            {"add": {"index": day, "alias": alias_prefix + "2026.11.22"}},
            {"add": {"index": month, "alias": alias_prefix + "2026.11", "filter": window}},
            {"add": {"index": day, "alias": alias_prefix + "2026.11"}},
            {"add": {"index": month, "alias": "unrelated-alias"}},
        ],
    )
    assert list_aliases(connection, alias_prefix) == (
        AliasInfo(alias_prefix + "2026.11", month, window),
        AliasInfo(alias_prefix + "2026.11", day, None),
        AliasInfo(alias_prefix + "2026.11.22", day, None),
    )

    update_aliases(
        connection,
        [
            {"remove": {"index": day, "alias": alias_prefix + "2026.11"}},
            {"add": {"index": month, "alias": alias_prefix + "2026.10"}},
        ],
    )
    assert sorted((a.alias, a.index) for a in list_aliases(connection, alias_prefix)) == [
        (alias_prefix + "2026.10", month),
        (alias_prefix + "2026.11", month),
        (alias_prefix + "2026.11.22", day),
    ]


def test_alias_actions_are_atomic(connection, prefix, alias_prefix):
    day = prefix + "2026.11.22"
    create_index(connection, day)
    update_aliases(connection, [{"add": {"index": day, "alias": alias_prefix + "keep"}}])
    before = list_aliases(connection, alias_prefix)
    with pytest.raises(EsRequestError) as caught:
        update_aliases(
            connection,
            [
                {"remove": {"index": day, "alias": alias_prefix + "keep"}},
                {"add": {"index": day, "alias": alias_prefix + "new"}},
                {"add": {"index": prefix + "missing", "alias": alias_prefix + "bad"}},
            ],
        )
    assert caught.value.status == 404
    assert caught.value.error_type == "index_not_found_exception"
    assert list_aliases(connection, alias_prefix) == before  # none of the three happened


def test_no_actions_send_nothing(connection):
    update_aliases(connection, [])  # would be a 400 (no actions) if it were sent


def test_create_index_tolerates_one_made_meanwhile(connection, prefix):
    assert create_index(connection, prefix + "2026.11.23") is True
    assert create_index(connection, prefix + "2026.11.23") is False
    with pytest.raises(ValueError, match="not an exact index name"):
        create_index(connection, prefix + "Upper")


def test_delete_exact_names_in_chunks_and_verify(connection, prefix, monkeypatch):
    names = [f"{prefix}2026.01.{day:02d}" for day in range(1, 21)]
    for name in names:
        create_index(connection, name)
    create_index(connection, prefix + "2026")
    monkeypatch.setattr("samplerr.adapters.es_catalogue.MAX_URL_NAMES_BYTES", 100)  # several requests
    deleted = delete_indices(connection, [*names[:15], prefix + "2025.12.31"], prefix)
    assert deleted == tuple(sorted(names[:15]))  # the missing one is no error
    left = [i.name for i in list_indices(connection, prefix)]
    assert left == sorted([*names[15:], prefix + "2026"])
    assert delete_indices(connection, [], prefix) == ()


@pytest.mark.parametrize("name", ["*", "{p}*", "{p}a,{p}b", "other-index", "_all", ""])
def test_delete_refuses_anything_but_exact_names_under_the_prefix(connection, prefix, name):
    create_index(connection, prefix + "2026")
    with pytest.raises(ValueError):
        delete_indices(connection, [name.format(p=prefix)], prefix)
    assert [i.name for i in list_indices(connection, prefix)] == [prefix + "2026"]


class TestLifecycleLock:
    def test_one_holder_at_a_time(self, connection, prefix):
        first = LifecycleLock(connection, prefix, "host-a")
        second = LifecycleLock(connection, prefix, "host-b")
        assert first.acquire() is True
        assert second.acquire() is False
        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
        second.release()

    def test_an_expired_lock_is_taken_over_and_its_late_release_changes_nothing(self, connection, prefix):
        now = [1000.0]
        crashed = LifecycleLock(connection, prefix, "host-a", ttl_s=60, clock=lambda: now[0])
        later = LifecycleLock(connection, prefix, "host-b", ttl_s=60, clock=lambda: now[0])
        assert crashed.acquire()
        now[0] += 59
        assert not later.acquire()
        now[0] += 2
        assert later.acquire()  # expired: taken over
        crashed.release()  # the old holder wakes up: must not free the new holder's lock
        third = LifecycleLock(connection, prefix, "host-c", ttl_s=60, clock=lambda: now[0])
        assert not third.acquire()
        later.release()
        assert third.acquire()
        third.release()

    def test_as_a_context_manager(self, connection, prefix):
        with LifecycleLock(connection, prefix, "a") as held:
            assert held
            with LifecycleLock(connection, prefix, "b") as other:
                assert not other
        with LifecycleLock(connection, prefix, "b") as held:
            assert held


def test_a_server_warning_is_logged_once_whatever_index_it_names(connection, prefix, caplog):
    """Elasticsearch warns at each dot-prefixed index created; the log says each kind of warning once.

    Two kinds from 9.x for a visible dot index: 8.16+'s dot-prefix validation, then the older one.
    """
    caplog.set_level(logging.WARNING, logger="samplerr.adapters.es_connection")
    for day in (22, 23, 24):
        create_index(connection, f"{prefix}2026.11.{day}")
    warned = [r.getMessage() for r in caplog.records if "Elasticsearch warns" in r.getMessage()]
    assert len(warned) == 2
    assert f"Index [{prefix}2026.11.22] name begins with a dot" in warned[0]
    assert f"[{prefix}2026.11.22] starts with a dot" in warned[1]
