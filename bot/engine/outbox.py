"""The outbox of target POSTs: what an applied merge owes each outbound target, delivered at least once.

`apply_merge` writes one `OwedPost` per configured target in the merge's own transaction, leased for
a few minutes to the worker that applied it, which posts right away (retrying quickly a few times).
A POST that still failed, or that a crash never made, stays in the outbox: the scheduler's tick
(`deliver_due`) tries it again with a growing delay and gives up, audited, after `MAX_ROUNDS` rounds.
Every try sends the same body and Idempotency-Key, so a receiver that keeps its keys sees each change
once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.adapters.store import Store
from bot.adapters.targets import TargetPublisher, TargetResult, change_body, target_key
from bot.core.live import AuditEntry, AuditKind, OwedPost, Transition

log = logging.getLogger("approvalbot.outbox")

LEASE = timedelta(minutes=5)  # how long a worker may take to post before the tick may try instead
FIRST_RETRY = timedelta(minutes=1)  # then 2, 4, 8 ... minutes
MAX_DELAY = timedelta(hours=1)
MAX_ROUNDS = 8  # about four hours of trying, then the audit says it was given up
NOT_CONFIGURED = "the target is no longer configured (APPROVALBOT_TARGETS); this change was not sent to it"


def owe(
    publisher: TargetPublisher | None, change: Mapping[str, Any], merge_sha: str, now: datetime
) -> list[OwedPost]:
    """One owed POST of `change` per configured target, leased to the caller (who posts it next)."""
    if publisher is None or not publisher.targets:
        return []
    body = change_body(change)
    return [OwedPost(merge_sha, target_key(t), body, next_attempt_at=now + LEASE) for t in publisher.targets]


def deliver(store: Store, publisher: TargetPublisher | None, posts: Sequence[OwedPost], now: datetime) -> int:
    """POST each of `posts` (leased to this caller) and audit it; returns how many were delivered."""
    delivered = 0
    for post in posts:
        target = publisher.find(post.target) if publisher is not None else None
        if publisher is None or target is None:
            store.posted(post)
            gone = {"target": post.target, "delivered": False, "error": NOT_CONFIGURED, "gave_up": True}
            _audit(store, post, gone)
            continue
        result = publisher.post(target, post.body.encode(), post.merge_sha)
        detail = _detail(result, post.attempts + 1)
        if result.delivered:
            store.posted(post)
            delivered += 1
        elif post.attempts + 1 >= MAX_ROUNDS:
            store.posted(post)
            detail["gave_up"] = True
            log.error("target %s: gave up on %s after %d rounds", post.target, post.merge_sha, MAX_ROUNDS)
        else:
            retry_at = now + min(FIRST_RETRY * 2**post.attempts, MAX_DELAY)
            store.post_failed(post, result.error or "not delivered", retry_at)
            detail["next_attempt_at"] = retry_at.isoformat()
        _audit(store, post, detail)
    return delivered


def deliver_due(store: Store, publisher: TargetPublisher | None, now: datetime) -> int:
    """Deliver every owed POST that is due by `now` (the scheduler's tick); returns how many were."""
    delivered = 0
    for post in store.owed_posts(due_by=now):
        if store.take_owed(post, now, now + LEASE):  # another worker may hold it
            delivered += deliver(store, publisher, [post], now)
    return delivered


def _detail(result: TargetResult, round_: int) -> dict[str, Any]:
    return {
        "url": result.url,
        "delivered": result.delivered,
        "attempts": result.attempts,
        "round": round_,
        "status": result.status,
        "error": result.error,
    }


def _audit(store: Store, post: OwedPost, detail: Mapping[str, Any]) -> None:
    store.audit(
        AuditEntry(
            AuditKind.TARGET_DELIVERY,
            pr_number=_pull_request(post),
            commit_sha=post.merge_sha,
            detail=dict(detail),
        )
    )


def _pull_request(post: OwedPost) -> int | None:
    number = json.loads(post.body).get("pull_request")
    return number if isinstance(number, int) else None


@dataclass(frozen=True)
class TickResult:
    transitions: tuple[Transition, ...]
    delivered: int  # owed target POSTs delivered in this pass
    still_owed: int  # owed target POSTs left for a later pass


def tick(store: Store, publisher: TargetPublisher | None, now: datetime) -> TickResult:
    """One scheduler pass: the scheduled transitions due by `now`, then the owed target POSTs due.

    `serve`'s loop, `approvalbot tick` and the Action's `schedule` event all run exactly this.
    """
    transitions = tuple(store.apply_due_transitions(now))
    delivered = deliver_due(store, publisher, now)
    return TickResult(transitions, delivered, len(store.owed_posts()))
