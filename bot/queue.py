"""Webhook work off the request thread, one job at a time per ordering key (per PR), keys in parallel.

Two implementations of `bot.ports.JobQueue`:

- `ThreadQueue`: in-process worker threads, the embedded default.
- `RQQueue`: a Redis-backed queue served by `approvalbot worker` processes (`run_worker`).

How `RQQueue` keeps per-key order across processes: `submit` appends the job to a Redis list for its
key, then enqueues a "drain this key" task (`run_job`) on an RQ queue. The task takes the key's Redis
lock (without waiting) and runs the key's jobs head first until the list is empty. A task that finds
the lock taken exits: the holder re-checks the list after releasing the lock, so a job pushed while
it was finishing is never stranded. A job is removed from the list only after it ran, so a worker
that dies mid-job leaves it for the next drain (at least once; handlers re-evaluate from GitHub's
state, so a repeat is harmless).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.exceptions import LockError
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from bot.adapters.store.jobs import Backoff
from bot.ports import Job, JobHandler, JobQueue

if TYPE_CHECKING:
    from bot.adapters.store import Store
    from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_QUEUE_NAME = "approvalbot"
DEFAULT_PREFIX = "approvalbot"
# A job must finish well within the lock's life, or a second worker could take the key.
LOCK_SECONDS = 600
JOB_TIMEOUT_SECONDS = LOCK_SECONDS - 60


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


# --- Redis / RQ ---------------------------------------------------------------------------------------

# Installed by `run_worker` in each worker process: RQ jobs carry only plain data, never the handler.
_worker_handler: JobHandler | None = None
_worker_redis: Redis | None = None


def job_to_json(job: Job) -> str:
    return json.dumps(
        {"key": job.key, "event": job.event, "delivery_id": job.delivery_id, "payload": job.payload},
        separators=(",", ":"),
    )


def job_from_json(text: str | bytes) -> Job:
    data: Mapping[str, Any] = json.loads(text)
    return Job(key=data["key"], event=data["event"], delivery_id=data["delivery_id"], payload=data["payload"])


def _jobs_key(prefix: str, key: str) -> str:
    return f"{prefix}:jobs:{key}"


def _lock_key(prefix: str, key: str) -> str:
    return f"{prefix}:lock:{key}"


def run_job(prefix: str, key: str) -> int:
    """The RQ task: run every job queued for `key`, in order, under the key's lock. Returns jobs run.

    Needs the process's handler and Redis connection, installed by `run_worker` (or `set_worker_handler`).
    """
    if _worker_handler is None or _worker_redis is None:
        raise RuntimeError(
            "no job handler in this worker process: start workers with `approvalbot worker` "
            "(bot.queue.run_worker), which installs it"
        )
    return drain_key(_worker_redis, prefix, key, _worker_handler)


def drain_key(redis: Redis, prefix: str, key: str, handler: JobHandler) -> int:
    jobs_key = _jobs_key(prefix, key)
    ran = 0
    while redis.llen(jobs_key):
        lock = redis.lock(_lock_key(prefix, key), timeout=LOCK_SECONDS, blocking=False, thread_local=False)
        if not lock.acquire():
            break  # the holder drains the list and re-checks it after releasing the lock
        try:
            while True:
                raw = redis.lindex(jobs_key, 0)
                if raw is None:
                    break
                lock.reacquire()  # a fresh lease for each job
                run_handler(handler, job_from_json(raw))
                redis.lpop(jobs_key)
                ran += 1
        finally:
            try:
                lock.release()
            except LockError:
                log.error("lost the lock of %s while draining it: a job outran %ss", key, LOCK_SECONDS)
    return ran


def set_worker_handler(handler: JobHandler | None, redis: Redis | None = None) -> None:
    global _worker_handler, _worker_redis
    _worker_handler, _worker_redis = handler, redis


class RQQueue:
    """Jobs go to Redis; `approvalbot worker` processes run them, one at a time per key across workers."""

    def __init__(
        self, redis_url: str, *, queue_name: str = DEFAULT_QUEUE_NAME, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self._redis = Redis.from_url(redis_url)
        self._queue = Queue(queue_name, connection=self._redis, serializer=JSONSerializer)
        self._keys: set[str] = set()

    def submit(self, job: Job) -> None:
        self._redis.rpush(_jobs_key(self.prefix, job.key), job_to_json(job))
        self._queue.enqueue(
            run_job,
            self.prefix,
            job.key,
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=0,
            failure_ttl=24 * 3600,
            description=f"drain {job.key} (delivery {job.delivery_id})",
        )
        self._keys.add(job.key)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every key this queue submitted to is empty and unlocked, and no task waits."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._idle():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self, timeout: float | None = None) -> bool:
        self._redis.close()
        return True

    def _idle(self) -> bool:
        busy = any(
            self._redis.llen(_jobs_key(self.prefix, k)) or self._redis.exists(_lock_key(self.prefix, k))
            for k in self._keys
        )
        return not busy and self._queue.count == 0


def run_worker(
    settings: Settings,
    handler: JobHandler,
    *,
    queue_name: str = DEFAULT_QUEUE_NAME,
    burst: bool = False,
) -> None:
    """Serve RQ jobs in this process until stopped (`approvalbot worker`); `burst` stops when idle."""
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set: `approvalbot worker` serves the Redis queue and needs it")
    redis = Redis.from_url(settings.redis_url)
    set_worker_handler(handler, redis)
    # SimpleWorker runs jobs in this process, where the handler (and its clients) already live.
    worker = SimpleWorker(
        [queue_name], connection=redis, serializer=JSONSerializer, name=f"approvalbot-{uuid.uuid4().hex[:8]}"
    )
    worker.work(burst=burst, logging_level=settings.log_level)


def make_queue(settings: Settings, handler: JobHandler, store: Store | None = None) -> JobQueue:
    """The Redis queue when `REDIS_URL` is set (workers run the handler); else the durable queue over
    the store's job table when there is a store; else in-process threads (nothing kept)."""
    if settings.redis_url:
        return RQQueue(settings.redis_url)
    if store is not None:
        from bot.workers import StoreQueue

        jobs = settings.jobs
        backoff = Backoff(base=jobs.retry_base, max_attempts=jobs.attempts)
        return StoreQueue(
            store.jobs(backoff), handler, workers=settings.workers, lease=jobs.lease, poll=jobs.poll
        )
    return ThreadQueue(handler, workers=settings.workers)
