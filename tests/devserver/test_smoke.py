"""The development server answers the official client like Elasticsearch: a first walk through."""

from elasticsearch import Elasticsearch, helpers


def test_info_says_elasticsearch_9_and_that_it_is_a_development_server(es: Elasticsearch) -> None:
    info = es.info()
    assert info["version"]["number"].startswith("9.")
    assert "development server" in info["devserver"]["notice"]
    assert info["tagline"] == "You Know, for Search"


def test_write_refresh_search(es: Elasticsearch, index_name) -> None:
    name = index_name("smoke")
    es.indices.create(
        index=name, mappings={"properties": {"@timestamp": {"type": "date"}, "v": {"type": "double"}}}
    )
    docs = [
        {"_index": name, "_id": str(i), "_source": {"@timestamp": f"2026-11-22T10:00:{i:02d}Z", "v": i}}
        for i in range(30)
    ]
    ok, errors = helpers.bulk(es, docs)
    assert (ok, errors) == (30, [])
    es.indices.refresh(index=name)
    result = es.search(index=name, query={"range": {"v": {"gte": 10, "lt": 20}}}, size=100)
    assert sorted(int(h["_id"]) for h in result["hits"]["hits"]) == list(range(10, 20))
