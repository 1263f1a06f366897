"""What merging a pull request writes on its base branch, by merge method, and which methods a
repository allows.

Sources:
- "About pull request merges" (docs.github.com/en/pull-requests/collaborating-with-pull-requests/
  incorporating-changes-from-a-pull-request/about-pull-request-merges): a merge commit is made with
  `--no-ff`; "Squash and merge" squashes the PR's commits into a single commit, merged fast-forward;
  "Rebase and merge" adds every commit of the head branch onto the base branch individually, with no
  merge commit, and "will always update the committer information and create new commit SHAs".
- REST "Merge a pull request" (docs.github.com/en/rest/pulls/pulls#merge-a-pull-request, OpenAPI
  `pulls/merge`): `merge_method` is one of `merge`, `squash`, `rebase`, default `merge`; 405 "Method Not
  Allowed if merge cannot be performed".
- The 405 messages for a method the repository forbids, as GitHub words them: "Merge commits are not
  allowed on this repository." (github/github-mcp-server#2258, jeffrichley/foreman#399, with the whole
  body), "Squash merges are not allowed on this repository." (akuity/kargo#6490, reproduced against
  GitHub), "Rebase merges are not allowed on this repository." (Mergifyio/mergify#1812 matches all
  three in `merge_base.py`).
- The repository's `allow_merge_commit`, `allow_squash_merge`, `allow_rebase_merge` (OpenAPI
  `repository`, each `default: true`; "Configuring pull request merges" on docs.github.com).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.emulator.gitobjects import Commit, Identity
from bot.emulator.history import pull_commits
from bot.emulator.merging import GITHUB, three_way
from bot.emulator.state import PullRequest, Repo, World


class MergeMethod(StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


# GitHub's 405 message when the repository's settings forbid the method (sources above).
FORBIDDEN = {
    MergeMethod.MERGE: "Merge commits are not allowed on this repository.",
    MergeMethod.SQUASH: "Squash merges are not allowed on this repository.",
    MergeMethod.REBASE: "Rebase merges are not allowed on this repository.",
}


class MergeRefused(ValueError):
    """GitHub would refuse this merge: `status` and `message` are what its REST API answers; `why`
    says more for a scenario's author (the API never does)."""

    def __init__(self, status: int, message: str, why: str = "") -> None:
        super().__init__(f"{message} ({why})" if why else message)
        self.status = status
        self.message = message


def allowed(repo: Repo, method: MergeMethod) -> bool:
    return {
        MergeMethod.MERGE: repo.allow_merge_commit,
        MergeMethod.SQUASH: repo.allow_squash_merge,
        MergeMethod.REBASE: repo.allow_rebase_merge,
    }[method]


@dataclass(frozen=True)
class Written:
    """The commits a merge put on the base branch, oldest first; the last is the PR's merge commit."""

    commits: tuple[Commit, ...]

    @property
    def last(self) -> Commit:
        return self.commits[-1]


def write_merge(
    world: World, repo: Repo, pr: PullRequest, method: MergeMethod, actor: str, title: str | None
) -> Written:
    """Write the commits `method` puts on `pr`'s base branch (the branch is not moved here).

    Raises MergeRefused when the repository forbids the method or the PR cannot be merged that way."""
    if not allowed(repo, method):
        raise MergeRefused(405, FORBIDDEN[method])
    merged = three_way(world, repo, pr)
    if merged is None:
        why = f"{repo.full_name}#{pr.number} has conflicts with {pr.base_ref}"
        raise MergeRefused(405, "Pull Request is not mergeable", why)
    base = repo.branches[pr.base_ref]
    who = Identity(actor, f"{actor}@users.noreply.github.com", actor)
    if method is MergeMethod.REBASE:
        return Written(_rebase(world, repo, pr, base, actor))
    content = {path: world.blobs[sha] for path, sha in merged.items()}
    if method is MergeMethod.SQUASH:
        # One commit, one parent (the base head), the merged tree; its default title is the PR's, with
        # its number ("About pull request merges": "Merge message for a squash merge").
        message = title or f"{pr.title} (#{pr.number})"
        own = pull_commits(repo, pr)
        author = own[0].author if own else who
        return Written((world.commit(repo, content, (base,), author, GITHUB, message, actor),))
    message = title or f"Merge pull request #{pr.number} from {repo.owner}/{pr.head_ref}"
    return Written((world.commit(repo, content, (base, pr.head_sha), who, who, message, actor),))


def _rebase(world: World, repo: Repo, pr: PullRequest, base: str, actor: str) -> tuple[Commit, ...]:
    """Replay each of the PR's commits (its change against its first parent) on top of `base`: new
    shas, GitHub as committer, the author kept. A commit whose change meets a different change on the
    way is a conflict, which GitHub refuses to rebase."""
    files = dict(repo.commits[base].files)
    parent = base
    out: list[Commit] = []
    for commit in pull_commits(repo, pr):
        before = repo.commits[commit.parents[0]].files if commit.parents else {}
        for path in set(before) | set(commit.files):
            was, now = before.get(path), commit.files.get(path)
            if was == now:
                continue
            if files.get(path) not in (was, now):
                why = f"{commit.sha[:12]} changes {path}, which the base changed differently"
                raise MergeRefused(405, "This branch can't be rebased", why)
            if now is None:
                files.pop(path, None)
            else:
                files[path] = now
        content = {path: world.blobs[sha] for path, sha in files.items()}
        made = world.commit(repo, content, (parent,), commit.author, GITHUB, commit.message, actor)
        out.append(made)
        parent = made.sha
    if not out:
        raise MergeRefused(405, "Pull Request is not mergeable", "it has no commits to rebase")
    return tuple(out)
