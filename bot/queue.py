"""Webhook work off the request thread, one job at a time per ordering key (per PR), keys in parallel.

Two implementations of `bot.ports.JobQueue`:

- `bot.workers.StoreQueue`: the durable queue, a job table in the store with leases. Every service
  command uses it. Without `REDIS_URL` each `serve` process runs jobs in its own worker threads; with
  `REDIS_URL`, `serve` only records them and `approvalbot worker` processes run them (scale-out).
- `ThreadQueue`: in-process worker threads keeping nothing, for an app built with no store.

Redis carries no job: the job table is the one record of what is owed, with the same guarantees
whatever the deployment (a job written before the 202, leases, fencing, retries, parking). Redis
only wakes the workers at once when a job is recorded (`RedisWakeups`), so they need not wait for
their next poll of the table; a lost wake-up costs at most one poll interval.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from redis import Redis
from redis.exceptions import RedisError

from bot.adapters.store.jobs import Backoff
from bot.ports import Job, JobHandler, JobQueue

if TYPE_CHECKING:
    from bot.adapters.store import Store
    from bot.settings import Settings
    from bot.workers import StoreQueue

log = logging.getLogger(__name__)


def wake_channel(database_url: str) -> str:
    """One channel per store: deployments sharing a Redis but not a store do not wake each other."""
    return "approvalbot:jobs:" + hashlib.sha256(database_url.encode()).hexdigest()[:16]


def run_handler(handler: JobHandler, job: Job) -> bool:
    """Run one job; a failure is logged with its delivery id and never propagates. True on success."""
    try:
        handler(job)
    except Exception:
        log.exception("job failed: delivery %s, event %s, key %s", job.delivery_id, job.event, job.key)
        return False
    return True


class ThreadQueue:
    """In-process workers: a key's jobs run one at a time in arrival order; keys run in parallel."""

    def __init__(self, handler: JobHandler, workers: int = 4) -> None:
        if workers < 1:
            raise ValueError(f"ThreadQueue needs at least one worker, got {workers}")
        self._handler = handler
        self._cond = threading.Condition()
        self._pending: dict[str, deque[Job]] = {}  # keys with work, busy or not
        self._ready: deque[str] = deque()  # keys with work that no worker holds
        self._unfinished = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"approvalbot-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the job queue is closed; it accepts no more jobs")
            jobs = self._pending.get(job.key)
            if jobs is None:
                self._pending[job.key] = deque([job])
                self._ready.append(job.key)
            else:
                jobs.append(job)  # a worker holds (or will take) this key and will reach it in order
            self._unfinished += 1
            self._cond.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._unfinished:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting jobs, finish the queued ones and stop the workers; False if the timeout passed."""
        with self._cond:
            self._closed = True
        finished = self.drain(timeout)
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        return finished

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not (self._closed and not self._unfinished):
                    self._cond.wait()
                if not self._ready:
                    return
                key = self._ready.popleft()
                job = self._pending[key][0]
            run_handler(self._handler, job)
            with self._cond:
                jobs = self._pending[key]
                jobs.popleft()
                if jobs:
                    self._ready.append(key)  # to the back: other keys get a turn
                else:
                    del self._pending[key]
                self._unfinished -= 1
                self._cond.notify_all()


# --- Redis wake-ups and `approvalbot worker` --------------------------------------------------------


class RedisWakeups:
    """Wake-ups between processes over Redis pub/sub: `publish` after a job is recorded, `listen` in
    every process that runs jobs. Best effort by design: Redis down only slows the workers to their
    poll of the table, it never loses or delays a job beyond that."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self._redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)

    def publish(self) -> None:
        try:
            self._redis.publish(self.channel, b"1")
        except RedisError as error:
            log.warning(
                "cannot wake the workers through Redis (%s): they find the job at their next poll", error
            )

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """Call `wake` on every message until `stop` is set (run in a thread); reconnects after errors."""
        while not stop.is_set():
            try:
                client = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=None)
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(self.channel)
                while not stop.is_set():
                    if pubsub.get_message(timeout=0.5) is not None:
                        wake()
                pubsub.close()
                client.close()
            except RedisError as error:
                log.warning("Redis wake-ups lost (%s); polling the job table meanwhile", error)
                stop.wait(2.0)

    def close(self) -> None:
        self._redis.close()


def make_queue(
    settings: Settings, handler: JobHandler, store: Store | None = None, *, run_jobs: bool | None = None
) -> JobQueue:
    """The durable queue over the store's job table when there is a store, else in-process threads.

    `run_jobs`: whether this process runs jobs (default: yes without `REDIS_URL`; with it, `serve`
    only records them for `approvalbot worker` processes, see `run_worker`)."""
    if store is None:
        return ThreadQueue(handler, workers=settings.workers)
    return store_queue(
        settings, handler, store, run_jobs=not settings.redis_url if run_jobs is None else run_jobs
    )


def store_queue(settings: Settings, handler: JobHandler, store: Store, *, run_jobs: bool) -> StoreQueue:
    from bot.workers import StoreQueue

    jobs = settings.jobs
    backoff = Backoff(base=jobs.retry_base, max_attempts=jobs.attempts)
    return StoreQueue(
        store.jobs(backoff),
        handler,
        workers=settings.workers if run_jobs else 0,
        lease=jobs.lease,
        poll=jobs.poll,
        wakeups=(
            RedisWakeups(settings.redis_url, wake_channel(settings.database_url))
            if settings.redis_url
            else None
        ),
    )


def run_worker(settings: Settings, handler: JobHandler, store: Store, *, burst: bool = False) -> StoreQueue:
    """Run jobs from the store's table in this process until SIGTERM or SIGINT (`approvalbot worker`);
    `burst` stops once no job is open. Returns the closed queue (its table, for the caller's report)."""
    queue = store_queue(settings, handler, store, run_jobs=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.2):
            if burst and not queue.jobs.open_jobs():
                break
    finally:
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
        # What this process holds is finished (or its lease lapses); the rest stays in the table.
        queue.close(timeout=settings.jobs.lease)
    return queue
