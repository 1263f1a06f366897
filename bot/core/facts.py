"""The facts of a pull request that the decision engine weighs, as plain data.

The GitHub adapter, the Action, the demo and `approvalbot check --facts FACTS.json` all build a
`PullRequestFacts`; the decision engine never asks GitHub anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.model import PendingState, ResourceKey


class ReviewState(StrEnum):
    """GitHub's own review states."""

    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    COMMENTED = "COMMENTED"
    DISMISSED = "DISMISSED"
    PENDING = "PENDING"


@dataclass(frozen=True)
class Review:
    user: str
    state: ReviewState
    body: str = ""
    commit_id: str = ""
    submitted_at: datetime | None = None
    # Who last edited the body (None: never edited): words another put in a review never count.
    edited_by: str | None = None


@dataclass(frozen=True)
class Comment:
    user: str
    body: str
    created_at: datetime | None = None
    edited: bool = False  # an edited comment's slash command never counts (it could be rewritten)
    id: int | None = None  # GitHub's comment id, so a reply can point at the command it answers
    edited_by: str | None = None  # who last edited it, when `edited` (GraphQL `editor`)


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str | None = None  # GitHub login, None when the email maps to no account
    committer: str | None = None
    co_authors: tuple[str, ...] = ()  # logins from Co-authored-by trailers
    # Emails of the author, committer or co-authors GitHub maps to no account (the decision resolves
    # them by the noreply forms and `users:` of the rules, and fails closed on the rest).
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenPullRequest:
    """Another open PR of the repo, as far as locks and dependencies care."""

    number: int
    ready_at: datetime | None  # None: still a draft (drafts hold no lock)
    resources: tuple[ResourceKey, ...] = ()
    draft: bool = False
    # Remote config ids (with their account) this PR publishes, for dependency messages.
    publishes: tuple[ResourceKey, ...] = ()
    # The pending state that PR shows for each resource it holds, for lock messages ("PAUSE PENDING").
    pending: Mapping[ResourceKey, PendingState] = field(default_factory=dict)


@dataclass(frozen=True)
class PullRequestFacts:
    number: int
    author: str
    head_sha: str = ""
    draft: bool = False
    ready_at: datetime | None = None
    commits: tuple[Commit, ...] = ()
    pusher: str | None = None
    reviews: tuple[Review, ...] = ()
    comments: tuple[Comment, ...] = ()
    # team slug "org/team" → member logins; teams not listed resolve to nobody (fail closed)
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    open_prs: tuple[OpenPullRequest, ...] = ()
    # Set by an adapter that could not read everything (a truncated list, an error): never approve.
    incomplete: str | None = None
    # When the head commit became the head on this base (GitHub's clock): a slash command counts only
    # if made after it (None: none count).
    head_pushed_at: datetime | None = None
    # Everyone who made any head of this PR its head (approvalbot's log of the push webhooks).
    pushers: tuple[str, ...] = ()
    # Heads still in the PR that nobody is known to have pushed (their webhook was lost): since an
    # approver may have pushed them, no approval counts (fail closed).
    unknown_pushes: tuple[str, ...] = ()
    # When the PR's base branch last changed (GitHub's clock): approvals given before it are stale.
    base_changed_at: datetime | None = None
