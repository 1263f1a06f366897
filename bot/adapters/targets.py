"""Outbound targets: after an apply, a signed HTTP POST of the change to each configured URL.

Receivers verify a delivery like this (the body is the raw request body, before any JSON parsing)::

    from bot.adapters.targets import verify_signature
    if not verify_signature(SECRET, request_body, headers["X-Approvalbot-Signature-256"]):
        reject with 401
    # `Idempotency-Key` is the same for every retry of one change to one target: store it to
    # ignore duplicates.

A failing target never raises into the apply: each post's outcome comes back as a `TargetResult`
that the caller records in the audit log. What a target is still owed waits in the store's outbox
(`bot.engine.outbox`) for the scheduler to try again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.adapters.delivery import Backoff, ClaimOnce, Release
from bot.core.notifications import Claim, Notification, SendResult

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Approvalbot-Signature-256"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "approvalbot-targets/1"
# Worth another try: the receiver may recover. Other 4xx mean the request itself is wrong.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Target:
    url: str
    secret: str

    def __repr__(self) -> str:  # the secret must never reach a log line
        return f"Target(url={self.url!r}, secret='***')"


@dataclass(frozen=True)
class TargetResult:
    url: str
    delivered: bool
    attempts: int
    idempotency_key: str
    status: int | None = None  # last HTTP status seen, None when no answer came
    error: str | None = None


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the `sha256=` HMAC of the raw `body` under `secret` (constant-time)."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def target_key(target: Target) -> str:
    """A name for `target` safe to store and log: its URL hashed (a URL may carry a token)."""
    return hashlib.sha256(target.url.encode()).hexdigest()[:16]


def idempotency_key(merge_sha: str, target: Target) -> str:
    return f"{merge_sha}.{target_key(target)}"


def change_body(change: Mapping[str, Any]) -> str:
    """The JSON text POSTed for one applied change: compact and key-sorted, so a retry is byte-identical."""
    return json.dumps(change, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class PostOutcome:
    delivered: bool
    attempts: int
    status: int | None = None  # last HTTP status seen, None when no answer came
    error: str | None = None


def post_with_retries(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    backoff: Backoff,
    timeout: float,
    sleep: Callable[[float], None],
) -> PostOutcome:
    """POST until a 2xx, a non-retryable answer, or the backoff runs out. Never raises."""
    delays = backoff.delays()
    attempts = 0
    while True:
        attempts += 1
        status, error, retry_after = _attempt(url, body, headers, timeout)
        if error is None:
            return PostOutcome(True, attempts, status)
        retryable = status is None or status in RETRYABLE_STATUS
        delay = next(delays, None) if retryable else None
        if delay is None:
            return PostOutcome(False, attempts, status, error)
        sleep(min(max(delay, retry_after or 0.0), backoff.max_delay))


def _attempt(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int | None, str | None, float | None]:
    """(status, error or None on success, Retry-After seconds)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, None, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}", _retry_after(exc.headers.get("Retry-After"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return None, f"cannot reach {url}: {reason}", None


class TargetPublisher:
    """POSTs one applied change to every target, retrying each with backoff; never raises."""

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.targets = tuple(targets)
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self._sleep = sleep

    def publish(self, change: Mapping[str, Any], merge_sha: str) -> tuple[TargetResult, ...]:
        body = change_body(change).encode()
        return tuple(self.post(target, body, merge_sha) for target in self.targets)

    def find(self, key: str) -> Target | None:
        """The configured target named `key` (see `target_key`), if it is still configured."""
        return next((target for target in self.targets if target_key(target) == key), None)

    def post(self, target: Target, body: bytes, merge_sha: str) -> TargetResult:
        """POST `body` to `target`, retrying with backoff; never raises."""
        key = idempotency_key(merge_sha, target)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(target.secret, body),
            IDEMPOTENCY_HEADER: key,
        }
        outcome = post_with_retries(
            target.url, body, headers, backoff=self.backoff, timeout=self.timeout, sleep=self._sleep
        )
        if outcome.delivered:
            log.info("target %s: delivered %s (status %s)", target.url, key, outcome.status)
        else:
            log.warning(
                "target %s: %s not delivered after %d attempt(s): %s",
                target.url,
                key,
                outcome.attempts,
                outcome.error,
            )
        return TargetResult(
            target.url, outcome.delivered, outcome.attempts, key, outcome.status, outcome.error
        )


class SlackNotifier:
    """A second notification channel: a Slack (or compatible) incoming webhook, once per idempotency key."""

    def __init__(
        self,
        webhook_url: str,
        *,
        claim: Claim | None = None,
        release: Release | None = None,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.webhook_url = webhook_url
        self._claims = ClaimOnce.given(claim, release)
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self._sleep = sleep

    def send(self, notification: Notification) -> SendResult:
        key = notification.idempotency_key
        try:
            if not self._claims.claim(key):
                return SendResult(key, False, skipped=True, recipients=notification.recipients)
        except Exception as exc:
            return SendResult(
                key, False, recipients=notification.recipients, error=f"cannot claim {key}: {exc}"
            )
        body = json.dumps({"text": slack_text(notification)}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        outcome = post_with_retries(
            self.webhook_url, body, headers, backoff=self.backoff, timeout=self.timeout, sleep=self._sleep
        )
        if not outcome.delivered:
            # The webhook URL is a credential: log the key and the error, never the URL.
            log.error("chat notification %s not sent after %d attempt(s)", key, outcome.attempts)
            self._claims.give_back(key)
        error = None if outcome.delivered else (outcome.error or "").replace(self.webhook_url, "<webhook>")
        return SendResult(
            key, outcome.delivered, outcome.attempts, recipients=notification.recipients, error=error
        )


def slack_text(notification: Notification) -> str:
    """Slack mrkdwn: the subject in bold, then the plain text body (mentions are the logins told)."""
    who = ", ".join(notification.recipients)
    return f"*{notification.subject}*\nFor: {who}\n{notification.text}"


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
