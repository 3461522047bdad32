"""From an event's fields to its series id: ``[series]`` filters, key selection, interning.

Every format hands :meth:`SeriesMapper.sid` the event's fields as text (see :func:`field_text`) and,
for multi-valued fields (Riemann ``tags``), their elements. Decoders cache the answer by the raw
bytes or values they saw, so this runs once per distinct series, not once per line.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

import orjson

from samplerr.core.config import SeriesSettings
from samplerr.core.events import SeriesKey, SeriesRegistry

FILTERED: Final = -1  # the sid of an event that [series] include/exclude drops
KEPT: Final = -3  # a field that passes the filters but was not interned (string values only so far)
CACHE_LIMIT: Final = 1 << 20  # decoders forget their raw-value caches past this many entries

_NO_VALUES: Mapping[str, Sequence[str]] = {}


def field_text(value: object) -> str:
    """A field value as the text a series key holds.

    Strings as they are; missing or null ``""``; booleans ``true``/``false``; numbers as Python
    prints them (``3``, ``1.5``); lists as their elements' texts, sorted and joined with ``,``
    (so Riemann tags read ``a,b`` whatever their order); objects as compact JSON with sorted keys.
    """
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return ",".join(sorted(field_text(item) for item in value))
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # too deep to re-encode: still a stable text
        return repr(value)


def _matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Whether a text matches any of the glob ``patterns`` (case-sensitive, whole text)."""
    if isinstance(patterns, str):  # one pattern given bare
        patterns = (patterns,)
    if not patterns:
        return lambda _text: False
    regex = re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns))
    return lambda text: regex.match(text) is not None


class SeriesMapper:
    """Applies ``[series]`` settings to an event's fields and interns the resulting key.

    ``default_key`` is the format's key when ``settings.key`` is unset; None means every field.
    """

    __slots__ = ("_exclude", "_include", "_registry", "key_fields", "needed_fields")

    def __init__(
        self, settings: SeriesSettings, registry: SeriesRegistry, default_key: tuple[str, ...] | None
    ) -> None:
        key = settings.key if settings.key is not None else default_key
        self.key_fields: tuple[str, ...] | None = None if key is None else tuple(sorted(set(key)))
        self._include = [(name, _matcher(patterns)) for name, patterns in sorted(settings.include.items())]
        self._exclude = [(name, _matcher(patterns)) for name, patterns in sorted(settings.exclude.items())]
        self._registry = registry
        # the fields a series depends on, or None when it depends on all of them
        self.needed_fields: tuple[str, ...] | None = (
            None
            if self.key_fields is None
            else tuple(sorted({*self.key_fields, *settings.include, *settings.exclude}))
        )

    def keeps(self, fields: Mapping[str, str], lists: Mapping[str, Sequence[str]] = _NO_VALUES) -> bool:
        """False when the include/exclude filters drop an event with these fields."""
        for name, matches in self._include:
            values = lists[name] if name in lists else (fields.get(name, ""),)
            if not any(matches(value) for value in values):
                return False
        for name, matches in self._exclude:
            values = lists[name] if name in lists else (fields.get(name, ""),)
            if any(matches(value) for value in values):
                return False
        return True

    def key(self, fields: Mapping[str, str]) -> SeriesKey:
        if self.key_fields is None:
            return tuple(sorted(fields.items()))
        return tuple((name, fields.get(name, "")) for name in self.key_fields)

    def sid(self, fields: Mapping[str, str], lists: Mapping[str, Sequence[str]] = _NO_VALUES) -> int:
        """The series id of an event with these fields, or :data:`FILTERED`."""
        if not self.keeps(fields, lists):
            return FILTERED
        return self._registry.intern(self.key(fields))


SERVICE_TAG: Final = "service_tag"  # where a tag named "service" goes: "service" is computed
_FIELD_CACHE_LIMIT: Final = 4096


class TaggedSeries:
    """The series of one measurement and tag set (Telegraf, line protocol, graphite tags).

    Each numeric field is an event of its own series: ``service`` is ``<measurement>.<field>``
    (or just the path, for graphite) and every tag is a field. ``sids`` remembers the series id
    of each field by its raw key, so a field's key is built once.
    """

    __slots__ = ("_base", "_mapper", "_prefix", "sids")

    def __init__(self, mapper: SeriesMapper, measurement: str, tags: Iterable[tuple[str, str]]) -> None:
        self._mapper = mapper
        self._prefix = measurement
        self._base = {(SERVICE_TAG if name == "service" else name): value for name, value in tags}
        self.sids: dict[object, int] = {}

    def sid(self, raw_field: object, field: str | None, *, intern: bool = True) -> int:
        """The series id of ``field`` (None: the measurement itself is the service), FILTERED,
        or, with ``intern=False`` (a string field), :data:`KEPT` instead of a new series."""
        fields = dict(self._base)
        fields["service"] = self._prefix if field is None else f"{self._prefix}.{field}"
        sid = self._mapper.sid(fields) if intern else (KEPT if self._mapper.keeps(fields) else FILTERED)
        if len(self.sids) >= _FIELD_CACHE_LIMIT:
            self.sids.clear()
        self.sids[raw_field] = sid
        return sid
