"""The engine behind the store: per-backend connection settings and error translation."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa

from papersift.core.errors import StoreNotFound, StoreUnavailable

logger = logging.getLogger("papersift.core.store")

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
POSTGRES_DRIVER = "postgresql+psycopg"
# Written in the hint of every refused URL.
URL_EXAMPLES = "postgresql+psycopg://user@host/db or sqlite:///path"
# Schemes taken as POSTGRES_DRIVER: the common spellings (Heroku, libpq, docker images), whose
# SQLAlchemy default driver (psycopg2) papersift does not install.
_POSTGRES_ALIASES = frozenset({"postgres", "postgresql", "postgres+psycopg"})
SQLITE_BUSY_TIMEOUT_MS = 5_000
# Between tries of a writer waiting for SQLite's write lock.
_BEGIN_RETRY_S = 0.001
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


class DatabaseUrlError(ValueError):
    """A database URL the store cannot use; the message says why and what to write instead."""


def parse_url(database_url: str) -> sa.URL:
    """Parse a SQLAlchemy URL of a supported backend; the error never repeats a password.

    ``postgres://`` and ``postgresql://`` are taken as ``postgresql+psycopg://`` (logged).

    Raises:
        DatabaseUrlError: Not a URL, or not one of SQLite or PostgreSQL through psycopg.
    """
    url, alias = resolve_url(database_url)
    if alias:
        logger.info(
            "database URL %s://... taken as %s://... (the driver papersift installs)",
            alias,
            POSTGRES_DRIVER,
        )
    return url


def resolve_url(database_url: str) -> tuple[sa.URL, str | None]:
    """The URL the store uses for ``database_url``, and the alias scheme it replaced, if any.

    Raises:
        DatabaseUrlError: Not a URL, or not one of SQLite or PostgreSQL through psycopg.
    """
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError:
        raise DatabaseUrlError(
            f"{_shown(database_url)} is not a database URL; write {URL_EXAMPLES}"
        ) from None
    alias = None
    if url.drivername in _POSTGRES_ALIASES:
        alias = url.drivername
        url = url.set(drivername=POSTGRES_DRIVER)
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseUrlError(
            f"{backend}:// is not a supported database (SQLite or PostgreSQL); write {URL_EXAMPLES}"
        )
    if backend == "postgresql" and url.drivername != POSTGRES_DRIVER:
        raise DatabaseUrlError(
            f"{url.drivername}:// needs a driver papersift does not install; write "
            f"{POSTGRES_DRIVER}://user@host/db"
        )
    return url, alias


def _shown(database_url: str) -> str:
    """``database_url`` for a message: quoted, without what may be a password."""
    scheme, sep, rest = database_url.partition("://")
    if sep and "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return repr(f"{scheme}{sep}{rest}")


def sqlite_path(url: sa.URL) -> Path | None:
    """The file behind a SQLite URL; ``None`` for other backends and in-memory databases."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("uri") or url.database.startswith("file:"):
        return None  # a SQLite URI (file:...?mode=...): SQLite decides what it opens
    return Path(url.database)


def one_writer(url: sa.URL) -> bool:
    """Whether the database behind ``url`` takes one writer at a time (a SQLite file).

    In-memory SQLite is left out: each thread's connection would see a database of its own.
    """
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    return "mode=memory" not in url.database and url.query.get("mode") != "memory"


def require_existing(database_url: str) -> None:
    """Check that the store behind ``database_url`` exists, for readers that do not migrate.

    Only a SQLite file can be checked without connecting; nothing is created. A PostgreSQL
    database that was never migrated fails on first use instead.

    Raises:
        DatabaseUrlError: The URL is not usable.
        StoreNotFound: The SQLite file does not exist.
    """
    url, _ = resolve_url(database_url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise StoreNotFound(
            f"there is no store at {path}; create it with "
            f"`papersift-server migrate --database-url {database_url}`, "
            "or start `papersift-server serve` on it"
        )


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
        # FULL, not NORMAL: in WAL mode NORMAL does not sync the log at COMMIT, so an
        # acknowledged write could vanish in a power loss. Group commit makes the fsync rare.
        # Set explicitly because builds may default otherwise (SQLITE_DEFAULT_WAL_SYNCHRONOUS).
        cursor.execute("PRAGMA synchronous = FULL")
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
    if connection.get_execution_options().get(WRITE_OPTION, False):
        _begin_immediate(connection)
    else:
        connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection: sa.Connection) -> None:
    # SQLite's busy handler sleeps up to 100 ms between tries: a writer of another process
    # (another server worker) then misses every short moment the lock is free between the
    # transactions of a busy one, and waits for seconds. Try every millisecond instead, for as
    # long as busy_timeout would wait.
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    break
                time.sleep(_BEGIN_RETRY_S)
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # fails at once, as SQLAlchemy's error
    finally:
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


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
