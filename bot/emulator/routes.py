"""REST handlers of the emulator: one function per operation, keyed by GitHub's OpenAPI path template.

Handlers get the request as plain data and return (status, JSON body). They change the world under
its lock and send the webhooks GitHub would send for the change (e.g. closing a PR through the API
still fires `pull_request.closed`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.emulator import history, merging, render, reviews
from bot.emulator.merges import MergeMethod, MergeRefused
from bot.emulator.permissions import Grant
from bot.emulator.state import Annotation, CheckRun, IssueComment, Label, PullRequest, Repo

if TYPE_CHECKING:
    from bot.emulator.server import GitHubEmulator


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "documentation_url": "https://docs.github.com/rest", **extra}
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user login (token auth) or an App installation's bot."""

    login: str
    app_id: int | None = None
    installation_id: int | None = None
    # What the token may do; None for a personal user token (limited by the user's access, not by
    # App permissions).
    grant: Grant | None = None


@dataclass
class Request:
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    principal: Principal | None
    jwt_app_id: int | None = None
    link: list[str] = field(default_factory=list)  # pagination Link header parts, filled by handlers
    headers: dict[str, str] = field(default_factory=dict)  # more answer headers, filled by handlers


Handler = Callable[["GitHubEmulator", Request], tuple[int, Any]]
ROUTES: dict[tuple[str, str], Handler] = {}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES[(method, template)] = handler
        return handler

    return register


def compile_template(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


def _repo(emu: GitHubEmulator, req: Request) -> Repo:
    repo = emu.world.repos.get(f"{req.params['owner']}/{req.params['repo']}")
    if repo is None:
        raise ApiError(404, "Not Found")
    return repo


def _pull(emu: GitHubEmulator, req: Request, key: str = "pull_number") -> tuple[Repo, PullRequest]:
    repo = _repo(emu, req)
    pr = repo.pulls.get(int(req.params[key])) if req.params[key].isdigit() else None
    if pr is None:
        raise ApiError(404, "Not Found")
    return repo, pr


def _actor(req: Request) -> str:
    if req.principal is None:
        raise ApiError(401, "Requires authentication")
    return req.principal.login


def paginate(emu: GitHubEmulator, req: Request, items: list[Any], path: str) -> list[Any]:
    """GitHub's page/per_page with a Link header (next/last/first/prev), absolute URLs to the emulator."""
    per_page = max(1, min(100, int(req.query.get("per_page", 30))))
    page = max(1, int(req.query.get("page", 1)))
    last = max(1, -(-len(items) // per_page))
    extra = "".join(f"&{k}={v}" for k, v in req.query.items() if k not in ("page", "per_page"))

    def link(number: int, rel: str) -> str:
        return f'<{emu.urls.api}{path}?per_page={per_page}&page={number}{extra}>; rel="{rel}"'

    if page < last:
        req.link += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        req.link += [link(1, "first"), link(page - 1, "prev")]
    return items[(page - 1) * per_page : page * per_page]


# --- apps ----------------------------------------------------------------------------------------


@route("POST", "/app/installations/{installation_id}/access_tokens")
def create_installation_token(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    installation = emu.world.installations.get(int(req.params["installation_id"]))
    if req.jwt_app_id is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    if installation is None or installation.app_id != req.jwt_app_id:
        raise ApiError(404, "Not Found")
    app = emu.world.apps[installation.app_id]
    granted = app.permissions
    asked = (req.body or {}).get("permissions")
    if asked:
        # "Create an installation access token for an app": `permissions` narrows the token to a subset
        # of the App's; asking for one the App does not hold is refused with 422. An empty object (what
        # PyGithub sends when it narrows nothing) leaves the App's own.
        try:
            granted = Grant.parse(asked)
        except (ValueError, AttributeError) as error:
            raise ApiError(422, f"Invalid permissions: {error}") from None
        if not granted.within(app.permissions):
            raise ApiError(422, "The permissions requested are not granted to this installation.")
    token = "ghs_" + secrets.token_hex(18)
    expires = emu.world.now() + timedelta(seconds=emu.token_lifetime)
    emu.register_token(token, f"{app.slug}[bot]", app.id, installation.id, expires, permissions=granted)
    return 201, {
        "token": token,
        "expires_at": render.stamp(expires),
        "permissions": granted.as_json(),
        "repository_selection": "all",
    }


@route("GET", "/app")
def get_app(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    """ "Get the authenticated app" (JWT auth): the App's slug is how its bot is named, `<slug>[bot]`."""
    if req.jwt_app_id is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    return 200, render.app(emu.world, emu.urls, emu.world.apps[req.jwt_app_id])


@route("GET", "/app/installations")
def list_installations(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    """ "List installations for the authenticated app" (JWT auth), oldest first, paged."""
    if req.jwt_app_id is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    found = sorted(
        (i for i in emu.world.installations.values() if i.app_id == req.jwt_app_id), key=lambda i: i.id
    )
    page = paginate(emu, req, found, "/app/installations")
    return 200, [render.installation(emu.world, emu.urls, item) for item in page]


@route("GET", "/app/hook/deliveries")
def list_hook_deliveries(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    """ "List deliveries for an app webhook" (JWT auth): every attempt, newest first, paged by an
    opaque `cursor` as GitHub pages this list (a Link header with rel="next"). A delivery the receiver
    did not answer 2xx has a status other than "OK" ("Handling failed webhook deliveries",
    docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries)."""
    if req.jwt_app_id is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    mine = {i.id for i in emu.world.installations.values() if i.app_id == req.jwt_app_id}
    attempts = [
        d
        for d in reversed(emu.webhooks.deliveries)
        if (d.payload.get("installation") or {}).get("id") in mine
    ]
    per_page = max(1, min(100, int(req.query.get("per_page", 30))))
    cursor = req.query.get("cursor")
    if cursor:
        attempts = [d for d in attempts if d.attempt < int(cursor)]
    page = attempts[:per_page]
    if len(attempts) > per_page:
        req.link.append(
            f'<{emu.urls.api}/app/hook/deliveries?per_page={per_page}&cursor={page[-1].attempt}>; rel="next"'
        )
    return 200, [render.hook_delivery(emu.world, d) for d in page]


@route("POST", "/app/hook/deliveries/{delivery_id}/attempts")
def redeliver_hook_delivery(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    """ "Redeliver a delivery for an app webhook": 202, and the same event (same guid and body) is sent
    again as a new attempt marked `redelivery`."""
    if req.jwt_app_id is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    attempt = emu.webhooks.attempt(int(req.params["delivery_id"]))
    mine = {i.id for i in emu.world.installations.values() if i.app_id == req.jwt_app_id}
    if attempt is None or (attempt.payload.get("installation") or {}).get("id") not in mine:
        raise ApiError(404, "Not Found")
    emu.driver.queue_redelivery(attempt.id)
    return 202, {}


@route("GET", "/installation/repositories")
def list_installation_repositories(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    """ "List repositories accessible to the app installation" (its token): every repository of the
    account, as the emulator's installations cover all (`repository_selection: all`)."""
    installation_id = req.principal.installation_id if req.principal else None
    installation = emu.world.installations.get(installation_id or -1)
    if installation is None:
        raise ApiError(403, "This endpoint requires an installation access token")
    found = sorted(
        (r for r in emu.world.repos.values() if r.owner == installation.account), key=lambda r: r.id
    )
    page = paginate(emu, req, found, "/installation/repositories")
    return 200, {
        "total_count": len(found),
        "repository_selection": "all",
        "repositories": [render.repository(emu.world, emu.urls, repo) for repo in page],
    }


@route("GET", "/user")
def get_authenticated_user(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    """ "Get the authenticated user": a person's token only (an App's token is refused, see
    permissions.USER_ROUTES)."""
    return 200, render.login(emu.world, emu.urls, _actor(req))


# --- pull requests -------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    wanted = req.query.get("state", "open")
    found = [p for p in sorted(repo.pulls.values(), key=lambda p: -p.number) if wanted in ("all", p.state)]
    page = paginate(emu, req, found, f"/repos/{repo.full_name}/pulls")
    return 200, [render.pull_request(emu.world, emu.urls, repo, p) for p in page]


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req)
    computing = pr.state == "open" and merging.computing(emu.world, repo, pr)
    computing = emu.faults.take_still_merging() or computing
    return 200, render.pull_request(emu.world, emu.urls, repo, pr, computing=computing)


@route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}")
def update_pull(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req)
    actor = _actor(req)
    body = req.body or {}
    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if key in body and body[key] != getattr(pr, key):
            changes[key] = {"from": getattr(pr, key)}
            setattr(pr, key, body[key])
    if "base" in body and body["base"] != pr.base_ref:
        if body["base"] not in repo.branches:
            raise ApiError(422, "Validation Failed", errors=[{"resource": "PullRequest", "field": "base"}])
        changes["base"] = {"ref": {"from": pr.base_ref}, "sha": {"from": pr.base_sha}}
        pr.base_ref, pr.base_sha = body["base"], repo.branches[body["base"]]
    if changes:
        pr.updated_at = emu.world.now()
        emu.emit_pull_request(repo, pr, "edited", actor, changes=changes)
    state = body.get("state")
    if state == "closed" and pr.state == "open":
        emu.driver.close(repo.full_name, pr.number, actor)
    elif state == "open" and pr.state == "closed" and not pr.merged:
        emu.driver.reopen(repo.full_name, pr.number, actor)
    return 200, render.pull_request(emu.world, emu.urls, repo, pr)


@route("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def merge_pull(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req)
    actor = _actor(req)
    body = req.body or {}
    if pr.state != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != pr.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    # OpenAPI `pulls/merge`: `merge_method` is an enum of merge, squash, rebase (default merge); a value
    # outside it fails validation (422), a method the repository forbids is refused with 405 (merges.py).
    wanted = body.get("merge_method") or MergeMethod.MERGE.value
    if wanted not in {m.value for m in MergeMethod}:
        raise ApiError(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}],
        )
    try:
        sha = emu.driver.merge(
            repo.full_name, pr.number, actor, body.get("commit_title"), method=MergeMethod(wanted)
        )
    except MergeRefused as refused:
        raise ApiError(
            refused.status,
            refused.message,
            documentation_url="https://docs.github.com/rest/pulls/pulls#merge-a-pull-request",
        ) from refused
    return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers")
def request_reviewers(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req)
    _actor(req)
    body = req.body or {}
    refused = reviews.refusal(emu.world, repo, pr, body.get("reviewers", []), body.get("team_reviewers", []))
    if refused is not None:
        raise ApiError(422, refused)
    for name in body.get("reviewers", []):
        if name not in pr.requested_reviewers:
            pr.requested_reviewers.append(name)
    for slug in body.get("team_reviewers", []):
        full = slug if "/" in slug else f"{repo.owner}/{slug}"
        if full not in pr.requested_teams:
            pr.requested_teams.append(full)
    simple = render.pull_request(emu.world, emu.urls, repo, pr)
    return 201, simple


@route("DELETE", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers")
def remove_requested_reviewers(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req)
    _actor(req)
    body = req.body or {}
    if not isinstance(body.get("reviewers"), list):
        raise ApiError(
            422,
            "Invalid request.",
            errors=[{"resource": "PullRequest", "field": "reviewers", "code": "missing"}],
        )
    gone = set(body["reviewers"])
    pr.requested_reviewers = [name for name in pr.requested_reviewers if name not in gone]
    teams = {slug if "/" in slug else f"{repo.owner}/{slug}" for slug in body.get("team_reviewers", [])}
    pr.requested_teams = [full for full in pr.requested_teams if full not in teams]
    return 200, render.pull_request_simple(emu.world, emu.urls, repo, pr)


# --- git -----------------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}")
def get_tree(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    wanted = req.params["tree_sha"]
    sha = repo.branches.get(wanted, wanted)
    commit = repo.commits.get(sha) or next((c for c in repo.commits.values() if c.tree_sha == sha), None)
    if commit is None:
        raise ApiError(404, "Not Found")
    body = render.tree(
        emu.urls, repo, commit, recursive=req.query.get("recursive") not in (None, "", "0", "false")
    )
    keep = emu.faults.take_truncation("GET /repos/{owner}/{repo}/git/trees/{tree_sha}")
    if keep is not None:
        body["tree"], body["truncated"] = body["tree"][:keep], True
    return 200, body


# --- checks --------------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    ref = req.params["ref"]
    sha = repo.branches.get(ref, ref)
    runs = [r for r in repo.check_runs.values() if r.head_sha == sha]
    if "check_name" in req.query:
        runs = [r for r in runs if r.name == req.query["check_name"]]
    if "app_id" in req.query:
        runs = [r for r in runs if str(r.app_id) == req.query["app_id"]]
    if req.query.get("filter", "latest") == "latest":
        latest: dict[tuple[str, int], CheckRun] = {}
        for run in sorted(runs, key=lambda r: r.id):
            latest[(run.name, run.app_id)] = run
        runs = list(latest.values())
    runs.sort(key=lambda r: -r.id)
    page = paginate(emu, req, runs, f"/repos/{repo.full_name}/commits/{ref}/check-runs")
    return 200, {
        "total_count": len(runs),
        "check_runs": [render.check_run(emu.world, emu.urls, repo, r) for r in page],
    }


def _apply_check(emu: GitHubEmulator, run: CheckRun, body: Mapping[str, Any]) -> None:
    now = emu.world.now()
    for key in ("name", "details_url", "external_id"):
        if key in body:
            setattr(run, key, body[key])
    if "status" in body:
        run.status = body["status"]
    if body.get("conclusion"):
        run.conclusion, run.status = body["conclusion"], "completed"
        run.completed_at = now
    if run.status == "in_progress" and run.started_at is None:
        run.started_at = now
    output = body.get("output")
    if output:
        run.title = output.get("title", run.title)
        run.summary = output.get("summary", run.summary)
        run.text = output.get("text", run.text)
        # GitHub appends annotations on each update; the adapter only sends them with a full output.
        run.annotations.extend(
            Annotation(
                a["path"], a["start_line"], a["end_line"], a["annotation_level"], a["message"], a.get("title")
            )
            for a in output.get("annotations", [])
        )


def _check_app(req: Request) -> int:
    if req.principal is None or req.principal.app_id is None:
        raise ApiError(403, "You must authenticate via a GitHub App.")
    return req.principal.app_id


@route("POST", "/repos/{owner}/{repo}/check-runs")
def create_check_run(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    app_id = _check_app(req)
    body = req.body or {}
    if body.get("head_sha") not in repo.commits or not body.get("name"):
        raise ApiError(422, "Validation Failed", errors=[{"resource": "CheckRun", "code": "invalid"}])
    run = CheckRun(emu.world.new_id(), body["name"], body["head_sha"], app_id, started_at=emu.world.now())
    run.check_suite_id = emu.world.new_id()
    _apply_check(emu, run, body)
    repo.check_runs[run.id] = run
    return 201, render.check_run(emu.world, emu.urls, repo, run)


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def update_check_run(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    app_id = _check_app(req)
    run = repo.check_runs.get(int(req.params["check_run_id"]))
    if run is None:
        raise ApiError(404, "Not Found")
    if run.app_id != app_id:
        # GitHub refuses another app's run with 403 and this message (checks/update: 403 is not in the
        # OpenAPI responses, but it is what api.github.com answers; the run itself stays readable).
        raise ApiError(
            403,
            f"Invalid app_id `{app_id}` - check run can only be modified by the GitHub App that created it.",
        )
    _apply_check(emu, run, req.body or {})
    return 200, render.check_run(emu.world, emu.urls, repo, run)


# --- issue comments and labels -------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_comments(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req, "issue_number")
    found = sorted((c for c in repo.comments.values() if c.number == pr.number), key=lambda c: c.id)
    keep = emu.faults.take_truncation("GET /repos/{owner}/{repo}/issues/{issue_number}/comments")
    page = paginate(emu, req, found, f"/repos/{repo.full_name}/issues/{pr.number}/comments")
    page = page if keep is None else page[:keep]
    return 200, [render.issue_comment(emu.world, emu.urls, repo, c) for c in page]


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def create_comment(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req, "issue_number")
    actor = _actor(req)
    text = (req.body or {}).get("body")
    if not isinstance(text, str) or not text:
        raise ApiError(422, "Validation Failed", errors=[{"resource": "IssueComment", "field": "body"}])
    app_id = req.principal.app_id if req.principal else None
    comment = emu.driver.comment(repo.full_name, pr.number, actor, text, app_id=app_id)
    return 201, render.issue_comment(emu.world, emu.urls, repo, repo.comments[comment])


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def edit_comment(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    actor = _actor(req)
    comment: IssueComment | None = repo.comments.get(int(req.params["comment_id"]))
    if comment is None:
        raise ApiError(404, "Not Found")
    if comment.user != actor:
        raise ApiError(403, "You cannot edit a comment written by someone else.")
    emu.driver.edit_comment(repo.full_name, comment.id, (req.body or {}).get("body", comment.body), actor)
    return 200, render.issue_comment(emu.world, emu.urls, repo, comment)


def _labels(emu: GitHubEmulator, repo: Repo, pr: PullRequest) -> list[Any]:
    return [render.label(emu.urls, repo, repo.labels[name]) for name in pr.labels]


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels")
def list_labels(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req, "issue_number")
    return 200, paginate(
        emu, req, _labels(emu, repo, pr), f"/repos/{repo.full_name}/issues/{pr.number}/labels"
    )


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels")
def add_labels(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req, "issue_number")
    _actor(req)
    body = req.body
    names = body.get("labels", []) if isinstance(body, dict) else body or []
    for name in names:
        if name not in repo.labels:
            # GitHub gives a label created on the fly an empty description, never null.
            repo.labels[name] = Label(emu.world.new_id(), name, description="")
        if name not in pr.labels:
            pr.labels.append(name)
    return 200, _labels(emu, repo, pr)


@route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}")
def remove_label(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo, pr = _pull(emu, req, "issue_number")
    _actor(req)
    name = req.params["name"]
    if name not in pr.labels:
        raise ApiError(404, "Label does not exist")
    pr.labels.remove(name)
    return 200, _labels(emu, repo, pr)


# --- commits -------------------------------------------------------------------------------------


def _resolve(repo: Repo, ref: str) -> str | None:
    """A branch name, `refs/heads/…` or a full commit sha, as GitHub resolves a `sha`/`ref` argument."""
    sha = repo.branches.get(ref.removeprefix("refs/heads/"), ref)
    return sha if sha in repo.commits else None


@route("GET", "/repos/{owner}/{repo}/commits")
def list_commits(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    wanted = req.query.get("sha") or repo.default_branch
    head = _resolve(repo, wanted)
    if head is None:
        raise ApiError(404, f"No commit found for SHA: {wanted}")
    found = history.log(repo, head)
    page = paginate(emu, req, found, f"/repos/{repo.full_name}/commits")
    return 200, [render.commit(emu.world, emu.urls, repo, c) for c in page]


@route("GET", "/repos/{owner}/{repo}/compare/{basehead}")
def compare(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    base_ref, dots, head_ref = req.params["basehead"].partition("...")
    base, head = _resolve(repo, base_ref), _resolve(repo, head_ref)
    if not dots or base is None or head is None:
        raise ApiError(404, "Not Found")
    ancestor = merging.merge_base(repo, base, head)
    if ancestor is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    ahead = history.ancestors(repo, [head]) - history.ancestors(repo, [base])
    behind = len(history.ancestors(repo, [base]) - history.ancestors(repo, [head]))
    # GitHub lists the commits oldest first and pages them; the files come whole on every page.
    listed = [c for c in reversed(history.log(repo, head)) if c.sha in ahead]
    page = paginate(emu, req, listed, f"/repos/{repo.full_name}/compare/{req.params['basehead']}")
    commits = repo.commits
    return 200, render.comparison(
        emu.world, emu.urls, repo, commits[base], commits[head], commits[ancestor], page, len(listed), behind
    )


@route("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls")
def list_pulls_of_commit(emu: GitHubEmulator, req: Request) -> tuple[int, Any]:
    repo = _repo(emu, req)
    sha = _resolve(repo, req.params["commit_sha"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {req.params['commit_sha']}")
    found = history.pulls_of_commit(repo, sha)
    page = paginate(emu, req, found, f"/repos/{repo.full_name}/commits/{sha}/pulls")
    return 200, [render.pull_request_simple(emu.world, emu.urls, repo, p) for p in page]
