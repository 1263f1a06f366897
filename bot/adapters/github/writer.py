"""Everything approvalbot writes to a pull request, each write skipped when GitHub already shows it.

- one check run named `approvalbot` per head sha; its `external_id` holds a fingerprint of the output,
  so an unchanged verdict costs one read and no write;
- one comment found by the hidden marker `<!-- approvalbot:diff -->`, edited in place;
- labels: only those approvalbot manages (`pending: …`, `approved`, `rejected`, `blocked`) are touched;
- review requests (asked and withdrawn), close, merge (pinned to the approved head sha), convert to
  draft (GraphQL: REST cannot), and plain comments.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from github import Github, GithubException

from bot.adapters.github.errors import API_ERRORS as _API_ERRORS
from bot.adapters.github.errors import describe as _describe
from bot.adapters.github.source import CHECK_NAME, CheckRunRecord, CommentRecord, PullState
from bot.core.decision import PENDING_LABEL_PREFIX, STATE_LABELS
from bot.core.repo_config import MergeMethod

DIFF_MARKER = "<!-- approvalbot:diff -->"
# The labels the decision engine chooses are the only ones approvalbot adds or removes.
MANAGED_LABELS = frozenset(STATE_LABELS.values())
MAX_ANNOTATIONS_PER_CALL = 50  # GitHub's limit per create/update request
MAX_OUTPUT_CHARS = 65_535  # GitHub's limit for a check run's summary and text


# GitHub lets a pull request have at most this many requested reviewers and teams (see the emulator's
# reviews module for the sources); past it a request is refused whole.
MAX_REQUESTED_REVIEWERS = 15
OVER_LIMIT = f"GitHub allows at most {MAX_REQUESTED_REVIEWERS} requested reviewers on a pull request"


class GitHubWriteError(Exception):
    """A write GitHub refused (after retries), with what was being written."""


class DraftsUnavailable(GitHubWriteError):
    """GitHub will not make this PR a draft: draft PRs are not available for the repository (a private
    repository on GitHub Free or Pro). Not a failure to retry: the caller goes on without the draft."""


# How GitHub refuses a draft where the plan has none (the emulator's drafts.py has the sources):
# convertPullRequestToDraft says the viewer "does not have permission to convert the pull request … to
# draft"; creating one says "Draft pull requests are not supported in this repository."
_NO_DRAFTS = ("to draft", "Draft pull requests are not supported")


@dataclass(frozen=True)
class ReviewRequests:
    """What one round of review requests did: who was asked, and who could not be, with why."""

    asked: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()  # (login or team slug, why)

    @property
    def changed(self) -> bool:
        return bool(self.asked)

    def note(self) -> str | None:
        """A line for the check's summary when someone could not be asked; None when everyone was."""
        if not self.refused:
            return None
        names = "; ".join(f"@{name} ({why})" for name, why in self.refused)
        return (
            f"could not ask {names} to review. Give them read access to the repository (or fix the "
            "login in `.approvalbot.yml`) so that they can be asked and can approve."
        )


# The repository settings that allow each merge method (OpenAPI `repository`; "Configuring pull
# request merges" on docs.github.com).
_ALLOW_FLAGS = {
    MergeMethod.MERGE: "allow_merge_commit",
    MergeMethod.SQUASH: "allow_squash_merge",
    MergeMethod.REBASE: "allow_rebase_merge",
}
_METHOD_NAMES = {
    MergeMethod.MERGE: "merge commits",
    MergeMethod.SQUASH: "squash merges",
    MergeMethod.REBASE: "rebase merges",
}


class MergeMethodRefused(GitHubWriteError):
    """merge_on_approval cannot merge: the repository does not allow the method asked for (or none).
    Its message is for the PR's people: what is not allowed and the two ways out."""

    def __init__(
        self,
        repo: str,
        number: int,
        method: MergeMethod | None,
        allowed: Sequence[MergeMethod],
        github_said: str | None = None,
    ) -> None:
        self.method = method
        others = ", ".join(f"`{m.value}`" for m in allowed if m is not method) or "none"
        said = f" (GitHub answered: {github_said})" if github_said else ""
        if method is None:
            text = (
                f"{repo} allows no merge method{said}, so approvalbot could not merge #{number} "
                "(`approvals.merge_on_approval`). Allow one in the repository's Settings → General → "
                "Pull Requests."
            )
        else:
            text = (
                f"{repo} does not allow {_METHOD_NAMES[method]}{said}, so approvalbot could not merge "
                f"#{number} with `approvals.merge_method: {method.value}` from `.approvalbot.yml`. "
                "Allow them in the repository's Settings → General → Pull Requests, or set "
                f"`approvals.merge_method` to one it allows ({others}) or leave it out to use the first "
                "it allows."
            )
        super().__init__(text)


class Conclusion(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    ACTION_REQUIRED = "action_required"


class Level(StrEnum):
    NOTICE = "notice"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class Annotation:
    path: str
    line: int
    message: str
    level: Level = Level.FAILURE
    title: str | None = None
    end_line: int | None = None

    def as_github(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "start_line": self.line,
            "end_line": self.end_line or self.line,
            "annotation_level": self.level.value,
            "message": self.message,
        }
        if self.title:
            out["title"] = self.title
        return out


@dataclass(frozen=True)
class CheckOutput:
    conclusion: Conclusion
    title: str
    summary: str
    text: str = ""
    annotations: tuple[Annotation, ...] = ()

    def fingerprint(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=str).encode()
        return "approvalbot:" + hashlib.sha256(blob).hexdigest()[:40]


def is_managed_label(name: str) -> bool:
    return name in MANAGED_LABELS or name.startswith(PENDING_LABEL_PREFIX)


def _cap(text: str) -> str:
    note = "\n\n… (cut: GitHub keeps at most 65,535 characters here; the full text is in the PR comment)"
    return text if len(text) <= MAX_OUTPUT_CHARS else text[: MAX_OUTPUT_CHARS - len(note)] + note


class PullRequestWriter:
    def __init__(
        self,
        gh: Github,
        full_name: str,
        *,
        app_id: int | None = None,
        login: str | None = None,
        owns: Callable[[int], bool] | None = None,
        remember: Callable[[int], object] | None = None,
    ) -> None:
        """Which check run and comment are ours (any app, and any workflow job, may post a check named
        `approvalbot`, and anyone may write our marker in a comment):

        `app_id`: in App mode, only check runs of this app are ours (`check_run.app.id`; only our App's
        tokens can create them). `owns` / `remember`: in Action mode every job's GITHUB_TOKEN is the same
        `github-actions` app, so a run is ours only if we recorded its id when we created it (`remember`
        records, `owns` asks). `login`: our own login (e.g. `approvalbot[bot]`); only its marker comment
        is ours to edit."""
        self._gh = gh
        self.full_name = full_name
        self.app_id = app_id
        self.login = login
        self._owns = owns
        self._remember = remember
        self._repo = gh.get_repo(full_name)

    def _ours(self, run: CheckRunRecord) -> bool:
        if self.app_id is not None:
            return run.app_id == self.app_id
        return self._owns is None or self._owns(run.id)

    def _fail(self, what: str, error: Exception) -> GitHubWriteError:
        return GitHubWriteError(f"{self.full_name}: {what} failed: GitHub answered {_describe(error)}")

    # --- check run -------------------------------------------------------------------------------

    def publish_check(
        self, head_sha: str, output: CheckOutput, existing: Sequence[CheckRunRecord] | None = None
    ) -> bool:
        """Show `output` as the `approvalbot` check of `head_sha`; False when it was already shown.

        `existing`: the `approvalbot` runs on `head_sha` the source already read, newest first
        (`PullRequestSnapshot.check_runs`); None makes the writer list them itself (one more read)."""
        try:
            runs = self._check_runs(head_sha) if existing is None else existing
            # Another app may post a check of the same name; only our app's run is trusted or edited.
            ours = next((r for r in runs if self._ours(r)), None)
            fingerprint = output.fingerprint()
            if ours is not None and ours.external_id == fingerprint and ours.status == "completed":
                return False
            first, rest = (
                output.annotations[:MAX_ANNOTATIONS_PER_CALL],
                output.annotations[MAX_ANNOTATIONS_PER_CALL:],
            )
            body: dict[str, Any] = {
                "title": output.title,
                "summary": _cap(output.summary),
                "text": _cap(output.text),
                "annotations": [a.as_github() for a in first],
            }
            # GitHub appends annotations on update, so a verdict with new annotations gets a fresh run
            # (the newest run of a name is the one GitHub shows and branch protection reads).
            if ours is not None and not (output.annotations or ours.annotations):
                self._edit_check(
                    ours.id,
                    status="completed",
                    conclusion=output.conclusion.value,
                    external_id=fingerprint,
                    output=body,
                )
                run_id = ours.id
            else:
                run_id = self._repo.create_check_run(
                    name=CHECK_NAME,
                    head_sha=head_sha,
                    status="completed",
                    conclusion=output.conclusion.value,
                    external_id=fingerprint,
                    output=body,
                ).id
                if self._remember is not None:
                    self._remember(run_id)
            for start in range(0, len(rest), MAX_ANNOTATIONS_PER_CALL):
                chunk = rest[start : start + MAX_ANNOTATIONS_PER_CALL]
                self._edit_check(run_id, output={**body, "annotations": [a.as_github() for a in chunk]})
            return True
        except _API_ERRORS as error:
            raise self._fail(f"publishing the check run on {head_sha[:12]}", error) from error

    def _check_runs(self, head_sha: str) -> list[CheckRunRecord]:
        """The newest `approvalbot` run of each app on `head_sha`, newest first (REST: one call a page)."""
        runs = self._repo.get_commit(head_sha).get_check_runs(check_name=CHECK_NAME)
        return [
            CheckRunRecord(
                id=r.id,
                app_id=r.app.id if r.app is not None else None,
                external_id=r.external_id or "",
                status=r.status,
                annotations=r.output.annotations_count or 0,
            )
            for r in runs
        ]

    def _edit_check(self, run_id: int, **fields: Any) -> None:
        self._gh.requester.requestJsonAndCheck(
            "PATCH", f"/repos/{self.full_name}/check-runs/{run_id}", input=fields
        )

    # --- the diff comment ------------------------------------------------------------------------

    def upsert_comment(self, number: int, body: str, read: Sequence[CommentRecord] | None = None) -> bool:
        """Keep exactly one comment carrying DIFF_MARKER, with `body`; False when it already says so.

        `read`: the comments the source read (saves listing them again).
        """
        text = body if DIFF_MARKER in body else f"{DIFF_MARKER}\n{body}"
        try:
            issue = self._repo.get_issue(number)
            if read is None:
                read = [CommentRecord(c.id, c.user.login, c.body) for c in issue.get_comments()]
            mine = [c for c in read if DIFF_MARKER in c.body and self.login in (None, c.user)]
            if mine and mine[0].body == text:
                return False
            if mine:
                self._edit_comment(mine[0].id, text)
            else:
                issue.create_comment(text)
            return True
        except _API_ERRORS as error:
            raise self._fail(f"writing the approvalbot comment on #{number}", error) from error

    def _edit_comment(self, comment_id: int, text: str) -> None:
        self._gh.requester.requestJsonAndCheck(
            "PATCH", f"/repos/{self.full_name}/issues/comments/{comment_id}", input={"body": text}
        )

    def comment(self, number: int, body: str) -> None:
        try:
            self._repo.get_issue(number).create_comment(body)
        except _API_ERRORS as error:
            raise self._fail(f"commenting on #{number}", error) from error

    # --- labels and reviewers --------------------------------------------------------------------

    def set_labels(self, number: int, wanted: Iterable[str], current: Iterable[str]) -> bool:
        """Make the managed labels of #number exactly `wanted`; labels people set are left alone."""
        want = {w for w in wanted if is_managed_label(w)}
        unmanaged = [w for w in wanted if not is_managed_label(w)]
        if unmanaged:
            raise ValueError(f"approvalbot only manages its own labels, not {unmanaged}")
        have = {c for c in current if is_managed_label(c)}
        if want == have:
            return False
        try:
            issue = self._repo.get_issue(number)
            if want - have:
                issue.add_to_labels(*sorted(want - have))
            for name in sorted(have - want):
                try:
                    issue.remove_from_labels(name)
                except GithubException as error:
                    # Already gone (a person or a racing evaluation removed it) is what we want anyway.
                    if error.status != 404:
                        raise
            return True
        except _API_ERRORS as error:
            raise self._fail(f"setting labels on #{number}", error) from error

    def request_reviewers(
        self, pull: PullState, users: Iterable[str], teams: Iterable[str] = ()
    ) -> ReviewRequests:
        """Ask `users` and `teams` (slugs) to review, skipping those already asked and the author.

        GitHub refuses a whole request when one person in it cannot read the repository (422), and past
        its limit of requested reviewers; then each is asked alone, so everyone who can be asked is, and
        the answer says who could not be and why. Other refusals raise GitHubWriteError."""
        already = set(pull.requested_reviewers)
        new_users = sorted(set(users) - already - {pull.author})
        new_teams = sorted(set(teams) - set(pull.requested_teams))
        room = max(0, MAX_REQUESTED_REVIEWERS - len(already) - len(pull.requested_teams))
        over = [(name, OVER_LIMIT) for name in (new_users + new_teams)[room:]]
        new_users, new_teams = new_users[:room], new_teams[: max(0, room - len(new_users))]
        if not new_users and not new_teams:
            return ReviewRequests(refused=tuple(over))
        try:
            self._ask(pull.number, new_users, new_teams)
            return ReviewRequests(tuple(new_users + new_teams), tuple(over))
        except GithubException as error:
            if error.status != 422:
                raise self._fail(f"requesting reviews on #{pull.number}", error) from error
        except _API_ERRORS as error:
            raise self._fail(f"requesting reviews on #{pull.number}", error) from error
        asked: list[str] = []
        refused = list(over)
        for name, as_team in [(u, False) for u in new_users] + [(t, True) for t in new_teams]:
            try:
                self._ask(pull.number, [] if as_team else [name], [name] if as_team else [])
                asked.append(name)
            except GithubException as error:
                if error.status != 422:
                    raise self._fail(f"requesting a review of {name} on #{pull.number}", error) from error
                refused.append((name, f"GitHub refused: {_describe(error)}"))
            except _API_ERRORS as error:
                raise self._fail(f"requesting a review of {name} on #{pull.number}", error) from error
        return ReviewRequests(tuple(asked), tuple(refused))

    def _ask(self, number: int, users: list[str], teams: list[str]) -> None:
        self._repo.get_pull(number).create_review_request(reviewers=users, team_reviewers=teams)

    def withdraw_review_requests(self, pull: PullState) -> bool:
        """Withdraw every pending review request (users and teams) `pull` shows; False when none."""
        if not pull.requested_reviewers and not pull.requested_teams:
            return False
        try:
            # GitHub requires `reviewers` even when only teams are withdrawn.
            self._repo.get_pull(pull.number).delete_review_request(
                reviewers=list(pull.requested_reviewers), team_reviewers=list(pull.requested_teams)
            )
            return True
        except _API_ERRORS as error:
            raise self._fail(f"withdrawing review requests on #{pull.number}", error) from error

    # --- state changes ---------------------------------------------------------------------------

    def close(self, pull: PullState) -> bool:
        if pull.state != "open":
            return False
        try:
            self._repo.get_pull(pull.number).edit(state="closed")
            return True
        except _API_ERRORS as error:
            raise self._fail(f"closing #{pull.number}", error) from error

    def merge(self, pull: PullState, approved_sha: str, method: MergeMethod | None = None) -> str:
        """Merge #number only if its head is still `approved_sha` (GitHub refuses otherwise: 409), by
        `method`, or when None by the first of merge, squash, rebase the repository allows.

        The allowed methods come from the PR's `base.repo` (`allow_merge_commit`, `allow_squash_merge`,
        `allow_rebase_merge`), read by the same GET the merge needs anyway; a flag GitHub leaves out
        counts as allowed, and GitHub's own 405 then says no. Raises MergeMethodRefused, saying what to
        change, when the method is not allowed; GitHubWriteError for any other refusal."""
        try:
            handle = self._repo.get_pull(pull.number)
            base_repo = (handle.raw_data.get("base") or {}).get("repo") or {}
            allowed = [m for m in MergeMethod if base_repo.get(_ALLOW_FLAGS[m]) is not False]
            if method is None:
                if not allowed:
                    raise MergeMethodRefused(self.full_name, pull.number, None, allowed)
                method = allowed[0]
            elif method not in allowed:
                raise MergeMethodRefused(self.full_name, pull.number, method, allowed)
            status = handle.merge(sha=approved_sha, merge_method=method.value)
            return status.sha
        except GithubException as error:
            said = error.data.get("message") if isinstance(error.data, dict) else None
            if error.status == 405 and "not allowed on this repository" in str(said or ""):
                # The flags were not shown (or changed a moment ago): GitHub's answer is the truth.
                refused = [method] if method is not None else []
                raise MergeMethodRefused(
                    self.full_name, pull.number, method, [m for m in MergeMethod if m not in refused], said
                ) from error
            raise self._fail(f"merging #{pull.number} at {approved_sha[:12]}", error) from error
        except _API_ERRORS as error:
            raise self._fail(f"merging #{pull.number} at {approved_sha[:12]}", error) from error

    def convert_to_draft(self, pull: PullState) -> bool:
        """Make the open PR a draft (GraphQL: REST cannot); False when it already is one or is closed.
        Raises DraftsUnavailable when the repository has no drafts, GitHubWriteError for other refusals."""
        if pull.draft or pull.state != "open":
            return False
        mutation = (
            "mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) "
            "{ pullRequest { isDraft } } }"
        )
        try:
            self._gh.requester.graphql_query(mutation, {"id": pull.node_id})
            return True
        except GithubException as error:
            # PyGithub raises a 400 for an answer holding `errors` (GitHub itself answered 200).
            errors = error.data.get("errors") if isinstance(error.data, dict) else None
            said = [str(e.get("message", "")) for e in errors or () if isinstance(e, dict)]
            if error.status == 400 and any(m in s for s in said for m in _NO_DRAFTS):
                raise DraftsUnavailable(
                    f"{self.full_name}: #{pull.number} cannot be made a draft: GitHub answered "
                    f"{'; '.join(said)} (draft pull requests are not available for this repository: "
                    "GitHub has them in private repositories only on GitHub Team and Enterprise)"
                ) from error
            raise self._fail(f"converting #{pull.number} to draft", error) from error
        except _API_ERRORS as error:
            raise self._fail(f"converting #{pull.number} to draft", error) from error
