"""Errors of the Elasticsearch adapter, and reading the failures of the client library and the server.

:class:`EsRequestError` is what every request raises; the helpers below read an Elasticsearch error
body (``{"error": {"type", "reason", "root_cause"…}, "status"}``, or a plain message) and a transport
error (was the request sent at all? what is its innermost reason?).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
import urllib3
from elastic_transport import TransportError

from samplerr.core.errors import SinkError

# Statuses worth retrying for a whole request: overload and server-side failures.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class EsRequestError(SinkError):
    """A request to Elasticsearch failed: not reachable, timed out, or answered with an error status.

    ``status`` is ``None`` when no HTTP answer came (connection refused, timeout, TLS failure).
    ``retryable`` says whether trying again later may succeed (429, 5xx, connection errors, timeouts).
    """

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
        reason: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.host = host
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.retryable = retryable


def error_details(body: object) -> tuple[str | None, str | None]:
    """Elasticsearch's ``error.type`` and ``error.reason`` from an error body, when it has them."""
    if isinstance(body, bytes | bytearray):
        raw = bytes(body)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None, raw[:200].decode("utf-8", "replace") or None
    if isinstance(body, str):
        return None, body[:200] or None
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error")
    if isinstance(error, Mapping):
        error_type = error.get("type")
        reason = error.get("reason")
        causes = error.get("root_cause")
        if reason is None and isinstance(causes, list) and causes and isinstance(causes[0], Mapping):
            reason = causes[0].get("reason")
        return (str(error_type) if error_type else None), (str(reason) if reason else None)
    if isinstance(error, str):  # a few endpoints answer a plain message (no handler, bad media type)
        return None, error[:300]
    return None, None


def never_sent(exc: TransportError) -> bool:
    """Whether the request failed before reaching the server (refused, unresolvable, connect timeout)."""
    inner: BaseException | None = exc.errors[0] if exc.errors else exc.__cause__
    seen = 0
    while inner is not None and seen < 10:
        if isinstance(inner, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError too
            return True
        inner = inner.__cause__ or inner.__context__
        seen += 1
    return False


def innermost_reason(exc: TransportError) -> str:
    """The innermost readable reason of a transport error (``Connection refused`` …)."""
    inner: BaseException = exc.errors[0] if exc.errors else exc
    while inner.__cause__ is not None or getattr(inner, "reason", None) is not None:
        nxt = inner.__cause__ or getattr(inner, "reason", None)
        if not isinstance(nxt, BaseException):
            break
        inner = nxt
    text = str(inner)
    # urllib3 messages repeat the connection object's repr: keep the part after it.
    return text.rpartition(">: ")[2] or text
