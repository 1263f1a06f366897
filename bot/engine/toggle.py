"""The workflow toggle: `approvals.enabled` changed on the default branch.

Disabling reverts every pending request (SPEC §1, CleverTap's FAQ: "no experiment transitions
silently"): each open ready PR holding resources goes back to draft with a comment saying so, loses
its labels, review requests and locks; the resources stay as they are. Where GitHub has no drafts (a
private repository on GitHub Free or Pro refuses `convertPullRequestToDraft`) the PR stays ready and
the rest is done all the same, the comment saying it stays ready. Enabling re-evaluates every
open PR. Both tell the admins and approvers of every account, and are recorded in the audit log.

Which PRs held resources is not read from the store's locks alone: the merge that turned approvals off
also re-plans every open PR (the `push` handler), and such a re-evaluation, under the new rules,
releases the PR's locks and labels, possibly before this runs. So an open ready PR is also reverted
when, under the rules in force before the toggle, it submitted a request (what took its locks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.adapters.github.source import (
    GitHubReadError,
    GitHubTree,
    MergedPull,
    PullRequestSnapshot,
    PullRequestSource,
)
from bot.adapters.github.writer import DraftsUnavailable, GitHubWriteError, PullRequestWriter
from bot.core.decision import DecisionState, decide
from bot.core.live import AuditEntry, AuditKind, PendingToggle
from bot.core.notifications import NotificationEvent, NotificationRequest
from bot.core.plan import make_plan
from bot.core.repo_config import RepoConfig, parse_repo_config
from bot.core.tree import ChangeType, FileChange
from bot.engine.notify import send_notifications
from bot.engine.services import PullRef, Services

log = logging.getLogger("approvalbot.toggle")

REVERTED = (
    "**Approval request reverted.** The approval workflow was turned off on the default branch "
    "(`approvals.enabled: false` in `.approvalbot.yml`, commit {sha}), so this pull request's request "
    "for approval was withdrawn and it is a draft again. Nothing changed in the live state: the "
    "resources stay as they are. Mark it ready for review to submit it again."
)
# Where GitHub has no drafts (a private repository on GitHub Free or Pro) the PR stays ready: the comment
# must not claim it is a draft, and says what happens instead.
REVERTED_NOT_DRAFT = (
    "**Approval request reverted.** The approval workflow was turned off on the default branch "
    "(`approvals.enabled: false` in `.approvalbot.yml`, commit {sha}), so this pull request's request "
    "for approval was withdrawn: its approval labels and review requests are removed. GitHub would not "
    "make it a draft (draft pull requests are not available for this repository on its plan), so it "
    "stays open and ready for review, but asks no one for approval. Nothing changed in the live state: "
    "the resources stay as they are. It is evaluated again when approvals are turned back on."
)
# Decisions under which evaluate_pull lets a ready PR hold its resources (see evaluate._update_locks).
_HOLDS_NOTHING = (DecisionState.INVALID, DecisionState.NO_APPROVAL_NEEDED)
# Removing a label someone else removed a moment ago fails (404): re-read the PR and try again.
_WRITE_TRIES = 3


def on_toggle(
    services: Services,
    repo: str,
    enabled: bool,
    config: RepoConfig,
    sha: str,
    *,
    installation: int | None = None,
    actor: str | None = None,
) -> list[int]:
    """Revert (disable) or re-check (enable) open PRs; returns the PR numbers acted on.

    The apply recorded the toggle as pending; it is finished only once everything here ran, so a
    failure midway is taken up again by the next apply of the commit or by reconcile (`resume_toggle`).
    Each revert comment and each email is claimed once, so taking it up again repeats none of them.
    """
    source = services.source(repo, installation)
    pending = services.store.pending_toggle(repo, sha)
    if enabled:
        numbers = source.open_pull_numbers()
        for number in numbers:
            services.reevaluate(PullRef(repo, number, installation))
    else:
        numbers = _revert_requests(services, source, repo, installation, sha, pending)
    entry = AuditEntry(
        AuditKind.TOGGLE,
        actor=actor,
        commit_sha=sha,
        detail={"repository": repo, "enabled": enabled, "reevaluated" if enabled else "reverted": numbers},
    )
    merged = _merged_pull(source, sha)
    send_notifications(
        services,
        config,
        NotificationRequest(
            event=NotificationEvent.WORKFLOW_ENABLED if enabled else NotificationEvent.WORKFLOW_DISABLED,
            accounts=tuple(a.name for a in config.accounts),
            repository=repo,
            actor=actor,
            pr_number=merged.number if merged else None,
            pr_url=services.pr_url(repo, merged.number) if merged else None,
            pr_title=merged.title if merged else None,
            head_sha=sha,
        ),
        _team_members(source, config),
    )
    # Audited with the finish, once: the merge's `closed` and `push` jobs may both take the toggle up
    # (the apply records it pending in its own transaction, so some job always finds it pending).
    services.store.finish_toggle(repo, sha, audit=entry)
    return numbers


def resume_toggle(
    services: Services, pending: PendingToggle, *, installation: int | None = None
) -> list[int]:
    """Finish a toggle whose follow-up did not complete (the store kept it pending)."""
    config, problems = parse_repo_config(pending.config_after)
    if config is None:
        # Cannot happen for a recorded toggle (it was parsed to be detected); never retry it forever.
        log.error(
            "%s: pending toggle at %s has unreadable rules: %s",
            pending.repository,
            pending.commit_sha[:12],
            "; ".join(str(p) for p in problems),
        )
        services.store.finish_toggle(pending.repository, pending.commit_sha)
        return []
    log.info("%s: finishing the toggle of %s", pending.repository, pending.commit_sha[:12])
    return on_toggle(
        services,
        pending.repository,
        pending.enabled,
        config,
        pending.commit_sha,
        installation=installation,
        actor=pending.actor,
    )


def follow_up_toggles(services: Services, repo: str, *, installation: int | None = None) -> None:
    """After an apply that recorded a toggle (or found one pending): its follow-up, queued as a job of
    the repository's lane when there is a queue (see Services.follow_up), else run now."""
    if services.follow_up is not None:
        services.follow_up(repo, installation)
    else:
        resume_toggles(services, repo, installation=installation)


def resume_toggles(services: Services, repo: str, *, installation: int | None = None) -> list[str]:
    """Finish every pending toggle of `repo`, oldest first; returns their commit shas."""
    pending = services.store.pending_toggles(repo)
    for toggle in pending:
        resume_toggle(services, toggle, installation=installation)
    return [toggle.commit_sha for toggle in pending]


def _merged_pull(source: PullRequestSource, sha: str) -> MergedPull | None:
    """The PR whose merge made the toggle commit (None for a direct push), for the email to link to."""
    try:
        pulls = source.merged_pulls_for_commit(sha)
    except GitHubReadError as error:
        log.warning("cannot tell which pull request made %s: %s", sha[:12], error)
        return None
    return next((p for p in pulls if p.merged and p.merge_commit_sha == sha), None)


def _revert_requests(
    services: Services,
    source: PullRequestSource,
    repo: str,
    installation: int | None,
    sha: str,
    pending: PendingToggle | None,
) -> list[int]:
    """Convert every open ready PR that held resources to draft; returns those reverted."""
    held = {lock.pr_number for lock in services.store.locks(repo)}
    writer = services.writer(repo, installation)
    before: list[_Before | None] = []  # read once, and only when a PR's locks cannot tell
    reverted: list[int] = []
    for number in sorted(held | set(source.open_pull_numbers())):
        try:
            # The merge view, as evaluate_pull judged the PR: its own change, not a stale branch's
            # apparent reverts of what reached the base since it was cut.
            snapshot = source.read(number, merged=True)
            pull = snapshot.pull
            if pull.state != "open":
                services.store.release_locks(repo, number)
                continue
            if pull.draft:
                continue
            if number not in held:
                before = before or [_before(source, sha, pending)]
                if before[0] is None or not _requested_approval(services, snapshot, before[0]):
                    continue
            services.store.release_locks(repo, number)
            _revert(services, source, writer, snapshot, repo, sha)
        except (GitHubWriteError, GitHubReadError) as error:
            # One PR GitHub would not read or change must not keep the others pending, nor the emails unsent.
            log.error("%s#%d: could not revert the approval request: %s", repo, number, error)
            continue
        reverted.append(number)
    return reverted


def _revert(
    services: Services,
    source: PullRequestSource,
    writer: PullRequestWriter,
    snapshot: PullRequestSnapshot,
    repo: str,
    sha: str,
) -> None:
    number = snapshot.pull.number
    no_draft: DraftsUnavailable | None = None
    for attempt in range(1, _WRITE_TRIES + 1):
        pull = snapshot.pull
        try:
            if no_draft is None:
                try:
                    writer.convert_to_draft(pull)
                except DraftsUnavailable as refused:
                    # Not an error of the revert: the labels, the review requests and the comment still
                    # withdraw the request, and the PR stays ready (asked again it is refused again).
                    log.warning("%s#%d: stays ready for review: %s", repo, number, refused)
                    no_draft = refused
            writer.set_labels(number, [], pull.labels)
            writer.withdraw_review_requests(pull)
            break
        except GitHubWriteError:
            if attempt == _WRITE_TRIES:
                raise
            snapshot = source.read(number)  # a concurrent re-evaluation changed it: act on what is there
    if services.store.claim_notification(f"{repo}#{number}:reverted:{sha}"):
        text = REVERTED if no_draft is None else REVERTED_NOT_DRAFT
        writer.comment(number, text.format(sha=sha[:12]))


@dataclass(frozen=True)
class _Before:
    """The default branch just before the toggle: its rules and its tree (the first parent's)."""

    rules: RepoConfig
    tree: GitHubTree


def _before(source: PullRequestSource, sha: str, pending: PendingToggle | None) -> _Before | None:
    commit = source.read_commit(sha)
    # The rules that governed: the approved ones the apply recorded, not a drifted first parent's file.
    raw = pending.config_before if pending is not None else commit.config_before
    rules, _ = parse_repo_config(raw)
    return _Before(rules, commit.base) if rules is not None else None


def _requested_approval(services: Services, snapshot: PullRequestSnapshot, before: _Before) -> bool:
    """Whether the PR held resources just before the toggle: judged as evaluate_pull judged it then,
    against the default branch as it was (the snapshot's base already carries the toggle).

    The PR's own change is the merge view's (`snapshot.changes`, against today's base), laid over the
    tree before the toggle. Neither tree alone will do: the PR head's own tree would count everything
    that reached the base since the branch was cut as the PR reverting it, and the merge view compared
    with the tree before the toggle would count the toggle's own `.approvalbot.yml` edit as the PR's.
    """
    now = services.clock()
    head = _Overlay(before.tree, snapshot.head, snapshot.changes)
    plan = make_plan(before.tree, head, _changes(before.tree, head), before.rules, now)
    decision = decide(before.rules, (), plan, snapshot.facts, now)
    return decision.state not in _HOLDS_NOTHING


class _Overlay:
    """`base` with the files of `changes` as `head` has them (a `Tree`, with blob shas for diffing)."""

    def __init__(self, base: GitHubTree, head: GitHubTree, changes: Iterable[FileChange]) -> None:
        self._base = base
        self._head = head
        self._changed = {path for change in changes for path in change.paths}

    def paths(self) -> Sequence[str]:
        kept = [p for p in self._base.paths() if p not in self._changed]
        return sorted(kept + [p for p in self._changed if self._head.blob_sha(p) is not None])

    def read(self, path: str) -> bytes | None:
        return (self._head if path in self._changed else self._base).read(path)

    def blob_sha(self, path: str) -> str | None:
        return (self._head if path in self._changed else self._base).blob_sha(path)

    def mentioning(self, word: str, paths: Iterable[str]) -> list[str]:
        wanted = list(paths)
        mine = [p for p in wanted if p in self._changed]
        return self._head.mentioning(word, mine) + self._base.mentioning(
            word, [p for p in wanted if p not in self._changed]
        )


def _changes(base: GitHubTree, head: GitHubTree | _Overlay) -> tuple[FileChange, ...]:
    """Changed files by blob sha (no content is read)."""
    before, after = set(base.paths()), set(head.paths())
    changes = [FileChange(ChangeType.ADDED, p) for p in after - before]
    changes += [FileChange(ChangeType.DELETED, p) for p in before - after]
    changes += [
        FileChange(ChangeType.MODIFIED, p) for p in before & after if base.blob_sha(p) != head.blob_sha(p)
    ]
    return tuple(sorted(changes, key=lambda c: c.path))


def _team_members(source: PullRequestSource, config: RepoConfig) -> Mapping[str, Sequence[str]]:
    """Members of the teams the config names (admins, approvers, approving roles), so they are told too."""
    entries = [
        entry for account in config.accounts for members in account.roles.values() for entry in members
    ]
    entries += [
        entry for account in config.accounts for role in account.custom_roles for entry in role.members
    ]
    teams = sorted(
        {(org, slug) for org, _, slug in (e[1:].partition("/") for e in entries if e.startswith("@"))}
    )
    if not teams:
        return {}
    problems: list[str] = []
    try:
        # The batched GraphQL read a PR snapshot uses for its teams (the source has no public call for it).
        _, members = source._fetch(set(), teams, problems)
    except GitHubReadError as error:
        log.warning("cannot read team members; their members are not told of the toggle: %s", error)
        return {}
    for problem in problems:
        log.warning("%s", problem)
    return members
