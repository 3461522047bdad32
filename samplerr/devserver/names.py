"""Index and alias names: validation and expression resolution, as Elasticsearch 8/9 do them.

Resolution follows ``IndexNameExpressionResolver``: a request names a comma list of expressions;
``_all`` (or nothing) means every index; an expression with ``*`` is a wildcard matched against index
AND alias names, subject to ``expand_wildcards`` (``open`` by default, ``hidden`` to include hidden
indices; a hidden index starting with ``.`` is also matched by a wildcard that starts with ``.``);
``-expr`` after a wildcard removes matches; an exact name is an index or an alias (all its indices).
Non-hidden dot-prefixed indices are ordinary indices for wildcards, exactly as in Elasticsearch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from samplerr.devserver.errors import (
    EsError,
    illegal_argument,
    index_not_found,
    invalid_alias_name,
    invalid_index_name,
)

INVALID_CHARS = ("\\", "/", "*", "?", '"', "<", ">", "|", " ", ",")
INVALID_CHARS_TEXT = "[" + ",".join(f"'{c}'" for c in INVALID_CHARS) + "]"
MAX_NAME_BYTES = 255


# modules/dot-prefix-validation (elastic/elasticsearch#112571, in 8.x from 8.16 by #113146): every
# dot-prefixed name in a create, an auto-create (one per index a bulk creates) or a composable template's
# index_patterns gets this warning, hidden or not, unless the request carries X-elastic-product-origin.
# Its allow-list (.ml-state, .elastic-connectors-v1 …, system indices) names nothing this server has.
DOT_PREFIX_WARNING = (
    "Index [{name}] name begins with a dot (.), which is deprecated, and will not be allowed in a future "
    "Elasticsearch version."
)
DOT_PREFIX_VALIDATION_SINCE = (8, 16)


def dot_prefix_warnings(version: tuple[int, ...], names: Iterable[str], *, origin: bool) -> list[str]:
    """The warnings of Elasticsearch 8.16+'s dot-prefix validation for ``names`` (see DOT_PREFIX_WARNING)."""
    if origin or version < DOT_PREFIX_VALIDATION_SINCE:
        return []
    return [DOT_PREFIX_WARNING.format(name=n) for n in names if n.startswith(".")]


def _name_problem(name: str) -> str | None:
    if any(c in name for c in INVALID_CHARS):
        return f"must not contain the following characters {INVALID_CHARS_TEXT}"
    if "#" in name:
        return "must not contain '#'"
    if ":" in name:
        return "must not contain ':'"
    if name[:1] in ("_", "-", "+"):
        return "must not start with '_', '-', or '+'"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        return f"index name is too long, ({size} > {MAX_NAME_BYTES})"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    return None


def validate_index_name(name: str) -> None:
    """Raise ``invalid_index_name_exception`` as ``MetadataCreateIndexService.validateIndexName`` does."""
    problem = _name_problem(name)
    if problem is None and name.lower() != name:
        problem = "must be lowercase"
    if problem is not None:
        raise invalid_index_name(name, problem)


def validate_alias_name(name: str) -> None:
    """Aliases follow the index rules except case (``AliasValidator.validateAliasStandalone``)."""
    if not name.strip():
        raise illegal_argument("alias name is required")
    problem = _name_problem(name)
    if problem is not None:
        raise invalid_alias_name(name, problem)


@lru_cache(maxsize=4096)
def _pattern(expr: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in expr) + r"\Z", re.DOTALL)


def is_wildcard(expr: str) -> bool:
    return "*" in expr


def simple_match(pattern: str, name: str) -> bool:
    """Elasticsearch's ``Regex.simpleMatch``: only ``*`` is special."""
    if pattern == "*":
        return True
    if "*" not in pattern:
        return pattern == name
    return _pattern(pattern).match(name) is not None


def match_any(patterns: Iterable[str], name: str) -> bool:
    return any(simple_match(p, name) for p in patterns)


@dataclass(frozen=True, slots=True)
class IndicesOptions:
    ignore_unavailable: bool = False
    allow_no_indices: bool = True
    expand_open: bool = True
    expand_closed: bool = False
    expand_hidden: bool = False

    def with_params(self, params: Mapping[str, str]) -> IndicesOptions:
        ignore = _flag(params, "ignore_unavailable", self.ignore_unavailable)
        allow = _flag(params, "allow_no_indices", self.allow_no_indices)
        opened, closed, hidden = self.expand_open, self.expand_closed, self.expand_hidden
        if "expand_wildcards" in params:
            opened, closed, hidden = parse_expand_wildcards(params["expand_wildcards"])
        return IndicesOptions(ignore, allow, opened, closed, hidden)

    def with_body(self, header: Mapping[str, Any]) -> IndicesOptions:
        """Options from an ``_msearch`` header line (values may be JSON booleans or strings)."""
        flat = {k: _as_text(v) for k, v in header.items() if k in _OPTION_KEYS}
        return self.with_params(flat)


_OPTION_KEYS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")

SEARCH_OPTIONS = IndicesOptions()
STRICT_OPTIONS = IndicesOptions(allow_no_indices=False)
ALL_OPTIONS = IndicesOptions(expand_closed=True, expand_hidden=True)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _flag(params: Mapping[str, str], key: str, default: bool) -> bool:
    if key not in params:
        return default
    return parse_bool(params[key], key)


def parse_bool(value: str, key: str) -> bool:
    if value in ("", "true"):
        return True
    if value == "false":
        return False
    raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def parse_expand_wildcards(value: str) -> tuple[bool, bool, bool]:
    opened = closed = hidden = False
    for word in (w.strip() for w in value.split(",")):
        if word == "open":
            opened = True
        elif word == "closed":
            closed = True
        elif word == "hidden":
            hidden = True
        elif word == "all":
            opened = closed = hidden = True
        elif word == "none":
            pass
        else:
            raise illegal_argument(
                "No enum constant "
                f"org.elasticsearch.action.support.IndicesOptions.WildcardStates.{word.upper()}"
            )
    return opened, closed, hidden


class AliasLike(Protocol):
    @property
    def is_hidden(self) -> bool: ...


class IndexLike(Protocol):
    @property
    def hidden(self) -> bool: ...

    @property
    def aliases(self) -> Mapping[str, Any]: ...


def split_expressions(text: str | None) -> list[str]:
    if text is None or text == "":
        return []
    return [part for part in text.split(",") if part != ""]


def is_all(expressions: list[str]) -> bool:
    return not expressions or expressions == ["_all"]


@dataclass(slots=True)
class Resolution:
    """Concrete indices in resolution order, and the names the expressions resolved to."""

    indices: list[str]
    expressions: set[str]
    all_indices: bool


def alias_index_map(indices: Mapping[str, IndexLike]) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for name in sorted(indices):
        for alias in indices[name].aliases:
            members.setdefault(alias, []).append(name)
    return members


def _alias_hidden(indices: Mapping[str, IndexLike], alias: str, members: list[str]) -> bool:
    return any(bool(getattr(indices[m].aliases[alias], "is_hidden", False)) for m in members)


def _visible(name: str, hidden: bool, expr: str, options: IndicesOptions) -> bool:
    if not hidden or options.expand_hidden:
        return True
    return expr.startswith(".") and name.startswith(".")


def _expand_wildcard(
    expr: str,
    indices: Mapping[str, IndexLike],
    members: Mapping[str, list[str]],
    options: IndicesOptions,
) -> tuple[list[str], list[str]]:
    """Indices matched by ``expr`` and the names (index or alias) it matched."""
    found: list[str] = []
    names: list[str] = []
    if not options.expand_open:
        return found, names
    for name in sorted(indices):
        if simple_match(expr, name) and _visible(name, indices[name].hidden, expr, options):
            found.append(name)
            names.append(name)
    for alias in sorted(members):
        if simple_match(expr, alias) and _visible(
            alias, _alias_hidden(indices, alias, members[alias]), expr, options
        ):
            names.append(alias)
            found.extend(members[alias])
    return found, names


def resolve(
    expressions: list[str],
    indices: Mapping[str, IndexLike],
    options: IndicesOptions,
    *,
    allow_aliases: bool = True,
) -> Resolution:
    """Resolve ``expressions`` to concrete indices, raising Elasticsearch's errors.

    As ``resolveExpressionsToResources``: expressions resolve to names (of indices and aliases), an
    exclusion removes names, and aliases expand to their indices at the end.
    """
    members = alias_index_map(indices) if allow_aliases else {}
    if is_all(expressions):
        found, names = _expand_wildcard("*", indices, {}, options)
        return Resolution(found, set(names), True)
    selected = select_names(expressions, indices, members, options)
    concrete: dict[str, None] = {}
    for name in selected:
        if name in indices:
            concrete[name] = None
        else:
            for index in members.get(name, ()):
                concrete[index] = None
    if not concrete and not options.allow_no_indices:
        raise index_not_found(",".join(expressions))
    return Resolution(list(concrete), set(selected), False)


def select_names(
    expressions: list[str],
    indices: Mapping[str, IndexLike],
    members: Mapping[str, list[str]],
    options: IndicesOptions,
) -> dict[str, None]:
    """The names of indices and aliases ``expressions`` name, in order (aliases not expanded).

    Wildcards match index and alias names visible under ``options`` (a hidden index only with
    ``expand_wildcards=hidden``, or for a wildcard starting with ``.`` when its name does too:
    ``IndexNameExpressionResolver.implicitHiddenMatch``); ``-expr`` after a wildcard removes names.
    """
    selected: dict[str, None] = {}
    wildcard_seen = False
    for expr in expressions:
        if expr.startswith("-") and wildcard_seen:
            target = expr[1:]
            if is_wildcard(target):
                _, drop = _expand_wildcard(target, indices, members, options)
            else:
                drop = [target]
            for name in drop:
                selected.pop(name, None)
            continue
        if is_wildcard(expr):
            wildcard_seen = True
            found, names = _expand_wildcard(expr, indices, members, options)
            if not found and not options.allow_no_indices:
                raise index_not_found(expr)
            for name in names:
                selected[name] = None
            continue
        if expr in indices or expr in members:
            selected[expr] = None
        elif not options.ignore_unavailable:
            raise index_not_found(expr)
    return selected


def filtering_aliases(index: str, meta: IndexLike, resolution: Resolution) -> list[str] | None:
    """Aliases whose filters apply to ``index`` (OR-ed), or None when the index is searched unfiltered.

    As ``IndexNameExpressionResolver.indexAliases``: no filter when all indices are targeted, when the
    index itself was named (or matched by a wildcard), or when any unfiltered alias of it was named.
    """
    if resolution.all_indices or index in resolution.expressions:
        return None
    required: list[str] = []
    for alias, alias_meta in meta.aliases.items():
        if alias in resolution.expressions:
            if getattr(alias_meta, "filter", None) is None:
                return None
            required.append(alias)
    return required or None


def check_no_wildcards_for_destruction(expressions: list[str], destructive_requires_name: bool) -> None:
    if not destructive_requires_name:
        return
    if is_all(expressions) or any(is_wildcard(e) or e == "_all" for e in expressions):
        raise illegal_argument("Wildcard expressions or all indices are not allowed")


def concrete_write_index(
    name: str, indices: Mapping[str, IndexLike], *, require_alias: bool = False
) -> str | EsError | None:
    """The index a write to ``name`` goes to: the index itself, the alias's write index, or None (new)."""
    if name in indices:
        if require_alias:
            return index_not_found_require_alias(name)
        return name
    members = [idx for idx in sorted(indices) if name in indices[idx].aliases]
    if not members:
        if require_alias:
            return index_not_found_require_alias(name)
        return None
    writers = [m for m in members if getattr(indices[m].aliases[name], "is_write_index", None) is True]
    if writers:
        return writers[0]
    if len(members) == 1 and getattr(indices[members[0]].aliases[name], "is_write_index", None) is not False:
        return members[0]
    return illegal_argument(
        f"no write index is defined for alias [{name}]. The write index may be explicitly disabled using "
        "is_write_index=false or the alias points to multiple indices without one being designated as a "
        "write index"
    )


def index_not_found_require_alias(name: str) -> EsError:
    err = index_not_found(name)
    err.reason = (
        f"no such index [{name}] and [require_alias] request flag is [true] and [{name}] is not an alias"
    )
    return err
