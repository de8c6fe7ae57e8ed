"""The SQL store (SQLite or PostgreSQL): papers, interactions, cache revisions, model registry."""

from papersift.core.store._store import ModelRecord, Revisions, Store, digest_event_id

__all__ = ["ModelRecord", "Revisions", "Store", "digest_event_id"]
