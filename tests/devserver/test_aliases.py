"""Aliases: atomic updates, Elasticsearch's errors, filters OR-ed and dropped, wildcard expansion."""

import pytest
from elasticsearch import BadRequestError, Elasticsearch, ElasticsearchWarning, NotFoundError, helpers


def setup_indices(es: Elasticsearch, prefix: str, names: list[str], *, hidden: bool = False, docs: int = 10):
    for n in names:
        es.indices.create(
            index=f"{prefix}{n}",
            settings={"number_of_replicas": 0, "index.hidden": hidden},
            mappings={"properties": {"i": {"type": "long"}, "src": {"type": "keyword"}}},
        )
        helpers.bulk(
            es,
            ({"_index": f"{prefix}{n}", "_id": str(i), "_source": {"i": i, "src": n}} for i in range(docs)),
        )
    es.indices.refresh(index=",".join(f"{prefix}{n}" for n in names), expand_wildcards="all")


def hits(es: Elasticsearch, target: str, **kw) -> list[tuple[str, int]]:
    result = es.search(index=target, size=1000, **kw)
    return sorted((h["_source"]["src"], h["_source"]["i"]) for h in result["hits"]["hits"])


def test_a_batch_with_one_bad_action_changes_nothing(es: Elasticsearch, index_name):
    p = index_name("atomic") + "-"
    setup_indices(es, p, ["a", "b"], docs=1)
    es.indices.update_aliases(actions=[{"add": {"index": f"{p}a", "alias": f"{p}x"}}])
    before = es.indices.get_alias(index=f"{p}*")
    bad_batches = [
        # a missing index (404 index_not_found_exception)
        (
            [
                {"remove": {"index": f"{p}a", "alias": f"{p}x"}},
                {"add": {"index": f"{p}missing", "alias": f"{p}y"}},
            ],
            404,
            "index_not_found_exception",
        ),
        # must_exist on a missing alias (404 aliases_not_found_exception)
        (
            [
                {"add": {"index": f"{p}b", "alias": f"{p}y"}},
                {"remove": {"index": f"{p}b", "alias": f"{p}nope", "must_exist": True}},
            ],
            404,
            "aliases_not_found_exception",
        ),
        # an alias named like an index
        (
            [{"remove": {"index": f"{p}a", "alias": f"{p}x"}}, {"add": {"index": f"{p}a", "alias": f"{p}b"}}],
            400,
            "invalid_alias_name_exception",
        ),
        # two write indices for one alias
        (
            [
                {"add": {"index": f"{p}a", "alias": f"{p}w", "is_write_index": True}},
                {"add": {"index": f"{p}b", "alias": f"{p}w", "is_write_index": True}},
            ],
            500,
            "illegal_state_exception",
        ),
    ]
    for actions, status, error_type in bad_batches:
        with pytest.raises(Exception) as err:
            es.indices.update_aliases(actions=actions)
        assert err.value.meta.status == status, actions
        assert err.value.body["error"]["type"] == error_type
        assert es.indices.get_alias(index=f"{p}*") == before


def test_remove_of_a_missing_alias(es: Elasticsearch, index_name):
    p = index_name("remove") + "-"
    setup_indices(es, p, ["a"], docs=1)
    with pytest.raises(NotFoundError) as err:
        es.indices.update_aliases(actions=[{"remove": {"index": f"{p}a", "alias": f"{p}nope"}}])
    assert err.value.body["error"] == {
        "root_cause": [
            {
                "type": "aliases_not_found_exception",
                "reason": f"aliases [{p}nope] missing",
                "resource.type": "aliases",
                "resource.id": f"{p}nope",
            }
        ],
        "type": "aliases_not_found_exception",
        "reason": f"aliases [{p}nope] missing",
        "resource.type": "aliases",
        "resource.id": f"{p}nope",
    }
    # alongside an effective action, it fails alone (Elasticsearch 8.14+)
    result = es.indices.update_aliases(
        actions=[
            {"add": {"index": f"{p}a", "alias": f"{p}ok"}},
            {"remove": {"index": f"{p}a", "alias": f"{p}nope"}},
        ]
    )
    assert result["acknowledged"] is True
    assert result["errors"] is True
    assert result["action_results"][1]["status"] == 404
    assert result["action_results"][0] == {
        "action": {"type": "add", "indices": [f"{p}a"], "aliases": [f"{p}ok"]},
        "status": 200,
    }
    assert es.indices.exists_alias(name=f"{p}ok")


def test_alias_names_may_not_clash_with_indices(es: Elasticsearch, index_name):
    p = index_name("clash") + "-"
    setup_indices(es, p, ["a", "b"], docs=1)
    with pytest.raises(BadRequestError) as err:
        es.indices.put_alias(index=f"{p}a", name=f"{p}b")
    assert err.value.body["error"]["reason"] == (
        f"Invalid alias name [{p}b]: an index or data stream exists with the same name as the alias"
    )
    with pytest.raises(BadRequestError) as err:
        es.indices.put_alias(index=f"{p}a", name=f"{p}bad*")
    assert err.value.body["error"]["type"] == "invalid_alias_name_exception"


def test_filters_of_several_aliases_are_ored_and_dropped_by_a_direct_or_unfiltered_reach(es, index_name):
    p = index_name("filters") + "-"
    setup_indices(es, p, ["a", "b"])
    es.indices.update_aliases(
        actions=[
            {"add": {"index": f"{p}a", "alias": f"{p}lo", "filter": {"range": {"i": {"lt": 3}}}}},
            {"add": {"index": f"{p}a", "alias": f"{p}hi", "filter": {"range": {"i": {"gte": 8}}}}},
            {"add": {"index": f"{p}a", "alias": f"{p}all"}},
            {"add": {"index": f"{p}b", "alias": f"{p}lo", "filter": {"term": {"i": 5}}}},
        ]
    )
    a = [("a", i) for i in range(10)]
    assert hits(es, f"{p}lo") == [("a", 0), ("a", 1), ("a", 2), ("b", 5)]
    assert hits(es, f"{p}lo,{p}hi") == [("a", 0), ("a", 1), ("a", 2), ("a", 8), ("a", 9), ("b", 5)]
    assert hits(es, f"{p}lo,{p}all") == [*a, ("b", 5)]  # an unfiltered alias drops a's filters
    assert hits(es, f"{p}lo,{p}a") == [*a, ("b", 5)]  # so does naming the index itself
    assert hits(es, f"{p}l*") == [("a", 0), ("a", 1), ("a", 2), ("b", 5)]  # wildcards match alias names
    assert hits(es, f"{p}*") == [*a, *[("b", i) for i in range(10)]]  # ... and index names: no filter
    assert es.count(index=f"{p}lo")["count"] == 4
    # filtered queries combine with the alias filter
    assert hits(es, f"{p}lo", query={"term": {"src": "a"}}) == [("a", 0), ("a", 1), ("a", 2)]


def test_hidden_indices_and_dot_prefixed_names_in_wildcards(es: Elasticsearch, index_name):
    p = index_name("hid")
    hidden, dotted, plain = f".{p}-hidden", f".{p}-dot", f"{p}-plain"
    with pytest.warns(ElasticsearchWarning, match="begins with a dot"):  # 8.16+: hidden or not
        setup_indices(es, "", [hidden], hidden=True, docs=2)
    with pytest.warns(ElasticsearchWarning, match="dot"):  # two warnings: not hidden
        setup_indices(es, "", [dotted], docs=2)
    setup_indices(es, "", [plain], docs=2)
    es.indices.update_aliases(actions=[{"add": {"index": hidden, "alias": f"{p}-via-alias"}}])

    def names(expr: str, **kw) -> set[str]:
        return {h["_index"] for h in es.search(index=expr, size=100, **kw)["hits"]["hits"]}

    assert names(f"*{p}*") == {dotted, plain, hidden}  # the hidden index through its (visible) alias
    assert names(f"*{p}-h*") == set()  # hidden: not matched by a wildcard...
    assert names(f".{p}-h*") == {hidden}  # ...unless the wildcard starts with a dot
    assert names(f"*{p}-h*", expand_wildcards="open,hidden") == {hidden}
    assert names(f"*{p}-d*") == {dotted}  # a visible dot index is an ordinary index for wildcards
    assert names(hidden) == {hidden}  # exact names always resolve
    cat = {r["index"] for r in es.cat.indices(index=f"*{p}*", format="json")}
    assert cat == {hidden, dotted, plain}  # _cat/indices expands to all by default


def test_ignore_unavailable_and_allow_no_indices(es: Elasticsearch, index_name):
    p = index_name("avail")
    setup_indices(es, "", [p], docs=1)
    with pytest.raises(NotFoundError) as err:
        es.search(index=f"{p},{p}-missing")
    assert err.value.body["error"]["index"] == f"{p}-missing"
    assert es.search(index=f"{p},{p}-missing", ignore_unavailable=True)["hits"]["total"]["value"] == 1
    empty = es.search(index=f"{p}-nothing-*")
    assert empty["hits"]["total"]["value"] == 0
    assert empty["_shards"]["total"] == 0
    with pytest.raises(NotFoundError):
        es.search(index=f"{p}-nothing-*", allow_no_indices=False)
    excluded = es.search(index=f"{p}*,-{p}", size=0)
    assert excluded["hits"]["total"]["value"] == 0


def test_get_alias_apis_and_cat_aliases(es: Elasticsearch, index_name):
    p = index_name("getal") + "-"
    setup_indices(es, p, ["a", "b"], docs=1)
    es.indices.update_aliases(
        actions=[
            {
                "add": {
                    "index": f"{p}a",
                    "alias": f"{p}x",
                    "filter": {"term": {"i": 0}},
                    "is_write_index": True,
                }
            },
            {"add": {"index": f"{p}b", "alias": f"{p}x"}},
            {"add": {"index": f"{p}b", "alias": f"{p}y", "routing": "1"}},
        ]
    )
    assert es.indices.get_alias(name=f"{p}x") == {
        f"{p}a": {"aliases": {f"{p}x": {"filter": {"term": {"i": 0}}, "is_write_index": True}}},
        f"{p}b": {"aliases": {f"{p}x": {}}},
    }
    assert es.indices.get_alias(index=f"{p}b") == {
        f"{p}b": {"aliases": {f"{p}x": {}, f"{p}y": {"index_routing": "1", "search_routing": "1"}}}
    }
    assert es.indices.exists_alias(name=f"{p}y")
    assert not es.indices.exists_alias(name=f"{p}zz")
    with pytest.raises(NotFoundError) as err:
        es.indices.get_alias(name=f"{p}x,{p}zz")
    assert err.value.body["error"] == f"alias [{p}zz] missing"
    assert f"{p}a" in err.value.body
    rows = es.cat.aliases(name=f"{p}*", format="json")
    assert rows == [
        {
            "alias": f"{p}x",
            "index": f"{p}a",
            "filter": "*",
            "routing.index": "-",
            "routing.search": "-",
            "is_write_index": "true",
        },
        {
            "alias": f"{p}x",
            "index": f"{p}b",
            "filter": "-",
            "routing.index": "-",
            "routing.search": "-",
            "is_write_index": "-",
        },
        {
            "alias": f"{p}y",
            "index": f"{p}b",
            "filter": "-",
            "routing.index": "1",
            "routing.search": "1",
            "is_write_index": "-",
        },
    ]
    es.indices.delete_alias(index=f"{p}b", name=f"{p}y")
    assert not es.indices.exists_alias(name=f"{p}y")
    with pytest.raises(NotFoundError):
        es.indices.delete_alias(index=f"{p}b", name=f"{p}y")


def test_remove_index_action_deletes_the_index_atomically(es: Elasticsearch, index_name):
    p = index_name("rmidx") + "-"
    setup_indices(es, p, ["old", "new"], docs=1)
    es.indices.put_alias(index=f"{p}old", name=f"{p}cur")
    es.indices.update_aliases(
        actions=[{"add": {"index": f"{p}new", "alias": f"{p}cur"}}, {"remove_index": {"index": f"{p}old"}}]
    )
    assert not es.indices.exists(index=f"{p}old")
    assert list(es.indices.get_alias(name=f"{p}cur")) == [f"{p}new"]
