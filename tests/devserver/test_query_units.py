"""Query DSL, query_string and name resolution as pure functions (no HTTP)."""

import orjson
import pytest

from samplerr.devserver.errors import EsError
from samplerr.devserver.mapping import DocumentRejectedError, Mapping
from samplerr.devserver.names import SEARCH_OPTIONS, IndicesOptions, filtering_aliases, resolve
from samplerr.devserver.query import compile_query, minimum_should, parse_query
from samplerr.devserver.store import AliasMeta, Doc, Index

DOCS = {
    "1": {"host": "web-1", "service": "cpu.user", "msg": "Disk full on web-1", "v": 1.5, "n": 3},
    "2": {"host": "web-2", "service": "cpu.user", "msg": "all good", "v": 20, "n": 7},
    "3": {"host": "db-1", "service": "mem.used", "msg": "disk almost full", "v": -4, "n": 11},
    "4": {"host": "web-1", "service": "mem.used", "v": 0},
}
MAPPING = {
    "properties": {
        "host": {"type": "keyword"},
        "service": {"type": "keyword"},
        "msg": {"type": "text"},
        "v": {"type": "double"},
        "n": {"type": "long"},
    }
}


@pytest.fixture(scope="module")
def index() -> Index:
    idx = Index("units", "uuid", 0, {}, Mapping(MAPPING))
    for n, (doc_id, source) in enumerate(DOCS.items()):
        idx.store(Doc(doc_id, source, orjson.dumps(source), 1, n))
    idx.refresh()
    return idx


def matching(index: Index, query: dict) -> list[str]:
    matcher = compile_query(parse_query(query), index, 0)
    return [doc.id for doc in index.visible.values() if matcher(doc) is not None]


def qs(text: str, **options) -> dict:
    return {"query_string": {"query": text, **options}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*", ["1", "2", "3", "4"]),
        ("host:web-1", ["1", "4"]),
        ('host:"web-1"', ["1", "4"]),
        ("host:web*", ["1", "2", "4"]),
        ("host:web-? AND service:cpu.user", ["1", "2"]),
        ("host:web-1 OR host:db-1", ["1", "3", "4"]),
        ("host:web-1 AND service:cpu.user OR host:db-1", ["1"]),  # Lucene: +a +b c
        ("host:(web-1 OR db-1) AND NOT service:mem.used", ["1"]),
        ("-host:web-1", ["2", "3"]),
        ("+service:mem.used -host:db-1", ["4"]),
        ("NOT host:web-1", ["2", "3"]),
        ("v:[0 TO 20]", ["1", "2", "4"]),
        ("v:{0 TO 20}", ["1"]),
        ("v:[* TO 0]", ["3", "4"]),
        ("n:>=7", ["2", "3"]),
        ("n:<7", ["1"]),
        ("_exists_:msg", ["1", "2", "3"]),
        ("msg:disk", ["1", "3"]),
        ("msg:DISK", ["1", "3"]),
        ('msg:"disk full"', ["1"]),
        ("disk full", ["1", "3"]),  # default field *: text tokens, OR
        (
            "web-1",
            ["1", "4"],
        ),  # keyword fields match the whole value; text tokens 'web' '1' do not appear alone
        ("20", ["2"]),  # numeric fields are searched leniently
    ],
)
def test_query_string(index, text, expected):
    assert matching(index, qs(text)) == expected


def test_query_string_default_operator_and_fields(index):
    assert matching(index, qs("disk full", default_operator="AND")) == ["1", "3"]
    assert matching(index, qs("full good", default_field="msg", default_operator="AND")) == []
    assert matching(index, qs("web-1", fields=["service"])) == []


@pytest.mark.parametrize(
    "text", ["host:(web-1", "host:web-1 AND", "AND host:web-1", 'msg:"unclosed', "v:[1 TO"]
)
def test_query_string_syntax_errors_are_query_shard_exceptions(index, text):
    with pytest.raises(EsError) as err:
        matching(index, qs(text))
    assert err.value.type == "query_shard_exception"
    assert err.value.caused_by is not None
    assert err.value.caused_by.type == "parse_exception"


def test_query_string_on_a_numeric_field_with_a_word_is_an_error_unless_lenient(index):
    with pytest.raises(EsError) as err:
        matching(index, qs("v:abc"))
    assert err.value.reason == 'failed to create query: For input string: "abc"'
    assert matching(index, qs("v:abc", lenient=True)) == []


@pytest.mark.parametrize(
    ("spec", "optional", "required_clauses", "expected"),
    [
        (None, 3, False, 1),
        (None, 3, True, 0),
        (None, 0, False, 0),
        (2, 3, False, 2),
        (-1, 3, False, 2),
        ("50%", 3, False, 1),
        ("-25%", 4, False, 3),
        ("100%", 3, True, 3),
    ],
)
def test_minimum_should_match(spec, optional, required_clauses, expected):
    assert minimum_should(spec, optional, required_clauses) == expected


def test_term_on_text_is_not_analyzed_and_match_is(index):
    assert matching(index, {"term": {"msg": "Disk"}}) == []
    assert matching(index, {"term": {"msg": "disk"}}) == ["1", "3"]
    assert matching(index, {"match": {"msg": "Disk FULL"}}) == ["1", "3"]
    assert matching(index, {"match": {"msg": {"query": "disk good", "operator": "and"}}}) == []
    assert matching(index, {"match_phrase": {"msg": "full on"}}) == ["1"]
    assert matching(index, {"prefix": {"host": "web"}}) == ["1", "2", "4"]
    assert matching(index, {"wildcard": {"service": {"value": "*.USED", "case_insensitive": True}}}) == [
        "3",
        "4",
    ]


def test_mapping_validates_and_maps_dynamically():
    mapping = Mapping({"dynamic_templates": [{"strings": {"match_mapping_type": "string",
                                                          "mapping": {"type": "keyword"}}}]})  # fmt: skip
    dates, changed = mapping.prepare({"a": "x", "b": 2, "c": {"d": 1.5}, "e.f": True}, "1")
    assert changed
    assert dates == {}
    assert mapping.rendered()["properties"] == {
        "a": {"type": "keyword"},
        "b": {"type": "long"},
        "c": {"properties": {"d": {"type": "float"}}},
        "e": {"properties": {"f": {"type": "boolean"}}},
    }
    with pytest.raises(DocumentRejectedError) as err:
        mapping.prepare({"b": "not a number"}, "2")
    assert err.value.error.type == "document_parsing_exception"
    with pytest.raises(DocumentRejectedError) as err:
        mapping.prepare({"c": "scalar"}, "3")
    assert "tried to parse field [c] as object, but found a concrete value" in err.value.error.reason
    float_field = Mapping({"properties": {"f": {"type": "float"}}}).fields["f"]
    assert float_field.convert(0.1) == 0.10000000149011612  # stored as float32, like Lucene


class Meta:
    def __init__(self, hidden=False, aliases=None):
        self.hidden = hidden
        self.aliases = aliases or {}


CATALOG = {
    ".samplerr-2026": Meta(hidden=True, aliases={"samplerr-2026": AliasMeta(filter={"match_all": {}})}),
    ".samplerr-2026.11": Meta(hidden=True, aliases={"samplerr-2026.11": AliasMeta()}),
    ".visible-dot": Meta(),
    "logs-1": Meta(aliases={"logs": AliasMeta(filter={"term": {"a": 1}})}),
    "logs-2": Meta(aliases={"logs": AliasMeta()}),
}


@pytest.mark.parametrize(
    ("expressions", "options", "expected"),
    [
        (["*"], SEARCH_OPTIONS, [".samplerr-2026", ".samplerr-2026.11", ".visible-dot", "logs-1", "logs-2"]),
        (["_all"], SEARCH_OPTIONS, [".visible-dot", "logs-1", "logs-2"]),
        (["l*"], SEARCH_OPTIONS, ["logs-1", "logs-2"]),
        ([".s*"], SEARCH_OPTIONS, [".samplerr-2026", ".samplerr-2026.11"]),
        (["*2026*"], SEARCH_OPTIONS, [".samplerr-2026", ".samplerr-2026.11"]),
        (["logs"], SEARCH_OPTIONS, ["logs-1", "logs-2"]),
        (["logs-*", "-logs-1"], SEARCH_OPTIONS, ["logs-2"]),
        (["logs*", "-logs"], SEARCH_OPTIONS, ["logs-1", "logs-2"]),  # the indices matched by name stay
        (
            ["samplerr-*", "-samplerr-2026"],
            SEARCH_OPTIONS,
            [".samplerr-2026.11"],
        ),  # an alias is excluded by name
        (["*", "-*"], SEARCH_OPTIONS, []),
        (["_all"], IndicesOptions(expand_hidden=True), sorted(CATALOG)),
    ],
)
def test_resolution(expressions, options, expected):
    assert sorted(resolve(expressions, CATALOG, options).indices) == expected


def test_alias_filters_apply_only_when_every_reach_is_filtered():
    def required(expressions, index):
        resolution = resolve(expressions, CATALOG, SEARCH_OPTIONS)
        return filtering_aliases(index, CATALOG[index], resolution)

    assert required(["logs"], "logs-1") == ["logs"]
    assert required(["logs"], "logs-2") is None  # the alias has no filter on logs-2
    assert required(["logs", "logs-1"], "logs-1") is None  # the index is named directly
    assert required(["log*"], "logs-1") is None  # the wildcard matched the index name too
    assert required(["samplerr-*"], ".samplerr-2026") == ["samplerr-2026"]
    assert required(["samplerr-*"], ".samplerr-2026.11") is None
    assert required(["_all"], "logs-1") is None


def test_multi_match_as_kibana_sends_free_text(index):
    free_text = {"multi_match": {"type": "best_fields", "query": "disk", "lenient": True}}
    assert matching(index, free_text) == ["1", "3"]
    assert matching(index, {"multi_match": {"query": "web-1", "fields": ["host", "service"]}}) == ["1", "4"]
    assert matching(index, {"multi_match": {"query": "full on", "type": "phrase", "fields": ["msg"]}}) == [
        "1"
    ]
    with pytest.raises(EsError) as err:
        matching(index, {"multi_match": {"query": "x", "type": "cross_fields"}})
    assert err.value.type == "parsing_exception"


def test_terms_on_dates_cover_what_the_value_names():
    idx = Index("dated", "uuid", 0, {}, Mapping({"properties": {"t": {"type": "date"}}}))
    for n, stamp in enumerate(["2026-11-21T23:59:59.999Z", "2026-11-22T00:00:00Z", "2026-11-22T23:00:00Z"]):
        idx.store(Doc(str(n), {"t": stamp}, orjson.dumps({"t": stamp}), 1, n))
    idx.refresh()
    assert matching(idx, {"term": {"t": "2026-11-22"}}) == ["1", "2"]
    assert matching(idx, {"term": {"t": "2026-11-22T00:00:00Z"}}) == ["1"]
    with pytest.raises(EsError) as err:
        matching(idx, {"term": {"t": "not a date"}})
    assert err.value.type == "query_shard_exception"
