"""Database URLs and engines: SQLite by default (no set-up), PostgreSQL for several replicas.

SQLite: WAL (readers never wait for the writer), foreign keys on, a busy timeout, and every write
transaction opened with BEGIN IMMEDIATE so two writers queue instead of failing half-way with
"database is locked" when a read lock would need upgrading. pysqlite's own implicit transactions are
switched off because they do not cover DDL and start lazily.
PostgreSQL: psycopg 3, a small pool with pre-ping so a restarted server costs one retry, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

SQLITE_BUSY_TIMEOUT_S = 30.0
# Execution option a write transaction sets so the SQLite "begin" hook takes the write lock at once.
WRITE = "approvalbot_write"


class StoreError(RuntimeError):
    """The store cannot be used as configured (bad URL, unreachable database)."""


def _without_password(url: str) -> str:
    # An unparseable URL may still hold a password, and error messages end up in logs.
    head, at, host = url.rpartition("@")
    scheme, slashes, userinfo = head.rpartition("//")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{slashes}{userinfo.split(':', 1)[0]}:***@{host}"


def normalise_url(url: str) -> URL:
    """`postgres://` and `postgresql://` (as Heroku-style DATABASE_URLs say) → the psycopg 3 driver."""
    text = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix) :]
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise StoreError(
            f"DATABASE_URL {_without_password(url)!r} is not a database URL: {exc}; use e.g. "
            "sqlite:////var/lib/approvalbot/approvalbot.db or postgresql://user@host:5432/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"DATABASE_URL uses {backend!r}; approvalbot supports sqlite:///FILE and postgresql://..."
        )
    if backend == "postgresql" and parsed.drivername != "postgresql+psycopg":
        raise StoreError(f"DATABASE_URL driver {parsed.drivername!r}: use postgresql:// (psycopg 3)")
    return parsed


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=1800)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    if not memory:
        parent = Path(url.database or "").expanduser().resolve().parent
        if not parent.is_dir():
            raise StoreError(
                f"SQLite database {url.database!r}: directory {parent} does not exist; create it or "
                "point DATABASE_URL elsewhere"
            )
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
    }
    if memory:
        # One shared connection, or every pooled connection would see its own empty database.
        options["poolclass"] = StaticPool
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we say BEGIN ourselves, see _sqlite_on_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts and survives an application crash; only a power loss may
        # roll back the last commits, each whole (an apply and its applied-commit row go together, and
        # reconcile re-applies it). FULL would fsync on every webhook delivery: ~7 ms each.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def dialect_insert(conn: Connection) -> Callable[[Any], Insert]:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert  # type: ignore[no-any-return]


def insert_if_absent(
    conn: Connection, table: Any, values: Mapping[str, Any], conflict: Sequence[str] | None = None
) -> bool:
    # RETURNING rather than rowcount: psycopg reports -1 for INSERT … ON CONFLICT DO NOTHING.
    elements = list(conflict or [c.name for c in table.primary_key.columns])
    statement = dialect_insert(conn)(table).values(**values).on_conflict_do_nothing(index_elements=elements)  # type: ignore[attr-defined]
    return conn.execute(statement.returning(table.c[elements[0]])).first() is not None
