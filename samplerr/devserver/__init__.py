"""An Elasticsearch-compatible development server for samplerr's tests and demos (``samplerr devserver``).

It speaks Elasticsearch's REST protocol for what samplerr and its users' first tools need, with
Elasticsearch's status codes and error bodies, plays an 8.x or a 9.x server (``compatible-with``
headers checked as the real one checks them), injects faults on demand, and keeps its state in
memory or durably under ``--data-dir``. It is not Elasticsearch.

What it covers (see each module for details):

- indices: create (composable and component templates applied), delete, exists, get, mappings,
  settings, ``_refresh``/``_flush``/``_stats``, name validation (``names``, ``indices``, ``templates``);
- documents: ``_bulk``, ``_doc``, ``_create``, ``_update``, ``_source``, ``_mget``, mapping checks and
  dynamic mapping, versions and sequence numbers (``bulk``, ``writes``, ``mapping``);
- aliases: atomic ``_aliases``, filters OR-ed and dropped as Elasticsearch does, write indices,
  hidden indices (``index.hidden`` from the request or a template) and wildcard expansion,
  ``_resolve/index`` (``aliases``, ``names``, ``indices``);
- the ``Warning`` headers of dot-prefixed names: one for a visible dot index, and from 8.16 one more
  for every dot index or template pattern, hidden or not (``names``, ``indices``);
- search: ``_search``, ``_count``, ``_msearch``, ``_delete_by_query``; the common queries and
  ``query_string``; ``date_histogram``, ``histogram``, ``terms``, ``filter(s)``, ``range`` and the
  common metrics (``query``, ``querystring``, ``aggs``, ``search``);
- ``_cat`` (indices, aliases, health, count, templates), cluster health, nodes, cluster settings;
- refresh semantics: searches see writes after a refresh, as in Elasticsearch (``store``).

What it does not do, answering 400 rather than a wrong result: scroll and point in time, highlight,
suggesters, scripts, runtime fields, ingest pipelines, data streams, nested documents, percentiles
and pipeline aggregations, legacy ``_template``. Relevance scores are constant per matching clause
(not BM25); ``cardinality`` is exact; closing, snapshots and security do not exist.
"""

from samplerr.devserver.server import DevServer, DevServerOptions

__all__ = ["DevServer", "DevServerOptions"]
