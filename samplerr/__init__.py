"""samplerr: round-robin metric archives in Elasticsearch."""

__version__ = "0.1.0"
