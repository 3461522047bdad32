"""Search and aggregations against a brute-force computation over the same documents."""

import math
import random
from datetime import UTC, datetime

import orjson
import pytest
import urllib3
from elasticsearch import BadRequestError, Elasticsearch, helpers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = 1_795_305_600_000  # 2026-11-22T00:00:00Z
HOSTS = ["web-1", "web-2", "db-1", "cache", "Web-1"]
SERVICES = ["cpu.user", "cpu.system", "mem.used", "disk.io"]
MAPPING = {
    "properties": {
        "@timestamp": {"type": "date"},
        "host": {"type": "keyword"},
        "service": {"type": "keyword"},
        "metric": {"type": "double"},
        "count": {"type": "long"},
        "flag": {"type": "boolean"},
        "tags": {"type": "keyword"},
    }
}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_docs(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        doc: dict = {"@timestamp": iso(BASE + rng.randrange(0, 2 * 86_400_000))}
        if rng.random() < 0.95:
            doc["host"] = rng.choice(HOSTS)
        doc["service"] = rng.choice(SERVICES)
        if rng.random() < 0.9:
            doc["metric"] = round(rng.uniform(-50, 150), 3)
        doc["count"] = rng.randrange(0, 1000)
        doc["flag"] = rng.random() < 0.5
        if rng.random() < 0.5:
            doc["tags"] = rng.sample(["a", "b", "c", "d"], rng.randrange(0, 3))
        doc["_id"] = f"d{i}"
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def corpus(es: Elasticsearch) -> tuple[str, list[dict]]:
    name = "search-corpus"
    if es.indices.exists(index=name):
        es.indices.delete(index=name)
    es.indices.create(index=name, mappings=MAPPING, settings={"number_of_replicas": 0})
    docs = make_docs(600, 7)
    helpers.bulk(
        es,
        (
            {"_index": name, "_id": d["_id"], "_source": {k: v for k, v in d.items() if k != "_id"}}
            for d in docs
        ),
    )
    es.indices.refresh(index=name)
    return name, docs


def values(doc: dict, field: str) -> list:
    value = doc.get(field)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def millis(doc: dict) -> int:
    return int(datetime.fromisoformat(doc["@timestamp"]).timestamp() * 1000)


# --- queries and their brute-force meaning ---------------------------------------------------------------


def term_query(draw):
    field = draw(st.sampled_from(["host", "service", "flag", "tags"]))
    value = {
        "host": st.sampled_from(HOSTS),
        "service": st.sampled_from(SERVICES),
        "flag": st.booleans(),
        "tags": st.sampled_from(["a", "b", "c", "x"]),
    }[field]
    v = draw(value)
    return {"term": {field: v}}, lambda d: v in values(d, field)


def terms_query(draw):
    vs = draw(st.lists(st.sampled_from([*HOSTS, "nope"]), min_size=1, max_size=3))
    return {"terms": {"host": vs}}, lambda d: any(x in vs for x in values(d, "host"))


def range_query(draw):
    field = draw(st.sampled_from(["metric", "count", "@timestamp"]))
    if field == "@timestamp":
        lo = BASE + draw(st.integers(0, 2 * 86_400_000))
        hi = lo + draw(st.integers(0, 86_400_000))
        as_string = draw(st.booleans())
        spec = (
            {"gte": iso(lo), "lt": iso(hi)} if as_string else {"gte": lo, "lte": hi, "format": "epoch_millis"}
        )

        def test(d):
            t = millis(d)
            return lo <= t < hi if as_string else lo <= t <= hi

        return {"range": {field: spec}}, test
    lo = draw(st.floats(-60, 160, allow_nan=False)) if field == "metric" else draw(st.integers(-10, 1010))
    hi = lo + (draw(st.floats(0, 100)) if field == "metric" else draw(st.integers(0, 500)))
    inclusive = draw(st.booleans())

    def test_num(d):
        return any((lo < v if not inclusive else lo <= v) and v <= hi for v in values(d, field))

    bound = "gte" if inclusive else "gt"
    return {"range": {field: {bound: lo, "lte": hi}}}, test_num


def exists_query(draw):
    field = draw(st.sampled_from(["host", "metric", "tags", "missing_field"]))
    return {"exists": {"field": field}}, lambda d: bool(values(d, field))


def ids_query(draw):
    ids = draw(st.lists(st.integers(0, 700), max_size=5))
    wanted = {f"d{i}" for i in ids}
    return {"ids": {"values": sorted(wanted)}}, lambda d: d["_id"] in wanted


def query_string_query(draw):
    host = draw(st.sampled_from(HOSTS))
    service = draw(st.sampled_from(SERVICES))
    form = draw(st.sampled_from(["and", "or", "not", "wild", "star", "quoted"]))
    if form == "and":
        return (
            {"query_string": {"query": f'host:"{host}" AND service:"{service}"'}},
            lambda d: host in values(d, "host") and service in values(d, "service"),
        )
    if form == "or":
        return (
            {"query_string": {"query": f'host:"{host}" OR service:"{service}"'}},
            lambda d: host in values(d, "host") or service in values(d, "service"),
        )
    if form == "not":
        return ({"query_string": {"query": f'NOT host:"{host}"'}}, lambda d: host not in values(d, "host"))
    if form == "wild":
        return (
            {"query_string": {"query": "host:web*", "analyze_wildcard": True}},
            lambda d: any(v.startswith("web") for v in values(d, "host")),
        )
    if form == "star":
        return {"query_string": {"query": "*", "analyze_wildcard": True}}, lambda d: True
    return (
        {"query_string": {"query": f'"{service}"', "default_field": "service"}},
        lambda d: service in values(d, "service"),
    )


LEAVES = [term_query, terms_query, range_query, exists_query, ids_query, query_string_query]


@st.composite
def queries(draw, depth: int = 0):
    if depth >= 2 or draw(st.integers(0, 2)) > 0:
        return draw(st.sampled_from(LEAVES))(draw)
    clauses = {
        k: [draw(queries(depth=depth + 1)) for _ in range(draw(st.integers(0, 2)))]
        for k in ("must", "filter", "should", "must_not")
    }
    msm = draw(st.sampled_from([None, 1, 2, "50%"])) if clauses["should"] else None
    body: dict = {k: [q for q, _ in v] for k, v in clauses.items() if v}
    if msm is not None:
        body["minimum_should_match"] = msm
    n_should = len(clauses["should"])
    if msm is None:
        required = 0 if (clauses["must"] or clauses["filter"]) or n_should == 0 else 1
    elif isinstance(msm, str):
        required = n_should * 50 // 100
    else:
        required = msm

    def test(d):
        return (
            all(t(d) for _, t in clauses["must"] + clauses["filter"])
            and not any(t(d) for _, t in clauses["must_not"])
            and sum(1 for _, t in clauses["should"] if t(d)) >= required
        )

    return {"bool": body}, test


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries())
def test_queries_match_a_brute_force_evaluation(es: Elasticsearch, corpus, query_and_test):
    name, docs = corpus
    query, test = query_and_test
    result = es.search(index=name, query=query, size=1000, _source=False, track_total_hits=True)
    got = sorted(h["_id"] for h in result["hits"]["hits"])
    assert got == sorted(d["_id"] for d in docs if test(d)), query
    assert result["hits"]["total"] == {"value": len(got), "relation": "eq"}
    assert es.count(index=name, query=query)["count"] == len(got)


def test_unknown_and_unsupported_queries_are_400_parsing_exceptions(es: Elasticsearch, corpus):
    name, _ = corpus
    for query, reason in (
        ({"no_such_query": {}}, "unknown query [no_such_query]"),
        ({"fuzzy": {"host": "web"}}, "query [fuzzy] is not supported by the samplerr development server"),
    ):
        with pytest.raises(BadRequestError) as err:
            es.search(index=name, query=query)
        assert err.value.body["error"]["type"] == "parsing_exception"
        assert err.value.body["error"]["reason"] == reason
    with pytest.raises(BadRequestError) as err:
        es.search(index=name, body={"size": 1, "suggest": {"x": {}}})
    assert "not supported" in err.value.body["error"]["reason"]


def test_a_query_that_cannot_run_is_a_shard_failure(es: Elasticsearch, corpus):
    name, _ = corpus
    with pytest.raises(BadRequestError) as err:
        es.search(index=name, query={"term": {"metric": "abc"}})
    error = err.value.body["error"]
    assert (error["type"], error["reason"], error["phase"]) == (
        "search_phase_execution_exception",
        "all shards failed",
        "query",
    )
    assert error["root_cause"][0]["type"] == "query_shard_exception"
    assert error["failed_shards"][0]["index"] == name
    with pytest.raises(BadRequestError) as err:
        es.search(index=name, sort=[{"nope": "asc"}])
    assert (
        err.value.body["error"]["root_cause"][0]["reason"]
        == "No mapping found for [nope] in order to sort on"
    )
    assert es.search(index=name, sort=[{"nope": {"order": "asc", "unmapped_type": "long"}}], size=1)["hits"][
        "hits"
    ]


def test_sort_source_filtering_paging_and_totals(es: Elasticsearch, corpus):
    name, docs = corpus
    result = es.search(
        index=name,
        sort=[{"metric": {"order": "desc"}}, {"count": "asc"}],
        size=20,
        from_=5,
        _source=["host", "metric"],
        track_total_hits=100,
    )
    with_metric = [d for d in docs if "metric" in d]
    without = [d for d in docs if "metric" not in d]
    expected = sorted(with_metric, key=lambda d: (-d["metric"], d["count"])) + sorted(
        without, key=lambda d: d["count"]
    )
    assert [h["_id"] for h in result["hits"]["hits"]] == [d["_id"] for d in expected[5:25]]
    assert result["hits"]["total"] == {"value": 100, "relation": "gte"}
    assert result["hits"]["max_score"] is None
    first = result["hits"]["hits"][0]
    assert first["_score"] is None
    assert first["sort"] == [expected[5]["metric"], expected[5]["count"]]
    assert set(first["_source"]) <= {"host", "metric"}
    default = es.search(index=name)
    assert default["hits"]["total"] == {"value": len(docs), "relation": "eq"}
    assert len(default["hits"]["hits"]) == 10
    assert default["hits"]["max_score"] == 1.0
    last = es.search(index=name, sort=["@timestamp"], size=1, _source=False, track_total_hits=False)
    assert "total" not in last["hits"]
    assert last["hits"]["hits"][0]["sort"] == [min(millis(d) for d in docs)]
    with pytest.raises(BadRequestError) as err:
        es.search(index=name, from_=9995, size=10)
    assert "Result window is too large" in err.value.body["error"]["root_cause"][0]["reason"]


def test_source_comes_back_byte_for_byte(es: Elasticsearch, devserver, index_name):
    name = index_name("raw")
    raw = b'{"b": 1.50, "a":  [1, 2],"z":"\\u00e9"}'
    urllib3.request(
        "PUT",
        f"{devserver.url}/{name}/_doc/1?refresh=true",
        body=raw,
        headers={"Content-Type": "application/json"},
    )
    resp = urllib3.request(
        "POST", f"{devserver.url}/{name}/_search", body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert raw in resp.data


# --- aggregations -------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    interval=st.sampled_from(["1m", "10m", "1h", "3h", "1d"]),
    lo=st.integers(-3_600_000, 2 * 86_400_000),
    span=st.integers(0, 86_400_000),
    metric=st.sampled_from(["avg", "min", "max", "sum", "value_count"]),
)
def test_date_histogram_like_grafana_matches_brute_force(
    es: Elasticsearch, corpus, interval, lo, span, metric
):
    name, docs = corpus
    size = {"1m": 60_000, "10m": 600_000, "1h": 3_600_000, "3h": 10_800_000, "1d": 86_400_000}[interval]
    start, end = BASE + lo, BASE + lo + span
    body = {
        "size": 0,
        "query": {
            "bool": {
                "filter": [{"range": {"@timestamp": {"gte": start, "lte": end, "format": "epoch_millis"}}}]
            }
        },
        "aggs": {
            "2": {
                "date_histogram": {
                    "field": "@timestamp",
                    "fixed_interval": interval,
                    "min_doc_count": 0,
                    "extended_bounds": {"min": start, "max": end},
                    "format": "epoch_millis",
                },
                "aggs": {"1": {metric: {"field": "metric"}}},
            }
        },
    }
    result = es.search(index=name, body=body)
    buckets = result["aggregations"]["2"]["buckets"]
    selected = [d for d in docs if start <= millis(d) <= end]
    first, last = start - start % size, end - end % size
    expected_keys = list(range(first, last + 1, size))
    assert [b["key"] for b in buckets] == expected_keys
    for bucket in buckets:
        members = [d for d in selected if bucket["key"] <= millis(d) < bucket["key"] + size]
        assert bucket["doc_count"] == len(members)
        assert bucket["key_as_string"] == str(bucket["key"])
        vals = [d["metric"] for d in members if "metric" in d]
        expected = {
            "avg": math.fsum(vals) / len(vals) if vals else None,
            "min": min(vals) if vals else None,
            "max": max(vals) if vals else None,
            "sum": math.fsum(vals),
            "value_count": len(vals),
        }[metric]
        assert bucket["1"]["value"] == expected


def test_terms_with_sub_aggregations_and_orders(es: Elasticsearch, corpus):
    name, docs = corpus
    result = es.search(
        index=name,
        size=0,
        aggs={
            "hosts": {"terms": {"field": "host", "size": 3}, "aggs": {"m": {"max": {"field": "count"}}}},
            "by_max": {
                "terms": {"field": "host", "order": {"m": "asc"}},
                "aggs": {"m": {"max": {"field": "count"}}},
            },
            "keys": {"terms": {"field": "service", "order": {"_key": "desc"}}},
            "tags": {"terms": {"field": "tags", "missing": "none"}},
            "flags": {"terms": {"field": "flag"}},
            "distinct": {"cardinality": {"field": "host"}},
            "stats": {"stats": {"field": "count"}},
        },
    )
    aggs = result["aggregations"]
    counts: dict[str, int] = {}
    for d in docs:
        for h in values(d, "host"):
            counts[h] = counts.get(h, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(b["key"], b["doc_count"]) for b in aggs["hosts"]["buckets"]] == ranked[:3]
    assert aggs["hosts"]["sum_other_doc_count"] == sum(c for _, c in ranked[3:])
    assert aggs["hosts"]["doc_count_error_upper_bound"] == 0
    for b in aggs["hosts"]["buckets"]:
        assert b["m"]["value"] == float(max(d["count"] for d in docs if d.get("host") == b["key"]))
    maxima = [b["m"]["value"] for b in aggs["by_max"]["buckets"]]
    assert maxima == sorted(maxima)
    assert [b["key"] for b in aggs["keys"]["buckets"]] == sorted(SERVICES, reverse=True)
    tag_counts = {b["key"]: b["doc_count"] for b in aggs["tags"]["buckets"]}
    assert tag_counts["none"] == sum(1 for d in docs if not values(d, "tags"))
    assert tag_counts.get("a", 0) == sum(1 for d in docs if "a" in values(d, "tags"))
    flags = {b["key_as_string"]: (b["key"], b["doc_count"]) for b in aggs["flags"]["buckets"]}
    assert flags["true"] == (1, sum(1 for d in docs if d["flag"]))
    assert aggs["distinct"]["value"] == len(counts)
    all_counts = [d["count"] for d in docs]
    assert aggs["stats"] == {
        "count": len(all_counts),
        "min": float(min(all_counts)),
        "max": float(max(all_counts)),
        "avg": math.fsum(all_counts) / len(all_counts),
        "sum": float(sum(all_counts)),
    }


def test_calendar_interval_and_time_zone(es: Elasticsearch, index_name):
    name = index_name("cal")
    es.indices.create(index=name, mappings={"properties": {"t": {"type": "date"}}})
    stamps = ["2026-01-31T23:30:00Z", "2026-02-01T00:30:00Z", "2026-02-28T12:00:00Z", "2026-04-02T00:00:00Z"]
    helpers.bulk(es, ({"_index": name, "_source": {"t": t}} for t in stamps), refresh=True)
    months = es.search(
        index=name, size=0, aggs={"m": {"date_histogram": {"field": "t", "calendar_interval": "1M"}}}
    )
    assert [(b["key_as_string"], b["doc_count"]) for b in months["aggregations"]["m"]["buckets"]] == [
        ("2026-01-01T00:00:00.000Z", 1),
        ("2026-02-01T00:00:00.000Z", 2),
        ("2026-03-01T00:00:00.000Z", 0),
        ("2026-04-01T00:00:00.000Z", 1),
    ]
    paris = es.search(
        index=name,
        size=0,
        aggs={
            "d": {
                "date_histogram": {
                    "field": "t",
                    "calendar_interval": "day",
                    "time_zone": "Europe/Paris",
                    "min_doc_count": 1,
                }
            }
        },
    )
    assert [b["key_as_string"] for b in paris["aggregations"]["d"]["buckets"]] == [
        "2026-02-01T00:00:00.000+01:00",
        "2026-02-28T00:00:00.000+01:00",
        "2026-04-02T00:00:00.000+02:00",
    ]
    with pytest.raises(BadRequestError) as err:
        es.search(index=name, aggs={"x": {"date_histogram": {"field": "t", "interval": "1h"}}})
    assert err.value.body["error"]["type"] == "x_content_parse_exception"
    assert "[date_histogram] unknown field [interval]" in err.value.body["error"]["reason"]
    with pytest.raises(BadRequestError) as err:
        es.search(
            index=name,
            aggs={
                "x": {
                    "date_histogram": {
                        "field": "t",
                        "fixed_interval": "1s",
                        "extended_bounds": {"min": 0, "max": 10**12},
                    }
                }
            },
        )
    assert err.value.body["error"]["type"] == "too_many_buckets_exception"
    with pytest.raises(BadRequestError) as err:
        es.search(index=name, aggs={"x": {"percentiles": {"field": "t"}}})
    assert err.value.body["error"]["type"] == "parsing_exception"


def test_msearch_as_grafana_sends_it(es: Elasticsearch, devserver, corpus):
    name, docs = corpus
    start, end = BASE, BASE + 6 * 3_600_000
    header = {"search_type": "query_then_fetch", "ignore_unavailable": True, "index": [name, "no-such-index"]}
    body = {
        "size": 0,
        "query": {
            "bool": {
                "filter": [
                    {"range": {"@timestamp": {"gte": start, "lte": end, "format": "epoch_millis"}}},
                    {"query_string": {"analyze_wildcard": True, "query": 'host:"web-1"'}},
                ]
            }
        },
        "aggs": {
            "2": {
                "date_histogram": {
                    "field": "@timestamp",
                    "fixed_interval": "1h",
                    "min_doc_count": 0,
                    "extended_bounds": {"min": start, "max": end},
                    "format": "epoch_millis",
                },
                "aggs": {"1": {"avg": {"field": "metric"}}},
            }
        },
    }
    raw_docs = {
        "size": 500,
        "query": {"match_all": {}},
        "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "boolean"}}, {"_doc": {"order": "desc"}}],
        "script_fields": {},
    }
    lines = [
        header,
        body,
        {"index": name, "ignore_unavailable": True},
        raw_docs,
        {"index": "missing-*"},
        {},
        {"index": "missing-exact"},
        {},
    ]
    resp = urllib3.request(
        "POST",
        f"{devserver.url}/_msearch?max_concurrent_shard_requests=5",
        body=b"".join(orjson.dumps(x) + b"\n" for x in lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert resp.status == 200
    responses = orjson.loads(resp.data)["responses"]
    assert [r["status"] for r in responses] == [200, 200, 200, 404]
    buckets = responses[0]["aggregations"]["2"]["buckets"]
    selected = [d for d in docs if start <= millis(d) <= end and d.get("host") == "web-1"]
    assert sum(b["doc_count"] for b in buckets) == len(selected)
    assert len(buckets) == 7
    assert responses[1]["hits"]["total"]["value"] == len(docs)
    stamps = [h["sort"][0] for h in responses[1]["hits"]["hits"]]
    assert stamps == sorted(stamps, reverse=True)
    assert responses[2]["hits"]["total"]["value"] == 0
    assert responses[3]["error"]["type"] == "index_not_found_exception"
    client = es.msearch(searches=[{"index": name}, {"query": {"term": {"host": "cache"}}, "size": 0}])
    assert client["responses"][0]["hits"]["total"]["value"] == sum(
        1 for d in docs if d.get("host") == "cache"
    )


def test_typed_keys_and_filter_path(es: Elasticsearch, corpus):
    name, _ = corpus
    result = es.search(
        index=name,
        size=0,
        typed_keys=True,
        aggs={
            "h": {"terms": {"field": "host"}},
            "c": {"terms": {"field": "count", "size": 1}},
            "a": {"avg": {"field": "metric"}},
            "d": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"}},
        },
    )
    assert set(result["aggregations"]) == {"sterms#h", "lterms#c", "avg#a", "date_histogram#d"}
    filtered = es.search(index=name, size=2, filter_path=["hits.hits._id", "hits.total"])
    assert set(filtered) == {"hits"}
    assert set(filtered["hits"]) == {"hits", "total"}
    assert all(set(h) == {"_id"} for h in filtered["hits"]["hits"])
    excluded = es.search(index=name, size=1, filter_path=["-hits.hits._source", "-_shards", "-took"])
    assert "_source" not in excluded["hits"]["hits"][0]
    assert "_shards" not in excluded
    assert "timed_out" in excluded


def test_other_bucket_and_metric_aggregations(es: Elasticsearch, corpus):
    name, docs = corpus
    aggs = es.search(
        index=name,
        size=0,
        aggs={
            "hist": {"histogram": {"field": "count", "interval": 250}},
            "filters": {
                "filters": {
                    "filters": {"web": {"prefix": {"host": "web"}}, "db": {"term": {"host": "db-1"}}},
                    "other_bucket_key": "rest",
                }
            },
            "only_flag": {
                "filter": {"term": {"flag": True}},
                "aggs": {"n": {"value_count": {"field": "count"}}},
            },
            "ranges": {
                "range": {"field": "metric", "ranges": [{"to": 0}, {"from": 0, "to": 100}, {"from": 100}]}
            },
            "no_host": {"missing": {"field": "host"}},
            "ext": {"extended_stats": {"field": "count"}},
        },
    )["aggregations"]
    counts = [d["count"] for d in docs]
    hist = {b["key"]: b["doc_count"] for b in aggs["hist"]["buckets"]}
    assert hist == {float(k): sum(1 for c in counts if k <= c < k + 250) for k in (0, 250, 500, 750)}
    buckets = aggs["filters"]["buckets"]
    assert buckets["web"]["doc_count"] == sum(1 for d in docs if d.get("host", "").startswith("web"))
    assert buckets["db"]["doc_count"] == sum(1 for d in docs if d.get("host") == "db-1")
    assert (
        buckets["rest"]["doc_count"] == len(docs) - buckets["web"]["doc_count"] - buckets["db"]["doc_count"]
    )
    flagged = [d for d in docs if d["flag"]]
    assert (aggs["only_flag"]["doc_count"], aggs["only_flag"]["n"]["value"]) == (len(flagged), len(flagged))
    metrics = [d["metric"] for d in docs if "metric" in d]
    assert [(b["key"], b["doc_count"]) for b in aggs["ranges"]["buckets"]] == [
        ("*-0.0", sum(1 for m in metrics if m < 0)),
        ("0.0-100.0", sum(1 for m in metrics if 0 <= m < 100)),
        ("100.0-*", sum(1 for m in metrics if m >= 100)),
    ]
    assert aggs["no_host"]["doc_count"] == sum(1 for d in docs if "host" not in d)
    mean = math.fsum(counts) / len(counts)
    variance = math.fsum(c * c for c in counts) / len(counts) - mean * mean
    assert aggs["ext"]["count"] == len(counts)
    assert aggs["ext"]["variance"] == pytest.approx(variance)
    assert aggs["ext"]["std_deviation"] == pytest.approx(math.sqrt(variance))


def test_delete_by_query_and_stats(es: Elasticsearch, index_name):
    name = index_name("dbq")
    helpers.bulk(es, ({"_index": name, "_id": str(i), "_source": {"i": i}} for i in range(40)), refresh=True)
    result = es.delete_by_query(index=name, query={"range": {"i": {"gte": 30}}}, refresh=True)
    assert (result["deleted"], result["total"], result["failures"]) == (10, 10, [])
    assert es.count(index=name)["count"] == 30
    stats = es.indices.stats(index=name)
    assert stats["indices"][name]["primaries"]["docs"]["count"] == 30
    assert es.cluster.health(wait_for_status="yellow", timeout="1s")["status"] in ("yellow", "green")
