"""JSON shapes of GitHub objects, as the REST API and webhooks show them.

One renderer per object, shared by REST responses and webhook payloads where GitHub's two contracts
agree (webhook schemas forbid unknown properties, so renderers emit only fields both sides allow).
Every `url`/`*_url` field carries the emulator's own base address: PyGithub follows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bot.emulator import forks, history
from bot.emulator.gitobjects import Commit, Identity
from bot.emulator.state import (
    App,
    CheckRun,
    Installation,
    IssueComment,
    Label,
    PullRequest,
    Repo,
    Review,
    User,
    World,
    node_id,
)
from bot.emulator.webhooks import Delivery

Json = dict[str, Any]


def stamp(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


@dataclass(frozen=True)
class Urls:
    """Where the emulator lives: `api` is what clients pass as base_url, `web` stands in for github.com."""

    api: str
    web: str

    def repo(self, repo: Repo) -> str:
        return f"{self.api}/repos/{repo.full_name}"


def user(urls: Urls, who: User) -> Json:
    base = f"{urls.api}/users/{quote(who.login)}"
    return {
        "login": who.login,
        "id": who.id,
        "node_id": node_id("U_", who.id),
        "avatar_url": f"{urls.web}/avatars/{quote(who.login)}",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{urls.web}/{quote(who.login)}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": who.type,
        "site_admin": False,
    }


def login(world: World, urls: Urls, name: str) -> Json:
    """The user `name` as REST shows it; a deleted account's content shows the `ghost` user (GitHub's
    "Deleted user" placeholder, https://github.com/ghost) in its place."""
    who = world.user(name)
    return user(urls, world.user("ghost") if who.deleted else who)


_REPO_URL_TEMPLATES = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}


def repository(world: World, urls: Urls, repo: Repo) -> Json:
    api = urls.repo(repo)
    html = f"{urls.web}/{repo.full_name}"
    out: Json = {
        "id": repo.id,
        "node_id": node_id("R_", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": login(world, urls, repo.owner),
        "html_url": html,
        "description": None,
        "fork": repo.fork_of is not None,
        "url": api,
    }
    out.update({key: api + suffix for key, suffix in _REPO_URL_TEMPLATES.items()})
    created = stamp(repo.created_at)
    out.update(
        {
            "created_at": created,
            "updated_at": created,
            "pushed_at": created,
            "git_url": f"git://{urls.web.split('://', 1)[-1]}/{repo.full_name}.git",
            "ssh_url": f"git@emulator:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": None,
            "has_issues": True,
            "has_projects": False,
            "has_downloads": False,
            "has_wiki": False,
            "has_pages": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": sum(1 for p in repo.pulls.values() if p.state == "open"),
            "license": None,
            "forks": 0,
            "open_issues": sum(1 for p in repo.pulls.values() if p.state == "open"),
            "watchers": 0,
            "default_branch": repo.default_branch,
            # The merge methods the repository allows (OpenAPI `repository`; merges.py): GitHub shows
            # them in the repository object, so in every pull request's `base.repo` too.
            "allow_merge_commit": repo.allow_merge_commit,
            "allow_squash_merge": repo.allow_squash_merge,
            "allow_rebase_merge": repo.allow_rebase_merge,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo.private else "public",
            "custom_properties": {},
        }
    )
    return out


def label(urls: Urls, repo: Repo, item: Label) -> Json:
    return {
        "id": item.id,
        "node_id": node_id("LA_", item.id),
        "url": f"{urls.repo(repo)}/labels/{quote(item.name)}",
        "name": item.name,
        "color": item.color,
        "default": False,
        "description": item.description,
    }


def pr_commits(repo: Repo, pr: PullRequest) -> list[Commit]:
    """Commits on the head that the base branch does not have, oldest first (GitHub's order)."""
    return history.pull_commits(repo, pr)


def _ref(world: World, urls: Urls, repo: Repo, ref: str, sha: str) -> Json:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": login(world, urls, repo.owner),
        "repo": repository(world, urls, repo),
    }


def mergeable(world: World, repo: Repo, pr: PullRequest) -> bool:
    from bot.emulator.merging import test_merge

    return test_merge(world, repo, pr) is not None


def pull_request(
    world: World,
    urls: Urls,
    repo: Repo,
    pr: PullRequest,
    *,
    webhook: bool = False,
    computing: bool = False,
) -> Json:
    """`computing`: answer as GitHub does while the test merge is being made (mergeable unknown)."""
    from bot.emulator.merging import test_merge

    api = f"{urls.repo(repo)}/pulls/{pr.number}"
    issue = f"{urls.repo(repo)}/issues/{pr.number}"
    html = f"{urls.web}/{repo.full_name}/pull/{pr.number}"
    base_sha = repo.branches.get(pr.base_ref, pr.base_sha)
    can_merge: bool | None = None
    # An open PR's merge_commit_sha is its test merge (what merging now would give); a merged one's is
    # the real merge; a PR closed unmerged keeps the last test merge, as GitHub does.
    merge_sha = pr.merge_commit_sha if pr.merged else (pr.test_merge[2] if pr.test_merge else None)
    if pr.state == "open" and not computing:
        merge_sha = test_merge(world, repo, pr)
        can_merge = merge_sha is not None
    elif pr.state == "open":
        merge_sha = None
    if pr.state != "open" or can_merge is None:
        merge_state = "unknown"
    elif pr.draft:
        merge_state = "draft"
    else:
        merge_state = "clean" if can_merge else "dirty"
    base_files = repo.commits[base_sha].files if base_sha in repo.commits else {}
    head_files = repo.commits[pr.head_sha].files
    changed = {p for p in set(base_files) | set(head_files) if base_files.get(p) != head_files.get(p)}
    links = {
        "self": api,
        "html": html,
        "issue": issue,
        "comments": f"{issue}/comments",
        "review_comments": f"{api}/comments",
        "review_comment": f"{urls.repo(repo)}/pulls/comments{{/number}}",
        "commits": f"{api}/commits",
        "statuses": f"{urls.repo(repo)}/statuses/{pr.head_sha}",
    }
    return {
        "url": api,
        "id": pr.id,
        "node_id": node_id("PR_", pr.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue,
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": login(world, urls, pr.author),
        "body": pr.body,
        "created_at": stamp(pr.created_at),
        "updated_at": stamp(pr.updated_at),
        "closed_at": stamp(pr.closed_at),
        "merged_at": stamp(pr.merged_at),
        "merge_commit_sha": merge_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [login(world, urls, name) for name in pr.requested_reviewers],
        "requested_teams": [team(world, urls, slug, webhook=webhook) for slug in pr.requested_teams],
        "labels": [label(urls, repo, repo.labels[name]) for name in pr.labels],
        "milestone": None,
        "draft": pr.draft,
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "head": _ref(world, urls, forks.head_repo(world, repo, pr), pr.head_ref, pr.head_sha),
        "base": _ref(world, urls, repo, pr.base_ref, base_sha),
        "_links": {key: {"href": href} for key, href in links.items()},
        "author_association": "MEMBER",
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": pr.merged,
        "mergeable": can_merge,
        "rebaseable": can_merge,
        "mergeable_state": merge_state,
        "merged_by": login(world, urls, pr.merged_by) if pr.merged_by else None,
        "comments": sum(1 for c in repo.comments.values() if c.number == pr.number),
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": len(pr_commits(repo, pr)),
        "additions": 0,
        "deletions": 0,
        "changed_files": len(changed),
    }


# Fields of the full pull request that the "simple" one (lists, review events) does not carry.
_MERGE_STATE_FIELDS = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


def pull_request_simple(
    world: World, urls: Urls, repo: Repo, pr: PullRequest, *, webhook: bool = False
) -> Json:
    """GitHub's `pull-request-simple`: the pull request without its merge state."""
    out = pull_request(world, urls, repo, pr, webhook=webhook)
    for key in _MERGE_STATE_FIELDS:
        out.pop(key)
    return out


def _git_user(who: Identity, when: datetime) -> Json:
    return {"name": who.name, "email": who.email, "date": stamp(when)}


def _account(world: World, urls: Urls, who: Identity) -> Json | None:
    # GitHub links a commit's author to an account only when the email maps to one.
    return login(world, urls, who.login) if who.login else None


def commit(world: World, urls: Urls, repo: Repo, item: Commit) -> Json:
    """GitHub's `commit` as the commit list shows it (no `files` or `stats`: single reads have those)."""
    api = f"{urls.repo(repo)}/commits/{item.sha}"
    html = f"{urls.web}/{repo.full_name}/commit/{item.sha}"
    return {
        "url": api,
        "sha": item.sha,
        "node_id": node_id("C_", int(item.sha[:12], 16)),
        "html_url": html,
        "comments_url": f"{api}/comments",
        "commit": {
            "url": f"{urls.repo(repo)}/git/commits/{item.sha}",
            "author": _git_user(item.author, item.time),
            "committer": _git_user(item.committer, item.time),
            "message": item.message,
            "comment_count": 0,
            "tree": {"sha": item.tree_sha, "url": f"{urls.repo(repo)}/git/trees/{item.tree_sha}"},
        },
        "author": _account(world, urls, item.author),
        "committer": _account(world, urls, item.committer),
        "parents": [
            {
                "sha": parent,
                "url": f"{urls.repo(repo)}/commits/{parent}",
                "html_url": f"{urls.web}/{repo.full_name}/commit/{parent}",
            }
            for parent in item.parents
        ],
    }


def diff_entry(urls: Urls, repo: Repo, head: Commit, base_files: Mapping[str, str], path: str) -> Json:
    """One file of a comparison (`diff-entry`), without line counts or patch (nothing here reads them)."""
    before, after = base_files.get(path), head.files.get(path)
    status = "added" if before is None else "removed" if after is None else "modified"
    ref = head.sha if after is not None else head.parents[0] if head.parents else head.sha
    quoted = quote(path)
    return {
        "sha": after or before,
        "filename": path,
        "status": status,
        "additions": 0,
        "deletions": 0,
        "changes": 0,
        "blob_url": f"{urls.web}/{repo.full_name}/blob/{ref}/{quoted}",
        "raw_url": f"{urls.web}/{repo.full_name}/raw/{ref}/{quoted}",
        "contents_url": f"{urls.repo(repo)}/contents/{quoted}?ref={ref}",
    }


def comparison(
    world: World,
    urls: Urls,
    repo: Repo,
    base: Commit,
    head: Commit,
    merge_base: Commit,
    commits: list[Commit],
    ahead_by: int,
    behind_by: int,
) -> Json:
    """GitHub's `commit-comparison` of `base...head`: the files are merge base → head (three dots);
    `commits` is the page of the `ahead_by` commits asked for."""
    spec = f"{base.sha}...{head.sha}"
    if ahead_by == 0 and behind_by == 0:
        status = "identical"
    elif behind_by == 0:
        status = "ahead"
    elif ahead_by == 0:
        status = "behind"
    else:
        status = "diverged"
    origin = merge_base.files
    changed = sorted(p for p in set(origin) | set(head.files) if origin.get(p) != head.files.get(p))
    return {
        "url": f"{urls.repo(repo)}/compare/{spec}",
        "html_url": f"{urls.web}/{repo.full_name}/compare/{spec}",
        "permalink_url": f"{urls.web}/{repo.full_name}/compare/{repo.owner}:{spec}",
        "diff_url": f"{urls.web}/{repo.full_name}/compare/{spec}.diff",
        "patch_url": f"{urls.web}/{repo.full_name}/compare/{spec}.patch",
        "base_commit": commit(world, urls, repo, base),
        "merge_base_commit": commit(world, urls, repo, merge_base),
        "status": status,
        "ahead_by": ahead_by,
        "behind_by": behind_by,
        "total_commits": ahead_by,
        "commits": [commit(world, urls, repo, c) for c in commits],
        "files": [diff_entry(urls, repo, head, origin, path) for path in changed],
    }


def team(world: World, urls: Urls, slug: str, *, webhook: bool = False) -> Json:
    org, _, name = slug.partition("/")
    found = world.teams.get((org, name))
    ident = found.id if found else 0
    api = f"{urls.api}/organizations/{org}/team/{ident}"
    out: Json = {
        "name": name,
        "id": ident,
        "node_id": node_id("T_", ident),
        "slug": name,
        "description": None,
        "privacy": "closed",
        "url": api,
        "html_url": f"{urls.web}/orgs/{org}/teams/{name}",
        "members_url": f"{api}/members{{/member}}",
        "repositories_url": f"{api}/repos",
        "permission": "pull",
        "parent": None,
    }
    if not webhook:
        # GitHub's two contracts disagree here: REST requires `type`, webhook schemas forbid it.
        out["type"] = "organization"
    return out


def review(world: World, urls: Urls, repo: Repo, pr: PullRequest, item: Review, *, webhook: bool) -> Json:
    html = f"{urls.web}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{item.id}"
    pull_url = f"{urls.repo(repo)}/pulls/{pr.number}"
    return {
        "id": item.id,
        "node_id": node_id("PRR_", item.id),
        "user": login(world, urls, item.user),
        "body": item.body or None,
        "commit_id": item.commit_id,
        "submitted_at": stamp(item.submitted_at),
        # The REST API spells states in capitals, webhooks in lower case.
        "state": item.state.lower() if webhook else item.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": "MEMBER",
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
    }


def app(world: World, urls: Urls, item: App) -> Json:
    created = stamp(world.now())
    return {
        "id": item.id,
        "slug": item.slug,
        "node_id": node_id("A_", item.id),
        "owner": login(world, urls, item.owner),
        "name": item.slug,
        "description": None,
        "external_url": f"{urls.web}/apps/{item.slug}",
        "html_url": f"{urls.web}/apps/{item.slug}",
        "created_at": created,
        "updated_at": created,
        "permissions": item.permissions.as_json(),  # the App's registration, what its tokens carry
        "events": ["pull_request", "pull_request_review", "issue_comment", "push", "check_run"],
    }


def installation(world: World, urls: Urls, item: Installation) -> Json:
    app_ = world.apps[item.app_id]
    account = world.user(item.account)
    created = stamp(world.now())
    return {
        "id": item.id,
        "account": login(world, urls, item.account),
        "repository_selection": "all",
        "access_tokens_url": f"{urls.api}/app/installations/{item.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.web}/organizations/{item.account}/settings/installations/{item.id}",
        "app_id": item.app_id,
        "app_slug": app_.slug,
        "target_id": account.id,
        "target_type": "Organization" if account.type == "Organization" else "User",
        "permissions": app_.permissions.as_json(),
        "events": ["pull_request", "pull_request_review", "issue_comment", "push", "check_run"],
        "created_at": created,
        "updated_at": created,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def _reactions(url: str) -> Json:
    counts = dict.fromkeys(("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"), 0)
    return {"url": f"{url}/reactions", "total_count": 0, **counts}


def issue_comment(world: World, urls: Urls, repo: Repo, item: IssueComment) -> Json:
    url = f"{urls.repo(repo)}/issues/comments/{item.id}"
    via = world.apps.get(item.app_id) if item.app_id else None
    return {
        "url": url,
        "html_url": f"{urls.web}/{repo.full_name}/pull/{item.number}#issuecomment-{item.id}",
        "issue_url": f"{urls.repo(repo)}/issues/{item.number}",
        "id": item.id,
        "node_id": node_id("IC_", item.id),
        "user": login(world, urls, item.user),
        "created_at": stamp(item.created_at),
        "updated_at": stamp(item.updated_at),
        "author_association": "MEMBER",
        "body": item.body,
        "reactions": _reactions(url),
        "performed_via_github_app": app(world, urls, via) if via else None,
    }


def issue_of_pull(world: World, urls: Urls, repo: Repo, pr: PullRequest) -> Json:
    """The issue side of a pull request, as `issue_comment` webhooks carry it."""
    url = f"{urls.repo(repo)}/issues/{pr.number}"
    html = f"{urls.web}/{repo.full_name}/pull/{pr.number}"
    return {
        "url": url,
        "repository_url": urls.repo(repo),
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": html,
        "id": pr.id,
        "node_id": node_id("PR_", pr.id),
        "number": pr.number,
        "title": pr.title,
        "user": login(world, urls, pr.author),
        "labels": [label(urls, repo, repo.labels[name]) for name in pr.labels],
        "state": pr.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": sum(1 for c in repo.comments.values() if c.number == pr.number),
        "created_at": stamp(pr.created_at),
        "updated_at": stamp(pr.updated_at),
        "closed_at": stamp(pr.closed_at),
        "author_association": "MEMBER",
        "active_lock_reason": None,
        "draft": pr.draft,
        "pull_request": {
            "url": f"{urls.repo(repo)}/pulls/{pr.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": stamp(pr.merged_at),
        },
        "body": pr.body or None,
        "reactions": _reactions(url),
        "performed_via_github_app": None,
    }


def _pull_requests_of_sha(urls: Urls, repo: Repo, sha: str) -> list[Json]:
    found = []
    for pr in repo.pulls.values():
        if pr.head_sha != sha or pr.state != "open" or forks.from_fork(pr):
            continue  # a fork's PR is never listed here (forks.py)
        base_sha = repo.branches.get(pr.base_ref, pr.base_sha)
        repo_ref = {"id": repo.id, "url": urls.repo(repo), "name": repo.name}
        found.append(
            {
                "url": f"{urls.repo(repo)}/pulls/{pr.number}",
                "id": pr.id,
                "number": pr.number,
                "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": repo_ref},
                "base": {"ref": pr.base_ref, "sha": base_sha, "repo": repo_ref},
            }
        )
    return found


def check_run(world: World, urls: Urls, repo: Repo, item: CheckRun, *, webhook: bool = False) -> Json:
    url = f"{urls.repo(repo)}/check-runs/{item.id}"
    owner_app = world.apps.get(item.app_id) or App(item.app_id, f"app-{item.app_id}", repo.owner)
    pulls = _pull_requests_of_sha(urls, repo, item.head_sha)
    suite: Json = {"id": item.check_suite_id}
    if webhook:
        suite.update(
            {
                "node_id": node_id("CS_", item.check_suite_id),
                "head_branch": next((p["head"]["ref"] for p in pulls), None),
                "head_sha": item.head_sha,
                "status": "completed",
                "conclusion": item.conclusion,
                "url": f"{urls.repo(repo)}/check-suites/{item.check_suite_id}",
                "before": None,
                "after": item.head_sha,
                "pull_requests": pulls,
                "app": app(world, urls, owner_app),
                "created_at": stamp(item.started_at),
                "updated_at": stamp(item.completed_at or item.started_at),
            }
        )
    return {
        "id": item.id,
        "node_id": node_id("CR_", item.id),
        "head_sha": item.head_sha,
        "external_id": item.external_id,
        "url": url,
        "html_url": f"{urls.web}/{repo.full_name}/runs/{item.id}",
        "details_url": item.details_url or f"{urls.web}/{repo.full_name}/runs/{item.id}",
        "status": item.status,
        "conclusion": item.conclusion,
        "started_at": stamp(item.started_at),
        "completed_at": stamp(item.completed_at),
        "output": {
            "title": item.title,
            "summary": item.summary,
            "text": item.text,
            "annotations_count": len(item.annotations),
            "annotations_url": f"{url}/annotations",
        },
        "name": item.name,
        "check_suite": suite,
        "app": app(world, urls, owner_app),
        "pull_requests": pulls,
    }


def tree(urls: Urls, repo: Repo, commit: Commit, *, recursive: bool) -> Json:
    entries = commit.entries if recursive else tuple(e for e in commit.entries if "/" not in e.path)
    out = []
    for entry in entries:
        kind = "blobs" if entry.type == "blob" else "trees"
        item: Json = {"path": entry.path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
        if entry.size is not None:
            item["size"] = entry.size
        item["url"] = f"{urls.repo(repo)}/git/{kind}/{entry.sha}"
        out.append(item)
    return {
        "sha": commit.tree_sha,
        "url": f"{urls.repo(repo)}/git/trees/{commit.tree_sha}",
        "tree": out,
        "truncated": False,
    }


def hook_delivery(world: World, delivery: Delivery) -> dict[str, Any]:
    """A "Simple webhook delivery" (the OpenAPI schema hook-delivery-item) of the App's delivery log."""
    payload = delivery.payload
    status = delivery.status
    return {
        "id": delivery.attempt,
        "guid": delivery.id,
        "delivered_at": stamp(delivery.delivered_at),
        "redelivery": delivery.redelivery,
        "duration": 0.01,
        "status": "OK"
        if delivery.ok
        else ("failed to connect" if status is None else f"Invalid HTTP Response: {status}"),
        "status_code": status or 0,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": (payload.get("installation") or {}).get("id"),
        "repository_id": (payload.get("repository") or {}).get("id"),
        "throttled_at": None,
    }
