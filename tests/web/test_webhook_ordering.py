"""Deliveries through the route to in-process workers: per-PR order, PRs in parallel, failures contained."""

from __future__ import annotations

import random
import threading
import time

from webhook_support import SECRET, delivery, pr_payload

from bot.ports import Job
from bot.queue import ThreadQueue
from bot.settings import Settings
from bot.web import create_app


class OrderChecker:
    """Records each PR's sequence numbers; fails on two jobs of one PR at once."""

    def __init__(self, fail_on: set[str] | None = None) -> None:
        self.seen: dict[str, list[int]] = {}
        self.running: set[str] = set()
        self.overlaps: list[str] = []
        self.max_parallel = 0
        self.fail_on = fail_on or set()
        self.lock = threading.Lock()
        self.second_pr_started = threading.Event()
        self.ran_side_by_side = False

    def __call__(self, job: Job) -> None:
        if job.key.endswith("#2"):
            self.second_pr_started.set()
        if job.key.endswith("#1") and job.payload["seq"] == 0 and not self.fail_on:
            # PR 1's first job waits for PR 2 to start: it only can if the PRs run in parallel.
            self.ran_side_by_side = self.second_pr_started.wait(5)
        with self.lock:
            if job.key in self.running:
                self.overlaps.append(job.key)
            self.running.add(job.key)
            self.max_parallel = max(self.max_parallel, len(self.running))
        time.sleep(random.uniform(0, 0.003))
        with self.lock:
            self.running.discard(job.key)
            self.seen.setdefault(job.key, []).append(job.payload["seq"])
        if job.delivery_id in self.fail_on:
            raise RuntimeError(f"handler failed on {job.delivery_id}")


def post_many(app, deliveries: list[tuple[int, int]]) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    for number, seq in deliveries:
        body, headers = delivery(
            "pull_request", {**pr_payload(number), "seq": seq}, delivery_id=f"{number}-{seq}"
        )
        assert client.post("/webhook", data=body, headers=headers).status_code == 202


def test_each_prs_jobs_run_in_order_while_prs_run_in_parallel() -> None:
    checker = OrderChecker()
    queue = ThreadQueue(checker, workers=4)
    app = create_app(Settings(webhook_secret=SECRET), queue=queue)
    interleaved = [(pr, seq) for seq in range(60) for pr in (1, 2)]
    post_many(app, interleaved)
    assert queue.close(timeout=20)
    assert checker.seen == {"acme/experiments#1": list(range(60)), "acme/experiments#2": list(range(60))}
    assert checker.overlaps == []
    assert checker.ran_side_by_side


def test_a_failing_job_does_not_stop_the_next_of_its_pr(caplog) -> None:  # type: ignore[no-untyped-def]
    checker = OrderChecker(fail_on={"1-0", "1-2"})
    queue = ThreadQueue(checker, workers=2)
    app = create_app(Settings(webhook_secret=SECRET), queue=queue)
    post_many(app, [(1, 0), (2, 0), (1, 1), (1, 2), (2, 1), (1, 3)])
    assert queue.close(timeout=10)
    assert checker.seen == {"acme/experiments#1": [0, 1, 2, 3], "acme/experiments#2": [0, 1]}
    failures = [r.getMessage() for r in caplog.records if r.name == "bot.queue"]
    assert len(failures) == 2 and "delivery 1-0" in failures[0] and "delivery 1-2" in failures[1]
