"""The configuration model (frozen settings) and its validation.

:func:`parse_config` turns parsed TOML (plus ``SAMPLERR_<SECTION>_<KEY>`` environment overrides)
into a :class:`Config`, or raises one :class:`~samplerr.core.errors.ConfigError` naming the file
(or ``environment``), the key (``archives[1].step``: archives count from 0, as everywhere in
samplerr) and what would be valid. Secrets (``password``, ``api_key``) never appear in a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from samplerr.core.config_read import (
    ARCHIVE_KEYS,
    SECTION_KEYS,
    TOP_LEVEL_KEYS,
    SettingsReader,
    apply_environment,
    did_you_mean,
    toml_type,
)
from samplerr.core.cron import check_cron
from samplerr.core.durations import Duration
from samplerr.core.periods import DAY, HOUR, TimeFormat, parse_tf, probe_instants

CFUNCS: tuple[str, ...] = ("avg", "min", "max", "sum", "count", "first", "last")
Layout = Literal["samplerr", "compact"]
InputFormat = Literal["json", "telegraf", "influx", "graphite"]


@dataclass(frozen=True, slots=True)
class Archive:
    """One archive: ``tf`` names its indices, ``step`` (seconds) is its window, ``ttl`` its retention."""

    tf: TimeFormat
    step: int
    ttl: Duration
    cfuncs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ElasticsearchSettings:
    hosts: tuple[str, ...] = ("http://127.0.0.1:9200",)
    index_prefix: str = ".samplerr-"
    alias_prefix: str = "samplerr-"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0
    bulk_max_docs: int = 25_000  # with ~200-byte documents, bulk_max_bytes (5 MiB) is what cuts first
    bulk_max_bytes: int = 5 * 1024 * 1024
    max_retries: int = 8


@dataclass(frozen=True, slots=True)
class SeriesSettings:
    """``key=None`` means the format's default (host+service for JSON; service + all tags otherwise)."""

    key: tuple[str, ...] | None = None
    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # field -> allowed values (glob)
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # field -> refused values (glob)


@dataclass(frozen=True, slots=True)
class ConsolidationSettings:
    layout: Layout = "samplerr"
    lateness: int = 30  # seconds
    late_hold: int = 600  # seconds
    idle_flush: int = 30  # seconds


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topics: tuple[str, ...] = ("metrics",)
    group_id: str = "samplerr"
    format: InputFormat = "json"
    topic_formats: Mapping[str, InputFormat] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict, repr=False)  # to librdkafka as is (secrets)
    dead_letter_topic: str | None = None  # bad input lines go there when set


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    listen: str = "127.0.0.1:9108"
    shutdown_timeout: int = 30  # seconds
    max_series: int = 1_000_000
    checkpoint: Literal["fs", "elasticsearch"] = "fs"
    checkpoint_dir: str = "/var/lib/samplerr"
    health_grace: int = 60  # seconds a problem lasts before /healthz fails


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    rotate: str = "*/5 * * * *"  # cron, UTC
    purge: str = "17 0 * * *"  # cron, UTC
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    archives: tuple[Archive, ...]
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)
    series: SeriesSettings = field(default_factory=SeriesSettings)
    consolidation: ConsolidationSettings = field(default_factory=ConsolidationSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    source: str = "<defaults>"


# --- the rules ----------------------------------------------------------------------------------

DEFAULT_CFUNCS: tuple[str, ...] = ("avg", "min", "max")
LAYOUTS: tuple[str, ...] = get_args(Layout)
INPUT_FORMATS: tuple[str, ...] = get_args(InputFormat)
CHECKPOINTS: tuple[str, ...] = ("fs", "elasticsearch")
# Document fields samplerr writes itself: a series key field may not take their names.
RESERVED_FIELDS: tuple[str, ...] = ("@timestamp", "metric", "cfunc", "step")
# librdkafka settings samplerr sets itself.
MANAGED_KAFKA_CONFIG: dict[str, str] = {
    "bootstrap.servers": "set kafka.bootstrap_servers instead",
    "group.id": "set kafka.group_id instead",
    "enable.auto.commit": "samplerr commits offsets itself, only once the data is safe",
}

_INDEX_FORBIDDEN = '\\/*?"<>| ,#:'
_URL = re.compile(
    r"(?P<scheme>https?)://(?P<userinfo>[^\s/?#@]*@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>/[^\s?#]*)?"
)
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):(?P<port>[0-9]{1,5})")
_BROKER = re.compile(r"(?:[A-Za-z_]+://)?[^\s,/]+:[0-9]{1,5}")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")

# --- sections ---------------------------------------------------------------------------------


def _check_index_prefix(reader: SettingsReader, key: str, prefix: str) -> None:
    if prefix != prefix.lower():
        raise reader.error(key, f"{prefix!r} has uppercase letters; Elasticsearch index names are lowercase")
    bad = sorted({char for char in prefix if char in _INDEX_FORBIDDEN})
    if bad:
        shown = " ".join("space" if char == " " else char for char in bad)
        raise reader.error(
            key, f'{prefix!r} contains {shown}; index names cannot contain \\ / * ? " < > | space , # :'
        )
    if prefix[0] in "-_+":
        raise reader.error(
            key, f"{prefix!r} starts with {prefix[0]!r}; index names cannot start with - _ or +"
        )


def _shown_url(url: str) -> str:
    """``url`` without credentials, for messages."""
    return re.sub(r"//[^\s/@]*@", "//***@", url)


def _elasticsearch(reader: SettingsReader, table: Mapping[str, Any]) -> ElasticsearchSettings:
    where, defaults = "elasticsearch", ElasticsearchSettings()
    hosts = reader.strings(table, where, "hosts", '["http://127.0.0.1:9200"]') or defaults.hosts
    for index, host in enumerate(hosts):
        match = _URL.fullmatch(host.strip())
        if match is None:
            raise reader.error(
                f"{where}.hosts[{index}]",
                f"{_shown_url(host)!r} is not a URL; expected http(s)://host[:port], e.g. http://127.0.0.1:9200",
            )
        if match.group("userinfo"):
            raise reader.error(
                f"{where}.hosts[{index}]",
                f"{_shown_url(host)!r} holds credentials; set elasticsearch.username and password instead",
            )
        if match.group("port") is not None and not 0 < int(match.group("port")) < 65536:
            raise reader.error(f"{where}.hosts[{index}]", f"port {match.group('port')} is not 1-65535")
    index_prefix = reader.string(table, where, "index_prefix", defaults.index_prefix)
    alias_prefix = reader.string(table, where, "alias_prefix", defaults.alias_prefix)
    _check_index_prefix(reader, f"{where}.index_prefix", index_prefix)
    _check_index_prefix(reader, f"{where}.alias_prefix", alias_prefix)
    if alias_prefix.startswith(index_prefix) or index_prefix.startswith(alias_prefix):
        # blame the one the environment changed, if only one came from there
        blamed = "alias_prefix"
        if reader.from_environment(f"{where}.index_prefix") and not reader.from_environment(
            f"{where}.alias_prefix"
        ):
            blamed = "index_prefix"
        raise reader.error(
            f"{where}.{blamed}",
            f"alias_prefix {alias_prefix!r} and index_prefix {index_prefix!r} must differ and neither "
            f"may start the other, or an alias would match {index_prefix}* (or an index {alias_prefix}*); "
            "e.g. index_prefix '.samplerr-' and alias_prefix 'samplerr-'",
        )
    username = reader.optional_string(table, where, "username")
    password = reader.optional_string(table, where, "password")
    api_key = reader.optional_string(table, where, "api_key")
    if api_key is not None and (username is not None or password is not None):
        raise reader.error(f"{where}.api_key", "set either api_key or username and password, not both")
    if (username is None) != (password is None):
        present, missing = ("username", "password") if password is None else ("password", "username")
        raise reader.error(
            f"{where}.{present}", f"{present} is set but {missing} is not; username and password go together"
        )
    return ElasticsearchSettings(
        hosts=tuple(host.strip() for host in hosts),
        index_prefix=index_prefix,
        alias_prefix=alias_prefix,
        username=username,
        password=password,
        api_key=api_key,
        ca_certs=reader.optional_string(table, where, "ca_certs"),
        verify_certs=reader.boolean(table, where, "verify_certs", defaults.verify_certs),
        request_timeout=reader.positive_number(table, where, "request_timeout", defaults.request_timeout),
        bulk_max_docs=reader.integer(table, where, "bulk_max_docs", defaults.bulk_max_docs, 1),
        bulk_max_bytes=reader.integer(table, where, "bulk_max_bytes", defaults.bulk_max_bytes, 1024),
        max_retries=reader.integer(table, where, "max_retries", defaults.max_retries, 0),
    )


def _field_filter(reader: SettingsReader, table: Mapping[str, Any], key: str) -> dict[str, tuple[str, ...]]:
    where = f"series.{key}"
    result: dict[str, tuple[str, ...]] = {}
    for name, value in reader.table(table, "series", key).items():
        globs = [value] if isinstance(value, str) else value
        if not isinstance(globs, list) or not globs or not all(isinstance(g, str) and g for g in globs):
            raise reader.error(
                f"{where}.{name}",
                f'must be a glob or an array of globs such as ["web-*", "db-?"], not {toml_type(value)}',
            )
        result[name] = tuple(globs)
    return result


def _series(reader: SettingsReader, table: Mapping[str, Any], layout: str) -> SeriesSettings:
    key = reader.strings(table, "series", "key", '["host", "service"]')
    reserved = RESERVED_FIELDS + ((*CFUNCS, "count") if layout == "compact" else ())
    for index, name in enumerate(key or ()):
        if name in reserved or name.startswith("_"):
            why = (
                "names starting with _ are Elasticsearch metadata"
                if name.startswith("_")
                else (f"documents use {', '.join(reserved)} themselves")
            )
            raise reader.error(f"series.key[{index}]", f"{name!r} cannot be a key field: {why}")
    return SeriesSettings(
        key=key,
        include=_field_filter(reader, table, "include"),
        exclude=_field_filter(reader, table, "exclude"),
    )


def _consolidation(reader: SettingsReader, table: Mapping[str, Any]) -> ConsolidationSettings:
    where, defaults = "consolidation", ConsolidationSettings()

    def seconds(key: str, default: int) -> int:
        return reader.duration(table, where, key, f"{default}s", fixed=True, allow_zero=True).seconds

    return ConsolidationSettings(
        layout=cast("Layout", reader.choice(table, where, "layout", defaults.layout, LAYOUTS)),
        lateness=seconds("lateness", defaults.lateness),
        late_hold=seconds("late_hold", defaults.late_hold),
        idle_flush=seconds("idle_flush", defaults.idle_flush),
    )


def _check_topic(reader: SettingsReader, key: str, topic: str) -> None:
    if topic.startswith("^"):  # a librdkafka regex subscription
        try:
            re.compile(topic)
        except re.error as exc:
            raise reader.error(key, f"{topic!r} is not a valid regular expression: {exc}") from exc
        return
    if not _TOPIC.fullmatch(topic) or topic in {".", ".."}:
        raise reader.error(
            key, f"{topic!r} is not a Kafka topic name (letters, digits, . _ -, at most 249; or a ^regex)"
        )


def _flatten(prefix: str, table: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """TOML reads ``session.timeout.ms = 6000`` as nested tables: join them back into dotted keys."""
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _flatten(name, value)
        else:
            yield name, value


def _kafka(reader: SettingsReader, table: Mapping[str, Any]) -> KafkaSettings:
    where, defaults = "kafka", KafkaSettings()
    servers_value = table.get("bootstrap_servers", defaults.bootstrap_servers)
    if isinstance(servers_value, list) and all(isinstance(s, str) for s in servers_value):
        servers_value = ",".join(servers_value)
    servers = reader.string({"bootstrap_servers": servers_value}, where, "bootstrap_servers", "")
    for broker in servers.split(","):
        if not _BROKER.fullmatch(broker.strip()):
            raise reader.error(
                f"{where}.bootstrap_servers",
                f"{broker.strip()!r} is not host:port; expected e.g. 'kafka-1:9092,kafka-2:9092'",
            )
    topics = reader.strings(table, where, "topics", '["metrics"]') or defaults.topics
    for index, topic in enumerate(topics):
        _check_topic(reader, f"{where}.topics[{index}]", topic)
    fmt = reader.choice(table, where, "format", defaults.format, INPUT_FORMATS)
    topic_formats: dict[str, InputFormat] = {}
    for topic, topic_format in reader.table(table, where, "topic_formats").items():
        key = f"{where}.topic_formats.{topic}"
        if topic not in topics:
            raise reader.error(key, f"{topic!r} is not one of kafka.topics ({', '.join(topics)})")
        value = reader.choice({topic: topic_format}, f"{where}.topic_formats", topic, fmt, INPUT_FORMATS)
        topic_formats[topic] = cast("InputFormat", value)
    librdkafka: dict[str, str | int | float | bool] = {}
    for name, value in _flatten("", reader.table(table, where, "config")):
        key = f'{where}.config."{name}"'
        if name in MANAGED_KAFKA_CONFIG:
            raise reader.error(key, MANAGED_KAFKA_CONFIG[name])
        if not isinstance(value, str | int | float | bool):
            raise reader.error(
                key, f"librdkafka settings are strings, numbers or booleans, not {toml_type(value)}"
            )
        librdkafka[name] = value
    dead_letter = reader.optional_string(table, where, "dead_letter_topic")
    if dead_letter is not None:
        _check_topic(reader, f"{where}.dead_letter_topic", dead_letter)
        if dead_letter in topics:
            raise reader.error(f"{where}.dead_letter_topic", f"{dead_letter!r} is also an input topic")
    return KafkaSettings(
        bootstrap_servers=servers,
        topics=topics,
        group_id=reader.string(table, where, "group_id", defaults.group_id),
        format=cast("InputFormat", fmt),
        topic_formats=topic_formats,
        config=librdkafka,
        dead_letter_topic=dead_letter,
    )


def _service(reader: SettingsReader, table: Mapping[str, Any]) -> ServiceSettings:
    where, defaults = "service", ServiceSettings()
    listen = reader.string(table, where, "listen", defaults.listen)
    match = _HOST_PORT.fullmatch(listen)
    if match is None or int(match.group("port")) > 65535:
        raise reader.error(
            f"{where}.listen", f"{listen!r} is not host:port; e.g. '127.0.0.1:9108' or ':9108'"
        )
    timeout = reader.duration(
        table, where, "shutdown_timeout", f"{defaults.shutdown_timeout}s", fixed=True, allow_zero=False
    )
    return ServiceSettings(
        listen=listen,
        shutdown_timeout=timeout.seconds,
        max_series=reader.integer(table, where, "max_series", defaults.max_series, 1),
        checkpoint=cast(
            "Literal['fs', 'elasticsearch']",
            reader.choice(table, where, "checkpoint", defaults.checkpoint, CHECKPOINTS),
        ),
        checkpoint_dir=reader.string(table, where, "checkpoint_dir", defaults.checkpoint_dir),
        health_grace=reader.duration(
            table, where, "health_grace", f"{defaults.health_grace}s", fixed=True, allow_zero=False
        ).seconds,
    )


def _schedule(reader: SettingsReader, table: Mapping[str, Any]) -> ScheduleSettings:
    where, defaults = "schedule", ScheduleSettings()
    crons = {}
    for key in ("rotate", "purge"):
        expression = reader.string(table, where, key, getattr(defaults, key))
        try:
            check_cron(expression)
        except ValueError as exc:
            raise reader.error(f"{where}.{key}", str(exc)) from exc
        crons[key] = expression
    return ScheduleSettings(
        rotate=crons["rotate"], purge=crons["purge"], enabled=reader.boolean(table, where, "enabled", True)
    )


# --- archives ---------------------------------------------------------------------------------


def _cfuncs(reader: SettingsReader, table: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if "cfuncs" not in table:
        return DEFAULT_CFUNCS
    value = table["cfuncs"]
    valid = ", ".join(CFUNCS)
    if not isinstance(value, list) or not value:
        raise reader.error(f"{where}.cfuncs", f"must be a non-empty array of cfuncs among {valid}")
    for index, cfunc in enumerate(value):
        if not isinstance(cfunc, str) or cfunc not in CFUNCS:
            hint = did_you_mean(cfunc, CFUNCS) if isinstance(cfunc, str) else ""
            raise reader.error(f"{where}.cfuncs[{index}]", f"unknown cfunc {cfunc!r}; {hint}valid: {valid}")
        if cfunc in value[:index]:
            raise reader.error(f"{where}.cfuncs[{index}]", f"{cfunc!r} is listed twice")
    return tuple(value)


def _archive(reader: SettingsReader, table: object, index: int) -> Archive:
    where = f"archives[{index}]"
    if not isinstance(table, Mapping):
        raise reader.error(where, f"must be a table ([[archives]]), not {toml_type(table)}")
    reader.check_keys(table, where, ARCHIVE_KEYS)
    for key, example in (("tf", '"YYYY.MM.DD"'), ("step", '"20s"'), ("ttl", '"2d"')):
        if key not in table:
            raise reader.error(f"{where}.{key}", f"is missing; e.g. {key} = {example}")
    tf_text = table["tf"]
    if not isinstance(tf_text, str):
        raise reader.error(f"{where}.tf", f"must be a string such as 'YYYY.MM.DD', not {toml_type(tf_text)}")
    try:
        tf = parse_tf(tf_text)
    except ValueError as exc:
        raise reader.error(f"{where}.tf", str(exc)) from exc
    step = reader.duration(table, where, "step", "", fixed=True, allow_zero=False).seconds
    span, span_name = (HOUR, "an hour") if tf.unit == "hour" else (DAY, "a day")
    if span % step:
        examples = "10s, 20s, 1m, 5m, 10m, 15m, 30m, 1h" + (", 2h, 6h, 12h, 1d" if span == DAY else "")
        raise reader.error(
            f"{where}.step",
            f"{table['step']} does not divide {span_name}, so a window would straddle two {tf.unit} periods; "
            f"use a step that divides {span} s, e.g. {examples}",
        )
    ttl = reader.duration(table, where, "ttl", "", fixed=False, allow_zero=False)
    if ttl.approx_seconds() < step:
        raise reader.error(f"{where}.ttl", f"{ttl} is shorter than one step ({table['step']})")
    return Archive(tf=tf, step=step, ttl=ttl, cfuncs=_cfuncs(reader, table, where))


def _check_archive_order(reader: SettingsReader, archives: list[Archive]) -> None:
    probes = probe_instants()
    for j, archive in enumerate(archives):
        where = f"archives[{j}]"
        for i, other in enumerate(archives[:j]):
            if other.tf == archive.tf:
                raise reader.error(
                    f"{where}.tf",
                    f"{archive.tf} is already the tf of archives[{i}]; each archive needs its own indices",
                )
            for name in (other.tf.format(t) for t in probes):
                if archive.tf.parse(name) is not None:
                    raise reader.error(
                        f"{where}.tf",
                        f"{archive.tf} and the tf of archives[{i}] ({other.tf}) name different periods alike "
                        f"({name!r} is both); their indices could not be told apart",
                    )
        if j == 0:
            continue
        finer = archives[j - 1]
        order = "archives go finest first: each step a multiple of the one before, each ttl longer"
        if archive.step <= finer.step or archive.step % finer.step:
            raise reader.error(
                f"{where}.step",
                f"{Duration(seconds=archive.step)} must be a multiple of archives[{j - 1}].step "
                f"({Duration(seconds=finer.step)}) and larger; {order}",
            )
        if archive.ttl.approx_seconds() <= finer.ttl.approx_seconds():
            raise reader.error(
                f"{where}.ttl",
                f"{archive.ttl} must be longer than archives[{j - 1}].ttl ({finer.ttl}); {order}",
            )


def _archives(
    reader: SettingsReader, data: Mapping[str, Any], es: ElasticsearchSettings
) -> tuple[Archive, ...]:
    example = 'add [[archives]] tables with tf, step, ttl, e.g. tf = "YYYY.MM.DD", step = "20s", ttl = "2d"'
    if "archives" not in data:
        raise reader.error("archives", f"no archives; {example}")
    value = data["archives"]
    if not isinstance(value, list):
        raise reader.error(
            "archives", f"must be an array of tables (write [[archives]]), not {toml_type(value)}"
        )
    if not value:
        raise reader.error("archives", f"no archives; {example}")
    archives = [_archive(reader, table, index) for index, table in enumerate(value)]
    _check_archive_order(reader, archives)
    for index, archive in enumerate(archives):
        suffix = archive.tf.format(0)
        for key, prefix in (("index_prefix", es.index_prefix), ("alias_prefix", es.alias_prefix)):
            if len((prefix + suffix).encode()) > 255:
                raise reader.error(
                    f"elasticsearch.{key}",
                    f"{prefix + suffix!r} (archives[{index}]) is longer than Elasticsearch's 255 bytes",
                )
    return tuple(archives)


def parse_config(data: Mapping[str, Any], source: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate parsed TOML ``data`` (overridden by ``SAMPLERR_…`` variables in ``env``).

    Raises :class:`samplerr.core.errors.ConfigError` naming ``source``, the key and what is valid.
    """
    reader = SettingsReader(source)
    reader.check_keys(data, "", TOP_LEVEL_KEYS)
    tables: dict[str, dict[str, Any]] = {}
    for section, keys in SECTION_KEYS.items():
        table = data.get(section, {})
        if not isinstance(table, Mapping):
            raise reader.error(section, f"must be a table ([{section}]), not {toml_type(table)}")
        reader.check_keys(table, section, keys)
        tables[section] = dict(table)
    apply_environment(reader, tables, env or {})
    elasticsearch = _elasticsearch(reader, tables["elasticsearch"])
    consolidation = _consolidation(reader, tables["consolidation"])
    return Config(
        archives=_archives(reader, data, elasticsearch),
        elasticsearch=elasticsearch,
        series=_series(reader, tables["series"], consolidation.layout),
        consolidation=consolidation,
        kafka=_kafka(reader, tables["kafka"]),
        service=_service(reader, tables["service"]),
        schedule=_schedule(reader, tables["schedule"]),
        source=source,
    )
