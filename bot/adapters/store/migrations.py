"""Schema migrations: an ordered list of steps and a `schema_version` table saying how many ran.

Each step runs in its own transaction together with the row recording it, so a failed step leaves
the database at the previous version (PostgreSQL and SQLite both have transactional DDL). Replicas
starting together serialise on an advisory lock (PostgreSQL) or the write lock (SQLite), and the
loser finds the work done. Steps only ever create or alter; a new step is appended, never inserted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

from bot.adapters.store import tables as t
from bot.adapters.store.database import WRITE, StoreError

Migration = Callable[[Connection], None]
# Arbitrary constant naming "approvalbot schema migration" among the database's advisory locks.
_MIGRATION_LOCK = 0x61707072_6F76616C


def _v1_live_and_audit(conn: Connection) -> None:
    for table in (t.live_resources, t.audit_log, t.applied_commits, t.deliveries):
        table.create(conn)


# The locks table as v2 made it; tables.py holds only the final shape, and a step must create what it
# created when it was written, or a fresh database and an upgraded one would differ.
_v2_metadata = MetaData()
_LOCKS_V2 = Table(
    "locks",
    _v2_metadata,
    Column("account", t.Name, primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("id", t.Name, primary_key=True),
    Column("pr_number", Integer, nullable=False),
    Column("pending_state", String(32)),
    Column("since", t.UtcDateTime, nullable=False),
)
Index("ix_locks_pr_number", _LOCKS_V2.c.pr_number)
_DRIFT_V2 = Table(
    "drift",
    _v2_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("commit_sha", t.Sha, nullable=False, unique=True),
    Column("at", t.UtcDateTime, nullable=False),
    Column("detail", t.Json, nullable=False),
)


def _v2_locks_notifications_drift(conn: Connection) -> None:
    for table in (_LOCKS_V2, t.notifications, _DRIFT_V2):
        table.create(conn)


def _v3_pull_heads(conn: Connection) -> None:
    t.pull_heads.create(conn)


def _v4_approved_configs_pending_toggles(conn: Connection) -> None:
    for table in (t.approved_configs, t.pending_toggles):
        table.create(conn)


def _v5_locks_per_repository(conn: Connection) -> None:
    """Locks gain a `repository` (part of the key); the rows already there get "" (not known).

    The table is rebuilt rather than altered: SQLite cannot change a primary key in place. It holds one
    row per resource a ready PR waits on, so carrying the rows through memory costs nothing.
    """
    rows = [dict(row._mapping) for row in conn.execute(select(_LOCKS_V2))]
    _LOCKS_V2.drop(conn)
    t.locks.create(conn)
    if rows:
        conn.execute(t.locks.insert(), [{**row, "repository": ""} for row in rows])


def _v6_target_outbox(conn: Connection) -> None:
    t.target_outbox.create(conn)


def _v7_drift_resolution(conn: Connection) -> None:
    """Drift records learn when they were resolved (both columns empty on the records already there)."""
    for name in ("resolved_at", "resolved_by"):
        column = t.drift.c[name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE drift ADD COLUMN {name} {kind}"))


def _v8_jobs(conn: Connection) -> None:
    t.jobs.create(conn)


def _v9_branch_marks_owed_checks(conn: Connection) -> None:
    t.branch_marks.create(conn)
    t.owed_checks.create(conn)


def _v10_head_events_verdicts(conn: Connection) -> None:
    """The log of every head of a PR (who pushed it, when, on which base) and each head's PR-time
    verdict, so that the merge is judged on the facts the PR was (issue 14)."""
    for table in (t.head_events, t.verdicts):
        table.create(conn)


MIGRATIONS: Sequence[Migration] = (
    _v1_live_and_audit,
    _v2_locks_notifications_drift,
    _v3_pull_heads,
    _v4_approved_configs_pending_toggles,
    _v5_locks_per_repository,
    _v6_target_outbox,
    _v7_drift_resolution,
    _v8_jobs,
    _v9_branch_marks_owed_checks,
    _v10_head_events_verdicts,
)
LATEST = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(t.schema_version.name):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(t.schema_version.c.version), 0))).scalar_one())


def migrate(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring the database up to `len(migrations)`; returns the versions applied (empty: already there)."""
    applied: list[int] = []
    while True:
        with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            if not inspect(conn).has_table(t.schema_version.name):
                t.schema_version.create(conn)
            version = current_version(conn)
            if version > len(migrations):
                raise StoreError(
                    f"the database is at schema version {version}, newer than this approvalbot "
                    f"({len(migrations)}); upgrade approvalbot or point DATABASE_URL at another database"
                )
            if version == len(migrations):
                return applied
            migrations[version](conn)
            conn.execute(t.schema_version.insert().values(version=version + 1, applied_at=datetime.now(UTC)))
            applied.append(version + 1)
