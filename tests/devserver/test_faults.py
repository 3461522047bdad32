"""Fault injection: rejected items and requests are not applied; latency, drops and outages."""

import time

import pytest
from elasticsearch import ApiError, ConnectionError, Elasticsearch, helpers


def docs(name: str, n: int):
    return ({"_index": name, "_id": str(i), "_source": {"i": i}} for i in range(n))


def test_rejected_bulk_items_are_not_applied_and_the_helper_retries_them(devserver_faults, es, index_name):
    name = index_name("r429")
    es.indices.create(index=name)
    devserver_faults.set_faults(bulk_item_429_ratio=1.0, seed=1, paths=["_bulk"])
    result = es.bulk(operations=[{"index": {"_index": name, "_id": "1"}}, {"i": 1}])
    item = result["items"][0]["index"]
    assert result["errors"] is True
    assert item["status"] == 429
    assert item["error"]["type"] == "es_rejected_execution_exception"
    assert not es.exists(index=name, id="1")
    devserver_faults.set_faults(bulk_item_429_ratio=0.3, seed=2, paths=["_bulk"])
    # the helper retries rejected items only when it does not raise on errors
    results = list(
        helpers.streaming_bulk(
            es,
            docs(name, 500),
            chunk_size=100,
            max_retries=20,
            initial_backoff=0,
            max_backoff=0,
            raise_on_error=False,
        )
    )
    assert len(results) == 500
    assert all(ok for ok, _ in results)
    es.indices.refresh(index=name)
    assert es.count(index=name)["count"] == 500
    stats = devserver_faults.stats()
    assert stats["faults_injected"]["bulk_items_429"] > 0


def test_503_rejects_whole_requests_before_any_effect(devserver_faults, index_name):
    name = index_name("r503")
    client = Elasticsearch(devserver_faults.url, max_retries=0)
    devserver_faults.set_faults(reject_503_ratio=1.0, paths=[name])
    with pytest.raises(ApiError) as err:
        client.index(index=name, id="1", document={"a": 1})
    assert err.value.meta.status == 503
    assert err.value.body["error"]["type"] == "cluster_block_exception"
    assert err.value.meta.headers["X-Elastic-Product"] == "Elasticsearch"
    devserver_faults.clear_faults()
    assert not client.indices.exists(index=name)
    client.close()


def test_the_transport_retries_503s(devserver_faults, index_name):
    name = index_name("retry503")
    devserver_faults.set_faults(reject_503_ratio=0.5, seed=4, paths=[name])
    client = Elasticsearch(devserver_faults.url, max_retries=30, retry_on_status=(503,))
    for i in range(20):
        client.index(index=name, id=str(i), document={"i": i})
    devserver_faults.clear_faults()
    client.indices.refresh(index=name)
    assert client.count(index=name)["count"] == 20
    client.close()


def test_latency_and_dropped_connections(devserver_faults, index_name):
    name = index_name("drop")
    client = Elasticsearch(devserver_faults.url, max_retries=0, retry_on_timeout=False)
    devserver_faults.set_faults(latency_ms=250, paths=["/_cluster/health"])
    started = time.monotonic()
    client.cluster.health()
    assert time.monotonic() - started >= 0.25
    devserver_faults.set_faults(drop_connection_ratio=1.0, paths=[name])
    with pytest.raises(ConnectionError):
        client.index(index=name, id="1", document={"a": 1})
    devserver_faults.clear_faults()
    assert not client.indices.exists(index=name)
    devserver_faults.set_faults(drop_response_ratio=1.0, paths=[name])
    with pytest.raises(ConnectionError):
        client.index(index=name, id="1", document={"a": 1})  # applied, but the answer is lost
    devserver_faults.clear_faults()
    assert client.get(index=name, id="1")["found"] is True
    client.close()


def test_unavailable_for_a_while_answers_503_to_everything(devserver_faults):
    client = Elasticsearch(devserver_faults.url, max_retries=0)
    devserver_faults.set_faults(unavailable_for_s=1.0)
    assert devserver_faults.request("GET", "/_devserver/faults")[1]["unavailable_for_s"] > 0
    with pytest.raises(ApiError) as err:
        client.info()
    assert err.value.meta.status == 503
    time.sleep(1.1)
    assert client.info()["version"]["number"].startswith("9.")
    client.close()


def test_bad_fault_settings_are_refused(devserver_faults):
    status, body = devserver_faults.request("POST", "/_devserver/faults", {"reject_503_ratio": 2})
    assert status == 400
    assert "between 0 and 1" in body["error"]["reason"]
    status, body = devserver_faults.request("POST", "/_devserver/faults", {"typo_ratio": 0.1})
    assert status == 400


def test_faults_from_the_command_line(start_devserver):
    server = start_devserver("--fault-bulk-item-429-ratio", "1", "--fault-seed", "3")
    client = Elasticsearch(server.url)
    item = client.bulk(operations=[{"index": {"_index": "cli-faults"}}, {"a": 1}])["items"][0]["index"]
    assert item["status"] == 429
    assert server.stats()["faults_injected"]["bulk_items_429"] == 1
    client.close()
