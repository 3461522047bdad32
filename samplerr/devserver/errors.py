"""Elasticsearch error bodies: one exception type that renders exactly like the real server.

Elasticsearch answers every failure with ``{"error": {...}, "status": N}``. The inner object carries
``type`` (the snake_case exception name), ``reason``, optional metadata (``index``, ``index_uuid``,
``resource.type``, ``resource.id`` …), an optional ``caused_by`` chain, and, at the top level only,
``root_cause``: the list of innermost meaningful failures (the exception itself unless it is a wrapper
such as ``search_phase_execution_exception``). A few endpoints (no handler, wrong method, bad
Content-Type) answer a plain string instead of an object: :class:`PlainError`.
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


class EsError(Exception):
    """An Elasticsearch exception: rendered with :meth:`body`, raised anywhere in the server."""

    def __init__(
        self,
        status: int,
        type_: str,
        reason: str,
        *,
        meta: JsonDict | None = None,
        caused_by: EsError | None = None,
        root_causes: list[EsError] | None = None,
        extra: JsonDict | None = None,
    ) -> None:
        super().__init__(f"{type_}: {reason}")
        self.status = status
        self.type = type_
        self.reason = reason
        self.meta = meta or {}
        self.caused_by = caused_by
        self.root_causes = root_causes
        # ``extra`` goes after caused_by (e.g. search_phase_execution_exception's phase/failed_shards).
        self.extra = extra or {}

    def inner(self, *, with_cause: bool = True) -> JsonDict:
        out: JsonDict = {"type": self.type, "reason": self.reason}
        out.update(self.meta)
        if self.extra:
            out.update(self.extra)
        if with_cause and self.caused_by is not None:
            out["caused_by"] = self.caused_by.inner()
        return out

    def body(self) -> JsonDict:
        causes = self.root_causes if self.root_causes is not None else [self]
        error: JsonDict = {"root_cause": [cause.inner(with_cause=False) for cause in causes]}
        error.update(self.inner())
        return {"error": error, "status": self.status}


class PlainError(Exception):
    """An error Elasticsearch renders as ``{"error": "<text>", "status": N}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> JsonDict:
        return {"error": self.message, "status": self.status}


NA_UUID = "_na_"


def _resource(kind: str, names: list[str]) -> JsonDict:
    return {"resource.type": kind, "resource.id": names[0] if len(names) == 1 else names}


def index_not_found(name: str, kind: str = "index_or_alias") -> EsError:
    meta = _resource(kind, [name])
    meta.update({"index_uuid": NA_UUID, "index": name})
    return EsError(404, "index_not_found_exception", f"no such index [{name}]", meta=meta)


def invalid_index_name(name: str, why: str) -> EsError:
    return EsError(
        400,
        "invalid_index_name_exception",
        f"Invalid index name [{name}], {why}",
        meta={"index_uuid": NA_UUID, "index": name},
    )


def invalid_alias_name(name: str, why: str) -> EsError:
    return EsError(400, "invalid_alias_name_exception", f"Invalid alias name [{name}]: {why}")


def already_exists(name: str, uuid: str) -> EsError:
    return EsError(
        400,
        "resource_already_exists_exception",
        f"index [{name}/{uuid}] already exists",
        meta={"index_uuid": uuid, "index": name},
    )


def aliases_not_found(names: list[str]) -> EsError:
    return EsError(
        404,
        "aliases_not_found_exception",
        f"aliases [{', '.join(names)}] missing",
        meta=_resource("aliases", names),
    )


def illegal_argument(reason: str, caused_by: EsError | None = None) -> EsError:
    return EsError(400, "illegal_argument_exception", reason, caused_by=caused_by)


def parsing(reason: str, caused_by: EsError | None = None) -> EsError:
    return EsError(400, "parsing_exception", reason, caused_by=caused_by)


def x_content_parse(reason: str, caused_by: EsError | None = None) -> EsError:
    return EsError(400, "x_content_parse_exception", reason, caused_by=caused_by)


def validation_failed(*problems: str) -> EsError:
    listed = "".join(f"{n}: {p};" for n, p in enumerate(problems, start=1))
    return EsError(400, "action_request_validation_exception", f"Validation Failed: {listed}")


def resource_not_found(reason: str) -> EsError:
    return EsError(404, "resource_not_found_exception", reason)


def unsupported(feature: str) -> EsError:
    """A real Elasticsearch feature this development server does not implement (never a silent answer)."""
    return illegal_argument(f"{feature} is not supported by the samplerr development server")


def json_parse(reason: str) -> EsError:
    return EsError(400, "json_parse_exception", reason)
