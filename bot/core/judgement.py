"""What a PR-time judgement rests on, so that the merge-time judgement can rest on the same (issue 14).

GitHub's API never says who pushed a commit, nor when a sha became a PR's head: only the webhooks of
the push do. approvalbot keeps a log of the PR's heads (`HeadEvent`, one per push, sighting or
retarget, stamped with **GitHub's** clock so they compare with review and comment times like with
like), and the verdict of each head (`Verdict`). `head_history` reduces the log to the facts the
decision engine weighs; `plan_digest` names the change a verdict was about.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from bot.core.model import Plan


class HeadEventKind(StrEnum):
    # A webhook named who made this sha the head: `synchronize` (its sender pushed) or `opened` (the
    # opener stands in for the pusher of the opening head; the opener is a creator anyway).
    PUSH = "push"
    # An evaluation found this (head, base) and no webhook had named it: a push whose webhook was lost
    # (its pusher is unknown), or a retarget whose `edited` was lost.
    SEEN = "seen"
    # The PR's base branch was changed (`edited` with `changes.base`): not a push.
    BASE = "base"


@dataclass(frozen=True)
class HeadEvent:
    sha: str
    base_ref: str
    at: datetime  # GitHub's clock: the webhook's `pull_request.updated_at`, or the PR's at a sighting
    kind: HeadEventKind
    pusher: str | None = None
    order: int = 0  # the store's insertion order, to break ties between equal times


@dataclass(frozen=True)
class HeadHistory:
    """The log of a PR's heads, as the decision weighs it."""

    pushers: tuple[str, ...] = ()  # everyone who made any head of the PR its head
    # Heads still in the PR (the head, or one of its commits) that nobody is known to have pushed.
    unknown: tuple[str, ...] = ()
    # When (GitHub's clock) the current head became the head on the current base: commands must be newer.
    since: datetime | None = None
    # When the base last changed (a retarget), if it did: approvals given before it are stale.
    base_changed_at: datetime | None = None
    # Whether the log's latest entry is exactly this head on this base (False: it must be appended).
    current: bool = False


def latest(events: Iterable[HeadEvent]) -> HeadEvent | None:
    ordered = sorted(events, key=lambda e: (e.at, e.order))
    return ordered[-1] if ordered else None


def head_history(
    events: Sequence[HeadEvent], head_sha: str, base_ref: str, in_pr: Collection[str]
) -> HeadHistory:
    """The history of a PR's heads for its current `head_sha` on `base_ref`; `in_pr` are the shas of
    its commits now. A run of events of one sha is one stint of that sha as the head (a force-push
    back to an older head starts a new stint, with a new start time); each stint was pushed by
    someone, and a stint no webhook names has an unknown pusher."""
    ordered = sorted(events, key=lambda e: (e.at, e.order))
    runs: list[list[HeadEvent]] = []
    for event in ordered:
        if runs and runs[-1][-1].sha == event.sha:
            runs[-1].append(event)
        else:
            runs.append([event])
    pushers: dict[str, str] = {}
    unknown: list[str] = []
    for run in runs:
        named = [e.pusher for e in run if e.kind is HeadEventKind.PUSH and e.pusher]
        for login in named:
            pushers.setdefault(login.casefold(), login)
        sha = run[0].sha
        if not named and (sha in in_pr or sha == head_sha) and sha not in unknown:
            unknown.append(sha)
    base_changed_at = None
    for before, after in pairwise(ordered):
        if before.base_ref != after.base_ref:
            base_changed_at = after.at
    last = ordered[-1] if ordered else None
    current = last is not None and last.sha == head_sha and last.base_ref == base_ref
    since = None
    if current and runs:
        since = runs[-1][0].at
        if base_changed_at is not None and base_changed_at > since:
            since = base_changed_at
    if not current and head_sha not in unknown:
        unknown.append(head_sha)  # nobody recorded making this the head: who did is not known
    return HeadHistory(tuple(pushers.values()), tuple(unknown), since, base_changed_at, current)


@dataclass(frozen=True)
class Verdict:
    """The PR-time judgement of one head: what the check said, and about which change."""

    repository: str
    number: int
    head_sha: str
    base_ref: str
    base_sha: str
    plan_digest: str
    state: str  # DecisionState's value
    approved_by: tuple[str, ...]
    decided_at: datetime


def plan_digest(plan: Plan) -> str:
    """A name for the change a plan describes: each action with its diff, and whether the rules change.
    Two plans of one PR judged on different bases have the same digest when the PR's own change is
    the same (another PR merged into the base in between, touching other resources)."""
    parts = [f"config:{plan.config_changed}:{','.join(sorted(plan.config_accounts))}"]
    for action in sorted(plan.actions, key=lambda a: str(a.key)):
        parts.append(
            repr(
                (
                    str(action.key),
                    action.file,
                    action.action.value if action.action else None,
                    action.to_status,
                    action.winner,
                    action.changes,
                )
            )
        )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
