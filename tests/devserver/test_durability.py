"""--data-dir: every acknowledged change survives kill -9 and restarts; a torn log tail is ignored."""

import threading

from elasticsearch import ApiError, ConnectionError, Elasticsearch, helpers


def test_state_survives_kill_9(start_devserver, tmp_path):
    server = start_devserver(data_dir=tmp_path / "data")
    es = Elasticsearch(server.url)
    es.indices.put_index_template(
        name="dur", index_patterns=["dur-*"], template={"mappings": {"properties": {"v": {"type": "double"}}}}
    )
    es.cluster.put_component_template(name="dur-c", template={"settings": {"number_of_replicas": 0}})
    helpers.bulk(
        es, ({"_index": "dur-1", "_id": str(i), "_source": {"v": i, "s": f"x{i}"}} for i in range(300))
    )
    es.update(index="dur-1", id="1", doc={"v": 100.5})
    es.delete(index="dur-1", id="2")
    es.indices.update_aliases(
        actions=[{"add": {"index": "dur-1", "alias": "dur", "filter": {"range": {"v": {"lt": 10}}}}}]
    )
    es.indices.put_settings(index="dur-1", settings={"index": {"refresh_interval": "3s"}})
    es.cluster.put_settings(persistent={"action.destructive_requires_name": False})
    before = es.get(index="dur-1", id="1")
    es.index(index="dur-1", id="last", document={"v": -1})  # acknowledged just before the crash
    es.close()

    server.kill()
    server.restart()
    es = Elasticsearch(server.url)
    es.indices.refresh(index="dur-1")
    assert es.count(index="dur-1")["count"] == 300
    after = es.get(index="dur-1", id="1")
    assert (after["_version"], after["_seq_no"], after["_source"]) == (
        before["_version"],
        before["_seq_no"],
        before["_source"],
    )
    assert es.get(index="dur-1", id="last")["_source"] == {"v": -1}
    assert not es.exists(index="dur-1", id="2")
    assert es.indices.get_mapping(index="dur-1")["dur-1"]["mappings"]["properties"]["v"] == {"type": "double"}
    assert es.count(index="dur")["count"] == 9  # the alias filter came back: v < 10: 0, 3..9 and "last"
    assert es.indices.get_settings(index="dur-1")["dur-1"]["settings"]["index"]["refresh_interval"] == "3s"
    assert es.indices.exists_index_template(name="dur")
    assert es.cluster.get_component_template(name="dur-c")["component_templates"][0]["name"] == "dur-c"
    assert es.cluster.get_settings()["persistent"] == {"action": {"destructive_requires_name": "false"}}
    # sequence numbers and versions continue where they were
    again = es.index(index="dur-1", id="1", document={"v": 1})
    assert again["_version"] == before["_version"] + 1
    assert again["_seq_no"] > before["_seq_no"]
    es.close()


def test_every_acknowledged_write_survives_a_crash_under_load(start_devserver, tmp_path):
    server = start_devserver(data_dir=tmp_path / "load")
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(worker: int) -> None:
        client = Elasticsearch(server.url, max_retries=0, request_timeout=5)
        n = 0
        while not stop.is_set():
            doc_id = f"{worker}-{n}"
            try:
                client.bulk(operations=[{"index": {"_index": "crash", "_id": doc_id}}, {"w": worker, "n": n}])
            except (ConnectionError, ApiError):
                return
            acknowledged.append(doc_id)
            n += 1
        client.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    while len(acknowledged) < 150:
        threading.Event().wait(0.01)
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    server.restart()
    es = Elasticsearch(server.url)
    found = {h["_id"] for h in es.search(index="crash", size=10_000, _source=False)["hits"]["hits"]}
    assert set(acknowledged) <= found
    es.close()


def test_a_torn_log_tail_is_ignored(start_devserver, tmp_path):
    data = tmp_path / "torn"
    server = start_devserver(data_dir=data)
    es = Elasticsearch(server.url)
    es.index(index="torn", id="1", document={"a": 1})
    es.close()
    server.kill()
    (wal,) = data.glob("wal-*.ndjson")
    with wal.open("ab") as log:
        log.write(b'{"t":"doc","i":"torn","id":"2","v":1,"s":1}\n{"a": 2')  # the crash cut the source line
    server.restart()
    es = Elasticsearch(server.url)
    assert es.get(index="torn", id="1")["_source"] == {"a": 1}
    assert not es.exists(index="torn", id="2")
    es.index(index="torn", id="3", document={"a": 3})
    es.close()
    server.kill()
    server.restart()
    es = Elasticsearch(server.url)
    assert es.exists(index="torn", id="3")
    es.close()


def test_without_data_dir_state_is_in_memory(start_devserver):
    server = start_devserver()
    es = Elasticsearch(server.url)
    es.indices.create(index="volatile")
    es.close()
    server.restart()
    es = Elasticsearch(server.url)
    assert not es.indices.exists(index="volatile")
    es.close()
