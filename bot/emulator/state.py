"""The emulator's in-memory GitHub: users, teams, repositories with real commits, pull requests and
everything hanging off them. Plain mutable records guarded by one lock (`World.lock`): the HTTP thread
and the scenario driver both change them.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.emulator.gitobjects import Commit, Identity, blob_sha, make_commit
from bot.emulator.permissions import Grant, Level, Permission, grant

# The App registration the emulator assumes unless a test says otherwise: exactly what the README's
# "As a GitHub App" section asks for (tests/e2e/test_permissions.py holds the two equal), so every test
# that installs an App runs within the permissions a real installation would have.
DEFAULT_APP_PERMISSIONS: Grant = grant(
    [
        (Permission.CHECKS, Level.WRITE),
        (Permission.CONTENTS, Level.WRITE),
        (Permission.PULL_REQUESTS, Level.WRITE),
        (Permission.METADATA, Level.READ),
        (Permission.MEMBERS, Level.READ),
    ]
)


def node_id(kind: str, number: int) -> str:
    """GitHub-style opaque global id; the GraphQL layer decodes it back."""
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


def decode_node_id(value: str) -> tuple[str, int] | None:
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind = text[2:].rstrip("0123456789")
    digits = text[2 + len(kind) :]
    return (kind, int(digits)) if text.startswith("0:") and digits.isdigit() else None


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # "User", "Bot" or "Organization"
    deleted: bool = False  # a deleted account: GitHub shows its content as by "ghost" (null in GraphQL)
    name: str | None = None
    email: str | None = None
    # The account's plan (REST's `plan.name`: "free", "pro", "team", "enterprise"). It decides whether its
    # private repositories have draft PRs (drafts.py); Team by default, so scenarios have drafts.
    plan: str = "team"


@dataclass
class Team:
    org: str
    slug: str
    id: int
    members: list[str] = field(default_factory=list)


@dataclass
class App:
    id: int
    slug: str
    owner: str
    public_key_pem: str | None = None  # when set, JWTs must verify against it (RS256)
    # The permissions the App was registered with; its installation tokens carry these (or fewer).
    permissions: Grant = DEFAULT_APP_PERMISSIONS


@dataclass
class Installation:
    id: int
    app_id: int
    account: str


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = (
        ""  # GitHub answers "" for a label made without one (the contract wants a string)
    )


@dataclass
class Review:
    id: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    body: str
    commit_id: str
    submitted_at: datetime
    # Who last edited the body, and when (GraphQL `Comment.editor` / `lastEditedAt`; anyone with write
    # access may edit another's review: docs.github.com, "Managing disruptive comments").
    editor: str | None = None
    last_edited_at: datetime | None = None


@dataclass
class IssueComment:
    id: int
    number: int  # the issue / pull request it belongs to
    user: str
    body: str
    created_at: datetime
    updated_at: datetime
    app_id: int | None = None  # set when written through an installation token
    editor: str | None = None  # who last edited the body (GraphQL `Comment.editor`)

    @property
    def edited(self) -> bool:
        return self.updated_at != self.created_at


@dataclass
class Annotation:
    path: str
    start_line: int
    end_line: int
    annotation_level: str
    message: str
    title: str | None = None


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    app_id: int
    status: str = "queued"
    conclusion: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[Annotation] = field(default_factory=list)
    details_url: str | None = None
    external_id: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    check_suite_id: int = 0


@dataclass
class PullRequest:
    number: int
    id: int
    author: str
    title: str
    body: str
    base_ref: str
    head_ref: str
    head_sha: str
    base_sha: str  # the base branch head when the PR was last synchronised (GitHub's `base.sha`)
    created_at: datetime
    updated_at: datetime
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merged_by: str | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merge_commit_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    # Every commit the merge wrote on the base branch, oldest first (a rebase writes one per PR commit;
    # the last is `merge_commit_sha`): GitHub lists this PR for each of them (history.pulls_of_commit).
    merged_commits: tuple[str, ...] = ()
    # GitHub's test merge of an open PR: (base head, PR head) it was made for → its sha (None: conflicts).
    test_merge: tuple[str, str, str | None] | None = None
    # The fork the head branch is in ("owner/name"); None when it is in the base repository (forks.py).
    head_repo: str | None = None
    # The (base head, PR head) GitHub's background job is computing `mergeable` for (merging.computing).
    mergeability_job: tuple[str, str] | None = None


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    default_branch: str
    created_at: datetime
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # branch → commit sha
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    comments: dict[int, IssueComment] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    next_number: int = 1
    collaborators: dict[str, str] = field(default_factory=dict)  # login → role ("read", "write", …)
    team_access: set[tuple[str, str]] = field(default_factory=set)  # (org, slug) of teams given access
    # Settings → Pull Requests: the merge methods allowed (OpenAPI `repository`: each `default: true`).
    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = True
    private: bool = True  # REST's `private` / `visibility`; with the owner's plan it decides drafts
    fork_of: str | None = None  # the parent's full name when this repository is a fork (forks.py)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class World:
    """Everything the emulator knows. Ids come from one counter, as GitHub's are unique per kind."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
        self.users: dict[str, User] = {}
        self.teams: dict[tuple[str, str], Team] = {}
        self.members: dict[str, set[str]] = {}  # organization → its members' logins
        self.repos: dict[str, Repo] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.blobs: dict[str, bytes] = {}
        self._ids = itertools.count(1001)

    def new_id(self) -> int:
        return next(self._ids)

    def now(self) -> datetime:
        return self.clock()

    def user(self, login: str, kind: str = "User") -> User:
        """The user called `login`, created on first mention (scenarios need not declare everyone)."""
        with self.lock:
            if login not in self.users:
                self.users[login] = User(login, self.new_id(), kind)
            return self.users[login]

    def repo(self, full_name: str) -> Repo:
        try:
            return self.repos[full_name]
        except KeyError:
            raise KeyError(f"no repository {full_name!r} in the emulator") from None

    def store_blob(self, content: bytes) -> str:
        sha = blob_sha(content)
        self.blobs[sha] = content
        return sha

    def commit(
        self,
        repo: Repo,
        files: Mapping[str, bytes],
        parents: tuple[str, ...],
        author: Identity,
        committer: Identity,
        message: str,
        pusher: str | None = None,
    ) -> Commit:
        """Store a commit whose snapshot is `files` (path → content) and return it."""
        shas = {path: self.store_blob(content) for path, content in files.items()}
        sizes = {sha: len(self.blobs[sha]) for sha in shas.values()}
        made = make_commit(shas, sizes, parents, author, committer, message, self.now(), pusher)
        repo.commits[made.sha] = made
        return made

    def snapshot(self, repo: Repo, sha: str) -> dict[str, bytes]:
        return {path: self.blobs[blob] for path, blob in repo.commits[sha].files.items()}
