"""Email over SMTP from the standard library, behind a `Notifier` protocol so other channels fit.

`SMTP_URL` forms: `smtp://host:25` (plain; STARTTLS used when the server offers it),
`smtp://user:pass@host:587` (submission: STARTTLS required before credentials are sent),
`smtps://user:pass@host:465` (implicit TLS).

Sending never raises into the caller's decision or apply path: every outcome is a `SendResult`.
Redelivered webhooks send nothing twice: a message goes out only after `claim(idempotency key)`
returns True (the SQL store's `claim_notification`; `InMemoryClaims` for one process).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.adapters.delivery import Backoff, ClaimOnce, Release
from bot.core.notifications import Claim, InMemoryClaims, Notification, Notifier, SendResult

__all__ = ["InMemoryClaims", "Notifier", "SendResult", "SmtpEndpoint", "SmtpMailer"]

log = logging.getLogger(__name__)

SUBMISSION_PORT = 587
# Retrying these cannot help: the same message, credentials or server will fail the same way.
PERMANENT_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
)


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL {parts.scheme}://… is not smtp://HOST[:PORT] or smtps://HOST[:PORT]")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpMailer:
    def __init__(
        self,
        endpoint: SmtpEndpoint,
        sender: str,
        *,
        claim: Claim | None = None,
        release: Release | None = None,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.sender = sender
        self._claims = ClaimOnce.given(claim, release)
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self._sleep = sleep
        self._tls = tls_context or ssl.create_default_context()

    @classmethod
    def from_url(cls, url: str, sender: str, **options: Any) -> SmtpMailer:
        return cls(SmtpEndpoint.parse(url), sender, **options)

    def send(self, notification: Notification) -> SendResult:
        key = notification.idempotency_key
        if not notification.emails:
            return SendResult(key, False, error="no recipient has an email address")
        try:
            claimed = self._claims.claim(key)
        except Exception as exc:  # the store is down: better no email than a duplicate or a crash
            log.exception("email %s: cannot claim the idempotency key", key)
            return SendResult(key, False, recipients=notification.emails, error=f"cannot claim {key}: {exc}")
        if not claimed:
            log.info("email %s: already sent, skipped", key)
            return SendResult(key, False, skipped=True, recipients=notification.emails)
        message = self.compose(notification)
        delays = self.backoff.delays()
        attempts = 0
        while True:
            attempts += 1
            try:
                self._deliver(message, notification.emails)
            except (smtplib.SMTPException, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                delay = next(delays, None)
                if delay is None or isinstance(exc, PERMANENT_ERRORS):
                    return self._failed(notification, attempts, error)
                log.warning(
                    "email %s: attempt %d failed (%s); retrying in %.2fs", key, attempts, error, delay
                )
                self._sleep(delay)
                continue
            log.info("email %s: sent to %s", key, ", ".join(notification.emails))
            return SendResult(key, True, attempts, recipients=notification.emails)

    def _failed(self, notification: Notification, attempts: int, error: str) -> SendResult:
        key = notification.idempotency_key
        log.error("email %s: not sent after %d attempt(s): %s", key, attempts, error)
        self._claims.give_back(key)
        return SendResult(key, False, attempts, recipients=notification.emails, error=error)

    def compose(self, notification: Notification) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = notification.subject
        message["From"] = self.sender
        message["To"] = ", ".join(notification.emails)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain="approvalbot")
        message["X-Approvalbot-Event"] = notification.event.value
        message["X-Approvalbot-Key"] = notification.idempotency_key
        message.set_content(notification.text)
        message.add_alternative(notification.html, subtype="html")
        return message

    def _deliver(self, message: EmailMessage, to: tuple[str, ...]) -> None:
        ep = self.endpoint
        client: smtplib.SMTP
        if ep.implicit_tls:
            client = smtplib.SMTP_SSL(ep.host, ep.port, timeout=self.timeout, context=self._tls)
        else:
            client = smtplib.SMTP(ep.host, ep.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if not ep.implicit_tls:
                if client.has_extn("starttls"):
                    client.starttls(context=self._tls)
                    client.ehlo()
                elif ep.port == SUBMISSION_PORT or ep.username:
                    raise smtplib.SMTPNotSupportedError(
                        f"{ep.host}:{ep.port} does not offer STARTTLS; refusing to send credentials or mail "
                        "in clear text. Use smtps:// or a server with STARTTLS."
                    )
            if ep.username:
                client.login(ep.username, ep.password or "")
            client.send_message(message, from_addr=self.sender, to_addrs=list(to))
