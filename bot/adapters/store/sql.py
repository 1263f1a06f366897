"""The live store on SQLAlchemy: live resources, the audit log, applied merges, deliveries, locks, drift.

Exactly once: a merge is applied in ONE transaction that first inserts its merge sha into
`applied_commits` (primary key). A replay finds the row and changes nothing; a crash before commit
leaves no row and no change, so the retry applies it. On PostgreSQL a second process applying the same
merge at the same moment first waits on a transaction-scoped advisory lock keyed by the sha, then sees
the committed row: one wins, the other returns False. On SQLite every write transaction takes the
database's write lock up front (BEGIN IMMEDIATE) and, inside one process, a mutex, so writers queue.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine, Row, and_, delete, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.dml import Insert

from bot.adapters.store import tables as t
from bot.adapters.store.database import (
    WRITE,
    StoreError,
    dialect_insert,
    insert_if_absent,
    is_sqlite,
    make_engine,
    normalise_url,
)
from bot.adapters.store.jobs import Backoff, JobStore, utcnow
from bot.adapters.store.migrations import migrate
from bot.core.judgement import HeadEvent, HeadEventKind, Verdict
from bot.core.live import (
    ApprovedConfig,
    AuditEntry,
    AuditKind,
    DriftRecord,
    LiveChange,
    LiveRecord,
    Lock,
    OwedCheck,
    OwedPost,
    PendingToggle,
    PullHead,
    Transition,
    advance,
    due_transitions,
    to_jsonable,
)
from bot.core.model import Action, Kind, PendingState, ResourceKey, Status

Clock = Callable[[], datetime]
# Called after each resource of a merge is written, inside the transaction: tests inject crashes here.
ResourceHook = Callable[[LiveChange], None]
SCHEDULER = "approvalbot"
# The repository of a lock taken before v5, when locks had none: it counts as every repository's.
LEGACY = ""
_CLOCK_ACTIONS = {Status.RUNNING: Action.START, Status.FINISHED: Action.FINISH}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """The live store. Thread-safe; one instance per process, shared by every worker thread."""

    def __init__(self, engine: Engine, *, clock: Clock = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        # SQLite has one writer: queue this process's writers here instead of spinning on busy_timeout.
        self._write_mutex: threading.Lock | None = threading.Lock() if is_sqlite(engine) else None

    @classmethod
    def from_url(cls, url: str, *, clock: Clock = _utcnow, upgrade: bool = True) -> Store:
        """Open (and by default migrate) the store at `url`: sqlite:///FILE or postgresql://…"""
        parsed = normalise_url(url)
        engine = make_engine(parsed)
        if upgrade:
            try:
                migrate(engine)
            except OperationalError as exc:
                engine.dispose()
                shown = parsed.render_as_string(hide_password=True)
                raise StoreError(f"cannot open the store at {shown}: {exc.orig}; check DATABASE_URL") from exc
        return cls(engine, clock=clock)

    @property
    def engine(self) -> Engine:
        return self._engine

    def jobs(self, backoff: Backoff | None = None, clock: Clock | None = None) -> JobStore:
        """The job table (the durable queue's), writing through this store's writer. Its clock is the
        machine's unless given (leases are about processes, not about the store's notion of now)."""
        return JobStore(self._engine, self._write, clock=clock or utcnow, backoff=backoff or Backoff())

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> bool:
        """True when the database answers (for /healthz)."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError:
            return False
        return True

    # -- deliveries and notifications: insert-if-absent on a unique key, so racing replicas agree --

    def record_delivery(self, delivery_id: str, event: str) -> bool:
        """True the first time `delivery_id` is seen; False on every redelivery."""
        # Every webhook waits on this before its 202, so it skips the Core statement and the Connection
        # (~0.7 ms → ~0.15 ms a delivery on SQLite): one fixed statement on a pooled driver connection.
        dialect = self._engine.dialect
        bind = t.deliveries.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
        received_at = self._clock()
        row = (delivery_id, event, bind(received_at) if bind else received_at)
        mutex: AbstractContextManager[Any] = (
            self._write_mutex if self._write_mutex is not None else nullcontext()
        )
        with mutex:
            return _insert_delivery(self._engine, _delivery_insert(dialect.paramstyle), row)

    def claim_notification(self, key: str) -> bool:
        """True the first time `key` is claimed: the caller sends the email; False: already sent."""
        with self._write() as conn:
            return insert_if_absent(conn, t.notifications, {"key": key, "claimed_at": self._clock()})

    def forget_delivery(self, delivery_id: str) -> bool:
        """Delete the record of webhook `delivery_id` so a redelivery is processed again (its job
        failed); True when there was one."""
        with self._write() as conn:
            deleted = conn.execute(delete(t.deliveries).where(t.deliveries.c.delivery_id == delivery_id))
            return bool(deleted.rowcount)

    def claimed(self, key: str) -> bool:
        """Whether `key` is claimed (read only): e.g. a check run approvalbot created itself."""
        col = t.notifications.c
        with self._engine.connect() as conn:
            return conn.execute(select(col.key).where(col.key == key)).first() is not None

    def release_notification(self, key: str) -> bool:
        """Delete claim `key` so a later event may send what failed to go out; True when it was held."""
        with self._write() as conn:
            return bool(conn.execute(delete(t.notifications).where(t.notifications.c.key == key)).rowcount)

    def delivery_received_at(self, delivery_id: str) -> datetime | None:
        """When webhook `delivery_id` arrived (recorded by `record_delivery`), None when never seen."""
        col = t.deliveries.c
        with self._engine.connect() as conn:
            found: datetime | None = conn.execute(
                select(col.received_at).where(col.delivery_id == delivery_id)
            ).scalar_one_or_none()
        return found

    # -- pull request heads: who pushed them and when approvalbot first saw them --

    def record_head(
        self, repository: str, number: int, sha: str, *, pusher: str | None = None, seen_at: datetime
    ) -> PullHead:
        """Remember head `sha` of PR `number` (insert if absent) and return what is stored.

        The first sighting's time is kept, so a later evaluation never moves it; a pusher learnt later
        (the `synchronize` webhook arriving after an evaluation) fills a missing one but never replaces
        a known one.
        """
        ph = t.pull_heads
        where = and_(ph.c.repository == repository, ph.c.pr_number == number, ph.c.head_sha == sha)
        with self._write() as conn:
            row = {
                "repository": repository,
                "pr_number": number,
                "head_sha": sha,
                "pusher": pusher,
                "first_seen_at": seen_at,
            }
            if not insert_if_absent(conn, ph, row) and pusher is not None:
                conn.execute(update(ph).where(where, ph.c.pusher.is_(None)).values(pusher=pusher))
            stored = conn.execute(select(ph).where(where)).one()
        return _pull_head(stored)

    def head(self, repository: str, number: int, sha: str) -> PullHead | None:
        """Head `sha` of PR `number` as recorded, None when approvalbot never saw it."""
        ph = t.pull_heads
        where = and_(ph.c.repository == repository, ph.c.pr_number == number, ph.c.head_sha == sha)
        with self._engine.connect() as conn:
            row = conn.execute(select(ph).where(where)).first()
        return None if row is None else _pull_head(row)

    # -- the log of a PR's heads, and their PR-time verdicts (bot.core.judgement) --

    def record_head_event(self, repository: str, number: int, event: HeadEvent) -> None:
        """Append `event` to PR `number`'s head log; an identical entry already there is not repeated
        (a redelivered webhook)."""
        he = t.head_events
        same = and_(
            he.c.repository == repository,
            he.c.pr_number == number,
            he.c.head_sha == event.sha,
            he.c.base_ref == event.base_ref,
            he.c.kind == event.kind.value,
            he.c.at == event.at,
            he.c.pusher.is_(None) if event.pusher is None else he.c.pusher == event.pusher,
        )
        with self._write() as conn:
            if conn.execute(select(he.c.id).where(same)).first() is not None:
                return
            conn.execute(
                he.insert().values(
                    repository=repository,
                    pr_number=number,
                    head_sha=event.sha,
                    base_ref=event.base_ref,
                    kind=event.kind.value,
                    pusher=event.pusher,
                    at=event.at,
                    recorded_at=self._clock(),
                )
            )

    def head_events(self, repository: str, number: int) -> list[HeadEvent]:
        """PR `number`'s head log, in GitHub's time order."""
        he = t.head_events
        where = and_(he.c.repository == repository, he.c.pr_number == number)
        with self._engine.connect() as conn:
            rows = conn.execute(select(he).where(where).order_by(he.c.at, he.c.id)).all()
        return [
            HeadEvent(r.head_sha, r.base_ref, r.at, HeadEventKind(r.kind), r.pusher, int(r.id)) for r in rows
        ]

    def record_verdict(self, verdict: Verdict) -> None:
        """The PR-time verdict of a head; a newer evaluation of the same head replaces it."""
        v = t.verdicts
        values = {
            "base_ref": verdict.base_ref,
            "base_sha": verdict.base_sha,
            "plan_digest": verdict.plan_digest,
            "state": verdict.state,
            "approved_by": list(verdict.approved_by),
            "decided_at": verdict.decided_at,
        }
        with self._write() as conn:
            statement = dialect_insert(conn)(v).values(
                repository=verdict.repository, pr_number=verdict.number, head_sha=verdict.head_sha, **values
            )
            conn.execute(
                statement.on_conflict_do_update(  # type: ignore[attr-defined]
                    index_elements=["repository", "pr_number", "head_sha"], set_=values
                )
            )

    def verdict(self, repository: str, number: int, head_sha: str) -> Verdict | None:
        v = t.verdicts
        where = and_(v.c.repository == repository, v.c.pr_number == number, v.c.head_sha == head_sha)
        with self._engine.connect() as conn:
            row = conn.execute(select(v).where(where)).first()
        if row is None:
            return None
        return Verdict(
            row.repository,
            int(row.pr_number),
            row.head_sha,
            row.base_ref,
            row.base_sha,
            row.plan_digest,
            row.state,
            tuple(row.approved_by or ()),
            row.decided_at,
        )

    # -- applying merges --

    def apply_merge(
        self,
        merge_sha: str,
        pr_number: int | None,
        changes: Sequence[LiveChange],
        audit: Sequence[AuditEntry],
        *,
        after_each: ResourceHook | None = None,
        approved_config: ApprovedConfig | None = None,
        toggle: PendingToggle | None = None,
        owed: Sequence[OwedPost] = (),
        check: OwedCheck | None = None,
    ) -> bool:
        """Apply a merge's changes and audit entries in one transaction; False (and nothing done) on replay.

        Audit entries without a commit or PR number get this merge's. In the same transaction:
        `approved_config` becomes its repository's approved rules, `toggle` is recorded as pending
        (until `finish_toggle`), the `owed` target POSTs go into the outbox (until `posted`) and the
        merge commit's `check` is owed (until `check_published`), so a crash can neither apply a toggle
        and lose its follow-up, nor apply new rules without making them the approved ones, nor apply a
        change and never tell the targets or GitHub.
        """
        now = self._clock()
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(merge_sha)})
            row = {"merge_sha": merge_sha, "pr_number": pr_number, "applied_at": now}
            if not insert_if_absent(conn, t.applied_commits, row):
                return False
            for change in changes:
                _write_change(conn, change, merge_sha, now)
                if after_each is not None:
                    after_each(change)
            entries = [_with_commit(entry, merge_sha, pr_number) for entry in audit]
            if entries:
                conn.execute(t.audit_log.insert(), [_audit_row(e, now) for e in entries])
            if approved_config is not None:
                _write_approved_config(conn, approved_config, now)
            if toggle is not None:
                insert_if_absent(conn, t.pending_toggles, _toggle_row(toggle, now))
            if owed:
                conn.execute(t.target_outbox.insert(), [_owed_row(post, now) for post in owed])
            if check is not None:
                _owe_check(conn, check, now)
            return True

    def is_applied(self, merge_sha: str) -> bool:
        return merge_sha in self.applied([merge_sha])

    def applied(self, merge_shas: Iterable[str]) -> set[str]:
        """Those of `merge_shas` already applied (reconcile asks for a page of merges at once)."""
        wanted = list(dict.fromkeys(merge_shas))
        if not wanted:
            return set()
        col = t.applied_commits.c.merge_sha
        with self._engine.connect() as conn:
            return set(conn.execute(select(col).where(col.in_(wanted))).scalars())

    def live(self, account: str | None = None) -> list[LiveRecord]:
        query = select(t.live_resources).order_by(*_key_columns(t.live_resources))
        if account is not None:
            query = query.where(t.live_resources.c.account == account)
        with self._engine.connect() as conn:
            return [_live_record(row) for row in conn.execute(query)]

    def get_live(self, key: ResourceKey) -> LiveRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.live_resources).where(_key_is(t.live_resources, key))).first()
        return None if row is None else _live_record(row)

    def apply_due_transitions(self, now: datetime) -> list[Transition]:
        """Start scheduled experiments whose start_at passed and finish running ones past end_at.

        One transaction, with a `schedule` audit entry per transition. On PostgreSQL the candidate rows
        are locked first, so two replicas ticking together make each transition once.
        """
        lr = t.live_resources
        candidates = (
            select(lr)
            .where(lr.c.kind == Kind.EXPERIMENT.value)
            .where(lr.c.status.in_([Status.SCHEDULED.value, Status.RUNNING.value]))
            .order_by(*_key_columns(lr))
            .with_for_update()
        )
        done: list[Transition] = []
        with self._write() as conn:
            records = {r.key: r for r in map(_live_record, conn.execute(candidates))}
            for step in due_transitions(records.values(), now):
                record = records.get(step.key)
                if record is None or record.status is not step.from_status:
                    continue
                document = advance(record, step)
                changed = conn.execute(
                    update(lr)
                    .where(_key_is(lr, step.key), lr.c.status == step.from_status.value)
                    .values(
                        status=step.to_status.value,
                        document=document,
                        revision=lr.c.revision + 1,
                        updated_at=now,
                    )
                )
                if changed.rowcount != 1:
                    records.pop(step.key)
                    continue
                records[step.key] = LiveRecord(
                    step.key, step.to_status, document, record.revision + 1, record.applied_commit, now
                )
                conn.execute(t.audit_log.insert().values(**_audit_row(_clock_audit(step, now), now)))
                done.append(step)
        return done

    # -- the approved rules and pending toggles --

    def approved_config(self, repository: str) -> ApprovedConfig | None:
        """The repository's last approved `.approvalbot.yml`; None before any baseline recorded one."""
        ac = t.approved_configs
        with self._engine.connect() as conn:
            row = conn.execute(select(ac).where(ac.c.repository == repository)).first()
        if row is None:
            return None
        return ApprovedConfig(row.repository, row.commit_sha, _bytes(row.content), row.updated_at)

    def set_approved_config(self, config: ApprovedConfig) -> None:
        """Make `config` its repository's approved rules (outside a merge: tests, an operator's repair)."""
        with self._write() as conn:
            _write_approved_config(conn, config, self._clock())

    def pending_toggles(self, repository: str | None = None) -> list[PendingToggle]:
        """Applied toggles whose follow-up has not completed, oldest first."""
        pt = t.pending_toggles
        query = select(pt).order_by(pt.c.recorded_at, pt.c.commit_sha)
        if repository is not None:
            query = query.where(pt.c.repository == repository)
        with self._engine.connect() as conn:
            return [_pending_toggle(row) for row in conn.execute(query)]

    def pending_toggle(self, repository: str, commit_sha: str) -> PendingToggle | None:
        return next((p for p in self.pending_toggles(repository) if p.commit_sha == commit_sha), None)

    def finish_toggle(self, repository: str, commit_sha: str, audit: AuditEntry | None = None) -> bool:
        """The toggle's follow-up completed; True when it was pending. `audit` is written with it, and
        only by the one caller that finished it: two jobs finishing the same toggle audit it once."""
        pt = t.pending_toggles
        with self._write() as conn:
            where = and_(pt.c.repository == repository, pt.c.commit_sha == commit_sha)
            finished = bool(conn.execute(delete(pt).where(where)).rowcount)
            if finished and audit is not None:
                conn.execute(t.audit_log.insert().values(**_audit_row(audit, self._clock())))
            return finished

    # -- the outbox of target POSTs --

    def owed_posts(self, *, due_by: datetime | None = None) -> list[OwedPost]:
        """POSTs still owed to targets, oldest first; with `due_by`, only those due by then."""
        ob = t.target_outbox
        query = select(ob).order_by(ob.c.created_at, ob.c.merge_sha, ob.c.target)
        if due_by is not None:
            query = query.where(or_(ob.c.next_attempt_at.is_(None), ob.c.next_attempt_at <= due_by))
        with self._engine.connect() as conn:
            return [_owed_post(row) for row in conn.execute(query)]

    def take_owed(self, post: OwedPost, now: datetime, until: datetime) -> bool:
        """Lease `post` until `until` for one worker to deliver; False when it is not due by `now`
        (another worker holds it, or it was delivered)."""
        ob = t.target_outbox
        due = or_(ob.c.next_attempt_at.is_(None), ob.c.next_attempt_at <= now)
        with self._write() as conn:
            taken = conn.execute(
                update(ob).where(_owed_is(post), due).values(next_attempt_at=until).returning(ob.c.merge_sha)
            ).first()
            return taken is not None

    def posted(self, post: OwedPost) -> bool:
        """The target took `post` (or will never be asked again): out of the outbox."""
        with self._write() as conn:
            return bool(conn.execute(delete(t.target_outbox).where(_owed_is(post))).rowcount)

    def post_failed(self, post: OwedPost, error: str, retry_at: datetime) -> None:
        """One more delivery round failed: try again at `retry_at`."""
        ob = t.target_outbox
        values = {"attempts": ob.c.attempts + 1, "last_error": error, "next_attempt_at": retry_at}
        with self._write() as conn:
            conn.execute(update(ob).where(_owed_is(post)).values(**values))

    # -- audit --

    def audit(self, entry: AuditEntry) -> AuditEntry:
        """Append one entry; returns it with its id and time."""
        now = self._clock()
        with self._write() as conn:
            row = _audit_row(entry, now)
            inserted = conn.execute(t.audit_log.insert().values(**row).returning(t.audit_log.c.id))
            new_id: int = inserted.scalar_one()
        return _audit_entry({**row, "id": new_id})

    def audit_log(
        self, account: str | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Newest first; pass the last entry's id as `before_id` for the next page."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        al = t.audit_log
        query = select(al).order_by(al.c.id.desc()).limit(limit)
        if account is not None:
            query = query.where(al.c.account == account)
        if before_id is not None:
            query = query.where(al.c.id < before_id)
        with self._engine.connect() as conn:
            return [_audit_entry(dict(row._mapping)) for row in conn.execute(query)]

    # -- locks --

    def set_locks(
        self, repository: str, pr_number: int, keys_with_pending: Mapping[ResourceKey, PendingState | None]
    ) -> list[Lock]:
        """Make PR `pr_number` of `repository` hold exactly these keys; returns the locks other PRs already
        hold (not taken).

        A key this PR already held keeps its `since`, so re-evaluating a PR never reorders the queue. A
        lock from before v5 ("" repository) with this PR's number is claimed for `repository`, keeping its
        `since`; held by another number, it blocks the key in every repository until released.
        """
        _require_repository(repository)
        lk = t.locks
        now = self._clock()
        conflicts: list[Lock] = []
        with self._write() as conn:
            mine = conn.execute(select(lk).where(_pr_is(repository, pr_number))).all()
            held = {_lock(row).key for row in mine}
            for key in held - set(keys_with_pending):
                conn.execute(delete(lk).where(_key_is(lk, key), _pr_is(repository, pr_number)))
            for row in mine:
                if row.repository == LEGACY and _lock(row).key in keys_with_pending:
                    claimed = and_(_key_is(lk, _lock(row).key), lk.c.repository == LEGACY)
                    conn.execute(update(lk).where(claimed).values(repository=repository))
            for key, pending in sorted(keys_with_pending.items()):
                state = None if pending is None else pending.value
                if key in held:
                    conn.execute(
                        update(lk)
                        .where(_key_is(lk, key), lk.c.repository == repository)
                        .values(pending_state=state)
                    )
                    continue
                legacy = conn.execute(select(lk).where(_key_is(lk, key), lk.c.repository == LEGACY)).first()
                if legacy is not None:
                    conflicts.append(_lock(legacy))
                    continue
                values = {"repository": repository, **_key_values(key), "pr_number": pr_number}
                if not insert_if_absent(conn, lk, {**values, "pending_state": state, "since": now}):
                    holder = conn.execute(
                        select(lk).where(_key_is(lk, key), lk.c.repository == repository)
                    ).first()
                    if holder is not None:
                        conflicts.append(_lock(holder))
        return conflicts

    def release_locks(self, repository: str, pr_number: int) -> int:
        """Drop every lock PR `pr_number` of `repository` holds (merged or closed); returns how many.

        Pre-v5 locks of that number go too: their repository is not known, and keeping them would block
        their resources for good, while wrongly dropping one only lasts until its PR is evaluated again.
        """
        _require_repository(repository)
        with self._write() as conn:
            return conn.execute(delete(t.locks).where(_pr_is(repository, pr_number))).rowcount

    def locks(self, repository: str | None = None) -> list[Lock]:
        """Every repository's locks (None), or `repository`'s together with the pre-v5 ones."""
        query = select(t.locks).order_by(*_key_columns(t.locks), t.locks.c.repository)
        if repository is not None:
            query = query.where(t.locks.c.repository.in_((repository, LEGACY)))
        with self._engine.connect() as conn:
            return [_lock(row) for row in conn.execute(query)]

    def lock_holder(self, repository: str | None, key: ResourceKey) -> Lock | None:
        """The lock on `key` in `repository` (a pre-v5 one counts), or in any repository when None."""
        query = select(t.locks).where(_key_is(t.locks, key)).order_by(t.locks.c.repository)
        if repository is not None:
            query = query.where(t.locks.c.repository.in_((repository, LEGACY)))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _lock(row)

    # -- drift --

    def record_drift(
        self, commit_sha: str, detail: Mapping[str, Any], *, check: OwedCheck | None = None
    ) -> bool:
        """Record an unapproved commit on the default branch; True the first time (alert then). Its
        failing `check` is owed in the same transaction (see `apply_merge`)."""
        now = self._clock()
        with self._write() as conn:
            row = {"commit_sha": commit_sha, "at": now, "detail": to_jsonable(detail)}
            fresh = insert_if_absent(conn, t.drift, row, conflict=["commit_sha"])
            if fresh and check is not None:
                _owe_check(conn, check, now)
            return fresh

    # --- what GitHub is still owed, and how far the branch is handled ----------------------------

    def owed_checks(self, repository: str) -> list[OwedCheck]:
        table = t.owed_checks
        query = select(table).where(table.c.repository == repository).order_by(table.c.created_at)
        with self._engine.connect() as conn:
            return [
                OwedCheck(r.repository, r.commit_sha, r.conclusion, r.title, r.summary)
                for r in conn.execute(query)
            ]

    def check_published(self, check: OwedCheck) -> None:
        table = t.owed_checks
        with self._write() as conn:
            conn.execute(
                table.delete().where(
                    table.c.repository == check.repository, table.c.commit_sha == check.commit_sha
                )
            )

    def branch_mark(self, repository: str) -> str | None:
        """The newest default-branch commit up to which every first-parent commit is handled."""
        table = t.branch_marks
        with self._engine.connect() as conn:
            found = conn.execute(select(table.c.commit_sha).where(table.c.repository == repository))
            return found.scalar_one_or_none()

    def set_branch_mark(self, repository: str, commit_sha: str) -> None:
        values = {"commit_sha": commit_sha, "updated_at": self._clock()}
        with self._write() as conn:
            statement = dialect_insert(conn)(t.branch_marks).values(repository=repository, **values)
            conn.execute(statement.on_conflict_do_update(index_elements=["repository"], set_=values))  # type: ignore[attr-defined]

    def drift(self, *, open_only: bool = False) -> list[DriftRecord]:
        """Drift records, oldest first; with `open_only`, those not resolved yet."""
        query = select(t.drift).order_by(t.drift.c.id)
        if open_only:
            query = query.where(t.drift.c.resolved_at.is_(None))
        with self._engine.connect() as conn:
            return [
                DriftRecord(r.commit_sha, r.detail, r.at, r.id, r.resolved_at, r.resolved_by)
                for r in conn.execute(query)
            ]

    def resolve_drift(self, commit_sha: str, resolved_by: str) -> bool:
        """Mark the drift of `commit_sha` resolved by the commit `resolved_by`; True if it was open."""
        d = t.drift
        with self._write() as conn:
            done = conn.execute(
                update(d)
                .where(d.c.commit_sha == commit_sha, d.c.resolved_at.is_(None))
                .values(resolved_at=self._clock(), resolved_by=resolved_by)
                .returning(d.c.commit_sha)
            ).first()
            return done is not None

    # -- plumbing --

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        mutex: AbstractContextManager[Any] = (
            self._write_mutex if self._write_mutex is not None else nullcontext()
        )
        with mutex, self._engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            yield conn


@cache
def _delivery_insert(paramstyle: str) -> str:
    columns = t.deliveries.c
    marker = "?" if paramstyle == "qmark" else "%s"  # sqlite3: qmark; psycopg: format/pyformat
    return (
        f"INSERT INTO {t.deliveries.name} ({columns.delivery_id.name}, {columns.event.name}, "
        f"{columns.received_at.name}) VALUES ({marker}, {marker}, {marker}) "
        f"ON CONFLICT ({columns.delivery_id.name}) DO NOTHING"
    )


def _insert_delivery(engine: Engine, statement: str, row: tuple[Any, ...]) -> bool:
    """Run the one-statement insert and commit it. SQLite connections are in autocommit (the store says
    BEGIN itself, see database.py), so the INSERT is its own transaction, with the same durability as
    any other commit; psycopg opens a transaction that commit() ends. On an error the pool rolls back
    when the connection goes back to it."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(statement, row)
            written = cursor.rowcount
        finally:
            cursor.close()
        connection.commit()
    finally:
        connection.close()
    # Both drivers count what INSERT … ON CONFLICT DO NOTHING wrote: 1, or 0 when the id was there.
    if written not in (0, 1):
        # A driver that does not count (DB-API's -1) would turn every delivery into a "replay".
        raise StoreError(f"INSERT INTO {t.deliveries.name} reported rowcount {written}; expected 0 or 1")
    return written == 1


def _write_change(conn: Connection, change: LiveChange, merge_sha: str, now: datetime) -> None:
    lr = t.live_resources
    if change.deleted:
        conn.execute(delete(lr).where(_key_is(lr, change.key)))
        return
    assert change.status is not None and change.document is not None
    values = {
        **_key_values(change.key),
        "status": change.status.value,
        "document": to_jsonable(change.document),
        "revision": 1,
        "applied_commit": merge_sha,
        "updated_at": now,
    }
    conn.execute(_upsert_live(conn.dialect.name), values)


@cache
def _upsert_live(dialect: str) -> Insert:
    """INSERT … ON CONFLICT DO UPDATE of one live row, built once: building it costs more than running it."""
    lr = t.live_resources
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(lr)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in lr.primary_key.columns],
        set_={
            "status": excluded.status,
            "document": excluded.document,
            "revision": lr.c.revision + 1,
            "applied_commit": excluded.applied_commit,
            "updated_at": excluded.updated_at,
        },
    )


def _write_approved_config(conn: Connection, config: ApprovedConfig, now: datetime) -> None:
    ac = t.approved_configs
    values = {"commit_sha": config.commit_sha, "content": config.content, "updated_at": config.at or now}
    statement = dialect_insert(conn)(ac).values(repository=config.repository, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["repository"], set_=values))  # type: ignore[attr-defined]


def _toggle_row(toggle: PendingToggle, now: datetime) -> dict[str, Any]:
    return {
        "repository": toggle.repository,
        "commit_sha": toggle.commit_sha,
        "enabled": toggle.enabled,
        "config_after": toggle.config_after,
        "config_before": toggle.config_before,
        "actor": toggle.actor,
        "recorded_at": toggle.at or now,
    }


def _pending_toggle(row: Row[Any]) -> PendingToggle:
    return PendingToggle(
        row.repository,
        row.commit_sha,
        bool(row.enabled),
        _bytes(row.config_after) or b"",
        _bytes(row.config_before),
        row.actor,
        row.recorded_at,
    )


def _owe_check(conn: Connection, check: OwedCheck, now: datetime) -> None:
    row = {
        "repository": check.repository,
        "commit_sha": check.commit_sha,
        "conclusion": check.conclusion,
        "title": check.title,
        "summary": check.summary,
        "created_at": now,
    }
    insert_if_absent(conn, t.owed_checks, row)


def _owed_row(post: OwedPost, now: datetime) -> dict[str, Any]:
    # OwedPost's fields are the table's columns, name for name.
    return {**asdict(post), "created_at": post.created_at or now}


def _owed_post(row: Row[Any]) -> OwedPost:
    return OwedPost(**row._mapping)


def _owed_is(post: OwedPost) -> Any:
    ob = t.target_outbox
    return and_(ob.c.merge_sha == post.merge_sha, ob.c.target == post.target)


def _bytes(value: Any) -> bytes | None:
    # psycopg hands bytea back as memoryview.
    return None if value is None else bytes(value)


def _lock_key(merge_sha: str) -> int:
    """A signed 64-bit advisory lock key for a merge sha."""
    return int.from_bytes(hashlib.sha256(merge_sha.encode()).digest()[:8], "big", signed=True)


def _key_columns(table: Any) -> tuple[Any, ...]:
    return (table.c.account, table.c.kind, table.c.id)


def _key_is(table: Any, key: ResourceKey) -> Any:
    return and_(table.c.account == key.account, table.c.kind == key.kind.value, table.c.id == key.id)


def _key_values(key: ResourceKey) -> dict[str, str]:
    return {"account": key.account, "kind": key.kind.value, "id": key.id}


def _live_record(row: Row[Any]) -> LiveRecord:
    key = ResourceKey(row.account, Kind(row.kind), row.id)
    return LiveRecord(key, Status(row.status), row.document, row.revision, row.applied_commit, row.updated_at)


def _lock(row: Row[Any]) -> Lock:
    key = ResourceKey(row.account, Kind(row.kind), row.id)
    pending = None if row.pending_state is None else PendingState(row.pending_state)
    return Lock(key, row.pr_number, pending, row.since, row.repository)


def _pr_is(repository: str, pr_number: int) -> Any:
    """The locks of one PR: its repository's, and the pre-v5 ones of the same number."""
    return and_(t.locks.c.pr_number == pr_number, t.locks.c.repository.in_((repository, LEGACY)))


def _require_repository(repository: str) -> None:
    if not repository:
        raise ValueError("a lock needs the PR's repository (owner/name); got an empty string")


def _pull_head(row: Row[Any]) -> PullHead:
    return PullHead(row.repository, row.pr_number, row.head_sha, row.pusher, row.first_seen_at)


def _with_commit(entry: AuditEntry, merge_sha: str, pr_number: int | None) -> AuditEntry:
    return replace(
        entry,
        commit_sha=entry.commit_sha or merge_sha,
        pr_number=entry.pr_number if entry.pr_number is not None else pr_number,
    )


def _audit_row(entry: AuditEntry, now: datetime) -> dict[str, Any]:
    resource = entry.resource
    return {
        "at": entry.at or now,
        "kind": entry.kind.value,
        "account": entry.account,
        "resource_kind": None if resource is None else resource.kind.value,
        "resource_id": None if resource is None else resource.id,
        "actor": entry.actor,
        "pr_number": entry.pr_number,
        "commit_sha": entry.commit_sha,
        "action": None if entry.action is None else entry.action.value,
        "feedback": entry.feedback,
        "winner": entry.winner,
        "detail": to_jsonable(entry.detail),
    }


def _audit_entry(row: Mapping[str, Any]) -> AuditEntry:
    resource = None
    if row["resource_kind"] is not None and row["account"] is not None:
        resource = ResourceKey(row["account"], Kind(row["resource_kind"]), row["resource_id"])
    return AuditEntry(
        kind=AuditKind(row["kind"]),
        account=row["account"],
        resource=resource,
        actor=row["actor"],
        pr_number=row["pr_number"],
        commit_sha=row["commit_sha"],
        action=None if row["action"] is None else Action(row["action"]),
        feedback=row["feedback"],
        winner=row["winner"],
        detail=row["detail"] or {},
        at=row["at"],
        id=row["id"],
    )


def _clock_audit(step: Transition, now: datetime) -> AuditEntry:
    return AuditEntry(
        kind=AuditKind.SCHEDULE,
        resource=step.key,
        actor=SCHEDULER,
        action=_CLOCK_ACTIONS[step.to_status],
        detail={"from": step.from_status.value, "to": step.to_status.value, "due_at": step.at.isoformat()},
        at=now,
    )
