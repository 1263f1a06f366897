"""The chat channel: a Slack-style incoming webhook gets the notification once, failures reported."""

from __future__ import annotations

import json

from bot.adapters.targets import Backoff, SlackNotifier
from bot.core.notifications import InMemoryClaims, Notification, NotificationEvent

NOTE = Notification(
    event=NotificationEvent.REJECTED,
    account="growth",
    recipients=("alice", "carol"),
    emails=("alice@example.com", "carol@example.com"),
    subject="[approvalbot] growth: change rejected — PR #3",
    text="Change rejected.\n\nFeedback:\n  not yet\n",
    html="<p>Change rejected.</p>",
    idempotency_key="rejected:acme/x:pr3:abc:growth:0",
)


def test_posts_the_subject_and_text_once_per_key(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    server = receiver_factory(200)
    slack = SlackNotifier(server.url, claim=InMemoryClaims().claim)
    first, again = slack.send(NOTE), slack.send(NOTE)
    assert (first.delivered, first.attempts) == (True, 1)
    assert (again.delivered, again.skipped) == (False, True)
    ((headers, body),) = server.requests
    text = json.loads(body)["text"]
    assert text.startswith("*[approvalbot] growth: change rejected — PR #3*\nFor: alice, carol\n")
    assert "not yet" in text and headers["Content-Type"] == "application/json"


def test_failure_is_retried_reported_and_does_not_leak_the_webhook_url(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    server = receiver_factory(503)
    waits: list[float] = []
    claims = InMemoryClaims()
    slack = SlackNotifier(
        server.url + "?token=T0P-SECRET",
        claim=claims.claim,
        release=claims.release,
        backoff=Backoff(attempts=2, base_delay=0.01),
        sleep=waits.append,
    )
    result = slack.send(NOTE)
    assert (result.delivered, result.attempts, waits) == (False, 2, [0.01])
    assert result.error and "T0P-SECRET" not in result.error
    assert claims.claim(NOTE.idempotency_key)  # released for a later try
