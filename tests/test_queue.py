"""Job queues: per-key order, keys in parallel, failures contained — in threads and over real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue, Worker

from bot.ports import Job
from bot.queue import RQQueue, ThreadQueue, drain_key, job_from_json, job_to_json, make_queue
from bot.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[1]


def job(key: str, seq: int, delivery: str | None = None) -> Job:
    return Job(key=key, event="pull_request", delivery_id=delivery or f"{key}-{seq}", payload={"seq": seq})


class Recorder:
    def __init__(self, delay: float = 0.0, fail: set[str] | None = None) -> None:
        self.order: dict[str, list[int]] = {}
        self.running: set[str] = set()
        self.overlaps = 0
        self.peak = 0
        self.delay = delay
        self.fail = fail or set()
        self.lock = threading.Lock()

    def __call__(self, job: Job) -> None:
        with self.lock:
            self.overlaps += job.key in self.running
            self.running.add(job.key)
            self.peak = max(self.peak, len(self.running))
        time.sleep(self.delay)
        with self.lock:
            self.running.discard(job.key)
            self.order.setdefault(job.key, []).append(job.payload["seq"])
        if job.delivery_id in self.fail:
            raise ValueError("boom")


# --- ThreadQueue ---------------------------------------------------------------------------------------


def test_thread_queue_keeps_per_key_order_and_runs_keys_in_parallel() -> None:
    recorder = Recorder(delay=0.002)
    queue = ThreadQueue(recorder, workers=4)
    for seq in range(40):
        for key in ("a#1", "a#2", "a#3"):
            queue.submit(job(key, seq))
    assert queue.close(timeout=20)
    assert recorder.order == {k: list(range(40)) for k in ("a#1", "a#2", "a#3")}
    assert recorder.overlaps == 0
    assert recorder.peak == 3


def test_thread_queue_failing_job_is_logged_and_the_key_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(fail={"k-1"})
    queue = ThreadQueue(recorder, workers=1)
    for seq in range(3):
        queue.submit(job("k", seq))
    assert queue.drain(timeout=5)
    assert recorder.order == {"k": [0, 1, 2]}
    assert any("delivery k-1" in r.getMessage() and r.exc_info for r in caplog.records)
    queue.submit(job("k", 3))  # the worker survived
    assert queue.close(timeout=5)
    assert recorder.order["k"][-1] == 3


def test_thread_queue_drain_times_out_while_a_job_is_stuck() -> None:
    release = threading.Event()
    queue = ThreadQueue(lambda _job: release.wait(5), workers=1)
    queue.submit(job("k", 0))
    assert queue.drain(timeout=0.05) is False
    release.set()
    assert queue.drain(timeout=5) is True
    queue.close(timeout=5)


def test_thread_queue_refuses_jobs_after_close() -> None:
    queue = ThreadQueue(Recorder(), workers=1)
    queue.close(timeout=5)
    with pytest.raises(RuntimeError, match="closed"):
        queue.submit(job("k", 0))


def test_make_queue_picks_threads_without_redis_and_rq_with_it() -> None:
    threads = make_queue(Settings(workers=2), Recorder())
    assert isinstance(threads, ThreadQueue)
    threads.close(timeout=5)  # type: ignore[attr-defined]
    assert isinstance(make_queue(Settings(redis_url=REDIS_URL), Recorder()), RQQueue)


def test_job_json_round_trip() -> None:
    original = Job(key="o/r#1", event="push", delivery_id="d", payload={"a": [1, {"b": None}]})
    assert job_from_json(job_to_json(original)) == original


# --- Redis ---------------------------------------------------------------------------------------------


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}; start it to run the scale-out queue tests")
    yield conn
    conn.close()


@pytest.fixture
def names(redis_conn: redis.Redis) -> Iterator[tuple[str, str]]:
    """A queue name and key prefix of this test's own, removed afterwards."""
    tag = uuid.uuid4().hex[:10]
    queue_name, prefix = f"test-approvalbot-{tag}", f"test-approvalbot-{tag}"
    yield queue_name, prefix
    for key in redis_conn.scan_iter(f"*{tag}*"):
        redis_conn.delete(key)


@pytest.mark.redis
def test_drain_key_runs_in_order_and_skips_a_key_another_worker_holds(redis_conn, names) -> None:
    _, prefix = names
    queue = RQQueue(REDIS_URL, queue_name=names[0], prefix=prefix)
    for seq in range(5):
        redis_conn.rpush(f"{prefix}:jobs:o/r#1", job_to_json(job("o/r#1", seq)))
    lock = redis_conn.lock(f"{prefix}:lock:o/r#1", timeout=30)
    assert lock.acquire(blocking=False)
    recorder = Recorder()
    assert drain_key(redis_conn, prefix, "o/r#1", recorder) == 0  # held elsewhere: leave it to the holder
    lock.release()
    assert drain_key(redis_conn, prefix, "o/r#1", recorder) == 5
    assert recorder.order == {"o/r#1": [0, 1, 2, 3, 4]}
    assert queue.drain(timeout=1)


@pytest.mark.redis
def test_drain_key_failing_job_is_removed_and_the_next_runs(redis_conn, names) -> None:
    _, prefix = names
    for seq in range(3):
        redis_conn.rpush(f"{prefix}:jobs:k", job_to_json(job("k", seq)))
    recorder = Recorder(fail={"k-0"})
    assert drain_key(redis_conn, prefix, "k", recorder) == 3
    assert recorder.order == {"k": [0, 1, 2]}
    assert redis_conn.llen(f"{prefix}:jobs:k") == 0


WORKER_SCRIPT = textwrap.dedent(
    """
    import json, os, random, sys, time
    import redis
    from bot.queue import run_worker
    from bot.settings import Settings

    url, queue_name, results = sys.argv[1], sys.argv[2], sys.argv[3]
    conn = redis.Redis.from_url(url)

    def handler(job):
        running = f"{results}:running:{job.key}"
        if conn.incr(running) != 1:
            conn.rpush(f"{results}:overlaps", job.key)
        time.sleep(random.uniform(0, 0.004))
        conn.rpush(results, json.dumps([job.key, job.payload["seq"], os.getpid()]))
        conn.decr(running)
        if job.payload["seq"] % 7 == 3:
            raise RuntimeError("a failing job")  # must not stop the key

    run_worker(Settings(redis_url=url, log_level="WARNING"), handler, queue_name=queue_name)
    """
)


def wait_for_workers(
    conn: redis.Redis, queue_name: str, count: int, processes: list[subprocess.Popen]
) -> None:
    """Both workers listen before any job is queued, so each gets a share of the work."""
    deadline = time.monotonic() + 20
    while len(Worker.all(connection=conn, queue=Queue(queue_name, connection=conn))) < count:
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"a worker exited early: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the RQ workers did not start within 20 s"
        time.sleep(0.05)


@pytest.mark.redis
@pytest.mark.slow
def test_two_worker_processes_keep_per_key_order_under_interleaving(redis_conn, names) -> None:
    queue_name, prefix = names
    results = f"{prefix}:results"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, REDIS_URL, queue_name, results],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        queue = RQQueue(REDIS_URL, queue_name=queue_name, prefix=prefix)
        wait_for_workers(redis_conn, queue_name, count=2, processes=workers)
        keys = [f"acme/exp#{n}" for n in range(6)]
        per_key = 25
        for seq in range(per_key):
            for key in keys:
                queue.submit(job(key, seq))
        assert queue.drain(timeout=60), "the workers did not finish in time"
        rows = [json.loads(r) for r in redis_conn.lrange(results, 0, -1)]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=10)
    order: dict[str, list[int]] = {}
    for key, seq, _pid in rows:
        order.setdefault(key, []).append(seq)
    assert order == {key: list(range(per_key)) for key in keys}
    assert redis_conn.lrange(f"{results}:overlaps", 0, -1) == []
    pids = {pid for _key, _seq, pid in rows}
    assert pids == {w.pid for w in workers}, "both worker processes should have taken work"


def test_run_job_without_a_handler_says_how_to_start_workers() -> None:
    from bot.queue import run_job, set_worker_handler

    set_worker_handler(None)
    with pytest.raises(RuntimeError, match="approvalbot worker"):
        run_job("p", "k")


@pytest.mark.redis
def test_a_job_pushed_while_the_holder_finishes_is_not_stranded(redis_conn, names) -> None:
    """The holder re-checks the list after releasing the lock, so a job added meanwhile still runs."""
    _, prefix = names
    jobs_key = f"{prefix}:jobs:k"
    redis_conn.rpush(jobs_key, job_to_json(job("k", 0)))
    ran: list[int] = []

    def handler(j: Job) -> None:
        ran.append(j.payload["seq"])
        if j.payload["seq"] == 0:
            # Another submit lands now; its own drain task would find the lock taken and leave.
            redis_conn.rpush(jobs_key, job_to_json(job("k", 1)))
            assert drain_key(redis_conn, prefix, "k", handler) == 0

    assert drain_key(redis_conn, prefix, "k", handler) == 2
    assert ran == [0, 1]
