"""The services a process builds from its settings: which channels tell people, and how they dedupe."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.smtp import SmtpMailer
from bot.adapters.store import Store
from bot.adapters.targets import SlackNotifier
from bot.core.notifications import Notification, NotificationEvent
from bot.engine.notify import FanOut
from bot.engine.wiring import notifier
from bot.settings import Settings


def test_channels_follow_the_settings(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    smtp, slack = "smtp://127.0.0.1:2525", "https://hooks.example.com/T000/B000"
    assert notifier(Settings(), store) is None
    assert isinstance(notifier(Settings(smtp_url=smtp), store), SmtpMailer)
    assert isinstance(notifier(Settings(slack_webhook_url=slack), store), SlackNotifier)
    both = notifier(Settings(smtp_url=smtp, slack_webhook_url=slack), store)
    assert isinstance(both, FanOut)
    assert [type(c) for c in both.channels] == [SmtpMailer, SlackNotifier]


def test_a_failed_email_releases_its_claim_so_a_later_event_can_retry(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    mailer = notifier(Settings(smtp_url="smtp://127.0.0.1:1"), store)  # nothing listens on port 1
    assert isinstance(mailer, SmtpMailer)
    mailer.backoff = type(mailer.backoff)(attempts=1)
    note = Notification(
        NotificationEvent.SUBMITTED, "web", ("bob",), ("bob@example.com",), "s", "t", "<p>h</p>", "key-1"
    )
    assert not mailer.send(note).delivered
    assert store.claim_notification("key-1"), "the failed send must have released its claim"
