"""What merging a pull request would give: a file-level three-way merge, as `mergeable` needs it."""

from __future__ import annotations

from bot.emulator.state import PullRequest, Repo, World


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
