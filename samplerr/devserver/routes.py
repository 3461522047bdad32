"""The route table: every endpoint, its methods and the URL parameters it accepts."""

from __future__ import annotations

from samplerr.devserver import aliases, bulk, cat, cluster, indices, search, templates
from samplerr.devserver.http import Route, Router, route

INDICES_OPTS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")
MASTER = ("master_timeout", "timeout")
GET_INDEX = (
    *INDICES_OPTS,
    *MASTER,
    "local",
    "include_defaults",
    "flat_settings",
    "features",
    "ignore_throttled",
)
DOC_WRITE = tuple(bulk.DOC_PARAMS)
GET_DOC = tuple(bulk.GET_PARAMS)
CAT = tuple(cat.CAT_PARAMS)


def build_routes() -> list[Route]:
    get, put, post, delete, head = ("GET",), ("PUT",), ("POST",), ("DELETE",), ("HEAD",)
    return [
        # cluster
        route(("GET", "HEAD"), "/", cluster.root_handler),
        route(
            get,
            "/_cluster/health",
            cluster.health_handler,
            (
                "wait_for_status",
                "timeout",
                "master_timeout",
                "level",
                "local",
                "wait_for_nodes",
                "wait_for_active_shards",
                "wait_for_no_relocating_shards",
                "wait_for_no_initializing_shards",
                "wait_for_events",
                *INDICES_OPTS,
            ),
        ),
        route(
            get,
            "/_cluster/health/{index}",
            cluster.health_handler,
            ("wait_for_status", "timeout", "master_timeout", "level", "local", *INDICES_OPTS),
        ),
        route(get, "/_nodes", cluster.nodes_handler, ("flat_settings", "timeout")),
        route(get, "/_nodes/{metric}", cluster.nodes_handler, ("flat_settings", "timeout")),
        route(get, "/_nodes/{node}/{metric}", cluster.nodes_handler, ("flat_settings", "timeout")),
        route(
            get,
            "/_cluster/settings",
            cluster.get_cluster_settings,
            ("include_defaults", "flat_settings", *MASTER),
        ),
        route(put, "/_cluster/settings", cluster.put_cluster_settings, ("flat_settings", *MASTER)),
        # indices
        route(put, "/{index}", indices.create_handler, ("wait_for_active_shards", *MASTER)),
        route(delete, "/{index}", indices.delete_handler, (*INDICES_OPTS, *MASTER)),
        route(head, "/{index}", indices.exists_handler, GET_INDEX),
        route(get, "/{index}", indices.get_handler, GET_INDEX),
        route(get, "/_mapping", indices.get_mapping_handler, GET_INDEX),
        route(get, "/{index}/_mapping", indices.get_mapping_handler, GET_INDEX),
        route(
            ("PUT", "POST"),
            "/{index}/_mapping",
            indices.put_mapping_handler,
            (*INDICES_OPTS, *MASTER, "write_index_only"),
        ),
        route(get, "/_settings", indices.get_settings_handler, GET_INDEX),
        route(get, "/{index}/_settings", indices.get_settings_handler, GET_INDEX),
        route(get, "/{index}/_settings/{name}", indices.get_settings_handler, GET_INDEX),
        route(
            put,
            "/_settings",
            indices.put_settings_handler,
            (*INDICES_OPTS, *MASTER, "preserve_existing", "flat_settings", "reopen"),
        ),
        route(
            put,
            "/{index}/_settings",
            indices.put_settings_handler,
            (*INDICES_OPTS, *MASTER, "preserve_existing", "flat_settings", "reopen"),
        ),
        route(("POST", "GET"), "/_refresh", indices.refresh_handler, INDICES_OPTS),
        route(("POST", "GET"), "/{index}/_refresh", indices.refresh_handler, INDICES_OPTS),
        route(("POST", "GET"), "/_flush", indices.flush_handler, (*INDICES_OPTS, "force", "wait_if_ongoing")),
        route(
            ("POST", "GET"),
            "/{index}/_flush",
            indices.flush_handler,
            (*INDICES_OPTS, "force", "wait_if_ongoing"),
        ),
        route(
            post,
            "/_forcemerge",
            indices.flush_handler,
            (*INDICES_OPTS, "max_num_segments", "only_expunge_deletes", "flush", "wait_for_completion"),
        ),
        route(
            post,
            "/{index}/_forcemerge",
            indices.flush_handler,
            (*INDICES_OPTS, "max_num_segments", "only_expunge_deletes", "flush", "wait_for_completion"),
        ),
        route(
            ("GET", "POST"), "/_resolve/index/{name}", indices.resolve_index_handler, (*INDICES_OPTS, "mode")
        ),
        route(get, "/_stats", indices.stats_handler, (*INDICES_OPTS, "level", "fields", "groups")),
        route(get, "/{index}/_stats", indices.stats_handler, (*INDICES_OPTS, "level", "fields", "groups")),
        # templates
        route(
            ("PUT", "POST"), "/_index_template/{name}", templates.put_template, ("create", "cause", *MASTER)
        ),
        route(
            get,
            "/_index_template",
            templates.get_templates,
            ("flat_settings", "local", "master_timeout", "include_defaults"),
        ),
        route(
            get,
            "/_index_template/{name}",
            templates.get_templates,
            ("flat_settings", "local", "master_timeout", "include_defaults"),
        ),
        route(
            head,
            "/_index_template/{name}",
            templates.template_exists,
            ("flat_settings", "local", "master_timeout"),
        ),
        route(delete, "/_index_template/{name}", templates.delete_template, MASTER),
        route(
            post,
            "/_index_template/_simulate_index/{index}",
            templates.simulate_index,
            ("master_timeout", "include_defaults"),
        ),
        route(("PUT", "POST"), "/_component_template/{name}", templates.put_component, ("create", *MASTER)),
        route(
            get,
            "/_component_template",
            templates.get_components,
            ("flat_settings", "local", "master_timeout"),
        ),
        route(
            get,
            "/_component_template/{name}",
            templates.get_components,
            ("flat_settings", "local", "master_timeout"),
        ),
        route(delete, "/_component_template/{name}", templates.delete_component, MASTER),
        route(
            ("GET", "PUT", "POST", "DELETE", "HEAD"),
            "/_template",
            templates.legacy_template,
            ("create", "order", "flat_settings", "local", *MASTER),
        ),
        route(
            ("GET", "PUT", "POST", "DELETE", "HEAD"),
            "/_template/{name}",
            templates.legacy_template,
            ("create", "order", "flat_settings", "local", *MASTER),
        ),
        # aliases
        route(post, "/_aliases", aliases.update_aliases_handler, MASTER),
        route(("PUT", "POST"), "/{index}/_alias/{name}", aliases.put_alias_handler, MASTER),
        route(("PUT", "POST"), "/{index}/_aliases/{name}", aliases.put_alias_handler, MASTER),
        route(delete, "/{index}/_alias/{name}", aliases.delete_alias_handler, MASTER),
        route(delete, "/{index}/_aliases/{name}", aliases.delete_alias_handler, MASTER),
        route(get, "/_alias", aliases.get_alias_handler, (*INDICES_OPTS, "local", "master_timeout")),
        route(get, "/_aliases", aliases.get_alias_handler, (*INDICES_OPTS, "local", "master_timeout")),
        route(get, "/_alias/{name}", aliases.get_alias_handler, (*INDICES_OPTS, "local", "master_timeout")),
        route(get, "/{index}/_alias", aliases.get_alias_handler, (*INDICES_OPTS, "local", "master_timeout")),
        route(
            get,
            "/{index}/_alias/{name}",
            aliases.get_alias_handler,
            (*INDICES_OPTS, "local", "master_timeout"),
        ),
        route(
            head, "/_alias/{name}", aliases.alias_exists_handler, (*INDICES_OPTS, "local", "master_timeout")
        ),
        route(
            head,
            "/{index}/_alias/{name}",
            aliases.alias_exists_handler,
            (*INDICES_OPTS, "local", "master_timeout"),
        ),
        route(
            head, "/{index}/_alias", aliases.alias_exists_handler, (*INDICES_OPTS, "local", "master_timeout")
        ),
        # documents
        route(("PUT", "POST"), "/_bulk", bulk.bulk_handler, tuple(bulk.BULK_PARAMS)),
        route(("PUT", "POST"), "/{index}/_bulk", bulk.bulk_handler, tuple(bulk.BULK_PARAMS)),
        route(("PUT", "POST"), "/{index}/_doc/{id}", bulk.index_doc_handler, DOC_WRITE),
        route(post, "/{index}/_doc", bulk.index_doc_handler, DOC_WRITE),
        route(("PUT", "POST"), "/{index}/_create/{id}", bulk.index_doc_handler, DOC_WRITE),
        route(
            post,
            "/{index}/_update/{id}",
            bulk.update_doc_handler,
            (*DOC_WRITE, "retry_on_conflict", "_source", "_source_includes", "_source_excludes", "lang"),
        ),
        route(("GET", "HEAD"), "/{index}/_doc/{id}", bulk.get_doc_handler, GET_DOC),
        route(
            delete,
            "/{index}/_doc/{id}",
            bulk.delete_doc_handler,
            tuple(bulk.DELETE_DOC_PARAMS),
        ),
        route(("GET", "HEAD"), "/{index}/_source/{id}", bulk.get_source_handler, GET_DOC),
        route(("GET", "POST"), "/_mget", bulk.mget_handler, GET_DOC),
        route(("GET", "POST"), "/{index}/_mget", bulk.mget_handler, GET_DOC),
        # search
        route(("GET", "POST"), "/_search", search.search_handler, tuple(search.SEARCH_PARAMS)),
        route(("GET", "POST"), "/{index}/_search", search.search_handler, tuple(search.SEARCH_PARAMS)),
        route(("GET", "POST"), "/_count", search.count_handler, tuple(search.COUNT_PARAMS)),
        route(("GET", "POST"), "/{index}/_count", search.count_handler, tuple(search.COUNT_PARAMS)),
        route(("GET", "POST"), "/_msearch", search.msearch_handler, tuple(search.MSEARCH_PARAMS)),
        route(("GET", "POST"), "/{index}/_msearch", search.msearch_handler, tuple(search.MSEARCH_PARAMS)),
        route(
            post,
            "/{index}/_delete_by_query",
            search.delete_by_query_handler,
            (
                *INDICES_OPTS,
                "refresh",
                "conflicts",
                "wait_for_completion",
                "slices",
                "scroll_size",
                "timeout",
                "requests_per_second",
                "max_docs",
                "routing",
                "q",
                "df",
                "analyzer",
                "default_operator",
                "lenient",
                "wait_for_active_shards",
                "scroll",
                "search_timeout",
                "request_cache",
                "preference",
                "from",
            ),
        ),
        # cat
        route(get, "/_cat/indices", cat.cat_indices, CAT),
        route(get, "/_cat/indices/{index}", cat.cat_indices, CAT),
        route(get, "/_cat/aliases", cat.cat_aliases, CAT),
        route(get, "/_cat/aliases/{name}", cat.cat_aliases, CAT),
        route(get, "/_cat/health", cat.cat_health, (*CAT, "ts")),
        route(get, "/_cat/count", cat.cat_count, CAT),
        route(get, "/_cat/count/{index}", cat.cat_count, CAT),
        route(get, "/_cat/templates", cat.cat_templates, CAT),
        route(get, "/_cat/templates/{name}", cat.cat_templates, CAT),
        # the development server's own endpoints
        route(get, "/_devserver/faults", cluster.get_faults),
        route(("POST", "PUT"), "/_devserver/faults", cluster.set_faults),
        route(delete, "/_devserver/faults", cluster.clear_faults),
        route(get, "/_devserver/stats", cluster.stats_handler),
    ]


def build_router() -> Router:
    return Router(build_routes())
