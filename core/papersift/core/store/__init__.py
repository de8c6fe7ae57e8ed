"""The SQL store (SQLite or PostgreSQL): papers, interactions, and cache revisions."""

from papersift.core.store._store import Revisions, Store

__all__ = ["Revisions", "Store"]
