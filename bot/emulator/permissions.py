"""GitHub App permissions: what a token may do, and what each emulated call needs.

A GitHub App is registered with a set of permissions (its manifest); every installation token carries
those, or fewer when the token request narrows them. A call outside them is refused: REST answers
403 "Resource not accessible by integration", GraphQL answers 200 with a FORBIDDEN error and null data
for the field. Personal user tokens are not limited by permissions (only by the user's access).

Sources:
- "Permissions required for GitHub Apps", https://docs.github.com/en/rest/authentication/
  permissions-required-for-github-apps (the page is rendered from github/docs
  src/github-apps/data/fpt-2022-11-28/server-to-server-permissions.json, which the table below follows
  route by route; an endpoint listed under several permissions with "additional permissions" marked
  works with any one of them, as each endpoint's page says: "at least one of the following permission
  sets").
- "Choosing permissions for a GitHub App": Metadata read is granted to every App with repository
  access. https://docs.github.com/en/apps/creating-github-apps/registering-a-github-app/
  choosing-permissions-for-a-github-app
- GraphQL: "GitHub Apps ... the same permissions apply to the GraphQL API" (the GraphQL field needs what
  the REST endpoint for the same data needs); organization team and membership reads need the
  organization Members permission.
- "Generate an installation access token for an app", `permissions` body field: "The permissions
  granted to the user access token" may only narrow the App's own; asking for more is a 422.
  https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
- Workflow tokens: "Automatic token authentication" / "Controlling permissions for GITHUB_TOKEN": a
  workflow's `permissions:` sets the token's scopes; `members` is not among them, so GITHUB_TOKEN never
  reads organization teams. https://docs.github.com/en/actions/security-for-github-actions/
  security-guides/automatic-token-authentication
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum

FORBIDDEN_MESSAGE = "Resource not accessible by integration"
FORBIDDEN_DOCS = "https://docs.github.com/rest"
ACCEPTED_HEADER = "X-Accepted-GitHub-Permissions"  # GitHub names what the endpoint needs, on every answer


class Level(IntEnum):
    """An access level; a higher level includes the lower ones (write can read)."""

    NONE = 0
    READ = 1
    WRITE = 2

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return {"read": cls.READ, "write": cls.WRITE, "none": cls.NONE}[text]
        except KeyError:
            raise ValueError(f"permission level {text!r} is not one of read, write, none") from None


class Permission(Enum):
    """A GitHub App permission, by the key GitHub uses in manifests and token bodies."""

    ACTIONS = "actions"
    CHECKS = "checks"
    CONTENTS = "contents"
    ISSUES = "issues"
    METADATA = "metadata"
    PULL_REQUESTS = "pull_requests"
    STATUSES = "statuses"
    MEMBERS = "members"  # an organization permission

    @property
    def title(self) -> str:
        """How GitHub's settings page names it (and so how the README does)."""
        return _TITLES[self]


_TITLES = {
    Permission.ACTIONS: "Actions",
    Permission.CHECKS: "Checks",
    Permission.CONTENTS: "Contents",
    Permission.ISSUES: "Issues",
    Permission.METADATA: "Metadata",
    Permission.PULL_REQUESTS: "Pull requests",
    Permission.STATUSES: "Commit statuses",
    Permission.MEMBERS: "Members",
}


@dataclass(frozen=True)
class Need:
    permission: Permission
    level: Level

    def __str__(self) -> str:
        return f"{self.permission.value}={self.level.word}"


@dataclass(frozen=True)
class Requirement:
    """What a call needs: any one of `any_of` (GitHub lists such calls under each permission)."""

    any_of: tuple[Need, ...]

    def header(self) -> str:
        """The X-Accepted-GitHub-Permissions value: alternatives separated by `;`."""
        return "; ".join(str(n) for n in self.any_of)


@dataclass(frozen=True)
class Grant:
    """The permissions one token carries (None on a Principal: a user token, unrestricted)."""

    levels: tuple[tuple[Permission, Level], ...]

    @classmethod
    def of(cls, levels: Mapping[Permission, Level]) -> Grant:
        return cls(tuple(sorted(((p, v) for p, v in levels.items() if v), key=lambda pv: pv[0].value)))

    @classmethod
    def parse(cls, body: Mapping[str, str]) -> Grant:
        """A `{"checks": "write", ...}` mapping, as token bodies and manifests spell it."""
        out: dict[Permission, Level] = {}
        for key, level in body.items():
            try:
                out[Permission(key)] = Level.parse(level)
            except ValueError as error:
                raise ValueError(f"permission {key}: {level}: {error}") from None
        return cls.of(out)

    def level(self, permission: Permission) -> Level:
        return dict(self.levels).get(permission, Level.NONE)

    def allows(self, requirement: Requirement) -> bool:
        return any(self.level(n.permission) >= n.level for n in requirement.any_of)

    def within(self, other: Grant) -> bool:
        return all(other.level(p) >= v for p, v in self.levels)

    def without(self, permission: Permission) -> Grant:
        return Grant(tuple((p, v) for p, v in self.levels if p is not permission))

    def as_json(self) -> dict[str, str]:
        return {p.value: v.word for p, v in self.levels}


def _needs(*pairs: tuple[Permission, Level]) -> Requirement:
    return Requirement(tuple(Need(p, v) for p, v in pairs))


R, W = Level.READ, Level.WRITE
C, CT, IS, M, PR = (
    Permission.CHECKS,
    Permission.CONTENTS,
    Permission.ISSUES,
    Permission.METADATA,
    Permission.PULL_REQUESTS,
)

# Each emulated REST route (method, OpenAPI path template) → what it needs, from the docs table.
REST: dict[tuple[str, str], Requirement] = {
    # Pull requests: "list-pull-requests" (pull_requests read); "get-a-pull-request" (contents read or
    # pull_requests read); "update-a-pull-request" (pull_requests write).
    ("GET", "/repos/{owner}/{repo}/pulls"): _needs((PR, R)),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"): _needs((PR, R), (CT, R)),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"): _needs((PR, W)),
    # "merge-a-pull-request" is listed under Contents (write) only.
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"): _needs((CT, W)),
    # "request-reviewers-…" / "remove-requested-reviewers-…": pull_requests write.
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"): _needs((PR, W)),
    ("DELETE", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"): _needs((PR, W)),
    # Git and commits, under Contents: "get-a-tree", "list-commits", "compare-two-commits" (read);
    # "list-pull-requests-associated-with-a-commit" is under Pull requests (read).
    ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}"): _needs((CT, R)),
    ("GET", "/repos/{owner}/{repo}/commits"): _needs((CT, R)),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"): _needs((CT, R)),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"): _needs((PR, R)),
    # Checks: "list-check-runs-for-a-git-reference" (read), "create-a-check-run" and
    # "update-a-check-run" (write).
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"): _needs((C, R)),
    ("POST", "/repos/{owner}/{repo}/check-runs"): _needs((C, W)),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"): _needs((C, W)),
    # Issue comments and labels are listed under both Issues and Pull requests, with "additional
    # permissions": either one serves (on a pull request).
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): _needs((IS, R), (PR, R)),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): _needs((IS, W), (PR, W)),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"): _needs((IS, W), (PR, W)),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): _needs((IS, R), (PR, R)),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): _needs((IS, W), (PR, W)),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"): _needs((IS, W), (PR, W)),
}

# Routes that are not about a repository's resources: authenticated with the App's JWT ("Generate an
# installation access token", "Get the authenticated app"), so no installation permission applies.
APP_ROUTES = frozenset(
    {
        ("POST", "/app/installations/{installation_id}/access_tokens"),
        ("GET", "/app"),
        ("GET", "/app/installations"),
        # The App's own webhook delivery log and its "Redeliver": the App's JWT, no permission
        # ("REST API endpoints for GitHub App webhooks": "You must use a JWT to access these endpoints").
        ("GET", "/app/hook/deliveries"),
        ("POST", "/app/hook/deliveries/{delivery_id}/attempts"),
        # "List repositories accessible to the app installation": an installation token, and only the
        # Metadata permission every App has ("Permissions required for GitHub Apps").
        ("GET", "/installation/repositories"),
    }
)

# Routes for user tokens only: "Get the authenticated user" is not available to GitHub App installation
# tokens ("server-to-server": false in the docs table), which GitHub refuses as any other call outside
# their permissions.
USER_ROUTES = frozenset({("GET", "/user")})

# GraphQL fields (parent type, field) → what they need: the same permission as the REST endpoint that
# serves the same data. A repository itself needs Metadata read; its git objects need Contents read;
# pull requests need Pull requests read; a commit's check suites need Checks read; a pull request's
# comments are issue comments (Issues or Pull requests read); an organization's team (and so its
# members) needs organization Members read; draft mutations update a pull request (Pull requests write).
GRAPHQL: dict[tuple[str, str], Requirement] = {
    ("Query", "repository"): _needs((M, R)),
    ("Repository", "object"): _needs((CT, R)),
    ("Repository", "ref"): _needs((CT, R)),
    ("Repository", "defaultBranchRef"): _needs((CT, R)),
    ("Repository", "pullRequest"): _needs((PR, R)),
    ("Commit", "checkSuites"): _needs((C, R)),
    ("PullRequest", "comments"): _needs((IS, R), (PR, R)),
    ("Organization", "team"): _needs((Permission.MEMBERS, R)),
    ("Mutation", "convertPullRequestToDraft"): _needs((PR, W)),
    ("Mutation", "markPullRequestReadyForReview"): _needs((PR, W)),
}

# The permissions a workflow's `permissions:` block can set ("Controlling permissions for
# GITHUB_TOKEN"): the keys as the workflow spells them. There is no `members`.
WORKFLOW_KEYS: dict[str, Permission] = {
    "actions": Permission.ACTIONS,
    "checks": Permission.CHECKS,
    "contents": Permission.CONTENTS,
    "issues": Permission.ISSUES,
    "pull-requests": Permission.PULL_REQUESTS,
    "statuses": Permission.STATUSES,
}


def workflow_grant(block: Mapping[str, str]) -> Grant:
    """The GITHUB_TOKEN a job with this `permissions:` block gets (Metadata read always; never Members).

    "If you specify the access for any of these permissions, all of those that are not specified are
    set to none, with the exception of the metadata scope, which always gets read access."
    """
    levels: dict[Permission, Level] = {Permission.METADATA: Level.READ}
    for key, value in block.items():
        if key not in WORKFLOW_KEYS:
            raise ValueError(
                f"workflow permission {key!r} is not one the emulator models ({', '.join(WORKFLOW_KEYS)})"
            )
        levels[WORKFLOW_KEYS[key]] = Level.parse(value)
    return Grant.of(levels)


def grant(pairs: Iterable[tuple[Permission, Level]]) -> Grant:
    return Grant.of(dict(pairs))
