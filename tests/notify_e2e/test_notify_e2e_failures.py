"""Email failures never touch the decision: the check, labels and review requests are published as usual;
a refused send is retried with backoff; what finally failed is in the audit log."""

from __future__ import annotations

import socket

from notify_e2e_support import WEB_ADMINS_AND_APPROVERS, FlakyInbox, MailWorld, mail_sandbox

from bot.adapters.targets import Backoff
from bot.core.live import AuditKind
from bot.sandbox import sample_files

ATTEMPTS = 3


def _assert_decision_published(world: MailWorld, number: int) -> None:
    run = world.box.check(number)
    assert run is not None and run.conclusion == "action_required"
    assert "pending: PAUSE PENDING" in world.box.pull(number).labels
    assert {"bob-approver", "erin-reviewer"} <= set(world.box.pull(number).requested_reviewers)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_temporary_smtp_failure_is_retried_and_the_email_arrives_once() -> None:
    inbox = FlakyInbox(failures=2)
    with mail_sandbox(inbox=inbox, backoff=Backoff(attempts=ATTEMPTS, base_delay=0.01)) as world:
        number = world.pause_web()
        world.box.drain()

        assert inbox.refused == 2
        assert world.recipients() == [frozenset(WEB_ADMINS_AND_APPROVERS)]
        _assert_decision_published(world, number)
        assert not [e for e in world.box.store.audit_log() if e.kind is AuditKind.NOTIFICATION]


def test_smtp_refusing_every_attempt_leaves_the_decision_alone_and_the_failure_in_the_audit_log() -> None:
    inbox = FlakyInbox(failures=None)
    with mail_sandbox(inbox=inbox, backoff=Backoff(attempts=ATTEMPTS, base_delay=0.01)) as world:
        number = world.pause_web()
        world.box.drain()

        assert inbox.refused == ATTEMPTS  # one message, tried ATTEMPTS times, then given up
        assert world.mails() == []
        _assert_decision_published(world, number)
        failures = [e for e in world.box.store.audit_log() if e.kind is AuditKind.NOTIFICATION]
        assert len(failures) == 1
        entry = failures[0]
        assert entry.account == "web"
        assert entry.pr_number == number
        assert entry.commit_sha == world.box.pull(number).head_sha
        assert entry.detail["event"] == "submitted"
        assert sorted(entry.detail["recipients"]) == ["alice-admin", "bob-approver", "erin-reviewer"]
        assert "451" in entry.detail["error"]
        assert entry.detail["attempts"] == ATTEMPTS

        # The approval goes on as if nothing happened.
        world.box.driver.review(world.box.repo, number, "bob-approver", "APPROVE")
        world.box.drain()
        assert world.box.check(number).conclusion == "success"


def test_an_unreachable_smtp_server_leaves_the_decision_alone_and_the_failure_in_the_audit_log() -> None:
    url = f"smtp://127.0.0.1:{_closed_port()}"
    with mail_sandbox(sample_files(), smtp_url=url, backoff=Backoff(attempts=2, base_delay=0.01)) as world:
        number = world.pause_web()
        world.box.drain()

        _assert_decision_published(world, number)
        failures = [e for e in world.box.store.audit_log() if e.kind is AuditKind.NOTIFICATION]
        assert [e.detail["event"] for e in failures] == ["submitted"]
        assert "ConnectionRefusedError" in failures[0].detail["error"]
