"""Send the emails a request calls for, once each, recording failures in the audit log.

A send failure never raises into the decision or the apply: the notifier retries with backoff and
reports; what finally failed is visible in the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.core.live import AuditEntry, AuditKind
from bot.core.notifications import (
    Notification,
    NotificationRequest,
    Notifier,
    SendResult,
    plan_notifications,
)
from bot.core.repo_config import RepoConfig
from bot.engine.services import Services

log = logging.getLogger("approvalbot.notify")


def send_notifications(
    services: Services,
    config: RepoConfig,
    request: NotificationRequest,
    teams: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Email everyone `request` concerns; returns how many messages went out now."""
    if services.notifier is None:
        return 0
    planned = plan_notifications(config, request, teams)
    for warning in planned.warnings:
        log.warning("%s: %s", request.repository, warning)
    sent = 0
    for notification in planned.notifications:
        result = services.notifier.send(notification)
        sent += int(result.delivered and not result.skipped)
        if not result.delivered and not result.skipped:
            services.store.audit(
                AuditEntry(
                    AuditKind.NOTIFICATION,
                    account=notification.account,
                    pr_number=request.pr_number,
                    commit_sha=request.head_sha or None,
                    detail={
                        "event": notification.event.value,
                        "recipients": list(notification.recipients),
                        "attempts": result.attempts,
                        "error": result.error or "not delivered",
                    },
                )
            )
    return sent


class FanOut:
    """Several channels as one notifier (email, and a chat webhook when configured).

    Each channel claims its own idempotency keys, so a redelivery sends nothing twice on any of them.
    The first channel's result is the one reported (and audited): email is the channel of record;
    the others log their own failures.
    """

    def __init__(self, first: Notifier, *others: Notifier) -> None:
        self.channels = (first, *others)

    def send(self, notification: Notification) -> SendResult:
        results = [
            channel.send(_for_channel(notification, index)) for index, channel in enumerate(self.channels)
        ]
        for channel, result in zip(self.channels[1:], results[1:], strict=True):
            if not result.delivered and not result.skipped:
                log.warning("%s: %s not sent: %s", type(channel).__name__, notification.subject, result.error)
        return results[0]


def _for_channel(notification: Notification, index: int) -> Notification:
    # Channels share one claim store: the key must say which channel sent, or the second would be
    # skipped as a duplicate of the first.
    if index == 0:
        return notification
    return replace(notification, idempotency_key=f"{notification.idempotency_key}#channel{index}")
