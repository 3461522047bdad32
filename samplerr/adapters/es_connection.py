"""The connection to Elasticsearch: hosts, credentials, TLS, server detection and error translation.

Every request samplerr makes goes through :meth:`EsConnection.request`, a narrow port over the
official client's transport (``elastic_transport.Transport``, built by ``elasticsearch.Elasticsearch``
from the settings: node pool over several hosts, TLS, connection pooling, timeouts). samplerr talks
to the transport rather than the client's API methods because it needs three things those methods
do not give:

- **One install for Elasticsearch 8.x and 9.x.** The 9.x client stamps every request with
  ``compatible-with=9``, which an 8.x server rejects (400 ``media_type_header_exception``). The first
  request probes ``GET /`` with a neutral ``Accept: application/json`` and every later request is sent
  with ``application/vnd.elasticsearch+json; compatible-with=<server major>`` (``+x-ndjson`` for bulk):
  the REST API of the server's own major, which both majors accept.
- **Bodies as bytes.** Bulk bodies are built by samplerr and sent as they are; JSON bodies are
  written with orjson and responses parsed with orjson.
- **Errors as values samplerr owns.** Library errors are translated here, at the edge, into
  :class:`EsRequestError` (a :class:`~samplerr.core.errors.SinkError`) chained with ``from exc``,
  whose message names the host (never its credentials), the request, the HTTP status and
  Elasticsearch's error type and reason. Transport retries are off: callers decide (the bulk writer
  retries with backoff, administration requests fail fast with a readable message).

The product check of the official client (``X-Elastic-Product: Elasticsearch``) is made on the probe.
OpenSearch answers ``GET /`` with ``version.distribution: "opensearch"`` and no product header; the
official client refuses it, and so does samplerr, with a message saying so.

Secrets (password, API key, the ``Authorization`` value, credentials written into a host URL) never
appear in ``repr``, logs or error messages: they travel only in request headers, and every message
built here passes through :meth:`EsConnection.redact`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from elastic_transport import ApiResponseMeta, ConnectionTimeout, Serializer, TransportError
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport.client_utils import DEFAULT
from elasticsearch import Elasticsearch

from samplerr.adapters.es_errors import (
    RETRYABLE_STATUSES,
    EsRequestError,
    error_details,
    innermost_reason,
    never_sent,
)
from samplerr.adapters.es_hosts import auth_header, secret_strings, split_hosts
from samplerr.core.config import ElasticsearchSettings

__all__ = ["EsConnection", "EsRequestError", "EsResponse", "ServerInfo"]

log = logging.getLogger(__name__)

REDACTED = "***"
MIN_MAJOR = 8  # oldest Elasticsearch major samplerr is tested against
# The text of each warning of a Warning header: 299 Elasticsearch-9.1.0-abc "text" ["date"]
_WARNING_TEXT = re.compile(r'\d{3} \S+ "((?:[^"\\]|\\.)*)"')
_BRACKETED = re.compile(r"\[[^\]]*\]")  # the names a warning is about: [.samplerr-2026.11.22]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What ``GET /`` told about the server."""

    distribution: str  # "elasticsearch"
    version: str  # "8.19.0"
    major: int
    cluster_name: str
    host: str  # the node that answered, without credentials


@dataclass(frozen=True, slots=True)
class EsResponse:
    """A successful (or explicitly allowed) answer: HTTP ``status`` and the parsed JSON ``body``."""

    status: int
    body: Any


class _BytesSerializer(Serializer):
    """Bodies pass as bytes both ways: samplerr writes them and parses answers itself with orjson.

    Parsing happens in :meth:`EsConnection.request`, so the bulk writer can look at the raw answer
    and skip parsing the items when Elasticsearch reports no error.
    """

    mimetype: ClassVar[str] = "application/json"

    def loads(self, data: bytes) -> object:
        return data

    def dumps(self, data: object) -> bytes:
        if isinstance(data, bytes | bytearray | memoryview):
            return bytes(data)
        raise TypeError(f"NDJSON bodies must be bytes, not {type(data).__name__}")


class EsConnection:
    """A connection to one Elasticsearch cluster, shared by the bulk writer and the catalogue.

    Nothing touches the network until the first request (or :meth:`server_info`). Thread-safe:
    the transport pools connections per node; the probe runs once under a lock.
    """

    def __init__(self, settings: ElasticsearchSettings) -> None:
        hosts = split_hosts(settings.hosts)
        self.settings = settings
        self.hosts = hosts.urls
        self._auth = auth_header(settings, hosts.userinfo)
        self._secrets = secret_strings(settings, hosts.userinfo, self._auth)
        if settings.ca_certs is not None and not os.path.isfile(settings.ca_certs):
            raise EsRequestError(f"Elasticsearch ca_certs {settings.ca_certs!r}: no such file")
        if not settings.verify_certs and any(url.startswith("https:") for url in self.hosts):
            log.warning("TLS certificate verification is off for %s", ", ".join(self.hosts))
        try:
            self._client = self._make_client(raw_bodies=True)
        except (ValueError, TypeError) as exc:
            raise EsRequestError(f"Elasticsearch {', '.join(self.hosts)}: {self.redact(str(exc))}") from exc
        self._official: Elasticsearch | None = None
        self._warned: set[str] = set()
        self._transport = self._client.transport
        self._lock = threading.Lock()
        self._info: ServerInfo | None = None
        self._json_headers: dict[str, str] = {}
        self._ndjson_headers: dict[str, str] = {}

    def __repr__(self) -> str:
        auth = "api-key" if self.settings.api_key else ("basic" if self._auth else "none")
        return f"EsConnection(hosts={list(self.hosts)!r}, auth={auth})"

    def _make_client(self, *, raw_bodies: bool) -> Elasticsearch:
        """A client on the configured hosts; ``raw_bodies``: bytes both ways and no transport retries."""
        settings = self.settings
        own: dict[str, Any] = (
            {
                "serializers": {
                    "application/json": _BytesSerializer(),
                    "application/x-ndjson": _BytesSerializer(),
                },
                "max_retries": 0,
                "retry_on_timeout": False,
                "retry_on_status": (),
                "meta_header": False,
            }
            if raw_bodies
            else {"headers": {"authorization": self._auth} if self._auth else DEFAULT}
        )
        return Elasticsearch(
            list(self.hosts),
            ca_certs=settings.ca_certs or DEFAULT,
            verify_certs=settings.verify_certs,
            ssl_show_warn=False,
            request_timeout=settings.request_timeout,
            **own,
        )

    @property
    def client(self) -> Elasticsearch:
        """The official client, with its own defaults, on the same hosts, TLS settings and credentials.

        For tools and tests that want the client's API methods and helpers (which send
        ``compatible-with=9``, refused by an 8.x server); samplerr itself uses :meth:`request`.
        """
        with self._lock:
            if self._official is None:
                self._official = self._make_client(raw_bodies=False)
            return self._official

    def redact(self, text: str) -> str:
        """``text`` with every configured secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def close(self) -> None:
        self._client.close()
        if self._official is not None:
            self._official.close()

    def __enter__(self) -> EsConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- server detection -------------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        """Probe the server once (``GET /``) and configure the media types for its major."""
        info = self._info
        if info is not None:
            return info
        with self._lock:
            if self._info is None:
                self._info = self._probe()
            return self._info

    def _base_headers(self) -> dict[str, str]:
        return {"authorization": self._auth} if self._auth else {}

    def _probe(self) -> ServerInfo:
        headers = {**self._base_headers(), "accept": "application/json"}
        meta, raw = self._send("GET", "/", headers, None, None)
        host = self._node_url(meta)
        if not 200 <= meta.status < 300:
            raise self._status_error("GET", "/", meta, raw)
        try:
            parsed = _parse(raw)
        except orjson.JSONDecodeError:
            parsed = None
        body: Mapping[str, Any] = parsed if isinstance(parsed, Mapping) else {}
        version = body.get("version")
        if not isinstance(version, Mapping) or not isinstance(version.get("number"), str):
            raise EsRequestError(
                f"Elasticsearch {host}: GET / did not return a version: is this Elasticsearch?", host=host
            )
        number = str(version["number"])
        distribution = str(version.get("distribution") or "elasticsearch")
        if distribution == "opensearch":
            raise EsRequestError(
                f"{host} runs OpenSearch {number}: samplerr uses the official Elasticsearch client, which "
                "refuses OpenSearch (no X-Elastic-Product header); use Elasticsearch 8.x or 9.x",
                host=host,
            )
        if meta.headers.get("x-elastic-product") != "Elasticsearch":
            raise EsRequestError(
                f"{host} answered GET / without the X-Elastic-Product: Elasticsearch header: "
                f"not a supported Elasticsearch server (version {number})",
                host=host,
            )
        try:
            major = int(number.split(".", 1)[0])
        except ValueError as exc:
            raise EsRequestError(f"Elasticsearch {host}: unreadable version {number!r}", host=host) from exc
        if major < MIN_MAJOR:
            raise EsRequestError(
                f"Elasticsearch {host} is version {number}; samplerr needs {MIN_MAJOR}.x or later", host=host
            )
        compat = f"compatible-with={major}"
        self._json_headers = {
            **self._base_headers(),
            "accept": f"application/vnd.elasticsearch+json; {compat}",
            "content-type": f"application/vnd.elasticsearch+json; {compat}",
        }
        self._ndjson_headers = {
            **self._base_headers(),
            "accept": f"application/vnd.elasticsearch+json; {compat}",
            "content-type": f"application/vnd.elasticsearch+x-ndjson; {compat}",
        }
        cluster = str(body.get("cluster_name", ""))
        log.info("connected to Elasticsearch %s (cluster %r) at %s", number, cluster, host)
        return ServerInfo(distribution, number, major, cluster, host)

    # -- requests ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool] | None = None,
        body: object = None,
        ndjson: bool = False,
        allow: tuple[int, ...] = (),
        timeout: float | None = None,
        raw: bool = False,
    ) -> EsResponse:
        """Send one request and return its answer, parsed (or as bytes when ``raw``).

        ``body`` is a JSON-serialisable value or ready ``bytes`` (NDJSON when ``ndjson``).
        Statuses in ``allow`` (e.g. 404 for "missing is fine") are returned, not raised.
        Raises :class:`EsRequestError` for any other failure, with ``retryable`` set.
        """
        self.server_info()
        headers = self._ndjson_headers if ndjson else self._json_headers
        payload: bytes | None
        if body is None:
            payload = None
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = orjson.dumps(body)
        target = path if not params else f"{path}?{urllib.parse.urlencode(_query(params))}"
        meta, answer = self._send(method, target, headers, payload, timeout)
        if 200 <= meta.status < 300 or meta.status in allow:
            if raw:
                return EsResponse(meta.status, answer)
            try:
                return EsResponse(meta.status, _parse(answer))
            except orjson.JSONDecodeError as exc:
                raise EsRequestError(
                    f"Elasticsearch {self._node_url(meta)}: {method} {path}: unreadable answer "
                    f"(HTTP {meta.status}): {exc}",
                    host=self._node_url(meta),
                    status=meta.status,
                ) from exc
        raise self._status_error(method, path, meta, answer)

    def _send(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes | None, timeout: float | None
    ) -> tuple[ApiResponseMeta, Any]:
        """One request; a node that cannot be connected to is marked dead and the next one tried.

        Only a failure to connect moves on to another node at once (the request was never sent);
        a timeout or a connection lost mid-request is for the caller to retry or not.
        """
        seconds = self.settings.request_timeout if timeout is None else timeout
        where = f"Elasticsearch {self._hosts_text()}: {method} {_path_of(target)}"
        for attempt in range(len(self.hosts)):
            try:
                meta, parsed = self._transport.perform_request(
                    method, target, headers=headers, body=body, max_retries=0, request_timeout=seconds
                )
                break
            except ConnectionTimeout as exc:
                if never_sent(exc) and attempt + 1 < len(self.hosts):
                    continue
                raise EsRequestError(
                    f"{where}: no answer within {seconds:g} s",
                    host=self._hosts_text(),
                    retryable=True,
                ) from exc
            except TransportConnectionError as exc:
                unsent = never_sent(exc)
                if unsent and attempt + 1 < len(self.hosts):
                    log.info(
                        "Elasticsearch node unreachable (%s); trying another",
                        self.redact(innermost_reason(exc)),
                    )
                    continue
                what = "cannot connect" if unsent else "connection lost"
                raise EsRequestError(
                    f"{where}: {what}: {self.redact(innermost_reason(exc))}",
                    host=self._hosts_text(),
                    retryable=True,
                ) from exc
            except TransportError as exc:  # serialisation of an unreadable answer, sniffing
                raise EsRequestError(
                    f"{where}: {self.redact(str(exc))}",
                    host=self._hosts_text(),
                ) from exc
        warning = meta.headers.get("warning")
        if warning:
            self._log_warning(warning)
        return meta, parsed

    def _log_warning(self, header: str) -> None:
        """Log each kind of server warning once (names in brackets aside: one line for every index)."""
        messages = _WARNING_TEXT.findall(header) or [header]
        for message in messages:
            kind = _BRACKETED.sub("[]", message)
            if kind not in self._warned and len(self._warned) < 100:
                self._warned.add(kind)
                log.warning("Elasticsearch warns (logged once): %s", message)

    def _hosts_text(self) -> str:
        return ", ".join(self.hosts)

    @staticmethod
    def _node_url(meta: ApiResponseMeta) -> str:
        node = meta.node
        return f"{node.scheme}://{node.host}:{node.port}{node.path_prefix}"

    def _status_error(self, method: str, path: str, meta: ApiResponseMeta, body: object) -> EsRequestError:
        host = self._node_url(meta)
        error_type, reason = error_details(body)
        detail = ": ".join(part for part in (error_type, reason) if part) or "no error details"
        hint = ""
        if meta.status == 401:
            hint = " (check username/password or api_key)"
        elif meta.status == 403:
            hint = " (the credentials lack a privilege for this request)"
        message = self.redact(f"Elasticsearch {host}: {method} {path}: HTTP {meta.status} {detail}{hint}")
        return EsRequestError(
            message,
            host=host,
            status=meta.status,
            error_type=error_type,
            reason=self.redact(reason) if reason else None,
            retryable=meta.status in RETRYABLE_STATUSES,
        )


def _parse(answer: object) -> object:
    """JSON bytes parsed with orjson; text (``_cat`` without ``format=json``) and ``None`` as they are."""
    if isinstance(answer, bytes | bytearray | memoryview):
        return orjson.loads(answer) if len(answer) else None
    return answer


def _query(params: Mapping[str, str | int | bool]) -> dict[str, str]:
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in params.items()}


def _path_of(target: str) -> str:
    return target.partition("?")[0]
