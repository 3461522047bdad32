"""samplerr's error hierarchy.

SamplerrError
 +-- ConfigError        a setting is invalid; names the source file and the key (exit status 2)
 +-- SinkError          Elasticsearch refused or could not be reached after retries (adapters)
 +-- SourceError        Kafka or an input file failed (adapters)
"""

from __future__ import annotations


class SamplerrError(Exception):
    """Base of every error samplerr raises on purpose."""


class ConfigError(SamplerrError):
    """An invalid setting. ``str()`` reads ``FILE: KEY: what is wrong (what is valid)``."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


class SinkError(SamplerrError):
    """Elasticsearch could not take a request after the retries allowed."""


class SourceError(SamplerrError):
    """An input (Kafka, file, stdin) failed."""
