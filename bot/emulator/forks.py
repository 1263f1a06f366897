"""Pull requests from forks: the head branch lives in another repository of the same network.

Modelled from GitHub's documentation and schemas:
- a fork shares its parent's git objects (GitHub's "About forks": a fork is in the same repository
  network), so a fork's commits are readable through the parent by sha, as `refs/pull/N/head` makes them:
  here the fork's `commits` is the parent's own dict;
- a PR's `head.repo` is the fork (`head.label` `owner:branch`), `base.repo` the parent (OpenAPI
  `pull-request`: `head.repo` is the head's repository, `repository.fork` is true for a fork);
- a check run's and check suite's `pull_requests` leave out PRs whose head is in a fork (OpenAPI
  `check-run.pull_requests` / @octokit/webhooks `check_suite.pull_requests`: "When the check suite's
  `head_branch` is in a forked repository it will be `null` and the `pull_requests` array will be
  empty"), so a "Re-run" of a fork PR's check names no PR;
- "List pull requests associated with a commit" (`GET /repos/{o}/{r}/commits/{sha}/pulls`) returns
  nothing for a commit that lives only in a fork's open PR (seen in practice and reported, e.g.
  WordPress/openstation#528, "listPullRequestsAssociatedWithCommit does not resolve commits that live
  in a fork"); only after the merge does the merge commit name the PR. Listing the open PRs
  (`GET /repos/{o}/{r}/pulls`, which includes fork PRs, each with its `head.sha`) finds it.
"""

from __future__ import annotations

from bot.emulator.state import PullRequest, Repo, World


def make_fork(world: World, parent: Repo, owner: str) -> Repo:
    """`owner`'s fork of `parent`: the same objects, its own branches (copied from the parent's)."""
    name = f"{owner}/{parent.name}"
    if name in world.repos:
        return world.repos[name]
    world.user(owner)
    fork = Repo(owner, parent.name, world.new_id(), parent.default_branch, world.now())
    fork.commits = parent.commits  # one repository network: one object store
    fork.branches = dict(parent.branches)
    fork.fork_of = parent.full_name
    world.repos[name] = fork
    return fork


def head_repo(world: World, repo: Repo, pr: PullRequest) -> Repo:
    """The repository the PR's head branch is in: the fork, or `repo` itself."""
    return world.repo(pr.head_repo) if pr.head_repo else repo


def from_fork(pr: PullRequest) -> bool:
    return pr.head_repo is not None


def pulls_headed_at(world: World, repo: Repo, branch: str) -> list[tuple[Repo, PullRequest]]:
    """The open PRs (with the repository that holds each) whose head is `branch` of `repo`: the
    repository's own, or its parent's PRs from this fork."""
    found = [(repo, pr) for pr in repo.pulls.values() if pr.head_repo is None and pr.head_ref == branch]
    if repo.fork_of is not None and repo.fork_of in world.repos:
        parent = world.repos[repo.fork_of]
        found += [
            (parent, pr)
            for pr in parent.pulls.values()
            if pr.head_repo == repo.full_name and pr.head_ref == branch
        ]
    return [(where, pr) for where, pr in found if pr.state == "open"]
