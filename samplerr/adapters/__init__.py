"""Adapters around the core: Elasticsearch, Kafka, files, checkpoints."""
