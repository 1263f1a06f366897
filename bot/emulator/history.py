"""Walking a repository's history the way GitHub's commit and pull-request lookups do."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from bot.emulator.gitobjects import Commit
from bot.emulator.state import PullRequest, Repo


def ancestors(repo: Repo, heads: Iterable[str]) -> set[str]:
    """Every commit reachable from `heads`, the heads included."""
    seen: set[str] = set()
    todo = list(heads)
    while todo:
        sha = todo.pop()
        if sha in seen or sha not in repo.commits:
            continue
        seen.add(sha)
        todo.extend(repo.commits[sha].parents)
    return seen


def log(repo: Repo, head: str) -> list[Commit]:
    """What `git log head` lists (and GitHub's commit list): newest first, never a parent before its
    child. Ties in time go to the commit found first, so same-second histories keep first parents
    ahead of merged-in branches, as git does."""
    reachable = ancestors(repo, [head])
    children = dict.fromkeys(reachable, 0)
    for sha in reachable:
        for parent in set(repo.commits[sha].parents):
            if parent in children:
                children[parent] += 1
    order = 0
    ready: list[tuple[float, int, str]] = [(-repo.commits[head].time.timestamp(), order, head)]
    out: list[Commit] = []
    while ready:
        _, _, sha = heapq.heappop(ready)
        commit = repo.commits[sha]
        out.append(commit)
        for parent in dict.fromkeys(commit.parents):
            if parent not in children:
                continue
            children[parent] -= 1
            if children[parent] == 0:
                order += 1
                heapq.heappush(ready, (-repo.commits[parent].time.timestamp(), order, parent))
    return out


def pull_commits(repo: Repo, pr: PullRequest) -> list[Commit]:
    """The PR's own commits, oldest first (GitHub's order). After a merge they are those its head had
    that the base did not have just before the merge, so a merged PR keeps listing them (a squash or a
    rebase leaves them on no branch, and GitHub still lists them)."""
    first = pr.merged_commits[0] if pr.merged_commits else pr.merge_commit_sha
    if pr.merged and first is not None and first in repo.commits:
        # The base as it was just before the merge: the first parent of the first commit it wrote.
        base_heads: tuple[str, ...] = repo.commits[first].parents[:1]
    else:
        base_heads = (repo.branches.get(pr.base_ref, pr.base_sha),)
    mine = ancestors(repo, [pr.head_sha]) - ancestors(repo, base_heads)
    ordered: list[Commit] = []  # parents before children, whatever the clock said
    seen: set[str] = set()

    def visit(sha: str) -> None:
        if sha in seen or sha not in mine:
            return
        seen.add(sha)
        for parent in repo.commits[sha].parents:
            visit(parent)
        ordered.append(repo.commits[sha])

    visit(pr.head_sha)
    return ordered


def pulls_of_commit(repo: Repo, sha: str) -> list[PullRequest]:
    """GitHub's "pull requests associated with a commit": the PR whose merge wrote `sha` (a merge
    commit, a squash commit, or any of a rebase's new commits: REST "List pull requests associated with
    a commit" lists "the merged pull request that introduced the commit to the repository"), and every
    PR whose own commits include `sha`. A commit pushed straight to a branch belongs to none."""
    found = [
        pr
        for pr in repo.pulls.values()
        if pr.merge_commit_sha == sha
        or sha in pr.merged_commits
        # A fork's PR is found by its own commits only once merged (forks.py).
        or (not (pr.head_repo and not pr.merged) and any(c.sha == sha for c in pull_commits(repo, pr)))
    ]
    return sorted(found, key=lambda pr: -pr.number)
