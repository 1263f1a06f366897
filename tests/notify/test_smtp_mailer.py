"""Email through a real SMTP server on loopback: right people, right content, once, failures reported."""

from __future__ import annotations

import socket

import pytest
from notify_support import TEAMS, LoopbackController, request

from bot.adapters.smtp import InMemoryClaims, SendResult, SmtpEndpoint, SmtpMailer
from bot.adapters.targets import Backoff
from bot.core.notifications import NotificationEvent, NotificationRequest, plan_notifications
from bot.core.repo_config import RepoConfig

SENDER = "approvalbot@example.com"


def mailer(controller: LoopbackController, **options) -> SmtpMailer:  # type: ignore[no-untyped-def]
    return SmtpMailer.from_url(f"smtp://127.0.0.1:{controller.port}", SENDER, **options)


def send_all(m: SmtpMailer, config: RepoConfig, req: NotificationRequest) -> list[SendResult]:
    return [m.send(n) for n in plan_notifications(config, req, TEAMS).notifications]


EXPECTED = {
    NotificationEvent.SUBMITTED: {
        "alice@example.com",
        "bob@example.com",
        "lena@example.com",
        "tess@example.com",
    },
    NotificationEvent.APPROVED: {"alice@example.com", "carol@example.com"},
    NotificationEvent.REJECTED: {"alice@example.com", "carol@example.com"},
    NotificationEvent.WORKFLOW_ENABLED: {
        "alice@example.com",
        "bob@example.com",
        "lena@example.com",
        "tess@example.com",
    },
    NotificationEvent.WORKFLOW_DISABLED: {
        "alice@example.com",
        "bob@example.com",
        "lena@example.com",
        "tess@example.com",
    },
    NotificationEvent.BYPASS: {"alice@example.com"},
}


@pytest.mark.parametrize("event", list(NotificationEvent))
def test_each_event_is_delivered_to_exactly_the_right_addresses(smtp_server, config, event) -> None:  # type: ignore[no-untyped-def]
    controller, inbox = smtp_server
    feedback = "Too risky before the sale" if event is NotificationEvent.REJECTED else None
    results = send_all(mailer(controller), config, request(event, feedback=feedback))
    assert [r.delivered for r in results] == [True]
    (received,) = inbox.received
    assert received.sender == SENDER
    assert set(received.rcpt) == EXPECTED[event]
    message = received.message
    assert message["From"] == SENDER
    assert set(message["To"].split(", ")) == EXPECTED[event]
    assert message["Subject"].startswith(f"[approvalbot] growth: {event.headline}")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "checkout-button: pause (PAUSE PENDING)" in text and "checkout-button: pause" in html
    assert "https://github.com/acme/experiments/pull/12" in text and "By: bob" in text
    assert "fee_rate" not in text  # payments' resource is not growth's business
    if feedback:
        assert feedback in text and feedback in html


def test_per_account_recipients_over_smtp(smtp_server, config) -> None:  # type: ignore[no-untyped-def]
    controller, inbox = smtp_server
    send_all(mailer(controller), config, request(NotificationEvent.SUBMITTED, accounts=("payments",)))
    (received,) = inbox.received
    # bob approves payments too; alice, lena and tess (growth only) hear nothing; erin has no email.
    assert sorted(received.rcpt) == ["bob@example.com", "paula@example.com"]
    assert "fee_rate: publish" in received.message.get_body(("plain",)).get_content()


def test_redelivery_sends_nothing_twice(smtp_server, config) -> None:  # type: ignore[no-untyped-def]
    controller, inbox = smtp_server
    m = mailer(controller, claim=InMemoryClaims().claim)
    req = request(NotificationEvent.APPROVED)
    first = send_all(m, config, req)
    again = send_all(m, config, req)
    assert [r.delivered for r in first] == [True]
    assert [(r.delivered, r.skipped) for r in again] == [(False, True)]
    assert len(inbox.received) == 1
    # A new head commit is a new event: it is sent.
    assert send_all(m, config, request(NotificationEvent.APPROVED, head_sha="def456"))[0].delivered
    assert len(inbox.received) == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_down_is_retried_then_reported_without_raising(config) -> None:  # type: ignore[no-untyped-def]
    waits: list[float] = []
    claims = InMemoryClaims()
    m = SmtpMailer.from_url(
        f"smtp://127.0.0.1:{free_port()}",
        SENDER,
        backoff=Backoff(attempts=3, base_delay=0.01, max_delay=1),
        sleep=waits.append,
        claim=claims.claim,
        release=claims.release,
        timeout=2,
    )
    (result,) = send_all(m, config, request(NotificationEvent.BYPASS))
    assert result.delivered is False and result.attempts == 3
    assert result.error and "ConnectionRefusedError" in result.error
    assert waits == [0.01, 0.02]
    # The key was released: a later redelivery may still get the alert out.
    assert claims.claim(result.idempotency_key)


def test_smtp_that_recovers_delivers_on_a_retry(smtp_server, config) -> None:  # type: ignore[no-untyped-def]
    controller, inbox = smtp_server
    real_port = controller.port
    dead_port = free_port()
    m = mailer(controller, backoff=Backoff(attempts=3, base_delay=0.01))
    m.endpoint = SmtpEndpoint("127.0.0.1", dead_port)  # first attempt: nobody listening

    def recover(_delay: float) -> None:
        m.endpoint = SmtpEndpoint("127.0.0.1", real_port)

    m._sleep = recover
    (result,) = send_all(m, config, request(NotificationEvent.BYPASS))
    assert (result.delivered, result.attempts) == (True, 2)
    assert len(inbox.received) == 1


def test_store_down_while_claiming_reports_instead_of_raising(config) -> None:  # type: ignore[no-untyped-def]
    def broken_claim(key: str) -> bool:
        raise ConnectionError("database unreachable")

    m = SmtpMailer.from_url("smtp://127.0.0.1:1", SENDER, claim=broken_claim)
    (result,) = send_all(m, config, request(NotificationEvent.BYPASS))
    assert result.delivered is False and "cannot claim" in (result.error or "")


def test_submission_port_without_starttls_refuses_to_send_in_clear(smtp_server, config) -> None:  # type: ignore[no-untyped-def]
    controller, inbox = smtp_server
    m = SmtpMailer(
        SmtpEndpoint("127.0.0.1", controller.port, username="bot", password="pw"),
        SENDER,
        backoff=Backoff(attempts=3, base_delay=0),
    )
    (result,) = send_all(m, config, request(NotificationEvent.BYPASS))
    assert result.delivered is False and result.attempts == 1  # permanent: not retried
    assert "does not offer STARTTLS" in (result.error or "")
    assert inbox.received == []


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("smtp://mail.example.com", SmtpEndpoint("mail.example.com", 25)),
        (
            "smtp://u%40x:p%3Aw@mail.example.com:587",
            SmtpEndpoint("mail.example.com", 587, False, "u@x", "p:w"),
        ),
        ("smtps://u:p@mail.example.com", SmtpEndpoint("mail.example.com", 465, True, "u", "p")),
    ],
)
def test_smtp_url_forms(url: str, endpoint: SmtpEndpoint) -> None:
    assert SmtpEndpoint.parse(url) == endpoint


def test_bad_smtp_url_is_refused_without_echoing_credentials() -> None:
    with pytest.raises(ValueError) as info:
        SmtpEndpoint.parse("http://user:hunter2@mail.example.com")
    assert "hunter2" not in str(info.value)
