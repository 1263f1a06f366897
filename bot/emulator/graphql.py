"""The slice of GitHub's GraphQL API the adapter uses, over the emulator's world.

A small parser for GraphQL documents (operations, variables, aliases, arguments, inline fragments) and
an executor over resolver objects. Types and fields the emulator does not know are reported the way
GitHub reports them (HTTP 200 with an `errors` list), so a query that would fail on GitHub fails here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.emulator import drafts, permissions, ratelimits, render
from bot.emulator.gitobjects import Commit, Identity
from bot.emulator.state import CheckRun, PullRequest, Repo, World, decode_node_id, node_id

MAX_PAGE = 100  # GitHub refuses `first`/`last` above 100
BLOB_TEXT_LIMIT = 512 * 1024  # GitHub stops serving Blob.text around here and sets isTruncated


class GraphQLError(Exception):
    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # GitHub's error `type`, e.g. NOT_FOUND


# --- parsing -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s+|,|#[^\n]*|(?P<spread>\.\.\.)|(?P<punct>[{}()\[\]:!$=@])|(?P<string>"(?:[^"\\]|\\.)*")'
    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
)


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass
class Selection:
    name: str
    alias: str
    arguments: dict[str, Any] = field(default_factory=dict)
    children: list[Selection | Fragment] = field(default_factory=list)


@dataclass
class Fragment:
    type_condition: str
    children: list[Selection | Fragment] = field(default_factory=list)


@dataclass
class Operation:
    kind: str  # "query" or "mutation"
    name: str | None
    selections: list[Selection | Fragment]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise GraphQLError(f"Parse error on {text[pos : pos + 20]!r} (at offset {pos})")
        pos = match.end()
        if match.lastgroup:
            out.append((match.lastgroup, match.group(match.lastgroup)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> str:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = token[1] if token else "end of document"
            raise GraphQLError(f"Parse error: expected {value or 'a token'}, found {found!r}")
        self.pos += 1
        return token[1]

    def at(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token[1] == value

    def document(self) -> list[Operation]:
        ops = []
        while self.peek() is not None:
            if self.at("{"):
                ops.append(Operation("query", None, self.selection_set()))
                continue
            kind = self.take()
            if kind not in ("query", "mutation"):
                raise GraphQLError(f"Parse error: unsupported definition {kind!r}")
            name = None if self.at("(") or self.at("{") else self.take()
            if self.at("("):
                self.skip_variable_definitions()
            ops.append(Operation(kind, name, self.selection_set()))
        return ops

    def skip_variable_definitions(self) -> None:
        depth = 0
        while True:
            token = self.take()
            depth += token == "("
            depth -= token == ")"
            if depth == 0:
                return

    def selection_set(self) -> list[Selection | Fragment]:
        self.take("{")
        out: list[Selection | Fragment] = []
        while not self.at("}"):
            if self.at("..."):
                self.take("...")
                self.take("on")
                condition = self.take()
                out.append(Fragment(condition, self.selection_set()))
                continue
            alias = name = self.take()
            if self.at(":"):
                self.take(":")
                name = self.take()
            arguments = self.arguments() if self.at("(") else {}
            children = self.selection_set() if self.at("{") else []
            out.append(Selection(name, alias, arguments, children))
        self.take("}")
        return out

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        out = {}
        while not self.at(")"):
            key = self.take()
            self.take(":")
            out[key] = self.value()
        self.take(")")
        return out

    def value(self) -> Any:
        kind, text = self.tokens[self.pos]
        if text == "$":
            self.take()
            return Variable(self.take())
        if text == "[":
            self.take()
            items = []
            while not self.at("]"):
                items.append(self.value())
            self.take("]")
            return items
        if text == "{":
            self.take()
            obj = {}
            while not self.at("}"):
                key = self.take()
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        self.pos += 1
        if kind == "string":
            import json

            return json.loads(text)
        if kind == "number":
            return float(text) if "." in text else int(text)
        return {"true": True, "false": False, "null": None}.get(text, text)


def parse(text: str) -> list[Operation]:
    return _Parser(text).document()


# --- execution -----------------------------------------------------------------------------------


def _substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, Variable):
        return variables.get(value.name)
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    return value


class Node:
    """A GraphQL object: `typename` plus one resolver method per field, named `f_<field>`."""

    typename = "Node"

    def resolve(self, name: str, args: Mapping[str, Any]) -> Any:
        if name == "__typename":
            return self.typename
        method: Callable[..., Any] | None = getattr(self, f"f_{name}", None)
        if method is None:
            raise GraphQLError(f"Field '{name}' doesn't exist on type '{self.typename}'")
        return method(**args)


@dataclass(frozen=True)
class RateStatus:
    cost: int
    nodes: int
    limit: int
    remaining: int
    used: int
    reset_at: float  # epoch seconds


@dataclass
class Context:
    world: World
    urls: render.Urls
    viewer: str | None
    truncate: Callable[[str], int | None]  # fault hook: how many nodes a connection may return
    grant: permissions.Grant | None = None  # the token's permissions; None: a user token
    budget: ratelimits.GraphQLBudget | None = None  # None: calls cost nothing (no rate limit)
    holder: str = "anonymous"  # whose points pay: "installation ID 7" or "user ID 12"
    rate: RateStatus = field(default_factory=lambda: RateStatus(1, 0, 0, 0, 0, 0.0))
    headers: dict[str, str] = field(default_factory=dict)  # the answer's x-ratelimit-* headers
    mutated: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # field errors beside partial data

    def forbids(self, typename: str, name: str) -> bool:
        """Whether the token may not read `typename.name` (GraphQL follows the App's REST permissions)."""
        needed = permissions.GRAPHQL.get((typename, name))
        return self.grant is not None and needed is not None and not self.grant.allows(needed)


class Connection(Node):
    """A connection as GitHub pages it (the GraphQL Cursor Connections spec GitHub follows, and the
    node limits of docs.github.com "Rate limits and query limits for the GraphQL API"): `first` or
    `last` is required and at most 100; `after`/`before` take the opaque cursors a page returned."""

    def __init__(
        self,
        typename: str,
        items: Sequence[Any],
        ctx: Context,
        key: str,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> None:
        self.typename = typename
        if first is None and last is None:
            raise GraphQLError(
                f"You must provide a `first` or `last` value to properly paginate the `{key}` connection."
            )
        for name, size in (("first", first), ("last", last)):
            if size is not None and size > MAX_PAGE:
                raise GraphQLError(
                    f"Requesting {size} records on the `{key}` connection exceeds the `{name}` limit of "
                    f"{MAX_PAGE} records."
                )
            if size is not None and size < 0:
                raise GraphQLError(f"Argument '{name}' on Field '{key}' has an invalid value ({size}).")
        self.total = len(items)
        low = _cursor_index(after, key) + 1 if after else 0
        high = _cursor_index(before, key) if before else self.total
        low, high = max(0, min(low, self.total)), max(0, min(high, self.total))
        keep = ctx.truncate(key)
        if first is not None:
            high = min(high, low + first)
        if last is not None:
            low = max(low, high - last)
        if keep is not None:  # a fault: GitHub answered with fewer nodes than asked
            low, high = (low, min(high, low + keep)) if last is None else (max(low, high - keep), high)
        self.low, self.high = low, max(low, high)
        self.items = list(items[self.low : self.high])

    def f_nodes(self) -> list[Any]:
        return self.items

    def f_edges(self) -> list[Node]:
        return [_Plain("Edge", cursor=_cursor(self.low + i), node=item) for i, item in enumerate(self.items)]

    def f_totalCount(self) -> int:
        return self.total

    def f_pageInfo(self) -> Node:
        return _Plain(
            "PageInfo",
            hasNextPage=self.high < self.total,
            hasPreviousPage=self.low > 0,
            startCursor=_cursor(self.low) if self.items else None,
            endCursor=_cursor(self.high - 1) if self.items else None,
        )


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _cursor_index(cursor: str, key: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        prefix, _, index = text.rpartition(":")
        if prefix == "cursor:v2":
            return int(index)
    except (ValueError, UnicodeDecodeError):
        pass
    raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS")


class _Plain(Node):
    def __init__(self, typename: str, **values: Any) -> None:
        self.typename = typename
        self.values = values

    def resolve(self, name: str, args: Mapping[str, Any]) -> Any:
        if name == "__typename":
            return self.typename
        if name not in self.values:
            raise GraphQLError(f"Field '{name}' doesn't exist on type '{self.typename}'")
        return self.values[name]


def _actor(ctx: Context, login: str | None) -> Node | None:
    """An Actor as GraphQL shows it: null for a deleted account (the "ghost" REST shows), and a bot's
    login without the `[bot]` suffix REST gives it (GraphQL's Bot.login is the App's slug)."""
    if login is None:
        return None
    user = ctx.world.user(login)
    if user.deleted:
        return None
    typename = {"Bot": "Bot", "Organization": "Organization"}.get(user.type, "User")
    shown = user.login.removesuffix("[bot]") if typename == "Bot" else user.login
    return _Plain(typename, login=shown, databaseId=user.id, id=node_id("U_", user.id))


class BlobNode(Node):
    typename = "Blob"

    def __init__(self, sha: str, content: bytes) -> None:
        self.sha, self.content = sha, content

    def f_oid(self) -> str:
        return self.sha

    def f_byteSize(self) -> int:
        return len(self.content)

    def f_isBinary(self) -> bool:
        return b"\0" in self.content[:8000]

    def f_isTruncated(self) -> bool:
        return len(self.content) > BLOB_TEXT_LIMIT

    def f_text(self) -> str | None:
        if self.f_isBinary():
            return None
        return self.content[:BLOB_TEXT_LIMIT].decode("utf-8", errors="replace")


_CO_AUTHOR = re.compile(r"^Co-authored-by:\s*(.+?)\s*<([^>]+)>$", re.IGNORECASE)
_NOREPLY = re.compile(r"^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$")


def _login_for_email(world: World, email: str) -> str | None:
    noreply = _NOREPLY.match(email)
    if noreply:
        return noreply.group(1)
    return next((u.login for u in world.users.values() if u.email == email), None)


class CommitNode(Node):
    typename = "Commit"

    def __init__(self, ctx: Context, commit: Commit) -> None:
        self.ctx, self.commit = ctx, commit

    def f_oid(self) -> str:
        return self.commit.sha

    def f_message(self) -> str:
        return self.commit.message

    def f_tree(self) -> Node:
        return _Plain("Tree", oid=self.commit.tree_sha)

    def _git_actor(self, who: Any) -> Node:
        return _Plain("GitActor", name=who.name, email=who.email, user=_actor(self.ctx, who.login))

    def f_author(self) -> Node:
        return self._git_actor(self.commit.author)

    def f_committer(self) -> Node:
        return self._git_actor(self.commit.committer)

    def f_committedDate(self) -> str | None:
        return render.stamp(self.commit.time)

    def f_authors(self, **page: Any) -> Connection:
        """The author and every Co-authored-by trailer, mapped to users by email, as GitHub does."""
        people = [self.commit.author]
        for line in self.commit.message.splitlines():
            found = _CO_AUTHOR.match(line.strip())
            if found:
                email = found.group(2)
                people.append(Identity(found.group(1), email, _login_for_email(self.ctx.world, email)))
        nodes = [self._git_actor(p) for p in people]
        return Connection("GitActorConnection", nodes, self.ctx, "authors", **page)

    def f_parents(self, **page: Any) -> Connection:
        repo_commits = self._repo_commits()
        nodes = [CommitNode(self.ctx, repo_commits[p]) for p in self.commit.parents if p in repo_commits]
        return Connection("CommitConnection", nodes, self.ctx, "parents", **page)

    def _repo_commits(self) -> Mapping[str, Commit]:
        repo = self._repo()
        return repo.commits if repo is not None else {}

    def _repo(self) -> Repo | None:
        for repo in self.ctx.world.repos.values():
            if self.commit.sha in repo.commits:
                return repo
        return None

    def f_checkSuites(self, filterBy: Mapping[str, Any] | None = None, **page: Any) -> Connection:
        """The commit's check suites, oldest first; `filterBy` takes `appId` and `checkName` as GitHub's
        CheckSuiteFilter does. A suite holds the runs of one app on this commit."""
        repo = self._repo()
        runs = [r for r in (repo.check_runs.values() if repo else ()) if r.head_sha == self.commit.sha]
        wanted = filterBy or {}
        if wanted.get("appId") is not None:
            runs = [r for r in runs if r.app_id == wanted["appId"]]
        if wanted.get("checkName") is not None:
            runs = [r for r in runs if r.name == wanted["checkName"]]
        suites: dict[int, list[CheckRun]] = {}
        for run in sorted(runs, key=lambda r: r.id):
            suites.setdefault(run.check_suite_id, []).append(run)
        nodes = [CheckSuiteNode(self.ctx, suite_id, members) for suite_id, members in suites.items()]
        return Connection("CheckSuiteConnection", nodes, self.ctx, "checkSuites", **page)

    def f_file(self, path: str) -> Node | None:
        blob = self.commit.files.get(path)
        if blob is None:
            return None
        content = self.ctx.world.blobs[blob]
        return _Plain("TreeEntry", path=path, oid=blob, object=BlobNode(blob, content))


class CheckSuiteNode(Node):
    typename = "CheckSuite"

    def __init__(self, ctx: Context, suite_id: int, runs: Sequence[CheckRun]) -> None:
        self.ctx, self.suite_id, self.runs = ctx, suite_id, list(runs)

    def f_databaseId(self) -> int:
        return self.suite_id

    def f_app(self) -> Node | None:
        app = self.ctx.world.apps.get(self.runs[0].app_id)
        app_id = self.runs[0].app_id
        return _Plain(
            "App", databaseId=app_id, slug=app.slug if app else f"app-{app_id}", id=node_id("A_", app_id)
        )

    def f_checkRuns(self, filterBy: Mapping[str, Any] | None = None, **page: Any) -> Connection:
        """The suite's runs, oldest first; `filterBy` as GitHub's CheckRunFilter (`checkName`, `appId`,
        `status`, and `checkType`: LATEST, the default, keeps the newest run of each name)."""
        wanted = filterBy or {}
        runs = self.runs
        if wanted.get("checkName") is not None:
            runs = [r for r in runs if r.name == wanted["checkName"]]
        if wanted.get("appId") is not None:
            runs = [r for r in runs if r.app_id == wanted["appId"]]
        if wanted.get("status") is not None:
            runs = [r for r in runs if r.status.upper() == wanted["status"]]
        if wanted.get("checkType", "LATEST") == "LATEST":
            runs = list({r.name: r for r in runs}.values())  # oldest first: the newest of a name wins
        nodes = [_check_run_node(self.ctx, r) for r in sorted(runs, key=lambda r: r.id)]
        return Connection("CheckRunConnection", nodes, self.ctx, "checkRuns", **page)


def _check_run_node(ctx: Context, run: CheckRun) -> Node:
    node = _Plain(
        "CheckRun",
        databaseId=run.id,
        id=node_id("CR_", run.id),
        name=run.name,
        externalId=run.external_id or None,
        status=run.status.upper(),
        conclusion=run.conclusion.upper() if run.conclusion else None,
        title=run.title,
        summary=run.summary,
    )

    def annotations(**page: Any) -> Connection:
        items = [
            _Plain("CheckAnnotation", path=a.path, message=a.message, title=a.title) for a in run.annotations
        ]
        return Connection("CheckAnnotationConnection", items, ctx, "annotations", **page)

    node.values["annotations"] = annotations
    return node


class PullRequestNode(Node):
    typename = "PullRequest"

    def __init__(self, ctx: Context, repo: Repo, pr: PullRequest) -> None:
        self.ctx, self.repo, self.pr = ctx, repo, pr

    def f_id(self) -> str:
        return node_id("PR_", self.pr.id)

    def f_number(self) -> int:
        return self.pr.number

    def f_isDraft(self) -> bool:
        return self.pr.draft

    def f_state(self) -> str:
        return "MERGED" if self.pr.merged else self.pr.state.upper()

    def f_headRefOid(self) -> str:
        return self.pr.head_sha

    def f_baseRefName(self) -> str:
        return self.pr.base_ref

    def f_reviews(self, **page: Any) -> Connection:
        nodes = [
            _Plain(
                "PullRequestReview",
                databaseId=r.id,
                author=_actor(self.ctx, r.user),
                state=r.state,
                body=r.body,
                submittedAt=render.stamp(r.submitted_at),
                commit=_Plain("Commit", oid=r.commit_id),
                lastEditedAt=render.stamp(r.last_edited_at) if r.last_edited_at else None,
                editor=_actor(self.ctx, r.editor),
            )
            for r in self.pr.reviews
        ]
        return Connection("PullRequestReviewConnection", nodes, self.ctx, "reviews", **page)

    def f_commits(self, **page: Any) -> Connection:
        nodes = [
            _Plain("PullRequestCommit", commit=CommitNode(self.ctx, c))
            for c in render.pr_commits(self.repo, self.pr)
        ]
        return Connection("PullRequestCommitConnection", nodes, self.ctx, "commits", **page)

    def f_comments(self, **page: Any) -> Connection:
        found = sorted(
            (c for c in self.repo.comments.values() if c.number == self.pr.number), key=lambda c: c.id
        )
        nodes = [
            _Plain(
                "IssueComment",
                databaseId=c.id,
                author=_actor(self.ctx, c.user),
                body=c.body,
                createdAt=render.stamp(c.created_at),
                lastEditedAt=render.stamp(c.updated_at) if c.edited else None,
                editor=_actor(self.ctx, c.editor) if c.edited else None,
            )
            for c in found
        ]
        return Connection("IssueCommentConnection", nodes, self.ctx, "comments", **page)


class RepositoryNode(Node):
    typename = "Repository"

    def __init__(self, ctx: Context, repo: Repo) -> None:
        self.ctx, self.repo = ctx, repo

    def f_nameWithOwner(self) -> str:
        return self.repo.full_name

    def f_object(self, oid: str | None = None, expression: str | None = None) -> Node | None:
        world = self.ctx.world
        if oid is not None:
            if oid in world.blobs:
                return BlobNode(oid, world.blobs[oid])
            commit = self.repo.commits.get(oid)
            return CommitNode(self.ctx, commit) if commit else None
        if expression is None:
            raise GraphQLError("object requires `oid` or `expression`")
        rev, _, path = expression.partition(":")
        sha = self.repo.branches.get(rev.removeprefix("refs/heads/"), rev)
        commit = self.repo.commits.get(sha)
        if commit is None:
            return None
        if not path:
            return CommitNode(self.ctx, commit)
        blob = commit.files.get(path)
        return BlobNode(blob, world.blobs[blob]) if blob else None

    def f_ref(self, qualifiedName: str) -> Node | None:
        branch = qualifiedName.removeprefix("refs/heads/")
        sha = self.repo.branches.get(branch)
        if sha is None:
            return None
        return _Plain("Ref", name=branch, target=CommitNode(self.ctx, self.repo.commits[sha]))

    def f_defaultBranchRef(self) -> Node | None:
        return self.f_ref(f"refs/heads/{self.repo.default_branch}")

    def f_pullRequest(self, number: int) -> Node:
        pr = self.repo.pulls.get(number)
        if pr is None:
            raise GraphQLError(
                f"Could not resolve to a PullRequest with the number of {number}.", "NOT_FOUND"
            )
        return PullRequestNode(self.ctx, self.repo, pr)


class OrganizationNode(Node):
    typename = "Organization"

    def __init__(self, ctx: Context, org: str) -> None:
        self.ctx, self.org = ctx, org

    def f_login(self) -> str:
        return self.org

    def f_team(self, slug: str) -> Node | None:
        found = self.ctx.world.teams.get((self.org, slug))
        if found is None:
            return None
        ctx = self.ctx

        def members(**page: Any) -> Connection:
            nodes = [_actor(ctx, m) for m in found.members]
            return Connection("TeamMemberConnection", nodes, ctx, "members", **page)

        team = _Plain("Team", slug=found.slug, name=found.slug)
        team.values["members"] = members
        return team


class QueryRoot(Node):
    typename = "Query"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def f_rateLimit(self, dryRun: bool = False) -> Node:
        """The holder's primary rate limit after this call, and this call's cost (schema: RateLimit)."""
        rate = self.ctx.rate
        return _Plain(
            "RateLimit",
            cost=rate.cost,
            limit=rate.limit,
            remaining=rate.remaining,
            used=rate.used,
            nodeCount=rate.nodes,
            resetAt=datetime.fromtimestamp(rate.reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def f_repository(self, owner: str, name: str) -> Node:
        repo = self.ctx.world.repos.get(f"{owner}/{name}")
        if repo is None:
            raise GraphQLError(
                f"Could not resolve to a Repository with the name '{owner}/{name}'.", "NOT_FOUND"
            )
        return RepositoryNode(self.ctx, repo)

    def f_organization(self, login: str) -> Node:
        # A login that is no organization (unknown, or a user's) is NOT_FOUND, not an empty org: GitHub
        # answers `"data": {"organization": null}` with the error "Could not resolve to an Organization
        # with the login of '…'." (type NOT_FOUND, path ["organization"]), as the GitHub CLI's recorded
        # answers show (cli/cli, pkg/cmd/project tests).
        found = self.ctx.world.users.get(login)
        if found is None or found.type != "Organization":
            raise GraphQLError(
                f"Could not resolve to an Organization with the login of '{login}'.", "NOT_FOUND"
            )
        return OrganizationNode(self.ctx, login)


class MutationRoot(Node):
    typename = "Mutation"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _pull(self, node: str) -> tuple[Repo, PullRequest]:
        decoded = decode_node_id(node or "")
        if decoded and decoded[0] == "PR_":
            for repo in self.ctx.world.repos.values():
                for pr in repo.pulls.values():
                    if pr.id == decoded[1]:
                        return repo, pr
        raise GraphQLError(f"Could not resolve to a node with the global id of '{node}'")

    def _set_draft(self, input: Mapping[str, Any], draft: bool) -> Node:
        repo, pr = self._pull(str(input.get("pullRequestId", "")))
        if pr.state != "open":
            raise GraphQLError("Pull request is closed")
        if draft and not pr.draft and not drafts.available(self.ctx.world, repo):
            raise GraphQLError(drafts.convert_refused(self.ctx.viewer, node_id("PR_", pr.id)), "FORBIDDEN")
        if pr.draft != draft:
            pr.draft = draft
            pr.updated_at = self.ctx.world.now()
            self.ctx.mutated.append(f"{repo.full_name}#{pr.number}:{'draft' if draft else 'ready'}")
        return _Plain(
            "Payload",
            pullRequest=PullRequestNode(self.ctx, repo, pr),
            clientMutationId=input.get("clientMutationId"),
        )

    def f_convertPullRequestToDraft(self, input: Mapping[str, Any]) -> Node:
        return self._set_draft(input, True)

    def f_markPullRequestReadyForReview(self, input: Mapping[str, Any]) -> Node:
        return self._set_draft(input, False)


def _execute(
    ctx: Context,
    value: Any,
    selections: Sequence[Selection | Fragment],
    variables: Mapping[str, Any],
    path: tuple[str | int, ...] = (),
) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_execute(ctx, item, selections, variables, (*path, i)) for i, item in enumerate(value)]
    if not isinstance(value, Node):
        return value
    if not selections:
        raise GraphQLError(f"Field must have selections (type '{value.typename}' is an object)")
    out: dict[str, Any] = {}
    for selection in selections:
        if isinstance(selection, Fragment):
            if selection.type_condition == value.typename:
                out.update(_execute(ctx, value, selection.children, variables, path))
            continue
        where = (*path, selection.alias)
        if ctx.forbids(value.typename, selection.name):
            # GitHub answers 200: the field is null and an error of type FORBIDDEN says where.
            ctx.errors.append(
                {"type": "FORBIDDEN", "path": list(where), "message": permissions.FORBIDDEN_MESSAGE}
            )
            out[selection.alias] = None
            continue
        args = _substitute(selection.arguments, variables)
        try:
            resolved = value.resolve(selection.name, args)
            if callable(resolved) and not isinstance(resolved, Node):
                resolved = resolved(**args)
        except GraphQLError as error:
            if error.kind is None:
                raise  # a malformed query fails whole, as GitHub's validation does
            # An object that cannot be resolved (NOT_FOUND) nulls its nullable field and is reported
            # with its path, while the rest of the query is answered: GitHub's partial results (the
            # GraphQL spec's "Handling Field Errors"); repository, organization and pullRequest are
            # nullable fields.
            ctx.errors.append({"type": error.kind, "path": list(where), "message": str(error)})
            out[selection.alias] = None
            continue
        out[selection.alias] = _execute(ctx, resolved, selection.children, variables, where)
    return out


def is_mutation(query: str) -> bool:
    try:
        return any(op.kind == "mutation" for op in parse(query))
    except GraphQLError:
        return False


def _charge(ctx: Context, op: Operation, variables: Mapping[str, Any]) -> dict[str, Any] | None:
    """Compute the call's cost before it runs and make its holder pay; GitHub's refusal when the
    node limit or the budget says no (see bot/emulator/ratelimits.py for the rules and sources)."""
    price = ratelimits.cost(op.selections, variables)
    if price.nodes > ratelimits.NODE_LIMIT:
        raise GraphQLError(
            f"This query requests up to {price.nodes:,} possible nodes which exceeds the maximum limit of "
            f"{ratelimits.NODE_LIMIT:,}.",
            "MAX_NODE_LIMIT_EXCEEDED",
        )
    if ctx.budget is None:
        return None
    paid, ctx.headers = ctx.budget.charge(ctx.holder, price.points)
    if not paid:
        return ratelimits.rate_limited(ctx.holder)
    ctx.rate = RateStatus(
        price.points,
        price.nodes,
        int(ctx.headers["X-RateLimit-Limit"]),
        int(ctx.headers["X-RateLimit-Remaining"]),
        int(ctx.headers["X-RateLimit-Used"]),
        float(ctx.headers["X-RateLimit-Reset"]),
    )
    return None


def execute(ctx: Context, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run one GraphQL request; errors come back inside the body, as GitHub sends them."""
    try:
        operations = parse(query)
        if len(operations) != 1:
            raise GraphQLError("Exactly one operation per request is supported")
        op = operations[0]
        refused = _charge(ctx, op, variables or {})
        if refused is not None:
            return refused
        root: Node = MutationRoot(ctx) if op.kind == "mutation" else QueryRoot(ctx)
        with ctx.world.lock:
            result: dict[str, Any] = {"data": _execute(ctx, root, op.selections, variables or {})}
        if ctx.errors:
            result["errors"] = list(ctx.errors)
        return result
    except GraphQLError as error:
        problem: dict[str, Any] = {"message": str(error)}
        if error.kind:
            problem["type"] = error.kind
        return {"data": None, "errors": [problem]}
