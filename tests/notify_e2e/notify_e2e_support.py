"""A sandbox (emulator + real webhook server + store) whose notifier is the real SMTP mailer, sending to
an aiosmtpd server on loopback; what each recipient received, as plain data the tests compare.

    with mail_sandbox() as world:
        number = world.pause_web()  # carol-contrib pauses the running web test
        world.box.drain()
        assert world.recipients("submitted") == [frozenset({"alice@example.com", ...})]
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify"))

from notify_support import Inbox, LoopbackController, Received

from bot.adapters.smtp import SmtpMailer
from bot.adapters.targets import Backoff
from bot.core.model import Kind, ResourceKey
from bot.sandbox import Sandbox, sample_files

SENDER = "approvalbot@acme.example"
CONFIG = ".approvalbot.yml"

# The sample repository's people (experiments.example/.approvalbot.yml) and their addresses.
EMAIL = {
    "alice-admin": "alice@example.com",  # admin of web and mobile
    "bob-approver": "bob@example.com",  # approver of web
    "carol-contrib": "carol@example.com",  # draft contributor of web and mobile
    "dan-viewer": "dan@example.com",  # viewer of both
    "erin-reviewer": "erin@example.com",  # custom approving role, web
    "frank-analyst": "frank@example.com",  # custom viewing role, web
    "grace-mobile-lead": "grace@example.com",  # admin of mobile
    "heidi-approver": "heidi@example.com",  # approver of mobile
    "ivan-contrib": "ivan@example.com",  # draft contributor of mobile
    "judy-release": "judy@example.com",  # custom approving role, mobile
    "ken-qa": "ken@example.com",  # custom non-approving role, mobile
}
TEAM_MEMBER = "lena-growth"  # in @acme/growth-leads (approvers of web); no email in the sample
TEAM_MEMBER_EMAIL = "lena@example.com"  # given to her by `with_team_email`

WEB_ADMINS_AND_APPROVERS = {EMAIL[x] for x in ("alice-admin", "bob-approver", "erin-reviewer")}
MOBILE_ADMINS_AND_APPROVERS = {
    EMAIL[x] for x in ("alice-admin", "grace-mobile-lead", "heidi-approver", "judy-release")
}
WEB_ADMINS = {EMAIL["alice-admin"]}
MOBILE_ADMINS = {EMAIL["alice-admin"], EMAIL["grace-mobile-lead"]}

WEB_TEST = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")  # running
MOBILE_TEST = ResourceKey("mobile", Kind.EXPERIMENT, "onboarding_length_test")  # running
WEB_VARIABLE = ResourceKey("web", Kind.REMOTE_CONFIG, "free_shipping_threshold")  # live


@dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    rcpt: frozenset[str]  # envelope recipients
    to: str
    sender: str
    subject: str
    event: str  # X-Approvalbot-Event
    text: str
    html: str


def _mail(received: Received) -> Mail:
    message = received.message
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return Mail(
        rcpt=frozenset(received.rcpt),
        to=str(message["To"]),
        sender=str(message["From"]),
        subject=str(message["Subject"]),
        event=str(message["X-Approvalbot-Event"]),
        text=text.get_content().replace("\r\n", "\n") if text is not None else "",
        html=html.get_content().replace("\r\n", "\n") if html is not None else "",
    )


class MailWorld:
    def __init__(self, box: Sandbox, inbox: Inbox, smtp: LoopbackController) -> None:
        self.box = box
        self.inbox = inbox
        self.smtp = smtp

    # --- mail -----------------------------------------------------------------------------------------

    def mails(self, event: str | None = None) -> list[Mail]:
        with self.inbox.lock:
            received = list(self.inbox.received)
        mails = [_mail(r) for r in received]
        return [m for m in mails if event is None or m.event == event]

    def recipients(self, event: str | None = None) -> list[frozenset[str]]:
        """Each message's recipient set, for messages of `event`, sorted for comparison."""
        return sorted((m.rcpt for m in self.mails(event)), key=sorted)

    def one(self, event: str, account: str) -> Mail:
        found = [m for m in self.mails(event) if f"] {account}: " in m.subject]
        assert len(found) == 1, f"expected one {event} email for {account}, got {[m.subject for m in found]}"
        return found[0]

    # --- scenario steps ---------------------------------------------------------------------------------

    def edit(self, key: ResourceKey, old: str, new: str) -> dict[str, str]:
        path = self.box.path_of(key)
        text = self.box.file(path)
        assert old in text, f"{path}: {old!r} not in the sample"
        return {path: text.replace(old, new, 1)}

    def open_pr(
        self, author: str, edits: Mapping[str, str], *, title: str, draft: bool = False, branch: str = ""
    ) -> int:
        number: int = self.box.driver.open_pr(
            self.box.repo,
            author,
            branch or title.lower().replace(" ", "-"),
            dict(edits),
            title=title,
            draft=draft,
        )
        return number

    def pause_web(self, author: str = "carol-contrib", *, draft: bool = False) -> int:
        """A PR pausing the running web test (PAUSE PENDING); its branch is `pause-the-checkout-test`."""
        edits = self.edit(WEB_TEST, "status: running", "status: paused")
        return self.open_pr(author, edits, title="Pause the checkout test", draft=draft)

    def pause_mobile(self, author: str = "ivan-contrib", *, draft: bool = False) -> int:
        """A PR pausing the running mobile test; its branch is `pause-the-onboarding-test`."""
        edits = self.edit(MOBILE_TEST, "status: running", "status: paused")
        return self.open_pr(author, edits, title="Pause the onboarding test", draft=draft)

    def toggle_config(self, enabled: bool) -> dict[str, str]:
        text = self.box.file(CONFIG)
        old, new = f"enabled: {str(not enabled).lower()}", f"enabled: {str(enabled).lower()}"
        assert old in text, f"{CONFIG}: {old!r} not found"
        return {CONFIG: text.replace(old, new, 1)}

    def pr_url(self, number: int) -> str:
        # The emulator serves its web pages where its API is (no /api/v3 prefix): links point there.
        return f"{self.box.emulator.urls.web}/{self.box.repo}/pull/{number}"


def with_team_email(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The sample, with an email for the team member (so team expansion is visible in recipients)."""
    config = files[CONFIG].decode()
    anchor = "  ken-qa: {email: ken@example.com, name: Ken QA}\n"
    assert anchor in config
    line = f"  {TEAM_MEMBER}: {{email: {TEAM_MEMBER_EMAIL}, name: Lena Growth}}\n"
    return {**files, CONFIG: config.replace(anchor, anchor + line).encode()}


class FlakyInbox(Inbox):
    """Answers `451 try again later` to the first `failures` messages (every one if None), then accepts."""

    def __init__(self, failures: int | None) -> None:
        super().__init__()
        self.failures = failures
        self.refused = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        with self.lock:
            if self.failures is None or self.refused < self.failures:
                self.refused += 1
                return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def smtp_server(inbox: Inbox | None = None) -> Iterator[tuple[LoopbackController, Inbox]]:
    inbox = inbox or Inbox()
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@contextmanager
def mail_sandbox(
    files: Mapping[str, bytes] | None = None,
    *,
    smtp_url: str | None = None,
    backoff: Backoff | None = None,
    inbox: Inbox | None = None,
) -> Iterator[MailWorld]:
    """A sandbox mailing through the real SMTP mailer to a loopback aiosmtpd (or to `smtp_url`).

    Idempotency keys are claimed in the sandbox's store, as `approvalbot serve` does (bot/engine/wiring.py).
    """
    with smtp_server(inbox) as (controller, inbox):
        box: Sandbox | None = None

        def claim(key: str) -> bool:
            assert box is not None
            return box.store.claim_notification(key)

        mailer = SmtpMailer.from_url(
            smtp_url or f"smtp://127.0.0.1:{controller.port}",
            SENDER,
            claim=claim,
            backoff=backoff or Backoff(attempts=3, base_delay=0.01, max_delay=0.02),
            timeout=5,
        )
        box = Sandbox(dict(files) if files is not None else sample_files(), notifier=mailer)
        with box:
            yield MailWorld(box, inbox, controller)
