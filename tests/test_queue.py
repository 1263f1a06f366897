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

from bot.adapters.store import Store
from bot.ports import Job
from bot.queue import RedisWakeups, ThreadQueue, make_queue, wake_channel
from bot.settings import Settings
from bot.workers import StoreQueue

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


def test_make_queue_picks_threads_without_a_store_and_the_table_with_one(tmp_path: Path) -> None:
    threads = make_queue(Settings(workers=2), Recorder())
    assert isinstance(threads, ThreadQueue)
    threads.close(timeout=5)
    store = Store.from_url(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        durable = make_queue(Settings(workers=2), Recorder(), store)
        assert isinstance(durable, StoreQueue) and durable.runs_jobs
        durable.close(timeout=5)
        # With REDIS_URL, `serve` records jobs and `approvalbot worker` processes run them.
        door = make_queue(Settings(workers=2, redis_url=REDIS_URL), Recorder(), store)
        assert isinstance(door, StoreQueue) and not door.runs_jobs
        door.close(timeout=5)
    finally:
        store.close()


# --- worker processes over one table, woken through Redis ----------------------------------------------


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
def channel(redis_conn: redis.Redis) -> str:
    """A wake-up channel of this test's own, so parallel runs do not wake each other."""
    return f"test-approvalbot-{uuid.uuid4().hex[:10]}"


@pytest.mark.redis
def test_a_wake_up_reaches_a_listener_and_a_dead_redis_only_warns(
    redis_conn: redis.Redis, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    woken = threading.Event()
    stop = threading.Event()
    listener = RedisWakeups(REDIS_URL, channel)
    thread = threading.Thread(target=listener.listen, args=(woken.set, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not redis_conn.pubsub_numsub(channel)[0][1] and time.monotonic() < deadline:
        time.sleep(0.01)
    RedisWakeups(REDIS_URL, channel).publish()
    assert woken.wait(5), "the listener was not woken"
    stop.set()
    thread.join(5)
    RedisWakeups("redis://127.0.0.1:1/0", channel).publish()  # nobody listens there: a warning, no error
    assert any("next poll" in r.getMessage() for r in caplog.records)


WORKER_SCRIPT = textwrap.dedent(
    """
    import json, os, random, sys, time
    from bot.adapters.store import Store
    from bot.queue import run_worker
    from bot.settings import JobSettings, Settings

    database_url, redis_url, results = sys.argv[1:4]

    def handler(job):
        time.sleep(random.uniform(0, 0.004))
        with open(results, "a") as out:
            out.write(json.dumps([job.key, job.payload["seq"], os.getpid(), time.time()]) + "\\n")
        if job.payload["seq"] % 7 == 3:
            try:  # the first attempt, in whichever process, fails
                os.close(os.open(f"{results}.{job.delivery_id.replace('/', '_')}", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            raise RuntimeError("a failing job: retried, and the key waits for it")

    # A long poll: only a wake-up through Redis gets the work started at once.
    jobs = JobSettings(poll=30.0, retry_base=0.01, lease=5.0)
    settings = Settings(
        database_url=database_url, redis_url=redis_url, workers=2, jobs=jobs, log_level="ERROR"
    )
    store = Store.from_url(database_url)
    print("ready", flush=True)
    run_worker(settings, handler, store)
    """
)


@pytest.mark.redis
@pytest.mark.slow
def test_two_worker_processes_keep_per_key_order_and_wake_at_once(
    redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """Two `approvalbot worker`-like processes on one table: per-key order across processes (a failed
    job is retried before its key goes on), both take work, and the Redis wake-up starts a job at once
    although the workers poll only every 30 s."""
    database_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    channel = wake_channel(database_url)  # the store's own: this test's alone
    store = Store.from_url(database_url)
    results = tmp_path / "results.jsonl"
    results.touch()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, database_url, REDIS_URL, str(results)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 20
        while redis_conn.pubsub_numsub(channel)[0][1] < 2:
            assert time.monotonic() < deadline, "the workers did not listen for wake-ups within 20 s"
            time.sleep(0.05)
        door = StoreQueue(store.jobs(), Recorder(), workers=0, wakeups=RedisWakeups(REDIS_URL, channel))
        sent = time.time()
        door.submit(job("first", 0))
        deadline = time.monotonic() + 10
        while not results.read_text():
            assert time.monotonic() < deadline, "no worker took the job: the wake-up did not arrive"
            time.sleep(0.01)
        assert json.loads(results.read_text().splitlines()[0])[3] - sent < 5.0
        keys = [f"acme/exp#{n}" for n in range(6)]
        per_key = 25
        for seq in range(per_key):
            for key in keys:
                door.accept(job(key, seq))
        assert door.drain(timeout=60), "the workers did not finish in time"
        rows = [json.loads(line) for line in results.read_text().splitlines()[1:]]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=15)
        store.close()
    assert [w.returncode for w in workers] == [0, 0], "SIGTERM should stop a worker cleanly"
    order: dict[str, list[int]] = {}
    for key, seq, _pid, _at in rows:
        order.setdefault(key, []).append(seq)
    # A failing job ran twice (its retry), everything else once, and always in order.
    expected = [s for s in range(per_key) for _ in range(2 if s % 7 == 3 else 1)]
    assert order == {key: expected for key in keys}
    pids = {pid for _key, _seq, pid, _at in rows}
    assert pids == {w.pid for w in workers}, "both worker processes should have taken work"


def test_close_leaves_the_jobs_another_process_holds(tmp_path: Path) -> None:
    """A shared table is never waited out: close finishes what this process holds and what it can run
    now, and leaves a job another process holds (and the jobs queued behind it) in the table."""
    store = Store.from_url(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        jobs = store.jobs()
        jobs.accept(job("held", 0))
        jobs.accept(job("held", 1))
        assert jobs.claim("another-process", lease=60) is not None
        recorder = Recorder()
        queue = StoreQueue(jobs, recorder, workers=1, poll=0.02)
        queue.submit(job("mine", 0))
        started = time.monotonic()
        assert queue.close(timeout=10)
        assert time.monotonic() - started < 5
        assert recorder.order == {"mine": [0]}
        assert jobs.open_jobs() == 2
    finally:
        store.close()
