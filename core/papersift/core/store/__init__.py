"""The SQL store (SQLite or PostgreSQL): papers, interactions, cache revisions, model registry."""

from papersift.core.store._engine import (
    URL_EXAMPLES,
    DatabaseUrlError,
    require_existing,
    resolve_url,
    sqlite_path,
)
from papersift.core.store._store import ModelRecord, Revisions, Store, digest_event_id

__all__ = [
    "URL_EXAMPLES",
    "DatabaseUrlError",
    "ModelRecord",
    "Revisions",
    "Store",
    "digest_event_id",
    "require_existing",
    "resolve_url",
    "sqlite_path",
]
