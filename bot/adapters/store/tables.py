"""The store's tables, as SQLAlchemy Core metadata (the final shape; migrations.py says how to get there).

Core rather than the ORM: every operation here is a set-based statement (insert-if-absent, upsert,
conditional update) inside one explicit transaction, and callers get frozen dataclasses back; an
identity map, lazy loading and detached instances would add state without buying anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy import DateTime as _DateTime
from sqlalchemy.dialects.postgresql import JSONB


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out: SQLite keeps no zone, so one is put back when reading."""

    impl = _DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime to the store")
        aware = value.astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
# Keys are GitHub-sized strings; bounded so PostgreSQL and SQLite index them the same way.
Name = String(200)
Sha = String(64)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", UtcDateTime, nullable=False),
)

live_resources = Table(
    "live_resources",
    metadata,
    Column("account", Name, primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("id", Name, primary_key=True),
    Column("status", String(32), nullable=False),
    Column("document", Json, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("applied_commit", Sha),
    Column("updated_at", UtcDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("account", Name),
    Column("resource_kind", String(32)),
    Column("resource_id", Name),
    Column("actor", Name),
    Column("pr_number", Integer),
    Column("commit_sha", Sha),
    Column("action", String(32)),
    Column("feedback", Text),
    Column("winner", Name),
    Column("detail", Json, nullable=False),
)

applied_commits = Table(
    "applied_commits",
    metadata,
    Column("merge_sha", Sha, primary_key=True),
    Column("pr_number", Integer),
    Column("applied_at", UtcDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", Name, primary_key=True),
    Column("event", String(100), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# The work a webhook delivery (or the engine: a re-evaluation) asks for, written before the 202 in the
# delivery's transaction, claimed by workers with a lease (see bot/adapters/store/jobs.py).
jobs = Table(
    "jobs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("delivery_id", Name, unique=True),  # NULL for the engine's own jobs
    Column("key", String(300), nullable=False),  # ordering key: one job of a key runs at a time
    Column("event", String(100), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(16), nullable=False),  # queued, running, done, parked
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_at", UtcDateTime, nullable=False),  # not before (a retry's backoff)
    Column("lease_owner", String(100)),
    Column("lease_until", UtcDateTime),
    Column(
        "fence", Integer, nullable=False, default=0
    ),  # bumped by every claim: a stale worker's writes miss
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
)
Index("ix_jobs_open", jobs.c.status, jobs.c.key, jobs.c.id)

# A lock belongs to a repository: one App installed on several config repositories shares the store,
# and each has its own PR numbers and maybe an account of the same name. "" marks a lock taken before
# v5 (repository unknown); the store treats it as every repository's until its PR releases it.
locks = Table(
    "locks",
    metadata,
    Column("repository", Name, primary_key=True),
    Column("account", Name, primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("id", Name, primary_key=True),
    Column("pr_number", Integer, nullable=False),
    Column("pending_state", String(32)),
    Column("since", UtcDateTime, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("key", String(500), primary_key=True),
    Column("claimed_at", UtcDateTime, nullable=False),
)

drift = Table(
    "drift",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("commit_sha", Sha, nullable=False, unique=True),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", Json, nullable=False),
    # Set when a later commit brought the default branch back in step with the live state (v7).
    Column("resolved_at", UtcDateTime),
    Column("resolved_by", Sha),
)

pull_heads = Table(
    "pull_heads",
    metadata,
    Column("repository", Name, primary_key=True),
    Column("pr_number", Integer, primary_key=True),
    Column("head_sha", Sha, primary_key=True),
    Column("pusher", Name),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

# Every head a PR had, in GitHub's time order: who pushed it (when a webhook said), when, on which base
# (bot.core.judgement.HeadEvent; v9). Append-only: a force-push back to an older head is a new row.
head_events = Table(
    "head_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("repository", Name, nullable=False),
    Column("pr_number", Integer, nullable=False),
    Column("head_sha", Sha, nullable=False),
    Column("base_ref", Name, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("pusher", Name),
    Column("at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)
Index("ix_head_events_pr", head_events.c.repository, head_events.c.pr_number)

# The PR-time judgement of each head (bot.core.judgement.Verdict; v9): the merge must match it.
verdicts = Table(
    "verdicts",
    metadata,
    Column("repository", Name, primary_key=True),
    Column("pr_number", Integer, primary_key=True),
    Column("head_sha", Sha, primary_key=True),
    Column("base_ref", Name, nullable=False),
    Column("base_sha", Sha, nullable=False),
    Column("plan_digest", Sha, nullable=False),
    Column("state", String(32), nullable=False),
    Column("approved_by", Json, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
)

approved_configs = Table(
    "approved_configs",
    metadata,
    Column("repository", Name, primary_key=True),
    Column("commit_sha", Sha, nullable=False),
    Column("content", LargeBinary),
    Column("updated_at", UtcDateTime, nullable=False),
)

pending_toggles = Table(
    "pending_toggles",
    metadata,
    Column("repository", Name, primary_key=True),
    Column("commit_sha", Sha, primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("config_after", LargeBinary, nullable=False),
    Column("config_before", LargeBinary),
    Column("actor", Name),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# The outbox: POSTs owed to outbound targets, written with the merge that owes them (see OwedPost).
target_outbox = Table(
    "target_outbox",
    metadata,
    Column("merge_sha", Sha, primary_key=True),
    Column("target", String(64), primary_key=True),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

# The newest commit of a repository's default branch up to which every first-parent commit has been
# handled (applied, or recorded as drift): reconcile walks from the branch head down to it, not further.
branch_marks = Table(
    "branch_marks",
    metadata,
    Column("repository", Name, primary_key=True),
    Column("commit_sha", Sha, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The check run an applied (or drift) commit is owed, written with the apply or the drift record and
# deleted once GitHub took it: a crash in between leaves it here for reconcile to publish.
owed_checks = Table(
    "owed_checks",
    metadata,
    Column("repository", Name, primary_key=True),
    Column("commit_sha", Sha, primary_key=True),
    Column("conclusion", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

audit_by_account = Index("ix_audit_log_account_id", audit_log.c.account, audit_log.c.id)
locks_by_pr = Index("ix_locks_repository_pr_number", locks.c.repository, locks.c.pr_number)
