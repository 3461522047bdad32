"""The configuration model (frozen settings) and its validation.

INTERFACE: the dataclasses are the contract; ``parse_config`` is to be implemented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from samplerr.core.durations import Duration
from samplerr.core.periods import TimeFormat

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
    bulk_max_docs: int = 5000
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
    config: Mapping[str, Any] = field(default_factory=dict)  # passed to librdkafka as is


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    listen: str = "127.0.0.1:9108"
    shutdown_timeout: int = 30  # seconds
    max_series: int = 1_000_000
    checkpoint: Literal["fs", "elasticsearch"] = "fs"
    checkpoint_dir: str = "/var/lib/samplerr"


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


def parse_config(data: Mapping[str, Any], source: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate parsed TOML ``data`` (overridden by ``SAMPLERR_…`` variables in ``env``).

    Raises :class:`samplerr.core.errors.ConfigError` naming ``source``, the key and what is valid.
    """
    raise NotImplementedError
