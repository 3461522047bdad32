"""_bulk and single documents: item results, errors, auto-creation, helpers."""

import orjson
import pytest
import urllib3
from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError, helpers

SHARDS = {"total": 2, "successful": 1, "failed": 0}


def ndjson(*lines) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def test_item_results_are_shaped_like_elasticsearch(es: Elasticsearch, index_name):
    name = index_name("items")
    ops = [
        {"index": {"_index": name, "_id": "1"}},
        {"v": 1},
        {"index": {"_index": name, "_id": "1"}},
        {"v": 2},
        {"create": {"_index": name, "_id": "2"}},
        {"v": 3},
        {"create": {"_index": name, "_id": "2"}},
        {"v": 4},
        {"update": {"_index": name, "_id": "1"}},
        {"doc": {"w": 1}},
        {"update": {"_index": name, "_id": "1"}},
        {"doc": {"w": 1}},
        {"update": {"_index": name, "_id": "9"}},
        {"doc": {"w": 1}},
        {"update": {"_index": name, "_id": "8"}},
        {"doc": {"w": 8}, "doc_as_upsert": True},
        {"delete": {"_index": name, "_id": "2"}},
        {"delete": {"_index": name, "_id": "2"}},
    ]
    result = es.bulk(operations=ops)
    assert result["errors"] is True
    assert isinstance(result["took"], int)
    items = result["items"]
    uuid = es.indices.get_settings(index=name)[name]["settings"]["index"]["uuid"]
    assert items[0] == {
        "index": {
            "_index": name,
            "_id": "1",
            "_version": 1,
            "result": "created",
            "_shards": SHARDS,
            "_seq_no": 0,
            "_primary_term": 1,
            "status": 201,
        }
    }
    assert items[1]["index"] | {} == {
        "_index": name,
        "_id": "1",
        "_version": 2,
        "result": "updated",
        "_shards": SHARDS,
        "_seq_no": 1,
        "_primary_term": 1,
        "status": 200,
    }
    assert items[2]["create"]["result"] == "created"
    assert items[3] == {
        "create": {
            "_index": name,
            "_id": "2",
            "status": 409,
            "error": {
                "type": "version_conflict_engine_exception",
                "reason": "[2]: version conflict, document already exists (current version [1])",
                "index_uuid": uuid,
                "shard": "0",
                "index": name,
            },
        }
    }
    assert (items[4]["update"]["result"], items[4]["update"]["_version"], items[4]["update"]["status"]) == (
        "updated",
        3,
        200,
    )
    assert items[5]["update"]["result"] == "noop"
    assert items[5]["update"]["_shards"] == {"total": 0, "successful": 0, "failed": 0}
    assert items[5]["update"]["_version"] == 3
    assert items[6] == {
        "update": {
            "_index": name,
            "_id": "9",
            "status": 404,
            "error": {
                "type": "document_missing_exception",
                "reason": "[9]: document missing",
                "index_uuid": uuid,
                "shard": "0",
                "index": name,
            },
        }
    }
    assert (items[7]["update"]["result"], items[7]["update"]["status"]) == ("created", 201)
    assert (items[8]["delete"]["result"], items[8]["delete"]["status"], items[8]["delete"]["_version"]) == (
        "deleted",
        200,
        2,
    )
    assert (items[9]["delete"]["result"], items[9]["delete"]["status"]) == ("not_found", 404)
    assert [next(iter(item)) for item in items] == [
        next(iter(op)) for op in ops if next(iter(op)) in ("index", "create", "update", "delete")
    ]
    seq = [item[next(iter(item))].get("_seq_no") for item in items]
    assert [s for s in seq if s is not None] == sorted(s for s in seq if s is not None)
    assert es.get(index=name, id="1")["_source"] == {"v": 2, "w": 1}


def test_documents_that_do_not_fit_the_mapping_fail_only_their_item(es: Elasticsearch, index_name):
    name = index_name("bad")
    es.indices.create(
        index=name,
        mappings={
            "properties": {
                "@timestamp": {"type": "date"},
                "metric": {"type": "double"},
                "step": {"type": "integer"},
                "host": {"type": "keyword"},
                "flag": {"type": "boolean"},
            }
        },
    )
    ops = [
        {"index": {"_index": name, "_id": "ok"}},
        {"@timestamp": "2026-11-22T10:00:00Z", "metric": "1.5", "step": 20},
        {"index": {"_index": name, "_id": "s"}},
        {"metric": "abc"},
        {"index": {"_index": name, "_id": "d"}},
        {"@timestamp": "yesterday"},
        {"index": {"_index": name, "_id": "o"}},
        {"host": {"name": "x"}},
        {"index": {"_index": name, "_id": "i"}},
        {"step": 2**40},
        {"index": {"_index": name, "_id": "b"}},
        {"flag": "yes"},
        {"index": {"_index": name, "_id": "j"}},
        "not an object",
    ]
    items = es.bulk(operations=ops)["items"]
    statuses = [item["index"]["status"] for item in items]
    assert statuses == [201, 400, 400, 400, 400, 400, 400]
    types = [item["index"].get("error", {}).get("type") for item in items]
    assert types[1:] == ["document_parsing_exception"] * 6
    assert items[1]["index"]["error"]["reason"].endswith(
        "failed to parse field [metric] of type [double] in document with id 's'. "
        "Preview of field's value: 'abc'"
    )
    assert items[1]["index"]["error"]["caused_by"] == {
        "type": "number_format_exception",
        "reason": 'For input string: "abc"',
    }
    assert items[2]["index"]["error"]["caused_by"]["reason"] == (
        "failed to parse date field [yesterday] with format [strict_date_optional_time||epoch_millis]"
    )
    assert "Preview of field's value: '{name=x}'" in items[3]["index"]["error"]["reason"]
    assert (
        items[4]["index"]["error"]["caused_by"]["reason"]
        == "Value [1099511627776] is out of range for an integer"
    )
    assert not es.exists(index=name, id="s")


def test_strict_mapping_and_dynamic_mapping(es: Elasticsearch, index_name):
    strict, loose = index_name("strict"), index_name("loose")
    es.indices.create(index=strict, mappings={"dynamic": "strict", "properties": {"a": {"type": "keyword"}}})
    item = es.bulk(operations=[{"index": {"_index": strict}}, {"a": "x", "b": 1}])["items"][0]["index"]
    assert item["status"] == 400
    assert item["error"]["type"] == "strict_dynamic_mapping_exception"
    assert "dynamic introduction of [b] within [_doc] is not allowed" in item["error"]["reason"]
    es.index(
        index=loose,
        document={"s": "hello", "n": 3, "f": 1.5, "t": "2026-11-22T10:00:00Z", "b": True, "o": {"x": "y"}},
    )
    props = es.indices.get_mapping(index=loose)[loose]["mappings"]["properties"]
    assert props == {
        "b": {"type": "boolean"},
        "f": {"type": "float"},
        "n": {"type": "long"},
        "o": {
            "properties": {
                "x": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
            }
        },
        "s": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "t": {"type": "date"},
    }


def test_malformed_bulk_bodies_fail_the_whole_request(es: Elasticsearch, index_name):
    name = index_name("malformed")
    cases = [
        (
            b'{"index":{"_index":"' + name.encode() + b'"}}\n{"a":1}\n{"nope":{}}\n{}\n',
            "illegal_argument_exception",
            "Malformed action/metadata line [3], expected field [create], [delete], [index] or [update] "
            "but found [nope]",
        ),
        (
            b'{"index":{"_index":"' + name.encode() + b'","_type":"doc"}}\n{"a":1}\n',
            "illegal_argument_exception",
            "Action/metadata line [1] contains an unknown parameter [_type]",
        ),
        (b"{not json\n", "x_content_parse_exception", None),
        (
            b'{"delete":{"_index":"' + name.encode() + b'"}}\n',
            "action_request_validation_exception",
            "Validation Failed: 1: id is missing;",
        ),
    ]
    for body, error_type, reason in cases:
        with pytest.raises(BadRequestError) as err:
            es.bulk(operations=body)
        assert err.value.body["error"]["type"] == error_type, body
        if reason is not None:
            assert err.value.body["error"]["reason"] == reason
    assert not es.indices.exists(index=name)  # nothing applied, not even the valid first item


def test_a_bulk_body_must_end_with_a_newline(devserver):
    # the official client always adds the final newline: send the body ourselves
    body = b'{"index":{"_index":"nl"}}\n{"a":1}'
    resp = urllib3.request(
        "POST", devserver.url + "/_bulk", body=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert resp.status == 400
    assert (
        orjson.loads(resp.data)["error"]["reason"] == "The bulk request must be terminated by a newline [\\n]"
    )


def test_auto_create_applies_templates_and_aliases_route_writes(es: Elasticsearch, index_name):
    prefix = index_name("auto")
    es.indices.put_index_template(
        name=prefix,
        index_patterns=[f"{prefix}-*"],
        template={"mappings": {"properties": {"metric": {"type": "double"}, "host": {"type": "keyword"}}}},
    )
    item = es.bulk(operations=[{"index": {"_index": f"{prefix}-1"}}, {"metric": "oops"}])["items"][0]["index"]
    assert item["status"] == 400  # the template's double mapping was applied before the document
    assert es.indices.exists(index=f"{prefix}-1")
    es.indices.update_aliases(actions=[{"add": {"index": f"{prefix}-1", "alias": f"{prefix}-w"}}])
    item = es.bulk(operations=[{"index": {"_index": f"{prefix}-w", "_id": "a"}}, {"metric": 1}])["items"][0][
        "index"
    ]
    assert (item["_index"], item["status"]) == (f"{prefix}-1", 201)
    es.indices.create(index=f"{prefix}-2")
    es.indices.update_aliases(actions=[{"add": {"index": f"{prefix}-2", "alias": f"{prefix}-w"}}])
    item = es.bulk(operations=[{"index": {"_index": f"{prefix}-w", "_id": "b"}}, {"metric": 1}])["items"][0][
        "index"
    ]
    assert item["status"] == 400
    assert item["error"]["reason"].startswith(f"no write index is defined for alias [{prefix}-w]")
    es.indices.update_aliases(
        actions=[{"add": {"index": f"{prefix}-2", "alias": f"{prefix}-w", "is_write_index": True}}]
    )
    item = es.bulk(operations=[{"index": {"_index": f"{prefix}-w", "_id": "b"}}, {"metric": 1}])["items"][0][
        "index"
    ]
    assert (item["_index"], item["status"]) == (f"{prefix}-2", 201)
    item = es.bulk(operations=[{"delete": {"_index": f"{prefix}-missing", "_id": "x"}}])["items"][0]["delete"]
    assert (item["status"], item["error"]["type"]) == (404, "index_not_found_exception")
    assert not es.indices.exists(index=f"{prefix}-missing")
    item = es.bulk(operations=[{"index": {"_index": "Bad-Name"}}, {"a": 1}])["items"][0]["index"]
    assert (item["status"], item["error"]["type"]) == (400, "invalid_index_name_exception")
    es.indices.delete_index_template(name=prefix)


def test_single_document_apis(es: Elasticsearch, index_name):
    name = index_name("doc")
    created = es.index(index=name, id="1", document={"a": 1}, refresh=True)
    assert (created["result"], created["_version"], created.meta.status) == ("created", 1, 201)
    assert created["forced_refresh"] is True
    got = es.get(index=name, id="1")
    assert dict(got) == {
        "_index": name,
        "_id": "1",
        "_version": 1,
        "_seq_no": 0,
        "_primary_term": 1,
        "found": True,
        "_source": {"a": 1},
    }
    with pytest.raises(NotFoundError) as err:
        es.get(index=name, id="2")
    assert err.value.body == {"_index": name, "_id": "2", "found": False}
    with pytest.raises(ConflictError):
        es.create(index=name, id="1", document={"a": 2})
    auto = es.index(index=name, document={"a": 3})
    assert len(auto["_id"]) == 20
    updated = es.update(index=name, id="1", doc={"b": 2})
    assert (updated["result"], updated["_version"]) == ("updated", 2)
    with pytest.raises(NotFoundError) as err:
        es.update(index=name, id="nope", doc={"b": 2})
    assert err.value.body["error"]["type"] == "document_missing_exception"
    with pytest.raises(ConflictError) as err:
        es.index(index=name, id="1", document={"a": 9}, if_seq_no=0, if_primary_term=1)
    assert "required seqNo [0], primary term [1]" in err.value.body["error"]["reason"]
    seq = es.get(index=name, id="1")["_seq_no"]
    es.index(index=name, id="1", document={"a": 9}, if_seq_no=seq, if_primary_term=1)
    assert es.get_source(index=name, id="1") == {"a": 9}
    assert es.exists(index=name, id="1")
    deleted = es.delete(index=name, id="1")
    assert deleted["result"] == "deleted"
    with pytest.raises(NotFoundError) as err:
        es.delete(index=name, id="1")
    assert err.value.body["result"] == "not_found"
    docs = es.mget(index=name, ids=[auto["_id"], "1"])["docs"]
    assert [d["found"] for d in docs] == [True, False]
    with pytest.raises(NotFoundError):
        es.get(index=index_name("none"), id="1")


def test_a_lock_document_with_create_and_delete(es: Elasticsearch, index_name):
    name = index_name("lock")
    es.create(index=name, id="lock", document={"owner": "a"}, refresh="wait_for")
    with pytest.raises(ConflictError):
        es.create(index=name, id="lock", document={"owner": "b"})
    seq = es.get(index=name, id="lock")
    es.delete(index=name, id="lock", if_seq_no=seq["_seq_no"], if_primary_term=seq["_primary_term"])
    es.create(index=name, id="lock", document={"owner": "b"})
    assert es.get(index=name, id="lock")["_source"] == {"owner": "b"}


def test_helpers_bulk_and_streaming_bulk(es: Elasticsearch, index_name):
    name = index_name("helpers")
    actions = ({"_index": name, "_id": str(i), "_source": {"i": i, "host": f"h{i % 3}"}} for i in range(2500))
    ok, errors = helpers.bulk(es, actions, chunk_size=700)
    assert (ok, errors) == (2500, [])
    results = list(
        helpers.streaming_bulk(
            es,
            ({"_op_type": "delete", "_index": name, "_id": str(i)} for i in range(10)),
            raise_on_error=False,
        )
    )
    assert all(ok for ok, _ in results)
    es.indices.refresh(index=name)
    assert es.count(index=name)["count"] == 2490
    with pytest.raises(helpers.BulkIndexError) as err:
        helpers.bulk(es, [{"_op_type": "create", "_index": name, "_id": "100", "_source": {"i": 0}}])
    assert err.value.errors[0]["create"]["status"] == 409


def test_refresh_makes_writes_visible_and_get_is_realtime(es: Elasticsearch, index_name):
    name = index_name("visible")
    es.indices.create(index=name, settings={"refresh_interval": "-1"})
    es.index(index=name, id="1", document={"a": 1})
    assert es.get(index=name, id="1")["found"] is True  # real time
    assert es.count(index=name)["count"] == 0  # refresh disabled: not searchable yet
    es.indices.refresh(index=name)
    assert es.count(index=name)["count"] == 1
    es.index(index=name, id="2", document={"a": 1}, refresh="wait_for")
    assert es.count(index=name)["count"] == 2
