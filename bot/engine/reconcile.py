"""Catch up with what webhooks missed: GitHub does not redeliver a lost event by itself.

Walks the default branch back (first parents) from its head to the branch mark (the newest commit up
to which every commit is handled), then judges every commit in between that is neither applied nor
recorded as drift, oldest first, exactly as a push would, and moves the mark to the head. A store
that has never seen the repository starts from a baseline: the resources on the default branch today
are taken as live, as they are (recorded in the audit log), since nothing before the bot's arrival
was ever approved through it.
Checks that applies and drift records still owe GitHub are published. Locks held by PRs that are no
longer open are released, and the PRs waiting on them re-checked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.adapters.github.source import PullRequestSource
from bot.engine.baseline import take_baseline
from bot.engine.merge import CommitResult, Outcome, apply_walk, handled, publish_check
from bot.engine.services import PullRef, Services
from bot.engine.toggle import resume_toggles

log = logging.getLogger("approvalbot.reconcile")

MAX_WALK = 2000  # commits since the mark walked at most (20 GitHub calls)


@dataclass(frozen=True)
class ReconcileResult:
    repo: str
    baseline: str | None  # the commit taken as the starting live state, when there was none
    results: tuple[CommitResult, ...] = ()
    released: tuple[int, ...] = ()  # PRs whose stale locks were released
    toggles: tuple[str, ...] = ()  # commits whose pending toggle was finished
    checks: tuple[str, ...] = ()  # commits whose owed "Applied" or drift check was published
    reevaluated: tuple[int, ...] = ()  # open PRs whose head had no verdict yet


def reconcile(services: Services, repo: str, *, installation: int | None = None) -> ReconcileResult:
    source = services.source(repo, installation)
    head = source.default_branch_head()
    baseline, unhandled = _unhandled(services, source, repo, head)
    # One walk, oldest first: a rebase merge's earlier commits are left to its last (merge.py).
    results = tuple(apply_walk(services, repo, list(reversed(unhandled)), installation=installation))
    if not any(r.outcome is Outcome.DEFERRED for r in results):
        services.store.set_branch_mark(repo, head)  # else the walk stopped there: the rest waits with it
    # Toggles applied here, or whose follow-up failed after an earlier apply, are finished now.
    toggles = tuple(resume_toggles(services, repo, installation=installation))
    checks = tuple(publish_owed_checks(services, repo, installation))
    heads = source.open_pull_heads()
    released = release_stale_locks(services, repo, installation, [n for n, _ in heads])
    reevaluated = reevaluate_unjudged(services, source, repo, installation, heads, skip=released)
    return ReconcileResult(repo, baseline, results, released, toggles, checks, reevaluated)


def _unhandled(
    services: Services, source: PullRequestSource, repo: str, head: str
) -> tuple[str | None, list[str]]:
    """The baseline taken now (if any), and every first-parent commit from `head` down to the branch
    mark that is neither applied nor recorded as drift, newest first: every one, not only those above
    the newest handled commit (a commit whose events were all lost can sit below one that was applied).
    Costs one GitHub call per 100 commits since the mark, so a caught-up repository costs one."""
    mark = services.store.branch_mark(repo)
    walk = source.first_parent_walk(head, stop=mark, limit=MAX_WALK) if mark is not None else None
    if walk is not None and walk.reached_stop:
        return None, _not_handled(services, walk.chain)
    # No mark (a store from before marks, or one that never met the repository), or a mark no longer on
    # the branch: the newest handled commit is where the handled history ends.
    chain = walk.chain if walk is not None else source.first_parent_chain(head, stop=None, limit=MAX_WALK)
    done = handled(services, chain)
    newest = next((i for i, sha in enumerate(chain) if sha in done), None)
    if newest is None and mark is None:  # the store has never seen this repository
        take_baseline(services, repo, head, source.tree(head))
        return head, []
    if newest is None:
        log.error(
            "%s: the commits handled last (up to %s) are not among the %d first-parent commits below the "
            "head %s (the branch was rewritten?): nothing judged; the mark moves to the head",
            repo,
            mark[:12] if mark else "-",
            len(chain),
            head[:12],
        )
        return None, []
    return None, [sha for sha in chain[:newest] if sha not in done]


def _not_handled(services: Services, chain: list[str]) -> list[str]:
    done = handled(services, chain)
    return [sha for sha in chain if sha not in done]


def publish_owed_checks(services: Services, repo: str, installation: int | None) -> list[str]:
    """Publish the checks applies and drift records still owe (their process died before GitHub took
    them); returns the commits."""
    owed = services.store.owed_checks(repo)
    for check in owed:
        publish_check(services, installation, check)
    return [check.commit_sha for check in owed]


def release_stale_locks(
    services: Services, repo: str, installation: int | None, open_now: list[int]
) -> tuple[int, ...]:
    """Release the locks of PRs no longer open and re-check every open PR (one may have waited)."""
    holders = {lock.pr_number for lock in services.store.locks(repo)}
    if not holders:
        return ()
    stale = tuple(sorted(holders - set(open_now)))
    for number in stale:
        services.store.release_locks(repo, number)
    for number in sorted(open_now) if stale else ():
        services.reevaluate(PullRef(repo, number, installation))
    return stale


def reevaluate_unjudged(
    services: Services,
    source: PullRequestSource,
    repo: str,
    installation: int | None,
    heads: list[tuple[int, str]],
    *,
    skip: tuple[int, ...] = (),
) -> tuple[int, ...]:
    """Re-evaluate every open PR whose head carries no completed approvalbot check: its events were
    lost, or the evaluation died halfway. Whether a head was judged is read off GitHub (the check run
    is the verdict), one GraphQL call per 50 open PRs. `skip`: when locks were released every open PR
    is re-checked already."""
    if skip:
        return ()
    judged = source.judged_heads([sha for _, sha in heads], services.app_id)
    numbers = tuple(sorted(number for number, sha in heads if sha not in judged))
    for number in numbers:
        services.reevaluate(PullRef(repo, number, installation))
    return numbers
