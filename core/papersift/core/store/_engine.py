"""The engine behind the store: per-backend connection settings and error translation."""

from __future__ import annotations

import sqlite3
import time

import sqlalchemy as sa

from papersift.core.errors import StoreUnavailable

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_MS = 5_000
POSTGRES_CONNECT_TIMEOUT_S = 5

# Execution option marking a connection that will write: SQLite then takes the write lock at
# BEGIN, so two writers queue on busy_timeout instead of one failing when it upgrades its lock.
WRITE_OPTION = "papersift_write"

# What a database that cannot be reached (or that is locked for too long) raises.
UNAVAILABLE_ERRORS = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
)

# SQLSTATEs of a transaction that lost a race and may succeed when run again.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def parse_url(database_url: str) -> sa.URL:
    """Parse a SQLAlchemy URL of a supported backend; the error never repeats a password."""
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError:
        raise ValueError(
            "database_url is not a SQLAlchemy URL; expected e.g. sqlite:///papersift.db "
            "or postgresql+psycopg://user@host:5432/papersift"
        ) from None
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"database_url uses {url.get_backend_name()!r}; "
            f"supported backends: {', '.join(SUPPORTED_BACKENDS)}"
        )
    return url


def create_engine(url: sa.URL) -> sa.Engine:
    """Create the engine for ``url`` with the settings its backend needs."""
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url)
    connect_args: dict[str, object] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    if "options" not in url.query:
        # Timestamps are stored and read in UTC whatever the server's zone: in a zone west of
        # UTC, year-1 instants cannot be read back at all.
        connect_args["options"] = "-c TimeZone=UTC"
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _create_sqlite_engine(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # The sqlite3 module's own transaction handling starts transactions late and never for
    # DDL; switch it off and let the "begin" event below emit BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    # When two connections switch a new file to WAL at once, SQLite refuses one of them
    # at once instead of waiting (waiting could deadlock), so try again for a while.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _on_sqlite_begin(connection: sa.Connection) -> None:
    writes = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def lost_race(exc: sa.exc.DBAPIError) -> bool:
    """Whether ``exc`` ended a transaction that collided with another one and may be retried."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


def unavailable(exc: Exception, url: sa.URL) -> StoreUnavailable:
    """A :class:`StoreUnavailable` saying which database failed and why, without its password."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    detail = "; ".join(line.strip() for line in str(cause).splitlines() if line.strip())
    if url.password:
        detail = detail.replace(str(url.password), "***")
    where = url.render_as_string(hide_password=True)
    return StoreUnavailable(
        f"the database at {where} is unavailable: {detail or type(cause).__name__}"
    )
