"""``terms`` on the ``_index`` metadata field, with ``min``/``max`` of ``@timestamp`` per index.

This is how ``samplerr rotate``/``purge``/``status`` learn each index's data extent in one request.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch, helpers

MAPPING = {"properties": {"@timestamp": {"type": "date"}, "host": {"type": "keyword"}}}
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture(scope="module")
def corpus(es: Elasticsearch) -> dict[str, list[int]]:
    """Three hidden indices with random timestamps, one visible, one empty: name → timestamps (ms)."""
    rng = random.Random(11)
    wanted = {"ext-a": 40, "ext-b": 7, "ext-c": 1, "ext-d": 0, "ext-visible": 5}
    stamps: dict[str, list[int]] = {}
    for name, count in wanted.items():
        if es.indices.exists(index=name):
            es.indices.delete(index=name)
        hidden = name != "ext-visible"
        es.indices.create(
            index=name, mappings=MAPPING, settings={"number_of_replicas": 0, "index.hidden": hidden}
        )
        stamps[name] = [BASE_MS + rng.randrange(0, 30 * 86_400) * 1000 for _ in range(count)]
    helpers.bulk(
        es,
        (
            {"_index": name, "_source": {"@timestamp": iso(ms), "host": f"h{ms % 3}"}}
            for name, found in stamps.items()
            for ms in found
        ),
        refresh=True,
    )
    return stamps


def extents(es: Elasticsearch, **params: object) -> dict[str, tuple[int, float | None, float | None]]:
    answer = es.search(
        index="ext-*",
        size=0,
        track_total_hits=False,
        aggs={
            "indices": {
                "terms": {"field": "_index", "size": 100},
                "aggs": {"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}},
            }
        },
        **params,  # type: ignore[arg-type]
    )
    assert "total" not in answer["hits"]
    return {
        bucket["key"]: (bucket["doc_count"], bucket["first"]["value"], bucket["last"]["value"])
        for bucket in answer["aggregations"]["indices"]["buckets"]
    }


def test_terms_on_index_gives_each_index_its_min_and_max_timestamp(es, corpus):
    found = extents(es, expand_wildcards="all")
    expected = {
        name: (len(found), float(min(found)), float(max(found))) for name, found in corpus.items() if found
    }
    assert found == expected  # an empty index has no bucket


def test_hidden_indices_are_reached_only_when_the_wildcard_expands_to_them(es, corpus):
    assert set(extents(es)) == {"ext-visible"}
    assert set(extents(es, expand_wildcards="open,hidden")) == {"ext-a", "ext-b", "ext-c", "ext-visible"}


def test_the_query_narrows_the_buckets_and_the_size_cuts_them(es, corpus):
    cut = BASE_MS + 15 * 86_400_000
    answer = es.search(
        index="ext-*",
        size=0,
        expand_wildcards="all",
        query={"range": {"@timestamp": {"lt": iso(cut)}}},
        aggs={
            "indices": {
                "terms": {"field": "_index", "size": 1, "order": {"_key": "asc"}},
                "aggs": {"last": {"max": {"field": "@timestamp"}}},
            }
        },
    )
    early = {name: [ms for ms in stamps if ms < cut] for name, stamps in corpus.items()}
    first = min(name for name, stamps in early.items() if stamps)
    (bucket,) = answer["aggregations"]["indices"]["buckets"]
    assert (bucket["key"], bucket["doc_count"]) == (first, len(early[first]))
    assert bucket["last"]["value"] == float(max(early[first]))
    assert bucket["last"]["value_as_string"] == iso(max(early[first]))
    others = sum(len(stamps) for name, stamps in early.items() if name != first)
    assert answer["aggregations"]["indices"]["sum_other_doc_count"] == others
