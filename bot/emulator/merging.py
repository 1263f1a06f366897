"""What merging a pull request would give: a file-level three-way merge, as `mergeable` needs it, and
the test merge commit GitHub keeps for every open, mergeable pull request (its `merge_commit_sha`)."""

from __future__ import annotations

from bot.emulator.gitobjects import Identity
from bot.emulator.state import PullRequest, Repo, World

# Who commits GitHub makes itself are committed by: test merges (on `refs/pull/N/merge`, on no branch),
# squashes and rebases. GitHub links that identity to its `web-flow` account, so the REST commit's
# `committer` is that user, never null (GitHub's signing docs, "About commit signature verification":
# commits made on GitHub are signed and committed by web-flow).
GITHUB = Identity("GitHub", "noreply@github.com", "web-flow")


def merge_base(repo: Repo, left: str, right: str) -> str | None:
    """The nearest common ancestor (breadth-first from `right`), enough for the emulator's histories."""
    seen: set[str] = set()
    todo = [left]
    while todo:
        sha = todo.pop()
        if sha not in seen and sha in repo.commits:
            seen.add(sha)
            todo.extend(repo.commits[sha].parents)
    queue = [right]
    visited: set[str] = set()
    while queue:
        sha = queue.pop(0)
        if sha in seen:
            return sha
        if sha in visited or sha not in repo.commits:
            continue
        visited.add(sha)
        queue.extend(repo.commits[sha].parents)
    return None


def three_way(world: World, repo: Repo, pr: PullRequest) -> dict[str, str] | None:
    """The merged snapshot (path → blob sha), or None when both sides changed a file differently."""
    base_head = repo.branches[pr.base_ref]
    ancestor = merge_base(repo, base_head, pr.head_sha)
    origin = repo.commits[ancestor].files if ancestor else {}
    ours, theirs = repo.commits[base_head].files, repo.commits[pr.head_sha].files
    merged: dict[str, str] = {}
    for path in set(origin) | set(ours) | set(theirs):
        was, mine, new = origin.get(path), ours.get(path), theirs.get(path)
        if mine == new or new == was:
            chosen = mine
        elif mine == was:
            chosen = new
        else:
            return None
        if chosen is not None:
            merged[path] = chosen
    return merged


def test_merge(world: World, repo: Repo, pr: PullRequest) -> str | None:
    """The sha of the commit merging the PR's head into its base branch's current head, made once per
    (base head, head) pair like GitHub's `refs/pull/N/merge`; None when the two conflict.

    The commit is stored like any other, so the trees and blob reads serve it, but no branch points at
    it: history walks from branches never meet it.
    """
    with world.lock:
        base_head = repo.branches[pr.base_ref]
        if pr.test_merge is not None and pr.test_merge[:2] == (base_head, pr.head_sha):
            return pr.test_merge[2]
        merged = three_way(world, repo, pr)
        sha: str | None = None
        if merged is not None:
            content = {path: world.blobs[blob] for path, blob in merged.items()}
            message = f"Merge {pr.head_sha} into {base_head}"
            sha = world.commit(repo, content, (base_head, pr.head_sha), GITHUB, GITHUB, message).sha
        pr.test_merge = (base_head, pr.head_sha, sha)
        return sha


def computing(world: World, repo: Repo, pr: PullRequest) -> bool:
    """Whether a read of the open PR finds GitHub still computing its mergeability.

    GitHub computes `mergeable` and the test merge in a background job after the head or the base
    moves; a read before the job is done answers `mergeable: null` (REST "Get a pull request": "If the
    value is null, then GitHub has started a background job to compute the mergeability. After giving
    the job time to complete, resubmit the request."). Here the first read after a move starts the job
    and answers null, and the job is done by the next read.
    """
    with world.lock:
        key = (repo.branches[pr.base_ref], pr.head_sha)
        if pr.test_merge is not None and pr.test_merge[:2] == key:
            return False
        if pr.mergeability_job == key:
            return False  # started by an earlier read: done by now
        pr.mergeability_job = key
        return True


def known(repo: Repo, pr: PullRequest) -> bool:
    """Whether the test merge for the PR's current base and head was computed (webhooks sent right
    after a push carry `mergeable: null`, as GitHub's synchronize payloads do)."""
    return pr.test_merge is not None and pr.test_merge[:2] == (repo.branches[pr.base_ref], pr.head_sha)
