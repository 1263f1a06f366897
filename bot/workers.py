"""`StoreQueue`: the durable job queue, worker threads over the store's job table.

The webhook route `accept`s a delivery (recorded with its job in one transaction, before the 202);
the engine `submit`s its own re-evaluations. Worker threads claim jobs from the table (per-key order,
a lease each, see bot/adapters/store/jobs.py) and a heartbeat thread renews the leases of the jobs
this process runs. What survives a crash is the table: on start, workers take up whatever was queued
and whatever a dead process held once its lease lapses. A job that fails goes back with a backoff and
after its last attempt is parked, logged and counted in `approvalbot status`, never dropped.

Several processes (gunicorn workers, replicas on one PostgreSQL, `approvalbot worker` processes) may
serve one table: a claim is a conditional update, so each job runs once at a time. Local submits wake
the local workers at once; work accepted by another process is found by polling every `poll` seconds,
or at once when the processes share Redis wake-ups (bot.queue.RedisWakeups). A queue with no workers
only records jobs (`serve` when `approvalbot worker` processes run them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from bot.adapters.store.jobs import Accepted, ClaimedJob, JobStatus, JobStore
from bot.ports import Job, JobHandler

log = logging.getLogger("approvalbot.jobs")

LEASE_SECONDS = 60.0  # a job whose worker stopped renewing is taken up again after this
POLL_SECONDS = 1.0
KEEP_DONE = timedelta(days=7)


class Wakeups(Protocol):
    """A channel telling other processes that a job was recorded (bot.queue.RedisWakeups)."""

    def publish(self) -> None: ...

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None: ...

    def close(self) -> None: ...


class StoreQueue:
    def __init__(
        self,
        jobs: JobStore,
        handler: JobHandler,
        *,
        workers: int = 4,
        lease: float = LEASE_SECONDS,
        poll: float = POLL_SECONDS,
        start: bool = True,
        wakeups: Wakeups | None = None,
    ) -> None:
        if workers < 0:
            raise ValueError(f"StoreQueue needs zero (record only) or more workers, got {workers}")
        self.jobs = jobs
        self.runs_jobs = workers > 0
        self._wakeups = wakeups
        self._handler = handler
        self._lease = lease
        self._poll = poll
        self._owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self._held: dict[int, ClaimedJob] = {}  # jobs this process runs now, for the heartbeat
        self._held_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"approvalbot-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        if self.runs_jobs:
            self._threads.append(
                threading.Thread(target=self._heartbeat, name="approvalbot-heartbeat", daemon=True)
            )
        if self.runs_jobs and wakeups is not None:
            self._threads.append(
                threading.Thread(
                    target=wakeups.listen,
                    args=(self._notify, self._stop),
                    name="approvalbot-wakeups",
                    daemon=True,
                )
            )
        if start:
            self.start()

    def start(self) -> None:
        for thread in self._threads:
            if not thread.is_alive():
                thread.start()

    # --- the JobQueue protocol, and the door ------------------------------------------------------

    def accept(self, job: Job) -> Accepted:
        """A webhook delivery: durable once this returns (see JobStore.accept)."""
        if self._closed:
            raise RuntimeError("the job queue is closed; it accepts no more jobs")
        outcome = self.jobs.accept(job)
        if outcome in (Accepted.QUEUED, Accepted.REQUEUED):
            self._announce()
        return outcome

    def submit(self, job: Job) -> None:
        """The engine's own job (a re-evaluation, a reconcile)."""
        self.jobs.add(job)
        self._announce()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running (retries waiting on their backoff included)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.jobs.open_jobs():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            with self._wake:
                self._wake.wait(0.02)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting jobs; run what is runnable now until none is left, finish the jobs this process
        holds, then stop (or when `timeout` passes: True only if nothing of ours was left running).
        Jobs other processes hold, and retries waiting for their backoff, stay in the table for whoever
        runs next: a shared table is never waited out."""
        self._closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        finished = True
        while self.runs_jobs and (self._holding() or self.jobs.runnable()):
            if deadline is not None and time.monotonic() >= deadline:
                finished = False
                break
            with self._wake:
                self._wake.wait(0.02)
        self._stop.set()
        self._notify()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(None if deadline is None else max(deadline - time.monotonic(), 0.1))
        if self._wakeups is not None:
            self._wakeups.close()
        return finished and not self._holding()

    def _holding(self) -> bool:
        with self._held_lock:
            return bool(self._held)

    # --- workers ----------------------------------------------------------------------------------

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def _announce(self) -> None:
        """A job was recorded: wake this process's workers, and the other processes' through Redis."""
        self._notify()
        if self._wakeups is not None:
            self._wakeups.publish()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self.jobs.claim(self._owner, self._lease)
            except Exception:  # the database is down: wait and try again, the jobs are safe in it
                log.exception("cannot claim a job; retrying in %.1f s", self._poll)
                self._stop.wait(self._poll)
                continue
            if claimed is None:
                with self._wake:
                    self._wake.wait(self._poll)
                continue
            self._run(claimed)
            self._notify()  # the key's next job (and drain) may go on

    def _run(self, claimed: ClaimedJob) -> None:
        job = claimed.job
        with self._held_lock:
            self._held[claimed.id] = claimed
        try:
            try:
                self._handler(job)
            except Exception as error:
                outcome = self.jobs.fail(claimed, f"{type(error).__name__}: {error}")
                what = {
                    JobStatus.PARKED: "parked after its last attempt; a redelivery by GitHub runs it again",
                    JobStatus.QUEUED: "retried later",
                    None: "not recorded: its lease was lost, another worker runs it again",
                }[outcome]
                log.log(
                    logging.ERROR if outcome is JobStatus.PARKED else logging.WARNING,
                    "job failed (attempt %d, %s): delivery %s, event %s, key %s: %s",
                    claimed.attempts,
                    what,
                    job.delivery_id,
                    job.event,
                    job.key,
                    error,
                    exc_info=error,
                )
                return
            if not self.jobs.finish(claimed):
                log.warning(
                    "job %s finished after its lease was lost; another worker runs it again", job.delivery_id
                )
        finally:
            with self._held_lock:
                self._held.pop(claimed.id, None)

    def _heartbeat(self) -> None:
        last_cleanup = time.monotonic()
        while not self._stop.wait(self._lease / 3):
            with self._held_lock:
                held = list(self._held.values())
            for claimed in held:
                try:
                    if not self.jobs.renew(claimed, self._lease):
                        log.warning(
                            "lost the lease of job %s (delivery %s)", claimed.id, claimed.job.delivery_id
                        )
                except Exception:
                    log.exception("cannot renew the lease of job %s", claimed.id)
            if time.monotonic() - last_cleanup > 600:
                last_cleanup = time.monotonic()
                try:
                    self.jobs.forget_done(KEEP_DONE)
                except Exception:
                    log.exception("cannot delete old finished jobs")
