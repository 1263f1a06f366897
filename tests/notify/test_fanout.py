"""Several channels behind one notifier: each sends once per event, even sharing one claim store."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.notifications import InMemoryClaims, Notification, NotificationEvent, SendResult
from bot.engine.notify import FanOut


@dataclass
class Channel:
    """A channel that claims keys like the real ones and remembers what it delivered."""

    claims: InMemoryClaims
    fails: bool = False
    sent: list[str] = field(default_factory=list)

    def send(self, notification: Notification) -> SendResult:
        key = notification.idempotency_key
        if not self.claims.claim(key):
            return SendResult(key, False, skipped=True)
        if self.fails:
            return SendResult(key, False, attempts=3, error="down")
        self.sent.append(notification.subject)
        return SendResult(key, True, attempts=1)


NOTE = Notification(
    NotificationEvent.SUBMITTED, "web", ("bob",), ("bob@example.com",), "subject", "text", "<p>html</p>", "k1"
)


def test_every_channel_sends_once_although_they_share_one_claim_store() -> None:
    claims = InMemoryClaims()
    email, chat = Channel(claims), Channel(claims)
    both = FanOut(email, chat)
    assert both.send(NOTE).delivered
    assert both.send(NOTE).skipped  # a redelivery
    assert email.sent == chat.sent == ["subject"]


def test_the_first_channel_is_the_one_reported_and_a_failing_second_does_not_hide_it() -> None:
    claims = InMemoryClaims()
    email, chat = Channel(claims), Channel(claims, fails=True)
    result = FanOut(email, chat).send(NOTE)
    assert result.delivered and email.sent == ["subject"]
    failing_email = FanOut(Channel(InMemoryClaims(), fails=True), Channel(InMemoryClaims()))
    assert failing_email.send(NOTE).error == "down"
