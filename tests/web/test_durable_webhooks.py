"""A 202 is a promise (issue 13): the webhook route records the delivery and its job in the store in one
transaction before answering, workers claim jobs under leases, a failing job is retried and then
parked, a redelivery of unfinished work runs it, and a server killed with SIGKILL right after its 202
loses nothing: the next process runs the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests
from webhook_support import SECRET, Recorder, delivery, pr_payload

from bot.adapters.store import Store
from bot.adapters.store.jobs import Backoff
from bot.ports import Job
from bot.settings import Settings
from bot.web import create_app
from bot.workers import StoreQueue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = Store.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
    yield opened
    opened.close()


def _queue(store: Store, handler, **options) -> StoreQueue:  # type: ignore[no-untyped-def]
    backoff = Backoff(base=0.01, cap=0.05, max_attempts=options.pop("attempts", 3))
    return StoreQueue(store.jobs(backoff), handler, workers=2, lease=options.pop("lease", 5.0), poll=0.02)


def _app(queue: StoreQueue, store: Store):  # type: ignore[no-untyped-def]
    return create_app(Settings(webhook_secret=SECRET), queue=queue, deliveries=store).test_client()


def test_the_job_is_in_the_store_when_github_gets_its_202(store: Store) -> None:
    gate = threading.Event()
    ran: list[Job] = []

    def handler(job: Job) -> None:
        gate.wait(5)
        ran.append(job)

    queue = _queue(store, handler)
    client = _app(queue, store)
    body, headers = delivery("pull_request", pr_payload(3), "d-1")
    answer = client.post("/webhook", data=body, headers=headers)
    assert answer.status_code == 202
    counts = store.jobs().counts()  # one read: the job may move from queued to running meanwhile
    assert counts.queued + counts.running == 1
    # GitHub's redelivery while the job runs: answered as queued, not run a second time.
    again = client.post("/webhook", data=body, headers=headers)
    assert again.status_code == 202 and "will run" in again.get_json()["message"]
    gate.set()
    assert queue.drain(5)
    assert [j.delivery_id for j in ran] == ["d-1"]
    replay = client.post("/webhook", data=body, headers=headers)
    assert (
        replay.status_code == 200
        and replay.get_json()["message"] == "delivery already received; nothing done"
    )
    queue.close(5)


def test_a_failing_job_is_retried_and_then_parked_and_a_redelivery_runs_it_again(store: Store) -> None:
    attempts: list[str] = []
    healthy = threading.Event()

    def handler(job: Job) -> None:
        attempts.append(job.delivery_id)
        if not healthy.is_set():
            raise RuntimeError("GitHub answered 502")

    queue = _queue(store, handler, attempts=3)
    client = _app(queue, store)
    body, headers = delivery("pull_request", pr_payload(4), "d-2")
    assert client.post("/webhook", data=body, headers=headers).status_code == 202
    assert queue.drain(5)
    assert attempts == ["d-2"] * 3
    assert store.jobs().counts().parked == 1
    healthy.set()
    requeued = client.post("/webhook", data=body, headers=headers)
    assert requeued.status_code == 202 and "queued again" in requeued.get_json()["message"]
    assert queue.drain(5)
    assert attempts == ["d-2"] * 4 and store.jobs().counts().parked == 0
    queue.close(5)


def test_an_over_long_delivery_id_is_refused_at_the_door(store: Store) -> None:
    queue = _queue(store, Recorder())
    client = _app(queue, store)
    body, headers = delivery("pull_request", pr_payload(5), "d" * 201)
    answer = client.post("/webhook", data=body, headers=headers)
    assert answer.status_code == 400 and "X-GitHub-Delivery over 200" in answer.get_json()["message"]
    assert store.jobs().counts().queued == 0
    queue.close(5)


def test_per_key_order_holds_across_the_queue(store: Store) -> None:
    recorder = Recorder()
    queue = _queue(store, recorder)
    client = _app(queue, store)
    for i in range(6):
        body, headers = delivery("pull_request", pr_payload(7 if i % 2 else 8), f"o-{i}")
        assert client.post("/webhook", data=body, headers=headers).status_code == 202
    assert queue.drain(5)
    by_pr: dict[int, list[str]] = {}
    for job in recorder.jobs:
        by_pr.setdefault(job.payload["number"], []).append(job.delivery_id)
    assert by_pr == {8: ["o-0", "o-2", "o-4"], 7: ["o-1", "o-3", "o-5"]}
    queue.close(5)


SERVER = textwrap.dedent(
    """
    import sys, time
    from werkzeug.serving import make_server
    from bot.adapters.store import Store
    from bot.settings import Settings
    from bot.web import create_app
    from bot.workers import StoreQueue

    store = Store.from_url(sys.argv[1])
    def handler(job):  # a job that would take long: the process dies in the middle of it
        print("started", job.delivery_id, flush=True)
        time.sleep(60)
    queue = StoreQueue(store.jobs(), handler, workers=1, lease=1.0, poll=0.05)
    app = create_app(Settings(webhook_secret=sys.argv[2]), queue=queue, deliveries=store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print("port", server.server_port, flush=True)
    server.serve_forever()
    """
)


def test_a_server_killed_after_its_202_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    Store.from_url(url).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, SECRET], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        body, headers = delivery("pull_request", pr_payload(9), "d-kill")
        answer = requests.post(f"http://127.0.0.1:{port}/webhook", data=body, headers=headers, timeout=10)
        assert answer.status_code == 202
        assert proc.stdout.readline().split() == ["started", "d-kill"]  # mid-job…
        proc.send_signal(signal.SIGKILL)  # …kill -9
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = Store.from_url(url)
    recorder = Recorder()
    started = time.monotonic()
    queue = StoreQueue(store.jobs(), recorder, workers=1, lease=1.0, poll=0.05)
    try:
        assert queue.drain(10)
        assert [j.delivery_id for j in recorder.jobs] == ["d-kill"]
        assert time.monotonic() - started < 5  # the dead process's lease (1 s) lapsed, then it ran
    finally:
        queue.close(5)
        store.close()
