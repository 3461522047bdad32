"""samplerr's Elasticsearch adapter: what the service, the lifecycle and the CLI use.

========================  ==========================================================================
module                    what it holds
========================  ==========================================================================
``es_connection``         :class:`EsConnection` (server major detection, every request)
``es_hosts``              host URLs and credentials, kept out of messages
``es_errors``             :class:`EsRequestError` and reading library and server failures
``es_bulk``               :class:`BulkWriter` (retries, per-item accounting), :class:`BulkReport`,
                          :class:`BulkIncompleteError`, :class:`RetryPolicy`
``es_ndjson``             bulk bodies without parsing: line pairs, chunk limits, the errors flag
``es_template``           the index template and :func:`install_template`
``es_catalogue``          indices and aliases: list, classify, update aliases atomically, create,
                          delete, and :class:`LifecycleLock`
========================  ==========================================================================

Errors (all are :class:`samplerr.core.errors.SinkError`)::

    SinkError
     +-- EsRequestError        one request failed: status, error type, reason, retryable
     +-- BulkIncompleteError   documents not acknowledged after the retries; carries their NDJSON
"""

from __future__ import annotations

from samplerr.adapters.es_bulk import (
    BulkIncompleteError,
    BulkReport,
    BulkWriter,
    ItemFailure,
    RetryPolicy,
)
from samplerr.adapters.es_catalogue import (
    AliasInfo,
    ArchiveIndex,
    Classification,
    IndexInfo,
    LifecycleLock,
    classify_indices,
    create_index,
    delete_indices,
    list_aliases,
    list_indices,
    update_aliases,
)
from samplerr.adapters.es_connection import EsConnection, EsRequestError, EsResponse, ServerInfo
from samplerr.adapters.es_template import TemplateResult, install_template, template_body, template_name

__all__ = [
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
