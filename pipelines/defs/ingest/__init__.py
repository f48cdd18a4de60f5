"""Ingest: exports folder -> `raw` schema (one adapter per source format)."""
