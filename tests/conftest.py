"""Shared fixtures. Real servers (dev server, mock Kafka) are started once per session here."""
