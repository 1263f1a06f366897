"""Catch up with what webhooks missed: GitHub does not redeliver a lost event by itself.

Walks the default branch back (first parents) to the last commit the store has applied, then judges
every later commit, oldest first, exactly as a push would. A store that has never seen the repository
starts from a baseline: the resources on the default branch today are taken as live, as they are
(recorded in the audit log), since nothing before the bot's arrival was ever approved through it.
Locks held by PRs that are no longer open are released, and the PRs waiting on them re-checked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.engine.baseline import take_baseline
from bot.engine.merge import CommitResult, apply_walk
from bot.engine.services import PullRef, Services
from bot.engine.toggle import resume_toggles

log = logging.getLogger("approvalbot.reconcile")

MAX_WALK = 500


@dataclass(frozen=True)
class ReconcileResult:
    repo: str
    baseline: str | None  # the commit taken as the starting live state, when there was none
    results: tuple[CommitResult, ...] = ()
    released: tuple[int, ...] = ()  # PRs whose stale locks were released
    toggles: tuple[str, ...] = ()  # commits whose pending toggle was finished


def reconcile(services: Services, repo: str, *, installation: int | None = None) -> ReconcileResult:
    source = services.source(repo, installation)
    head = source.default_branch_head()
    chain = source.first_parent_chain(head, stop=None, limit=MAX_WALK)  # newest first
    applied = services.store.applied(chain)
    unapplied: list[str] = []
    for sha in chain:
        if sha in applied:
            break
        unapplied.append(sha)
    baseline = None
    if len(unapplied) == len(chain):  # the store has never seen this repository
        baseline = head
        take_baseline(services, repo, head, source.tree(head))
        unapplied = []
    # One walk, oldest first: a rebase merge's earlier commits are left to its last (merge.py).
    results = tuple(apply_walk(services, repo, list(reversed(unapplied)), installation=installation))
    # Toggles applied here, or whose follow-up failed after an earlier apply, are finished now.
    toggles = tuple(resume_toggles(services, repo, installation=installation))
    released = release_stale_locks(services, repo, installation)
    return ReconcileResult(repo, baseline, results, released, toggles)


def release_stale_locks(services: Services, repo: str, installation: int | None) -> tuple[int, ...]:
    holders = {lock.pr_number for lock in services.store.locks(repo)}
    if not holders:
        return ()
    open_now = set(services.source(repo, installation).open_pull_numbers())
    stale = tuple(sorted(holders - open_now))
    for number in stale:
        services.store.release_locks(repo, number)
    for number in sorted(open_now) if stale else ():
        services.reevaluate(PullRef(repo, number, installation))
    return stale
