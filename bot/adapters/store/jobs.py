"""The job table: webhook work written durably before the 202, claimed by workers under a lease.

- `accept` records a delivery and the job it implies in one transaction, so a crash after GitHub was
  answered 202 cannot lose the work (GitHub never redelivers a delivery it saw answered 2xx). A
  redelivery of an id whose job has not finished is answered as queued, and one whose job was parked
  puts it back in the queue.
- `claim` takes the oldest runnable job whose key has nothing older still open (per-key order), with a
  lease until a deadline and a new fencing token; any number of workers, threads or processes or
  replicas, may claim at once: the claim is a conditional update on the token, so one wins.
- A worker renews its leases (`renew`); a worker that died stops renewing, its lease lapses and the
  job is claimed again (jobs re-read GitHub, so running one twice is harmless). `finish` and `fail`
  only count for the holder of the current token: a worker that lost its lease cannot close the job.
- `fail` puts the job back with a jittered exponential backoff, and after `max_attempts` parks it:
  kept, visible (`status`, the log), never dropped, and run again by a redelivery.

Times here are the machine's clock, not the store's injectable one: leases are about processes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.adapters.store import tables as t
from bot.adapters.store.database import insert_if_absent
from bot.core.live import AuditKind
from bot.ports import Job

Clock = Callable[[], datetime]
Writer = Callable[[], AbstractContextManager[Connection]]


class JobStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARKED = "parked"


OPEN = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class Accepted(Enum):
    """What became of a delivery at the door."""

    QUEUED = "queued"  # new: its job is in the table
    PENDING = "pending"  # seen before, its job not finished yet: it will run
    REQUEUED = "requeued"  # seen before, its job had been parked: queued again
    DONE = "done"  # seen before and done: nothing to do


@dataclass(frozen=True)
class Backoff:
    """Waits between a job's attempts: base × 2^(n-1), capped, with full jitter; `max_attempts` in all."""

    base: float = 2.0
    cap: float = 300.0
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.5, 1.0) * min(self.cap, self.base * 2.0 ** max(attempt - 1, 0))


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    fence: int  # the token this claim holds; every write about the job names it
    attempts: int
    job: Job


@dataclass(frozen=True)
class JobCounts:
    queued: int
    running: int
    parked: int
    oldest_queued_at: datetime | None


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobStore:
    def __init__(
        self, engine: Engine, write: Writer, clock: Clock = utcnow, backoff: Backoff = Backoff()
    ) -> None:
        self._engine = engine
        self._write = write
        self._clock = clock
        self.backoff = backoff
        self._rng = random.Random()

    # --- at the door ------------------------------------------------------------------------------

    def accept(self, job: Job) -> Accepted:
        """Record the delivery and its job in one transaction (see the module docstring)."""
        now = self._clock()
        with self._write() as conn:
            fresh = insert_if_absent(
                conn, t.deliveries, {"delivery_id": job.delivery_id, "event": job.event, "received_at": now}
            )
            if fresh:
                conn.execute(insert(t.jobs).values(**_new_row(job, now, delivery=True)))
                return Accepted.QUEUED
            found = conn.execute(
                select(t.jobs.c.id, t.jobs.c.status).where(t.jobs.c.delivery_id == job.delivery_id)
            ).first()
            if found is None:
                # Recorded before the job table existed (or by the delivery log alone): done then.
                return Accepted.DONE
            if found.status == JobStatus.PARKED.value:
                conn.execute(
                    update(t.jobs)
                    .where(t.jobs.c.id == found.id)
                    .values(status=JobStatus.QUEUED.value, attempts=0, run_at=now, last_error=None)
                )
                return Accepted.REQUEUED
            return Accepted.DONE if found.status == JobStatus.DONE.value else Accepted.PENDING

    def add(self, job: Job) -> int:
        """A job of the engine's own (a re-evaluation): no delivery behind it. One that waits already
        (queued, not started) covers this one: it will read GitHub after this moment anyway."""
        now = self._clock()
        jobs = t.jobs
        with self._write() as conn:
            waiting = conn.execute(
                select(jobs.c.id).where(
                    jobs.c.key == job.key[:300],
                    jobs.c.event == job.event,
                    jobs.c.delivery_id.is_(None),
                    jobs.c.status == JobStatus.QUEUED.value,
                    jobs.c.attempts == 0,
                )
            ).first()
            if waiting is not None:
                return int(waiting.id)
            result = conn.execute(insert(jobs).values(**_new_row(job, now, delivery=False)))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    # --- workers ----------------------------------------------------------------------------------

    def claim(self, owner: str, lease: float) -> ClaimedJob | None:
        """The oldest runnable job at the head of its key, leased to `owner` for `lease` seconds."""
        now = self._clock()
        jobs = t.jobs
        runnable = _runnable(now)
        candidates = (
            select(jobs.c.id, jobs.c.fence).where(runnable, _unblocked()).order_by(jobs.c.id).limit(8)
        )
        with self._engine.connect() as conn:
            rows = list(conn.execute(candidates))
        for row in rows:
            with self._write() as conn:
                taken = conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.fence == row.fence, runnable)
                    .values(
                        status=JobStatus.RUNNING.value,
                        lease_owner=owner,
                        lease_until=now + timedelta(seconds=lease),
                        fence=jobs.c.fence + 1,
                        attempts=jobs.c.attempts + 1,
                    )
                    .returning(
                        jobs.c.id,
                        jobs.c.fence,
                        jobs.c.attempts,
                        jobs.c.key,
                        jobs.c.event,
                        jobs.c.delivery_id,
                        jobs.c.payload,
                    )
                ).first()
            if taken is not None:
                return _claimed(taken)
        return None

    def renew(self, claimed: ClaimedJob, lease: float) -> bool:
        """Extend the lease; False when it was lost (another worker holds the job now)."""
        until = self._clock() + timedelta(seconds=lease)
        return self._fenced(claimed, lease_until=until)

    def finish(self, claimed: ClaimedJob) -> bool:
        return self._fenced(
            claimed,
            status=JobStatus.DONE.value,
            finished_at=self._clock(),
            lease_owner=None,
            lease_until=None,
        )

    def fail(self, claimed: ClaimedJob, error: str) -> JobStatus | None:
        """Back to the queue after a backoff, or parked after the last attempt; None: lease lost."""
        now = self._clock()
        parked = claimed.attempts >= self.backoff.max_attempts
        status = JobStatus.PARKED if parked else JobStatus.QUEUED
        wait = 0.0 if parked else self.backoff.delay(claimed.attempts, self._rng)
        with self._write() as conn:
            done = self._fenced_in(
                conn,
                claimed,
                status=status.value,
                run_at=now + timedelta(seconds=wait),
                last_error=error[:4000],
                lease_owner=None,
                lease_until=None,
                finished_at=now if parked else None,
            )
            if done and parked:
                # In the audit log too, in the same transaction: who reads the trail sees work owed.
                conn.execute(insert(t.audit_log).values(**_parked_audit(claimed, error, now)))
        return status if done else None

    def _fenced(self, claimed: ClaimedJob, **values: Any) -> bool:
        with self._write() as conn:
            return self._fenced_in(conn, claimed, **values)

    @staticmethod
    def _fenced_in(conn: Connection, claimed: ClaimedJob, **values: Any) -> bool:
        result = conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == claimed.id, t.jobs.c.fence == claimed.fence)
            .values(**values)
            .returning(t.jobs.c.id)
        )
        return result.first() is not None

    # --- what is there ----------------------------------------------------------------------------

    def counts(self) -> JobCounts:
        jobs = t.jobs
        with self._engine.connect() as conn:
            by_status: dict[str, int] = dict(
                conn.execute(
                    select(jobs.c.status, func.count())
                    .where(jobs.c.status != JobStatus.DONE.value)
                    .group_by(jobs.c.status)
                ).all()
            )
            oldest = conn.execute(
                select(func.min(jobs.c.created_at)).where(jobs.c.status == JobStatus.QUEUED.value)
            ).scalar_one_or_none()
        return JobCounts(
            queued=int(by_status.get(JobStatus.QUEUED.value, 0)),
            running=int(by_status.get(JobStatus.RUNNING.value, 0)),
            parked=int(by_status.get(JobStatus.PARKED.value, 0)),
            oldest_queued_at=oldest,  # min() keeps the column's type: an aware datetime
        )

    def runnable(self) -> int:
        """Jobs a worker could claim now (at the head of their key, not waiting for a backoff)."""
        query = select(func.count()).where(_runnable(self._clock()), _unblocked())
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def open_jobs(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(t.jobs.c.status.in_(OPEN))).scalar_one())

    def parked(self) -> Iterator[Mapping[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.jobs.c.id,
                    t.jobs.c.key,
                    t.jobs.c.event,
                    t.jobs.c.delivery_id,
                    t.jobs.c.attempts,
                    t.jobs.c.last_error,
                    t.jobs.c.finished_at,
                )
                .where(t.jobs.c.status == JobStatus.PARKED.value)
                .order_by(t.jobs.c.id)
            )
            yield from (dict(row._mapping) for row in rows)

    def forget_done(self, older_than: timedelta) -> int:
        """Delete finished jobs (their deliveries stay recorded, so replays are still recognised)."""
        cutoff = self._clock() - older_than
        with self._write() as conn:
            result = conn.execute(
                delete(t.jobs)
                .where(t.jobs.c.status == JobStatus.DONE.value, t.jobs.c.finished_at < cutoff)
                .returning(t.jobs.c.id)
            )
            return len(result.all())


def _runnable(now: datetime) -> ColumnElement[bool]:
    """Due, and queued or held under a lapsed lease (its worker died)."""
    jobs = t.jobs
    return and_(
        jobs.c.run_at <= now,
        (jobs.c.status == JobStatus.QUEUED.value)
        | ((jobs.c.status == JobStatus.RUNNING.value) & (jobs.c.lease_until < now)),
    )


def _unblocked() -> ColumnElement[bool]:
    """No older job of the same key is still open: per-key order."""
    jobs, older = t.jobs, aliased(t.jobs)
    return ~exists().where(and_(older.c.key == jobs.c.key, older.c.id < jobs.c.id, older.c.status.in_(OPEN)))


def _parked_audit(claimed: ClaimedJob, error: str, now: datetime) -> dict[str, Any]:
    job = claimed.job
    repository, _, number = job.key.partition("#")
    return {
        "at": now,
        "kind": AuditKind.JOB_PARKED.value,
        "actor": "approvalbot",
        "pr_number": int(number) if number.isdigit() else None,
        "detail": {
            "repository": repository.split("@")[0] if "/" in repository else None,
            "key": job.key,
            "event": job.event,
            "delivery_id": job.delivery_id,
            "attempts": claimed.attempts,
            "error": error[:1000],
        },
    }


def _new_row(job: Job, now: datetime, *, delivery: bool) -> dict[str, Any]:
    return {
        "delivery_id": job.delivery_id if delivery else None,
        "key": job.key[:300],
        "event": job.event,
        "payload": dict(job.payload),
        "status": JobStatus.QUEUED.value,
        "attempts": 0,
        "run_at": now,
        "fence": 0,
        "created_at": now,
    }


def _claimed(row: Row[Any]) -> ClaimedJob:
    # The engine's own jobs have no delivery: "<event>:<key>" names them in the logs.
    delivery = row.delivery_id or f"{row.event}:{row.key}"
    job = Job(key=row.key, event=row.event, delivery_id=delivery, payload=row.payload)
    return ClaimedJob(id=int(row.id), fence=int(row.fence), attempts=int(row.attempts), job=job)
