"""The dev server's ``filter_path``: Elasticsearch's examples, and the same answers as the plain
recursive definition for any body and patterns (the server remembers per key what the patterns
leave, so that the thousands of items of a bulk answer are matched once per distinct key)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samplerr.devserver.http import KEYS_REMEMBERED, filter_path
from samplerr.devserver.http import _exclude as exclude  # unchanged by the remembered keys
from samplerr.devserver.http import _seg_match as matches  # one segment against one key

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _include(node: Any, patterns: list[list[str]]) -> Any:
    """The definition, pattern by pattern at every key."""
    if any(not p for p in patterns):
        return node
    if isinstance(node, list):
        kept = [k for k in (_include(item, patterns) for item in node) if k is not None]
        return kept or None
    if not isinstance(node, dict):
        return None
    out = {}
    for key, value in node.items():
        nxt: list[list[str]] = []
        for p in patterns:
            if p[0] == "**":
                nxt.append(p)
                if len(p) > 1 and matches(p[1], key):
                    nxt.append(p[2:])
            elif matches(p[0], key):
                nxt.append(p[1:])
        if nxt:
            kept = _include(value, nxt)
            if kept is not None:
                out[key] = kept
    return out or None


def reference(body: Any, spec: str) -> Any:
    includes = [p.split(".") for p in spec.split(",") if p and not p.startswith("-")]
    result = _include(body, includes) if includes else body
    for p in spec.split(","):
        if p.startswith("-"):
            result = exclude(result, p[1:].split("."))
    return result if result is not None else {}


KEYS = st.sampled_from(["a", "b", "ab", "ba", "c", "_id", "status", "items", "index"])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
BODIES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)
SEGMENTS = st.sampled_from(["a", "b", "ab", "a*", "*b", "*", "**", "_id", "status", "items", "index", "c"])
PATTERNS = st.lists(SEGMENTS, min_size=1, max_size=4).map(".".join)
SPECS = st.lists(st.tuples(st.booleans(), PATTERNS), min_size=1, max_size=4).map(
    lambda ps: ",".join(("-" if minus else "") + p for minus, p in ps)
)


@PROPERTY
@given(body=BODIES, spec=SPECS)
def test_filter_path_follows_the_definition(body, spec):
    assert filter_path(body, spec) == reference(body, spec)
    assert filter_path(body, spec) == reference(body, spec)  # the keys remembered give the same


def test_elasticsearch_examples():
    search = {
        "took": 3,
        "timed_out": False,
        "_shards": {"total": 1},
        "hits": {"total": {"value": 2}, "hits": [{"_id": "1", "_score": 1.0, "_source": {"x": 1}}]},
    }
    assert filter_path(search, "took,hits.hits._id,hits.hits._score") == {
        "took": 3,
        "hits": {"hits": [{"_id": "1", "_score": 1.0}]},
    }
    shard = {"state": "STARTED", "node": "n"}
    state = {"routing_table": {"indices": {"twitter": {"shards": {"0": [shard]}}}}}
    assert filter_path(state, "routing_table.indices.**.state") == {
        "routing_table": {"indices": {"twitter": {"shards": {"0": [{"state": "STARTED"}]}}}}
    }
    assert filter_path(search, "-hits.hits._source,-_shards,-took") == {
        "timed_out": False,
        "hits": {"total": {"value": 2}, "hits": [{"_id": "1", "_score": 1.0}]},
    }
    assert filter_path(search, "nothing") == {}


def test_a_bulk_answer_keeps_each_item_own_fields():
    items = [
        {"index": {"_index": "i", "_id": str(n), "_version": 1, "result": "created", "status": 201}}
        for n in range(3)
    ] + [{"index": {"_index": "i", "_id": "x", "status": 429, "error": {"type": "es_rejected_execution"}}}]
    answer = {"took": 1, "errors": True, "items": items}
    spec = "took,errors,items.*.status,items.*.error,items.*._id,items.*._index,error,status"
    assert filter_path(answer, spec) == reference(answer, spec)
    assert filter_path(answer, spec)["items"][3] == {
        "index": {"_index": "i", "_id": "x", "status": 429, "error": {"type": "es_rejected_execution"}}
    }


def test_many_distinct_keys_are_not_all_remembered():
    body = {f"index-{n}": {"state": "open", "other": n} for n in range(KEYS_REMEMBERED + 50)}
    assert filter_path(body, "*.state") == {key: {"state": "open"} for key in body}
