"""Webhook payloads shaped like GitHub's (validated against @octokit/webhooks-schemas in the tests)."""

from __future__ import annotations

from typing import Any

from bot.emulator import merging, render
from bot.emulator.gitobjects import Commit
from bot.emulator.render import Json, Urls
from bot.emulator.state import CheckRun, Installation, IssueComment, PullRequest, Repo, Review, World, node_id


def _envelope(
    world: World, urls: Urls, repo: Repo, sender: str, installation: Installation | None, **fields: Any
) -> Json:
    payload: Json = dict(fields)
    payload["repository"] = render.repository(world, urls, repo)
    payload["sender"] = render.login(world, urls, sender)
    if installation is not None:
        payload["installation"] = {"id": installation.id, "node_id": node_id("MDIz", installation.id)}
    return payload


def pull_request(
    world: World,
    urls: Urls,
    repo: Repo,
    pr: PullRequest,
    action: str,
    sender: str,
    installation: Installation | None,
    **extra: Any,
) -> Json:
    """`opened`, `reopened`, `synchronize` (pass before/after), `ready_for_review`, `converted_to_draft`,
    `closed` (merged or not, from the PR's own state) or `edited` (pass changes)."""
    # Sent right after the change, before GitHub's background job has computed the test merge.
    computing = pr.state == "open" and not merging.known(repo, pr)
    shown = render.pull_request(world, urls, repo, pr, webhook=True, computing=computing)
    objects = {"number": pr.number, "pull_request": shown}
    return _envelope(world, urls, repo, sender, installation, action=action, **objects, **extra)


def pull_request_review(
    world: World,
    urls: Urls,
    repo: Repo,
    pr: PullRequest,
    review: Review,
    action: str,
    sender: str,
    installation: Installation | None,
    **extra: Any,
) -> Json:
    # A review event carries the "simple" pull request, without merge state.
    objects = {
        "review": render.review(world, urls, repo, pr, review, webhook=True),
        "pull_request": render.pull_request_simple(world, urls, repo, pr, webhook=True),
    }
    return _envelope(world, urls, repo, sender, installation, action=action, **objects, **extra)


def issue_comment(
    world: World,
    urls: Urls,
    repo: Repo,
    pr: PullRequest,
    comment: IssueComment,
    action: str,
    sender: str,
    installation: Installation | None,
    **extra: Any,
) -> Json:
    objects = {
        "issue": render.issue_of_pull(world, urls, repo, pr),
        "comment": render.issue_comment(world, urls, repo, comment),
    }
    return _envelope(world, urls, repo, sender, installation, action=action, **objects, **extra)


def _push_commit(urls: Urls, repo: Repo, commit: Commit) -> Json:
    parent = repo.commits[commit.parents[0]].files if commit.parents else {}
    files = commit.files
    return {
        "id": commit.sha,
        "tree_id": commit.tree_sha,
        "distinct": True,
        "message": commit.message,
        "timestamp": render.stamp(commit.time),
        "url": f"{urls.web}/{repo.full_name}/commit/{commit.sha}",
        "author": _person(commit.author),
        "committer": _person(commit.committer),
        "added": sorted(set(files) - set(parent)),
        "removed": sorted(set(parent) - set(files)),
        "modified": sorted(p for p in set(files) & set(parent) if files[p] != parent[p]),
    }


def _person(who: Any) -> Json:
    out: Json = {"name": who.name, "email": who.email}
    if who.login:
        out["username"] = who.login
    return out


def push(
    world: World,
    urls: Urls,
    repo: Repo,
    ref: str,
    before: str,
    commits: list[Commit],
    pusher: str,
    installation: Installation | None,
    *,
    forced_to: Commit | None = None,
) -> Json:
    """`forced_to`: a force-push of an existing commit (no new commits; GitHub's payload then has
    `forced: true`, empty `commits` and that commit as `head_commit`: docs.github.com, "Webhook events
    and payloads", push)."""
    after = forced_to.sha if forced_to is not None else commits[-1].sha if commits else before
    head = forced_to if forced_to is not None else commits[-1] if commits else None
    pushed_by = world.user(pusher)
    return _envelope(
        world,
        urls,
        repo,
        pusher,
        installation,
        ref=f"refs/heads/{ref}",
        before=before,
        after=after,
        created=before == "0" * 40,
        deleted=False,
        forced=forced_to is not None,
        base_ref=None,
        compare=f"{urls.web}/{repo.full_name}/compare/{before[:12]}...{after[:12]}",
        commits=[_push_commit(urls, repo, c) for c in commits],
        head_commit=_push_commit(urls, repo, head) if head is not None else None,
        pusher={"name": pushed_by.login, "email": pushed_by.email or f"{pushed_by.login}@users.noreply"},
    )


def check_run(
    world: World,
    urls: Urls,
    repo: Repo,
    run: CheckRun,
    action: str,
    sender: str,
    installation: Installation | None,
) -> Json:
    objects = {"check_run": render.check_run(world, urls, repo, run, webhook=True)}
    return _envelope(world, urls, repo, sender, installation, action=action, **objects)
