"""Send the emails a request calls for, once each, recording failures in the audit log.

A send failure never raises into the decision or the apply: the notifier retries with backoff and
reports; what finally failed is visible in the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from bot.core.live import AuditEntry, AuditKind
from bot.core.notifications import NotificationRequest, plan_notifications
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
