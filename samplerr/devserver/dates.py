"""Dates as Elasticsearch reads and prints them: formats, date math, time zones, calendar rounding.

Values are epoch milliseconds (int). Supported formats: the ISO family (``strict_date_optional_time``
— the default — ``date_optional_time``, ``strict_date_time``, ``strict_date_time_no_millis``,
``strict_date``, ``strict_date_hour_minute_second`` …, their ``_nanos`` variants truncated to ms),
``epoch_millis``, ``epoch_second``, ``basic_date``, ``basic_date_time``, and custom java-time
patterns (``yyyy-MM-dd HH:mm:ss``, ``[`` ``]`` optional sections, ``'`` literals). Alternatives are
joined by ``||``. Parsing with ``round_up`` fills missing fields with their maximum (Elasticsearch's
behaviour for ``lte``/``gt`` bounds: ``lte: "2026-01-01"`` includes the whole day).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from samplerr.devserver.errors import EsError, illegal_argument

MS_PER_DAY = 86_400_000
DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"


# --- civil calendar arithmetic (proleptic Gregorian, no datetime objects on the hot path) -------------


def days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def days_in_month(y: int, m: int) -> int:
    if m == 12:
        return 31
    return days_from_civil(y, m + 1, 1) - days_from_civil(y, m, 1)


# --- time zones ------------------------------------------------------------------------------------------

_OFFSET_RE = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?\Z")


@lru_cache(maxsize=256)
def zone(name: str | None) -> tzinfo:
    """A time zone from ``UTC``, ``Z``, ``+01:00``, ``-0530`` or an IANA name; 400 if unknown."""
    if name is None or name in ("UTC", "Z", "utc", "GMT", "+00:00", "Etc/UTC"):
        return UTC
    m = _OFFSET_RE.match(name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return _fixed(sign * (int(m.group(2)) * 60 + int(m.group(3) or 0)))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise illegal_argument(f"Unknown time-zone ID: {name}") from exc


def _fixed(minutes: int) -> tzinfo:
    return timezone(timedelta(minutes=minutes))


def offset_ms(tz: tzinfo, utc_ms: int) -> int:
    if tz is UTC:
        return 0
    moment = datetime.fromtimestamp(utc_ms / 1000, UTC).astimezone(tz)
    delta = moment.utcoffset()
    return int(delta.total_seconds() * 1000) if delta is not None else 0


def local_to_utc(tz: tzinfo, local_ms: int) -> int:
    """Epoch ms of the instant whose wall-clock time in ``tz`` reads ``local_ms`` (earlier on overlaps)."""
    if tz is UTC:
        return local_ms
    guess = local_ms - offset_ms(tz, local_ms)
    return local_ms - offset_ms(tz, guess)


# --- formats --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fields:
    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    nanos: int | None = None
    offset_minutes: int | None = None


def _compose(f: Fields, round_up: bool, tz: tzinfo) -> int:
    month = f.month if f.month is not None else (12 if round_up else 1)
    if not 1 <= month <= 12:
        raise ValueError("month")
    last = days_in_month(f.year, month)
    day = f.day if f.day is not None else (last if round_up else 1)
    if not 1 <= day <= last:
        raise ValueError("day")
    hour = f.hour if f.hour is not None else (23 if round_up else 0)
    minute = f.minute if f.minute is not None else (59 if round_up else 0)
    second = f.second if f.second is not None else (59 if round_up else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("time")
    millis = f.nanos // 1_000_000 if f.nanos is not None else (999 if round_up else 0)
    local = (days_from_civil(f.year, month, day) * 86400 + hour * 3600 + minute * 60 + second) * 1000 + millis
    if f.offset_minutes is not None:
        return local - f.offset_minutes * 60_000
    return local_to_utc(tz, local)


def _offset_minutes(text: str | None) -> int | None:
    if text is None:
        return None
    if text in ("Z", "z"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4] or 0)
    return sign * (hours * 60 + minutes)


def _nanos(fraction: str | None) -> int | None:
    if fraction is None:
        return None
    return int((fraction + "000000000")[:9])


def _int(text: str | None) -> int | None:
    return int(text) if text is not None else None


def _compose_groups(
    year: int, month: int | None, g: Mapping[str, str | None], round_up: bool, tz: tzinfo
) -> int | None:
    """The instant of a parsed date whose other fields are the named groups ``d h m s f z`` of ``g``."""
    fields = Fields(
        year=year,
        month=month,
        day=_int(g.get("d")),
        hour=_int(g.get("h")),
        minute=_int(g.get("m")),
        second=_int(g.get("s")),
        nanos=_nanos(g.get("f")),
        offset_minutes=_offset_minutes(g.get("z")),
    )
    try:
        return _compose(fields, round_up, tz)
    except ValueError:
        return None


class DateFormat:
    """One format: parses text to epoch ms (None when it does not apply) and prints epoch ms."""

    name: str

    def parse(self, text: str, round_up: bool, tz: tzinfo) -> int | None:
        raise NotImplementedError

    def format(self, millis: int, tz: tzinfo) -> str:
        raise NotImplementedError


_ZONE = r"(?P<z>Z|z|[+-]\d{2}(?::?\d{2})?)"


class IsoFormat(DateFormat):
    def __init__(self, name: str, pattern: str, printer: Callable[[int, tzinfo], str]) -> None:
        self.name = name
        self._re = re.compile(pattern + r"\Z")
        self._printer = printer

    def parse(self, text: str, round_up: bool, tz: tzinfo) -> int | None:
        m = self._re.match(text)
        if m is None:
            return None
        g = m.groupdict()
        return _compose_groups(int(g["y"]), _int(g.get("M")), g, round_up, tz)

    def format(self, millis: int, tz: tzinfo) -> str:
        return self._printer(millis, tz)


def _split(millis: int, tz: tzinfo) -> tuple[int, int, int, int, int, int, int, int]:
    off = offset_ms(tz, millis)
    local = millis + off
    days, rest = divmod(local, MS_PER_DAY)
    y, m, d = civil_from_days(days)
    secs, ms = divmod(rest, 1000)
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    return y, m, d, hh, mm, ss, ms, off


def _zone_text(off: int, colon: bool = True) -> str:
    if off == 0:
        return "Z"
    sign = "-" if off < 0 else "+"
    minutes = abs(off) // 60_000
    sep = ":" if colon else ""
    return f"{sign}{minutes // 60:02d}{sep}{minutes % 60:02d}"


def _year(y: int) -> str:
    return f"{y:04d}" if 0 <= y <= 9999 else (f"+{y}" if y > 0 else f"-{-y:04d}")


def print_date_time(millis: int, tz: tzinfo) -> str:
    y, m, d, hh, mm, ss, ms, off = _split(millis, tz)
    return f"{_year(y)}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}{_zone_text(off)}"


def print_date_time_nanos(millis: int, tz: tzinfo) -> str:
    return print_date_time(millis, tz)


def print_date_time_no_millis(millis: int, tz: tzinfo) -> str:
    y, m, d, hh, mm, ss, _, off = _split(millis, tz)
    return f"{_year(y)}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}{_zone_text(off)}"


def print_date(millis: int, tz: tzinfo) -> str:
    y, m, d, *_ = _split(millis, tz)
    return f"{_year(y)}-{m:02d}-{d:02d}"


def print_date_hms(millis: int, tz: tzinfo) -> str:
    y, m, d, hh, mm, ss, _, _ = _split(millis, tz)
    return f"{_year(y)}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}"


def print_basic_date(millis: int, tz: tzinfo) -> str:
    y, m, d, *_ = _split(millis, tz)
    return f"{y:04d}{m:02d}{d:02d}"


def print_basic_date_time(millis: int, tz: tzinfo) -> str:
    y, m, d, hh, mm, ss, ms, off = _split(millis, tz)
    return f"{y:04d}{m:02d}{d:02d}T{hh:02d}{mm:02d}{ss:02d}.{ms:03d}{_zone_text(off, colon=False)}"


_S_TIME = r"(?:T(?P<h>\d{2})(?::(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?" + _ZONE + "?)?"
_L_TIME = r"(?:T(?P<h>\d{1,2})(?::(?P<m>\d{1,2})(?::(?P<s>\d{1,2})(?:[.,](?P<f>\d{1,9}))?)?)?" + _ZONE + "?)?"
STRICT_OPTIONAL_TIME = r"(?P<y>[+-]?\d{4})(?:-(?P<M>\d{2})(?:-(?P<d>\d{2})" + _S_TIME + ")?)?"
LENIENT_OPTIONAL_TIME = r"(?P<y>[+-]?\d{1,9})(?:-(?P<M>\d{1,2})(?:-(?P<d>\d{1,2})" + _L_TIME + ")?)?"
STRICT_DATE = r"(?P<y>\d{4})-(?P<M>\d{2})-(?P<d>\d{2})"
LENIENT_DATE = r"(?P<y>\d{1,9})-(?P<M>\d{1,2})-(?P<d>\d{1,2})"
HMS = r"T(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"


def _iso_formats() -> dict[str, DateFormat]:
    table: dict[str, tuple[str, Callable[[int, tzinfo], str]]] = {
        "strict_date_optional_time": (STRICT_OPTIONAL_TIME, print_date_time),
        "date_optional_time": (LENIENT_OPTIONAL_TIME, print_date_time),
        "strict_date_optional_time_nanos": (STRICT_OPTIONAL_TIME, print_date_time_nanos),
        "date_time": (
            LENIENT_DATE + HMS.replace(r"\d{2}", r"\d{1,2}") + r"\.(?P<f>\d{1,9})" + _ZONE,
            print_date_time,
        ),
        "strict_date_time": (STRICT_DATE + HMS + r"\.(?P<f>\d{1,9})" + _ZONE, print_date_time),
        "date_time_no_millis": (
            LENIENT_DATE + HMS.replace(r"\d{2}", r"\d{1,2}") + _ZONE,
            print_date_time_no_millis,
        ),
        "strict_date_time_no_millis": (STRICT_DATE + HMS + _ZONE, print_date_time_no_millis),
        "date": (LENIENT_DATE, print_date),
        "strict_date": (STRICT_DATE, print_date),
        "date_hour_minute_second": (LENIENT_DATE + HMS.replace(r"\d{2}", r"\d{1,2}"), print_date_hms),
        "strict_date_hour_minute_second": (STRICT_DATE + HMS, print_date_hms),
        "basic_date": (r"(?P<y>\d{4})(?P<M>\d{2})(?P<d>\d{2})", print_basic_date),
        "basic_date_time": (
            r"(?P<y>\d{4})(?P<M>\d{2})(?P<d>\d{2})T(?P<h>\d{2})(?P<m>\d{2})(?P<s>\d{2})\.(?P<f>\d{1,9})"
            + _ZONE,
            print_basic_date_time,
        ),
    }
    out: dict[str, DateFormat] = {name: IsoFormat(name, p, printer) for name, (p, printer) in table.items()}
    aliases = {
        "dateOptionalTime": "date_optional_time",
        "strictDateOptionalTime": "strict_date_optional_time",
        "iso8601": "date_optional_time",
        "date_time_nanos": "date_time",
        "strict_date_time_nanos": "strict_date_time",
    }
    for alias, target in aliases.items():
        out[alias] = out[target]
    return out


class EpochFormat(DateFormat):
    _NUMBER = re.compile(r"-?\d+(?:\.\d+)?\Z")

    def __init__(self, name: str, scale: int) -> None:
        self.name = name
        self._scale = scale

    def parse(self, text: str, round_up: bool, tz: tzinfo) -> int | None:
        if self._NUMBER.match(text) is None:
            return None
        whole, _, frac = text.partition(".")
        value = int(whole) * self._scale
        if frac:
            extra = int((frac + "000")[:3]) if self._scale == 1000 else 0
            value += -extra if text.startswith("-") else extra
        return value

    def format(self, millis: int, tz: tzinfo) -> str:
        if self._scale == 1:
            return str(millis)
        seconds, rest = divmod(millis, 1000)
        return str(seconds) if rest == 0 else f"{millis / 1000}"


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _constant(text: str) -> Callable[[tuple[int, ...]], str]:
    def printer(_fields: tuple[int, ...]) -> str:
        return text

    return printer


class PatternFormat(DateFormat):
    """A java-time pattern (``yyyy-MM-dd HH:mm:ss``) compiled to a regex and a printer."""

    _TOKEN = re.compile(r"'[^']*'|\[|\]|([A-Za-z])\1*|.", re.DOTALL)

    def __init__(self, pattern: str) -> None:
        self.name = pattern
        regex: list[str] = []
        self._printers: list[tuple[int, Callable[[tuple[int, ...]], str]]] = []
        depth = 0
        for match in self._TOKEN.finditer(pattern):
            tok = match.group(0)
            if tok == "[":
                regex.append("(?:")
                depth += 1
                continue
            if tok == "]":
                if depth == 0:
                    raise ValueError("unbalanced ]")
                regex.append(")?")
                depth -= 1
                continue
            if tok.startswith("'"):
                lit = tok[1:-1] or "'"
                regex.append(re.escape(lit))
                self._printers.append((depth, _constant(lit)))
                continue
            if tok[0].isalpha():
                part, printer = self._field(tok)
                regex.append(part)
                self._printers.append((depth, printer))
                continue
            regex.append(re.escape(tok))
            self._printers.append((depth, _constant(tok)))
        if depth:
            raise ValueError("unbalanced [")
        self._re = re.compile("".join(regex) + r"\Z", re.IGNORECASE)

    @staticmethod
    def _field(tok: str) -> tuple[str, Callable[[tuple[int, ...]], str]]:
        letter, n = tok[0], len(tok)
        two = f"{{:0{max(n, 1)}d}}"
        if letter in "yu":
            if n == 2:
                return r"(?P<yy>\d{2})", lambda f: f"{f[0] % 100:02d}"
            return r"(?P<y>[+-]?\d{" + str(
                max(n, 1)
            ) + ",9})", lambda f: f"{f[0]:0{max(n, 4) if n != 1 else 1}d}"
        if letter in "ML":
            if n >= 4:
                return "(?P<MMMM>" + "|".join(_MONTHS) + ")", lambda f: _MONTHS[f[1] - 1]
            if n == 3:
                return "(?P<MMM>" + "|".join(x[:3] for x in _MONTHS) + ")", lambda f: _MONTHS[f[1] - 1][:3]
            return r"(?P<M>\d{" + str(n) + ",2})", lambda f: two.format(f[1])
        simple = {"d": ("d", 2), "H": ("h", 3), "m": ("m", 4), "s": ("s", 5)}
        if letter in simple:
            group, idx = simple[letter]
            return (r"(?P<" + group + r">\d{" + str(n) + ",2})", lambda f, idx=idx: two.format(f[idx]))
        if letter == "S":
            return r"(?P<f>\d{1," + str(max(n, 9)) + "})", lambda f: f"{f[6] * 1_000_000:09d}"[:n]
        if letter in "ZXx":
            if (letter == "Z" and n < 4) or (letter in "Xx" and n in (2, 4)):
                return (r"(?P<z>Z|[+-]\d{2}:?\d{2})", lambda f: _zone_text(f[7], colon=False))
            return (r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)", lambda f: _zone_text(f[7]))
        if letter == "E":
            return "(?:" + "|".join(_DAYS + [x[:3] for x in _DAYS]) + ")", lambda f: _DAYS[
                (days_from_civil(f[0], f[1], f[2]) + 3) % 7
            ][: (None if n >= 4 else 3)]
        if letter == "a":
            return "(?:AM|PM)", lambda f: "AM" if f[3] < 12 else "PM"
        raise ValueError(f"Unknown pattern letter: {letter}")

    def parse(self, text: str, round_up: bool, tz: tzinfo) -> int | None:
        m = self._re.match(text)
        if m is None:
            return None
        g = m.groupdict()
        year = g.get("y")
        if year is None and g.get("yy") is not None:
            year = str(2000 + int(g["yy"]))
        if year is None:
            year = "1970"
        month: int | None = _int(g.get("M"))
        if g.get("MMMM"):
            month = [x.lower() for x in _MONTHS].index(g["MMMM"].lower()) + 1
        elif g.get("MMM"):
            month = [x[:3].lower() for x in _MONTHS].index(g["MMM"].lower()) + 1
        return _compose_groups(int(year), month, g, round_up, tz)

    def format(self, millis: int, tz: tzinfo) -> str:
        y, m, d, hh, mm, ss, ms, off = _split(millis, tz)
        parts = (y, m, d, hh, mm, ss, ms, off)
        return "".join(printer(parts) for _, printer in self._printers)


_ISO = _iso_formats()
_EPOCH: dict[str, DateFormat] = {
    "epoch_millis": EpochFormat("epoch_millis", 1),
    "epoch_second": EpochFormat("epoch_second", 1000),
}


_FAST_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?\Z"
)
_ISO_CACHE: dict[str, int] = {}  # documents of one window share their timestamp: parse it once
_ISO_CACHE_SIZE = 65536
_FAST_NAMES = frozenset(
    {"strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos"}
)


@dataclass(frozen=True, slots=True)
class DateFormatter:
    """A ``||``-joined list of formats; prints with the first."""

    spec: str
    formats: tuple[DateFormat, ...]
    fast: bool = False

    def fast_parse(self, text: str) -> int | None:
        """The common ``2026-11-22T10:31:40(.123)Z`` shape without the general machinery (UTC default)."""
        if not self.fast:
            return None
        cached = _ISO_CACHE.get(text)
        if cached is not None:
            return cached
        m = _FAST_ISO.match(text)
        if m is None:
            return None
        y, mo, d, hh, mi, ss, frac, z = m.groups()
        month, day = int(mo), int(d)
        hour, minute, second = int(hh), int(mi), int(ss)
        if not 1 <= month <= 12 or day < 1 or (day > 28 and day > days_in_month(int(y), month)):
            return None
        if hour > 23 or minute > 59 or second > 59:
            return None
        millis = int((frac + "00")[:3]) if frac else 0
        value = (
            days_from_civil(int(y), month, day) * 86400 + hour * 3600 + minute * 60 + second
        ) * 1000 + millis
        if z and z != "Z":
            sign = -1 if z[0] == "-" else 1
            value -= sign * (int(z[1:3]) * 60 + int(z[4:6])) * 60_000
        if len(_ISO_CACHE) >= _ISO_CACHE_SIZE:
            _ISO_CACHE.clear()
        _ISO_CACHE[text] = value
        return value

    def parse(self, text: str, *, round_up: bool = False, tz: tzinfo = UTC) -> int:
        for fmt in self.formats:
            value = fmt.parse(text, round_up, tz)
            if value is not None:
                return value
        raise DateParseError(text, self.spec)

    def try_parse(self, text: str, *, round_up: bool = False, tz: tzinfo = UTC) -> int | None:
        if self.fast and not round_up and tz is UTC:
            quick = self.fast_parse(text)
            if quick is not None:
                return quick
        for fmt in self.formats:
            value = fmt.parse(text, round_up, tz)
            if value is not None:
                return value
        return None

    def format(self, millis: int, tz: tzinfo = UTC) -> str:
        return self.formats[0].format(millis, tz)


class DateParseError(ValueError):
    def __init__(self, text: str, spec: str) -> None:
        super().__init__(f"failed to parse date field [{text}] with format [{spec}]")
        self.text = text
        self.spec = spec


@lru_cache(maxsize=512)
def formatter(spec: str | None) -> DateFormatter:
    """The formatter for a mapping/query ``format`` string; 400 (illegal_argument) if invalid."""
    spec = spec or DEFAULT_DATE_FORMAT
    formats: list[DateFormat] = []
    for raw in spec.split("||"):
        name = raw.strip()
        if name.startswith("8") and len(name) > 1 and not name[1].isdigit():
            name = name[1:]
        if name in _ISO:
            formats.append(_ISO[name])
        elif name in _EPOCH:
            formats.append(_EPOCH[name])
        else:
            try:
                formats.append(PatternFormat(name))
            except (ValueError, IndexError) as exc:
                raise illegal_argument(f"Invalid format: [{spec}]: {exc}") from exc
    first = spec.split("||")[0].strip()
    return DateFormatter(spec, tuple(formats), first in _FAST_NAMES)


DEFAULT = formatter(DEFAULT_DATE_FORMAT)


# --- date math --------------------------------------------------------------------------------------------

_MATH_RE = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")


def parse_date_math(
    text: str,
    fmt: DateFormatter,
    now_ms: int,
    *,
    round_up: bool = False,
    tz: tzinfo = UTC,
) -> int:
    """``now-1d/d``, ``2026-01-01||+1M``, or a plain date; raises :class:`DateParseError`."""
    if text.startswith("now"):
        base = now_ms
        math_part = text[3:]
    elif "||" in text:
        anchor, math_part = text.split("||", 1)
        if math_part == "" or math_part[0] not in "+-/":
            # '||' belongs to the format list, not to date math
            return fmt.parse(text, round_up=round_up, tz=tz)
        base = fmt.parse(anchor, round_up=round_up and not math_part, tz=tz)
    else:
        return fmt.parse(text, round_up=round_up, tz=tz)
    pos = 0
    value = base
    while pos < len(math_part):
        m = _MATH_RE.match(math_part, pos)
        if m is None:
            raise illegal_argument(f"operator not supported for date math [{math_part}]")
        pos = m.end()
        if m.group(4):
            unit = m.group(4)
            start = round_down_unit(value, unit, tz)
            value = (add_unit(start, unit, 1, tz) - 1) if round_up else start
        else:
            amount = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
            value = add_unit(value, m.group(3), amount, tz)
    return value


_FIXED_UNIT_MS = {
    "w": 7 * MS_PER_DAY,
    "d": MS_PER_DAY,
    "h": 3_600_000,
    "H": 3_600_000,
    "m": 60_000,
    "s": 1000,
}


def add_unit(millis: int, unit: str, amount: int, tz: tzinfo) -> int:
    if unit in ("y", "M"):
        off = offset_ms(tz, millis)
        local = millis + off
        days, rest = divmod(local, MS_PER_DAY)
        y, m, d = civil_from_days(days)
        months = y * 12 + (m - 1) + (amount * 12 if unit == "y" else amount)
        ny, nm = divmod(months, 12)
        nm += 1
        nd = min(d, days_in_month(ny, nm))
        return local_to_utc(tz, days_from_civil(ny, nm, nd) * MS_PER_DAY + rest)
    if unit in ("w", "d") and tz is not UTC:
        off = offset_ms(tz, millis)
        return local_to_utc(tz, millis + off + amount * _FIXED_UNIT_MS[unit])
    return millis + amount * _FIXED_UNIT_MS[unit]


def round_down_unit(millis: int, unit: str, tz: tzinfo) -> int:
    off = offset_ms(tz, millis)
    local = millis + off
    days = local // MS_PER_DAY
    if unit == "y":
        y, _, _ = civil_from_days(days)
        start = days_from_civil(y, 1, 1) * MS_PER_DAY
    elif unit == "q":
        y, m, _ = civil_from_days(days)
        start = days_from_civil(y, (m - 1) // 3 * 3 + 1, 1) * MS_PER_DAY
    elif unit == "M":
        y, m, _ = civil_from_days(days)
        start = days_from_civil(y, m, 1) * MS_PER_DAY
    elif unit == "w":
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        start = (days - weekday) * MS_PER_DAY
    elif unit == "d":
        start = days * MS_PER_DAY
    else:
        size = _FIXED_UNIT_MS[unit]
        start = local - (local % size)
    return local_to_utc(tz, start)


# --- histogram intervals -----------------------------------------------------------------------------------

_FIXED_RE = re.compile(r"(\d+)(nanos|micros|ms|s|m|h|d)\Z")
_FIXED_SIZES = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": MS_PER_DAY}
_CALENDAR = {
    "1m": "m",
    "minute": "m",
    "1h": "h",
    "hour": "h",
    "1d": "d",
    "day": "d",
    "1w": "w",
    "week": "w",
    "1M": "M",
    "month": "M",
    "1q": "q",
    "quarter": "q",
    "1y": "y",
    "year": "y",
}


def parse_fixed_interval(text: str) -> int:
    m = _FIXED_RE.match(text.strip())
    if m is None or m.group(2) in ("nanos", "micros"):
        raise EsError(
            400,
            "x_content_parse_exception",
            "[date_histogram] failed to parse field [fixed_interval]",
            caused_by=illegal_argument(f"failed to parse [{text}]"),
        )
    size = int(m.group(1)) * _FIXED_SIZES[m.group(2)]
    if size <= 0:
        raise illegal_argument(f"Zero or negative time interval not supported: [{text}]")
    return size


def parse_calendar_interval(text: str) -> str:
    unit = _CALENDAR.get(text.strip())
    if unit is None:
        raise EsError(
            400,
            "x_content_parse_exception",
            "[date_histogram] failed to parse field [calendar_interval]",
            caused_by=illegal_argument(
                f"The supplied interval [{text}] could not be parsed as a calendar interval."
            ),
        )
    return unit


@dataclass(frozen=True, slots=True)
class Rounding:
    """Bucket rounding for ``date_histogram``: a fixed size in ms or a calendar unit, in a time zone."""

    fixed_ms: int | None
    calendar: str | None
    tz: tzinfo
    offset: int = 0

    def round(self, millis: int) -> int:
        value = millis - self.offset
        if self.fixed_ms is not None:
            if self.tz is UTC:
                return value - (value % self.fixed_ms) + self.offset
            off = offset_ms(self.tz, value)
            local = value + off
            return local_to_utc(self.tz, local - (local % self.fixed_ms)) + self.offset
        assert self.calendar is not None
        return round_down_unit(value, self.calendar, self.tz) + self.offset

    def next(self, key: int) -> int:
        if self.fixed_ms is not None and self.tz is UTC:
            return key + self.fixed_ms
        value = key - self.offset
        if self.fixed_ms is not None:
            return self.round(key + self.fixed_ms)
        assert self.calendar is not None
        unit = self.calendar
        if unit == "q":
            return add_unit(value, "M", 3, self.tz) + self.offset
        return round_down_unit(add_unit(value, unit, 1, self.tz), unit, self.tz) + self.offset


def parse_offset(text: str | int | None) -> int:
    if text is None:
        return 0
    if isinstance(text, int):
        return text
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    return sign * parse_fixed_interval(body)


def now_ms() -> int:
    return math.floor(datetime.now(UTC).timestamp() * 1000)
