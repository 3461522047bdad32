"""HTTP layer: parsing, routing, content negotiation and the headers every answer carries.

A threading ``http.server`` with HTTP/1.1 keep-alive and Nagle's algorithm disabled (otherwise every
answer with a body stalls ~40 ms). Every response — HEAD and errors included — carries
``X-Elastic-Product: Elasticsearch``. The ``compatible-with`` media-type parameter is checked like
``RestCompatibleVersionHelper``: a 9.x server accepts 8 and 9, an 8.x server 7 and 8, else 400
``media_type_header_exception``. Unknown paths answer 400 ``no handler found for uri`` and known
paths with the wrong method 405, as Elasticsearch does; a bug in a handler answers 500 with a JSON
error, never a Python traceback.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import logging
import re
import socket
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import EsError, PlainError, illegal_argument, x_content_parse
from samplerr.devserver.faults import Decision, rejected_execution, unavailable

log = logging.getLogger("samplerr.devserver")

GLOBAL_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"})
JSON_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+json",
    "application/vnd.elasticsearch+x-ndjson",
)
_COMPAT_RE = re.compile(r"compatible-with\s*=\s*(\d+)")


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: Message
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""

    def json(self, *, required: bool = False) -> Any:
        body = self.body
        if not body.strip():
            if "source" in self.params:
                body = self.params["source"].encode()
            elif required:
                raise EsError(400, "parse_exception", "request body is required")
            else:
                return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise x_content_parse(f"[1:{exc.pos + 1}] Unexpected character: {exc.msg}") from exc

    def flag(self, name: str, default: bool = False) -> bool:
        if name not in self.params:
            return default
        value = self.params[name]
        if value in ("", "true"):
            return True
        if value == "false":
            return False
        raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")

    def int_param(self, name: str, default: int) -> int:
        if name not in self.params:
            return default
        try:
            return int(self.params[name])
        except ValueError as exc:
            raise illegal_argument(
                f"Failed to parse int parameter [{name}] with value [{self.params[name]}]"
            ) from exc

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)


@dataclass
class Response:
    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    raw: bytes | None = None  # pre-rendered body (cat text)


Handler = Callable[[Ctx, Request], Response]


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    template: str
    handler: Handler
    params: frozenset[str]
    name: str

    @property
    def segments(self) -> list[str]:
        return [s for s in self.template.strip("/").split("/") if s]


def route(
    methods: Iterable[str],
    template: str,
    handler: Handler,
    params: Iterable[str] = (),
    name: str | None = None,
) -> Route:
    return Route(frozenset(methods), template, handler, frozenset(params), name or template)


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        raw_segments = [s for s in path.strip("/").split("/") if s] if path.strip("/") else []
        segments = [urllib.parse.unquote(s) for s in raw_segments]
        candidates: list[tuple[tuple[int, ...], Route, dict[str, str]]] = []
        for r in self.routes:
            tmpl = r.segments
            if len(tmpl) != len(segments):
                continue
            bound: dict[str, str] = {}
            score: list[int] = []
            for t, s in zip(tmpl, segments, strict=True):
                if t.startswith("{"):
                    bound[t[1:-1]] = s
                    score.append(0)
                elif t == s:
                    score.append(1)
                else:
                    break
            else:
                candidates.append((tuple(score), r, bound))
        if not candidates:
            raise PlainError(400, f"no handler found for uri [{path}] and method [{method}]")
        best = max(score for score, _, _ in candidates)
        top = [(r, b) for score, r, b in candidates if score == best]
        for r, bound in top:
            if method in r.methods or (method == "HEAD" and "GET" in r.methods and "HEAD" not in _all(top)):
                return r, bound
        allowed = sorted(_all(top))
        raise PlainError(
            405,
            f"Incorrect HTTP method for uri [{path}] and method [{method}], allowed: [{', '.join(allowed)}]",
            headers={"Allow": ",".join(allowed)},
        )


def _all(top: list[tuple[Route, dict[str, str]]]) -> set[str]:
    return {m for r, _ in top for m in r.methods}


def check_params(req: Request, r: Route) -> None:
    unknown = [p for p in req.params if p not in r.params and p not in GLOBAL_PARAMS]
    if not unknown:
        return
    if len(unknown) == 1:
        raise illegal_argument(f"request [{req.path}] contains unrecognized parameter: [{unknown[0]}]")
    listed = ", ".join(f"[{p}]" for p in unknown)
    raise illegal_argument(f"request [{req.path}] contains unrecognized parameters: {listed}")


def product_origin(req: Request) -> bool:
    """Whether the request says it comes from an Elastic product (``X-elastic-product-origin``).

    Elasticsearch spares such requests the dot-prefix deprecation warnings
    (``DotPrefixValidator.isInternalRequest`` in modules/dot-prefix-validation).
    """
    return bool((req.headers.get("X-elastic-product-origin") or "").strip())


def check_compatibility(ctx: Ctx, headers: Message, has_body: bool) -> None:
    """``RestCompatibleVersionHelper.getCompatibleVersion``, wrapped as Elasticsearch wraps it."""
    current = ctx.major
    accept = headers.get("Accept")
    content_type = headers.get("Content-Type")
    a_version = _compat_version(accept)
    c_version = _compat_version(content_type)
    accept_v = a_version if a_version is not None else current
    content_v = c_version if c_version is not None else current
    problem: str | None = None
    if accept_v > current or accept_v < current - 1:
        problem = (
            f"Accept version must be either version {current} or {current - 1}, but found {accept_v}. "
            f"Accept={accept}"
        )
    elif has_body:
        if content_v > current or content_v < current - 1:
            problem = (
                f"Content-Type version must be either version {current} or {current - 1}, but found "
                f"{content_v}. Content-Type={content_type}"
            )
        elif content_v != accept_v:
            problem = (
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                "requested a compatible version and the compatible versions must match. "
                f"Accept={accept}, Content-Type={content_type}"
            )
        elif (c_version is None) != (a_version is None):
            problem = (
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                f"requested a compatible version. Accept={accept}, Content-Type={content_type}"
            )
    if problem is not None:
        raise EsError(
            400,
            "media_type_header_exception",
            "Invalid media-type value on headers [Accept, Content-Type]",
            caused_by=EsError(400, "status_exception", problem),
        )


def _compat_version(header: str | None) -> int | None:
    if not header:
        return None
    m = _COMPAT_RE.search(header)
    return int(m.group(1)) if m else None


def check_content_type(headers: Message, body: bytes) -> None:
    if not body:
        return
    value = headers.get("Content-Type")
    if value is None:
        raise PlainError(406, "Content-Type header is missing")
    media = value.split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise PlainError(406, f"Content-Type header [{value}] is not supported")


def filter_path(body: Any, spec: str) -> Any:
    """Elasticsearch's ``filter_path``: dotted include patterns (``*``, ``**``), ``-`` excludes."""
    includes = _includes(spec)
    excludes = [p[1:].split(".") for p in spec.split(",") if p.startswith("-")]
    result = _include(body, includes) if includes is not None else body
    for pattern in excludes:
        result = _exclude(result, pattern)
    return result if result is not None else {}


def _seg_match(pattern: str, key: str) -> bool:
    if pattern == "*":
        return True
    if "*" in pattern:
        return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), key) is not None
    return pattern == key


KEYS_REMEMBERED = 1024  # per pattern set: the keys of an answer's many items are few


class _Includes:
    """A set of include patterns (none empty), with what is left of them below each key seen.

    The items of an answer (a bulk answer's thousands) share their keys: the patterns are matched
    once per distinct key, not once per item."""

    __slots__ = ("known", "patterns")

    def __init__(self, patterns: tuple[tuple[str, ...], ...]) -> None:
        self.patterns = patterns
        self.known: dict[str, _Includes | bool] = {}  # what below() answered, by key

    def below(self, key: str) -> _Includes | bool:
        """False: nothing below ``key`` is kept; True: all of it is; else the patterns left.
        Remembered in ``known`` (looked up there first by the caller)."""
        nxt: list[tuple[str, ...]] = []
        for p in self.patterns:
            if p[0] == "**":
                nxt.append(p)  # may match deeper
                if len(p) > 1 and _seg_match(p[1], key):
                    nxt.append(p[2:])
            elif _seg_match(p[0], key):
                nxt.append(p[1:])
        result: _Includes | bool
        if not nxt:
            result = False
        elif any(not p for p in nxt):
            result = True
        else:
            result = _Includes(tuple(nxt))
        if len(self.known) < KEYS_REMEMBERED:
            self.known[key] = result
        return result


@functools.lru_cache(maxsize=64)
def _includes(spec: str) -> _Includes | None:
    patterns = tuple(tuple(p.split(".")) for p in spec.split(",") if p and not p.startswith("-"))
    return _Includes(patterns) if patterns else None


def _include(node: Any, includes: _Includes) -> Any:
    """``node`` with only what ``includes`` keeps, or None."""
    if isinstance(node, list):
        kept = [_include(item, includes) for item in node]
        return [k for k in kept if k is not None] or None
    if not isinstance(node, dict):
        return None
    out: dict[str, Any] = {}
    known, below = includes.known, includes.below
    for key, value in node.items():
        rest = known.get(key)
        if rest is None:
            rest = below(key)
        if rest is False:
            continue
        if rest is True:  # kept whole
            if value is not None:
                out[key] = value
            continue
        kept = _include(value, rest)
        if kept is not None:
            out[key] = kept
    return out or None


def _exclude(node: Any, pattern: list[str]) -> Any:
    if isinstance(node, list):
        return [_exclude(item, pattern) for item in node]
    if not isinstance(node, dict) or not pattern:
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if _seg_match(pattern[0], key):
            if len(pattern) == 1:
                continue
            out[key] = _exclude(value, pattern[1:])
        else:
            out[key] = value
    return out


def render(ctx: Ctx, req: Request | None, resp: Response, params: dict[str, str]) -> bytes:
    if resp.raw is not None:
        return resp.raw
    if resp.body is None:
        return b""
    body = resp.body
    if "filter_path" in params and isinstance(body, (dict, list)):
        body = filter_path(body, params["filter_path"])
    if "pretty" in params and params["pretty"] != "false":
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"
    return orjson.dumps(body)


def error_response(exc: Exception) -> Response:
    if isinstance(exc, EsError):
        return Response(exc.status, exc.body())
    if isinstance(exc, PlainError):
        return Response(exc.status, exc.body(), headers=dict(exc.headers))
    raise exc


class DevRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "samplerr-devserver"
    sys_version = ""
    ctx: Ctx
    router: Router

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP (bad request line, oversized headers …): a JSON error with the product header."""
        body = orjson.dumps({"error": message or _reason(code), "status": code})
        self.close_connection = True
        head = (
            f"HTTP/1.1 {code} {_reason(code)}\r\nX-Elastic-Product: Elasticsearch\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            self.wfile.write(head.encode("latin-1") + body)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET  # noqa: N815 - http.server's names

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            body = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip" and body:
            body = gzip.decompress(body)
        elif encoding == "deflate" and body:
            body = zlib.decompress(body)
        return body

    def _serve(self) -> None:
        ctx = self.ctx
        started = time.perf_counter()
        split = urllib.parse.urlsplit(self.path)
        path = split.path or "/"
        params = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        method = self.command
        try:
            body = self._read_body()
        except (ValueError, OSError, EOFError):
            self.close_connection = True
            return
        admin = path.startswith("/_devserver")
        if not admin:
            decision, delay = ctx.faults.before(path)
            if delay:
                time.sleep(delay)
            if decision is Decision.DROP:
                self._drop()
                return
            if decision is not Decision.PROCEED:
                err = unavailable() if decision is Decision.REJECT_503 else rejected_execution()
                self._send(method, None, error_response(err), params, started)
                return
        req = Request(method, path, params, self.headers, body)
        try:
            if not admin:
                check_compatibility(ctx, self.headers, bool(body))
            r, bound = self.router.match(method, path)
            req.path_params = bound
            req.endpoint = r.name
            ctx.stats.count_request(r.name)
            check_params(req, r)
            if body:
                check_content_type(self.headers, body)
            handler_started = time.perf_counter()
            try:
                resp = r.handler(ctx, req)
            finally:
                ctx.stats.count_time(f"{method} {r.name}", time.perf_counter() - handler_started)
        except (EsError, PlainError) as exc:
            resp = error_response(exc)
        except Exception as exc:  # a handler bug: answer like Elasticsearch's internal error, log it
            log.exception("internal error on %s %s", method, path)
            resp = Response(
                500, EsError(500, "exception", f"samplerr devserver internal error: {exc!r}").body()
            )
        finally:
            ctx.cluster.journal.commit()
        if (
            not admin
            and resp.status < 300
            and method not in ("GET", "HEAD")
            and ctx.faults.drop_response(path)
        ):
            self._drop()
            return
        self._send(method, req, resp, params, started)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(
        self, method: str, req: Request | None, resp: Response, params: dict[str, str], started: float
    ) -> None:
        ctx = self.ctx
        try:
            payload = render(ctx, req, resp, params)
        except (TypeError, orjson.JSONEncodeError) as exc:
            log.exception("cannot render response")
            resp = Response(
                500, EsError(500, "exception", f"samplerr devserver internal error: {exc!r}").body()
            )
            payload = orjson.dumps(resp.body)
        ctx.stats.count_status(resp.status)
        head = [f"HTTP/1.1 {resp.status} {_reason(resp.status)}\r\n", "X-Elastic-Product: Elasticsearch\r\n"]
        head.append(f"Content-Type: {resp.content_type}\r\n")
        head.append(f"Content-Length: {len(payload)}\r\n")
        for name, value in resp.headers.items():
            head.append(f"{name}: {value}\r\n")
        for warning in resp.warnings:
            head.append(f"Warning: {ctx.warning(warning)}\r\n")
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        data = "".join(head).encode("latin-1")
        if method != "HEAD":
            data += payload
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
        log.debug(
            "%s %s -> %d in %.1f ms", method, self.path, resp.status, (time.perf_counter() - started) * 1000
        )


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


class DevHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class DevHTTPServer6(DevHTTPServer):
    address_family = socket.AF_INET6


def make_server(ctx: Ctx, router: Router, host: str, port: int) -> DevHTTPServer:
    handler = type("BoundHandler", (DevRequestHandler,), {"ctx": ctx, "router": router})
    server_class: type[DevHTTPServer] = DevHTTPServer6 if ":" in host else DevHTTPServer
    server = server_class((host, port), handler)
    ctx.host, ctx.port = server.server_address[0], server.server_address[1]  # type: ignore[assignment]
    return server
