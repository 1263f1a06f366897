"""Outbound targets: after an apply, a signed POST of the change; a target that is down never blocks it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from applykit import CHECKOUT_TEST, ONBOARDING_TEST, approved_merge, audit, edited, snapshot

from bot.adapters.targets import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Backoff,
    Target,
    TargetPublisher,
    verify_signature,
)
from bot.core.live import AuditKind
from bot.core.model import Status
from bot.engine import merge, outbox
from bot.engine.outbox import deliver_due
from bot.sandbox import Sandbox
from bot.server import Scheduler

SECRET = "receiver-secret"
TINY = Backoff(attempts=3, base_delay=0.001, max_delay=0.01)


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """A loopback HTTP server that records every POST and answers `statuses` in turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received(body, dict(self.headers.items())))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


def _closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/down"


def _pause(box: Sandbox) -> str:
    return approved_merge(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused"))).sha


def test_a_receiver_gets_a_signed_post_of_the_applied_change(box: Sandbox, receiver: Receiver) -> None:
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    sha = _pause(box)

    [post] = receiver.received
    assert verify_signature(SECRET, post.body, post.headers[SIGNATURE_HEADER])
    assert not verify_signature("another-secret", post.body, post.headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, post.body + b" ", post.headers[SIGNATURE_HEADER])
    assert post.headers[IDEMPOTENCY_HEADER].startswith(sha + ".")
    change = json.loads(post.body)
    assert change["commit"] == sha and change["repository"] == box.repo
    [item] = change["changes"]
    assert (item["resource"], item["action"], item["status"]) == (str(CHECKOUT_TEST), "pause", "paused")
    assert item["document"]["status"] == "paused"
    [delivery] = audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)
    assert delivery.detail["delivered"] is True and delivery.detail["attempts"] == 1
    assert delivery.detail["url"] == receiver.url


def test_a_finish_posts_the_winner(box: Sandbox, receiver: Receiver) -> None:
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    edits = edited(box, ONBOARDING_TEST, ("status: running", "status: finished"))
    edits[box.path_of(ONBOARDING_TEST)] += "winner: three_steps\n"
    approved_merge(box, edits, ("heidi-approver",), author="ivan-contrib")
    [post] = receiver.received
    [item] = json.loads(post.body)["changes"]
    assert item["action"] == "finish" and item["document"]["winner"] == "three_steps"


def test_a_replayed_merge_posts_nothing_more(box: Sandbox, receiver: Receiver) -> None:
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    sha = _pause(box)
    push = next(d for d in box.emulator.webhooks.of("push") if d.payload["after"] == sha)
    box.emulator.webhooks.send("push", push.payload)
    box.drain()
    assert len(receiver.received) == 1


def test_a_flaky_target_is_retried_with_one_idempotency_key(box: Sandbox, receiver: Receiver) -> None:
    receiver.statuses = [503, 502]
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    sha = _pause(box)
    assert len(receiver.received) == 3
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    [delivery] = audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)
    assert delivery.detail["delivered"] is True and delivery.detail["attempts"] == 3


def test_a_target_that_is_down_is_retried_and_audited_and_the_apply_stands(
    box: Sandbox, receiver: Receiver
) -> None:
    down = _closed_port_url()
    box.services.targets = TargetPublisher(
        [Target(down, "down-secret"), Target(receiver.url, SECRET)], backoff=TINY, timeout=2
    )
    before = snapshot(box)
    sha = _pause(box)

    record = box.live(CHECKOUT_TEST)
    assert record is not None and record.status is Status.PAUSED
    assert record.revision == before[CHECKOUT_TEST][1] + 1
    assert box.store.is_applied(sha)
    run = box.check(sha)
    assert run is not None and run.conclusion == "success"
    deliveries = {e.detail["url"]: e.detail for e in audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)}
    assert deliveries[down]["delivered"] is False
    assert deliveries[down]["attempts"] == TINY.attempts
    assert "cannot reach" in deliveries[down]["error"]
    assert deliveries[receiver.url]["delivered"] is True  # one target down does not stop the others
    assert len(receiver.received) == 1


def test_a_target_refusing_the_request_is_not_retried(box: Sandbox, receiver: Receiver) -> None:
    receiver.statuses = [400]
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    sha = _pause(box)
    assert len(receiver.received) == 1
    [delivery] = audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)
    assert delivery.detail["delivered"] is False and delivery.detail["status"] == 400
    assert box.live(CHECKOUT_TEST).status is Status.PAUSED  # type: ignore[union-attr]


# --- the outbox: what a target is owed survives failures and crashes ------------------------------


def _later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_a_target_still_failing_after_its_retries_is_owed_and_delivered_by_a_later_tick(
    box: Sandbox, receiver: Receiver
) -> None:
    receiver.statuses = [503] * TINY.attempts  # the first round fails throughout
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    sha = _pause(box)
    [owed] = box.store.owed_posts()
    assert (owed.merge_sha, owed.attempts, owed.last_error) == (sha, 1, "HTTP 503 Service Unavailable")
    assert owed.next_attempt_at is not None and owed.next_attempt_at > datetime.now(UTC)
    [first] = audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)
    assert first.detail["delivered"] is False and first.detail["next_attempt_at"]

    assert deliver_due(box.store, box.services.targets, datetime.now(UTC)) == 0  # not due yet
    assert deliver_due(box.store, box.services.targets, _later(2)) == 1
    assert box.store.owed_posts() == []
    assert len(receiver.received) == TINY.attempts + 1
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in receiver.received}) == 1  # the same key ...
    assert len({r.body for r in receiver.received}) == 1  # ... and the same signed body
    second = audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)[-1]
    assert second.detail["delivered"] is True and second.detail["round"] == 2 and second.pr_number


def test_a_crash_between_the_apply_and_the_post_loses_nothing(
    box: Sandbox, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    monkeypatch.setattr(merge, "deliver", lambda *args: 0)  # the process dies right after the commit
    sha = _pause(box)
    assert receiver.received == [] and box.store.is_applied(sha)
    assert len(box.store.owed_posts()) == 1
    # The applying worker holds it a while (it may be posting); then the scheduler's tick takes over.
    assert deliver_due(box.store, box.services.targets, _later(1)) == 0
    Scheduler(box.services).tick()
    assert receiver.received == []
    assert deliver_due(box.store, box.services.targets, _later(6)) == 1
    [post] = receiver.received
    assert json.loads(post.body)["commit"] == sha
    assert post.headers[IDEMPOTENCY_HEADER].startswith(sha + ".")
    assert box.store.owed_posts() == []


def test_a_target_removed_from_the_configuration_is_dropped_with_an_audit(
    box: Sandbox, receiver: Receiver
) -> None:
    down = _closed_port_url()
    box.services.targets = TargetPublisher([Target(down, "down-secret")], backoff=TINY, timeout=2)
    sha = _pause(box)
    assert len(box.store.owed_posts()) == 1
    box.services.targets = TargetPublisher([Target(receiver.url, SECRET)], backoff=TINY, timeout=2)
    assert deliver_due(box.store, box.services.targets, _later(2)) == 0
    assert box.store.owed_posts() == [] and receiver.received == []
    dropped = audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)[-1]
    assert dropped.detail["gave_up"] is True and "no longer configured" in dropped.detail["error"]


def test_an_unreachable_target_is_given_up_after_the_last_round(box: Sandbox) -> None:
    box.services.targets = TargetPublisher([Target(_closed_port_url(), "s")], backoff=TINY, timeout=2)
    sha = _pause(box)
    for hours in range(1, outbox.MAX_ROUNDS + 1):
        deliver_due(box.store, box.services.targets, _later(60 * hours))
    assert box.store.owed_posts() == []
    rounds = audit(box, AuditKind.TARGET_DELIVERY, commit_sha=sha)
    assert [e.detail["round"] for e in rounds] == list(range(1, outbox.MAX_ROUNDS + 1))
    assert rounds[-1].detail["gave_up"] is True
    assert all("gave_up" not in e.detail for e in rounds[:-1])
