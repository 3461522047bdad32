"""Hidden indices (``index.hidden``) and the deprecation warnings of dot-prefixed names, as in Elasticsearch.

What real Elasticsearch does (see samplerr/devserver/names.py and indices.py for the sources):

- ``index.hidden`` (7.7+, dynamic) comes from the request or from the matching template; a wildcard
  does not match a hidden index unless ``expand_wildcards`` has ``hidden``, or the wildcard and the
  name both start with a dot; exact names and aliases reach hidden indices.
- Creating a dot-prefixed index that is not hidden warns ``index name [.x] starts with a dot …``
  (MetadataCreateIndexService.validateDotIndex, hidden read after templates are applied).
- Since 8.16 every dot-prefixed index created, and every dot-prefixed template pattern, also warns
  ``Index [.x] name begins with a dot (.) …``, hidden or not, unless the request carries
  ``X-elastic-product-origin`` (modules/dot-prefix-validation).
"""

from __future__ import annotations

import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from elasticsearch import BadRequestError, Elasticsearch, ElasticsearchWarning, helpers

from tests.devserver.process import DevServerProcess


def begins(name: str) -> str:
    return (
        f"Index [{name}] name begins with a dot (.), which is deprecated, and will not be allowed in a "
        "future Elasticsearch version."
    )


def starts(name: str) -> str:
    return (
        f"index name [{name}] starts with a dot '.', in the next major version, index names starting with "
        "a dot are reserved for hidden indices and system indices"
    )


class Raw:
    """Plain HTTP with JSON bodies (any server version accepts it), returning the Warning headers."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def __call__(self, method: str, path: str, body: Any = None, ndjson: bytes | None = None) -> list[str]:
        data = ndjson if ndjson is not None else (orjson.dumps(body) if body is not None else None)
        headers = dict(self.headers)
        if ndjson is not None:
            headers["Content-Type"] = "application/x-ndjson"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                raw = answer.headers.get_all("Warning") or []
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read()!r}") from exc
        # 299 Elasticsearch-9.1.0-abcdef1234 "text"
        return [value.split('"', 1)[1].rsplit('"', 1)[0] for value in raw]


@pytest.mark.parametrize("version", ["8.15.0", "8.19.0", "9.1.0"])
def test_dot_index_warnings_by_version(start_devserver: Callable[..., DevServerProcess], version: str):
    server = start_devserver("--es-version", version)
    call = Raw(server.url)
    since_8_16 = version != "8.15.0"

    def expect(*names: str) -> list[str]:
        return [begins(n) for n in names] if since_8_16 else []

    assert call("PUT", "/.visible") == [*expect(".visible"), starts(".visible")]
    assert call("PUT", "/.hidden", {"settings": {"index.hidden": True}}) == expect(".hidden")
    assert call("PUT", "/plain") == []
    # a template's index.hidden counts (isHiddenAfterTemplates); its dot pattern warns since 8.16
    template = {"index_patterns": [".tpl-*"], "template": {"settings": {"index.hidden": True}}}
    assert call("PUT", "/_index_template/tpl", template) == expect(".tpl-*")
    assert call("PUT", "/.tpl-a") == expect(".tpl-a")
    # a bulk that auto-creates indices draws the warnings of each index it creates, once
    lines = b"".join(
        orjson.dumps({"index": {"_index": name}}) + b"\n" + b'{"v": 1}\n'
        for name in (".tpl-b", ".tpl-c", ".tpl-b", ".other", "plain2")
    )
    assert call("POST", "/_bulk", ndjson=lines) == [*expect(".tpl-b", ".tpl-c", ".other"), starts(".other")]
    assert call("POST", "/_bulk", ndjson=lines) == []  # nothing created this time
    # Elastic's own products are spared the 8.16+ warning, not the older one
    kibana = Raw(server.url, {"X-elastic-product-origin": "kibana"})
    assert kibana("PUT", "/.visible2") == [starts(".visible2")]
    assert kibana("PUT", "/.tpl-d") == []
    assert kibana("PUT", "/_index_template/tpl2", {"index_patterns": [".tpl2-*"]}) == []


def test_a_template_hides_its_indices_from_wildcards(es: Elasticsearch, index_name):
    p = index_name("tplh")
    with pytest.warns(ElasticsearchWarning, match=rf"Index \[\.{p}-\*\] name begins with a dot"):
        es.indices.put_index_template(
            name=p, index_patterns=[f".{p}-*"], template={"settings": {"index.hidden": True}}, priority=500
        )
    docs = [{"_index": f".{p}-{n}", "_id": "1", "_source": {"n": n}} for n in ("a", "b")]
    with pytest.warns(ElasticsearchWarning, match="begins with a dot"):
        helpers.bulk(es, docs, refresh=True)
    settings = es.indices.get_settings(index=f".{p}-a", expand_wildcards="all")
    assert settings[f".{p}-a"]["settings"]["index"]["hidden"] == "true"
    es.indices.update_aliases(actions=[{"add": {"index": f".{p}-a", "alias": f"{p}-alias"}}])

    def searched(expr: str, **kw: Any) -> set[str]:
        return {h["_index"] for h in es.search(index=expr, size=10, **kw)["hits"]["hits"]}

    assert searched(f"*{p}*") == {f".{p}-a"}  # through the (visible) alias only
    assert searched(f".{p}-*") == {f".{p}-a", f".{p}-b"}  # a dot wildcard matches dot hidden indices
    assert searched(f"*{p}-*", expand_wildcards="open,hidden") == {f".{p}-a", f".{p}-b"}
    assert searched(f"{p}-alias") == {f".{p}-a"}
    assert searched(f".{p}-b") == {f".{p}-b"}  # exact names always resolve
    assert f".{p}-a" not in {
        h["_index"] for h in es.search(size=10000, query={"match_all": {}})["hits"]["hits"]
    }
    # GET _alias/<pattern> looks through hidden indices (strictExpandHidden)
    assert es.indices.get_alias(name=f"{p}-*").body == {f".{p}-a": {"aliases": {f"{p}-alias": {}}}}
    # _cat/indices expands to all by default
    assert {r["index"] for r in es.cat.indices(index=f"*{p}*", format="json")} == {f".{p}-a", f".{p}-b"}
    es.indices.delete_index_template(name=p)


def test_resolve_index_lists_hidden_indices_as_elasticsearch_does(es: Elasticsearch, index_name):
    p = index_name("res")
    with pytest.warns(ElasticsearchWarning):
        es.indices.create(index=f".{p}-h", settings={"index.hidden": True}, aliases={f"{p}-al": {}})
    es.indices.create(index=f"{p}-v")
    answer = es.indices.resolve_index(name=f"*{p}*").body
    assert answer == {
        "indices": [{"name": f"{p}-v", "attributes": ["open"]}],
        "aliases": [{"name": f"{p}-al", "indices": [f".{p}-h"]}],
        "data_streams": [],
    }
    hidden_too = es.indices.resolve_index(name=f"*{p}*", expand_wildcards="all").body
    assert hidden_too["indices"] == [
        {"name": f".{p}-h", "aliases": [f"{p}-al"], "attributes": ["hidden", "open"]},
        {"name": f"{p}-v", "attributes": ["open"]},
    ]
    assert [i["name"] for i in es.indices.resolve_index(name=f".{p}*").body["indices"]] == [f".{p}-h"]
    assert es.indices.resolve_index(name=f".{p}-h,{p}-missing").body["indices"][0]["name"] == f".{p}-h"


def test_index_hidden_can_be_changed_on_an_open_index(es: Elasticsearch, index_name):
    p = index_name("dyn")
    es.indices.create(index=f"{p}-x")
    assert es.indices.resolve_index(name=f"{p}-*").body["indices"] != []
    es.indices.put_settings(index=f"{p}-x", settings={"index.hidden": True})
    assert es.indices.resolve_index(name=f"{p}-*").body["indices"] == []
    assert es.indices.get_settings(index=f"{p}-x", name="index.hidden").body == {
        f"{p}-x": {"settings": {"index": {"hidden": "true"}}}
    }
    es.indices.put_settings(index=f"{p}-*", settings={"index.hidden": False}, expand_wildcards="all")
    assert [i["name"] for i in es.indices.resolve_index(name=f"{p}-*").body["indices"]] == [f"{p}-x"]


def test_a_match_all_template_may_not_hide_indices(es: Elasticsearch, index_name):
    p = index_name("glob")
    with pytest.raises(BadRequestError) as own:
        es.indices.put_index_template(
            name=p, index_patterns=["*"], template={"settings": {"index.hidden": True}}
        )
    assert own.value.body["error"]["type"] == "action_request_validation_exception"
    assert own.value.body["error"]["reason"] == (
        "Validation Failed: 1: global composable templates may not specify the setting index.hidden;"
    )
    es.cluster.put_component_template(name=f"{p}-c", template={"settings": {"index.hidden": True}})
    with pytest.raises(BadRequestError) as composed:
        es.indices.put_index_template(name=p, index_patterns=["*"], composed_of=[f"{p}-c"], priority=7)
    assert composed.value.body["error"]["type"] == "invalid_index_template_exception"
    assert (
        "global composable templates may not specify the setting index.hidden"
        in (composed.value.body["error"]["reason"])
    )
    es.cluster.delete_component_template(name=f"{p}-c")
    assert not es.indices.exists_index_template(name=p)


def test_the_official_client_sees_each_warning(es: Elasticsearch, index_name):
    name = "." + index_name("cw")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        es.options(headers={"X-elastic-product-origin": "kibana"}).indices.create(
            index=name, settings={"index.hidden": True}
        )
    assert caught == []
