"""The adapter's public surface, pinned: the service, the lifecycle and the CLI import these names."""

from samplerr.adapters import elasticsearch as api
from samplerr.core.errors import SinkError


def test_public_names():
    assert sorted(api.__all__) == [
        "AliasInfo",
        "ArchiveIndex",
        "BulkIncompleteError",
        "BulkReport",
        "BulkWriter",
        "Classification",
        "EsConnection",
        "EsRequestError",
        "EsResponse",
        "IndexInfo",
        "ItemFailure",
        "LifecycleLock",
        "RetryPolicy",
        "ServerInfo",
        "TemplateResult",
        "classify_indices",
        "create_index",
        "delete_indices",
        "install_template",
        "list_aliases",
        "list_indices",
        "template_body",
        "template_name",
        "update_aliases",
    ]
    for name in api.__all__:
        assert getattr(api, name) is not None


def test_every_error_is_a_sink_error():
    assert issubclass(api.EsRequestError, SinkError)
    assert issubclass(api.BulkIncompleteError, SinkError)


def test_template_names_per_prefix():
    assert api.template_name(".samplerr-") == "samplerr"
    assert api.template_name("samplerr-") == "samplerr"
    assert api.template_name(".metrics-") == "samplerr-metrics"  # never Elasticsearch's own "metrics"
    assert api.template_name(".My Prefix_") == "samplerr-my-prefix"
