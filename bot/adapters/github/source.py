"""Everything one evaluation of a pull request needs, read from GitHub in a constant number of calls.

The reads, whatever the number of files the PR touches (each is one API call):

1. REST   GET pulls/{n}                      number, author, draft, head sha, base branch, labels,
          `mergeable` and `merge_commit_sha` (GitHub's test merge of an open PR)
2. REST   GET git/trees/{base branch}?recursive=1   every path and blob sha at the base
3. REST   GET git/trees/{test merge}?recursive=1  every path and blob sha of what the PR would merge,
   or     GET compare/{base branch}...{pr head}   when there is no test merge (see below),
   or     GET git/trees/{pr head}?recursive=1      the PR head itself, unless `merged` is asked for
4. GraphQL base branch head (commit oid, its tree oid, its `.approvalbot.yml`), the test merge's
          parents, the head's check runs, the PR's reviews, commits (with authors and co-authors
          mapped to logins) and comments, and the contents of the changed files at base and head (by
          blob oid, one alias each: known from the listings)
5. GraphQL the members of the teams `.approvalbot.yml` names, and a guess at the files the planner
          reads next: the variables the changed experiments override, on both sides (unchecked: a
          file the guess missed is fetched when read)

The listing of step 2 names a tree; when it is not the tree of the base head step 4 saw (the base
moved in between, or the branch name has a slash, which GitHub would read as a path) the base is
listed again by that commit (and compared again), and changed files step 4 did not read are read in
step 5: one or two more calls in that rare case.

With `read(n, merged=True)` (what an evaluation asks for), what is judged is what the PR would
merge: the base branch's *current* head (read in step 2, not GitHub's `base.sha`, which can lag)
against GitHub's test merge of the PR into it. Diffing the base head with the PR head instead would
make a PR that is behind the base appear to revert every later change on it. The test merge is used
only when its parents are exactly (base head, PR head), so a test merge GitHub made before the base or
the head moved is never trusted. Without one (the PR conflicts with the base, or GitHub is still
computing it: `mergeable` null) the head side is a three-way view: the base head with the files the PR
changed since the merge base (compare's file list) taken from the PR head; `PullRequestSnapshot.view`
and `.note` say so. A push to the base branch re-evaluates every open PR, so a base that moves after
step 2 heals itself. Reviews are still matched against the PR head sha, never the test merge.

Fail closed: a truncated tree, a connection with more than one page, a comparison listing as many files
as GitHub ever lists, or a file GitHub will not serve in full set `facts.incomplete` (never approvable);
an API error that survives PyGithub's retries raises `GitHubReadError`, and so does a file read later
(`Tree.read`) that cannot be served.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from github import Github

from bot.adapters.github.errors import API_ERRORS as _API_ERRORS
from bot.adapters.github.errors import describe as _describe
from bot.core.facts import Comment, Commit, PullRequestFacts, Review, ReviewState
from bot.core.loading import parse_yaml
from bot.core.model import Kind, Resource, ResourceKey
from bot.core.plan import RESOURCE_SUFFIXES
from bot.core.repo_config import CONFIG_PATH, parse_repo_config
from bot.core.rules import overrides_used
from bot.core.tree import ChangeType, FileChange

CHECK_NAME = "approvalbot"  # the check run approvalbot writes on every PR head
JUDGED_BATCH = 50  # heads asked about per GraphQL call by `judged_heads`
log = logging.getLogger("approvalbot.github")

PAGE = 100  # GitHub's largest GraphQL page; a list longer than this marks the read incomplete
COMPARE_FILES = 300  # GitHub lists at most this many files in a comparison; as many may mean more
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: the "parent" of a root commit
NO_COMMIT = "0" * 40  # what GitHub sends as `before` when a push creates the branch
HEAD_VIEW = "head"
MERGE_VIEW = "merge"
THREE_WAY_VIEW = "three-way"
_TEAM = re.compile(r"@([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)")


class GitHubReadError(Exception):
    """GitHub could not be read (after retries); the caller must not treat the PR as approvable."""


@dataclass(frozen=True)
class PullState:
    """The PR as GitHub shows it now: what the writer compares against before writing."""

    number: int
    node_id: str
    state: str  # "open" or "closed"
    merged: bool
    draft: bool
    author: str
    title: str
    head_sha: str
    head_ref: str
    base_ref: str
    base_sha: str  # the base branch's current head commit (see the module docstring)
    created_at: datetime | None
    labels: tuple[str, ...] = ()
    requested_reviewers: tuple[str, ...] = ()
    requested_teams: tuple[str, ...] = ()
    mergeable: bool | None = None  # GitHub's answer: None while it computes the test merge
    updated_at: datetime | None = None  # GitHub's clock: at or after the latest push, comment or edit
    repo_url: str = ""  # the base repository's web address (`base.repo.html_url`), for links to files


@dataclass(frozen=True)
class CheckRunRecord:
    """An `approvalbot` check run GitHub shows on a commit: what the writer needs to skip or edit it."""

    id: int
    app_id: int | None
    external_id: str
    status: str  # REST's spelling: "queued", "in_progress" or "completed"
    annotations: int


@dataclass(frozen=True)
class CommentRecord:
    id: int
    user: str
    body: str


@dataclass(frozen=True)
class _Entry:
    sha: str
    size: int | None


class GitHubTree:
    """A revision (`bot.core.tree.Tree`) whose listing and changed files were read up front; other
    files are fetched on demand, in one GraphQL call per batch."""

    def __init__(self, source: PullRequestSource, sha: str, entries: Mapping[str, _Entry]) -> None:
        self._source = source
        self.sha = sha
        self._entries = dict(entries)
        self._contents: dict[str, bytes] = {}
        self._partner: GitHubTree | None = None

    def pair(self, other: GitHubTree) -> None:
        """Link the two sides of one change: a fetch on either also loads the same paths on the other,
        in the same call. The planner reads a file it looks up (a referenced variable) on both sides,
        so the second side then costs nothing."""
        self._partner, other._partner = other, self

    def paths(self) -> Sequence[str]:
        return sorted(self._entries)

    def blob_sha(self, path: str) -> str | None:
        entry = self._entries.get(path)
        return entry.sha if entry else None

    def read(self, path: str) -> bytes | None:
        if path not in self._entries:
            return None
        if path not in self._contents:
            self.prefetch([path])
        return self._contents.get(path)

    def mentioning(self, word: str, paths: Iterable[str]) -> list[str]:
        wanted = [p for p in paths if p in self._entries]
        self.prefetch(wanted)
        needle = word.encode()
        return [p for p in wanted if needle in self._contents.get(p, b"")]

    def prefetch(self, paths: Iterable[str]) -> None:
        """Load every one of `paths` not loaded yet, in one API call."""
        wanted = list(paths)
        missing = self._missing(wanted)
        if missing:
            along = self._partner._missing(wanted) if self._partner is not None else {}
            blobs = self._source.fetch_blobs(set(missing.values()) | set(along.values()))
            self._fill(missing, blobs)
            if self._partner is not None:
                self._partner._fill(along, blobs)

    def _missing(self, paths: Iterable[str]) -> dict[str, str]:
        return {p: self._entries[p].sha for p in paths if p in self._entries and p not in self._contents}

    def _fill(self, paths: Mapping[str, str], blobs: Mapping[str, bytes]) -> None:
        for path, sha in paths.items():
            if sha in blobs:
                self._contents[path] = blobs[sha]


@dataclass(frozen=True)
class PullRequestSnapshot:
    pull: PullState
    base: GitHubTree
    head: GitHubTree
    changes: tuple[FileChange, ...]
    facts: PullRequestFacts
    config: bytes | None  # `.approvalbot.yml` on the base branch head, None when absent
    comments: tuple[CommentRecord, ...] = field(default=())
    # How the head side was built: HEAD_VIEW (the PR head), MERGE_VIEW (GitHub's test merge) or
    # THREE_WAY_VIEW (see the module docstring).
    view: str = HEAD_VIEW
    # The newest `approvalbot` run of each app on the PR head, read with the facts (saves the writer
    # its own lookup); None when GitHub did not list them in full, so the writer must look itself.
    check_runs: tuple[CheckRunRecord, ...] | None = None
    # What the reader of the check should fix but that does not stop the judgement (a team that
    # resolves to nobody).
    warnings: tuple[str, ...] = ()

    @property
    def incomplete(self) -> str | None:
        return self.facts.incomplete

    @property
    def note(self) -> str | None:
        """What a reader of the check should know about how the change was judged, if anything."""
        if self.view != THREE_WAY_VIEW:
            return None
        judged = (
            f"so it is judged on the files it changes, as they are on its head, against "
            f"`{self.pull.base_ref}` as it is now."
        )
        if self.pull.mergeable is None:
            return (
                "GitHub was still computing the test merge of this pull request after the bot asked "
                f"several times, {judged} Re-run this check once GitHub shows whether it can be merged."
            )
        return f"This pull request conflicts with `{self.pull.base_ref}` (GitHub has no test merge), {judged}"


@dataclass(frozen=True)
class CommitSnapshot:
    """One commit of the default branch against its first parent, as apply-on-merge judges it."""

    sha: str
    parent: str | None  # the first parent; None for a root commit
    author: str | None  # GitHub login of the commit's author, None when GitHub maps it to nobody
    base: GitHubTree  # the first parent's tree (empty for a root commit)
    head: GitHubTree  # the commit's tree
    changes: tuple[FileChange, ...]  # first parent → commit
    config_before: bytes | None  # `.approvalbot.yml` at the first parent, None when absent
    config_after: bytes | None  # `.approvalbot.yml` at the commit, None when absent
    parents: tuple[str, ...] = ()  # all of the commit's parents, first first (`parent` may differ: since)


@dataclass(frozen=True)
class FirstParentWalk:
    chain: list[str]  # newest first
    reached_stop: bool  # the walk ended at the commit it was told to stop at (not at a limit or the root)


@dataclass(frozen=True)
class MergedPull:
    """A pull request GitHub associates with a commit (`merged_by` is read only for the PR whose
    merge produced that commit)."""

    number: int
    merged: bool
    merge_commit_sha: str | None
    merged_at: datetime | None
    merged_by: str | None
    head_sha: str
    title: str
    base_ref: str


def diff_trees(base: Mapping[str, _Entry], head: Mapping[str, _Entry]) -> tuple[FileChange, ...]:
    """Changed files by blob sha; a deleted and an added file with the same content are a rename."""
    added = sorted(p for p in head if p not in base)
    deleted = sorted(p for p in base if p not in head)
    modified = sorted(p for p in head if p in base and head[p].sha != base[p].sha)
    out = [FileChange(ChangeType.MODIFIED, p) for p in modified]
    gone_by_sha: dict[str, list[str]] = {}
    for path in deleted:
        gone_by_sha.setdefault(base[path].sha, []).append(path)
    for path in added:
        olds = gone_by_sha.get(head[path].sha)
        if olds:
            out.append(FileChange(ChangeType.RENAMED, path, olds.pop(0)))
        else:
            out.append(FileChange(ChangeType.ADDED, path))
    out += [FileChange(ChangeType.DELETED, p) for olds in gone_by_sha.values() for p in olds]
    return tuple(sorted(out, key=lambda c: c.path))


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _actor_login(actor: Mapping[str, Any] | None) -> str | None:
    """GraphQL spells a bot's login without the `[bot]` suffix REST uses; put it back so bots are bots."""
    if not actor or not actor.get("login"):
        return None
    login = str(actor["login"])
    if actor.get("__typename") == "Bot" and not login.endswith("[bot]"):
        login += "[bot]"
    return login


# What the facts read of each review, commit and comment; the pages after the first read the same.
_EDIT_FIELDS = "lastEditedAt editor { __typename login }"  # who last edited a body (no connection: free)
_REVIEW_FIELDS = "author { __typename login } state body submittedAt commit { oid } " + _EDIT_FIELDS
_COMMIT_FIELDS = """commit { oid
          author { email user { __typename login } }
          committer { email user { __typename login } }
          authors(first: 100) { pageInfo { hasNextPage } nodes { email user { __typename login } } } }"""
_COMMENT_FIELDS = "databaseId author { __typename login } body createdAt " + _EDIT_FIELDS

# GitHub prices a query by the connections it may need to fill (see `bot/emulator/ratelimits.py`):
# this one needs 1 (suites) + 5 (runs) + 25 (annotations) + 1 (parents) + 3 (reviews, commits, comments)
# + 100 (each commit's authors) = 135 requests, which GitHub rounds to 1 point. Reviews and comments
# are read from the newest end: the newest review of each person decides, and older pages follow.
# Five suites of five runs named approvalbot are more than any honest head has; more, and the writer
# lists the check runs itself.
_FACTS_QUERY = (
    """
query($owner: String!, $name: String!, $number: Int!, $base: String!, $config: String!,
      $merge: GitObjectID!, $head: GitObjectID!, $check: String!) {
  repository(owner: $owner, name: $name) {
    head: object(oid: $head) { ... on Commit { checkSuites(first: 5, filterBy: {checkName: $check}) {
      pageInfo { hasNextPage }
      nodes { app { databaseId } checkRuns(first: 5, filterBy: {checkName: $check, checkType: LATEST}) {
        pageInfo { hasNextPage }
        nodes { databaseId externalId status annotations(first: 1) { totalCount } } } } } } }
    ref(qualifiedName: $base) {
      target { oid ... on Commit { tree { oid } file(path: $config) { object { ... on Blob {
        text isTruncated } } } } }
    }
    merge: object(oid: $merge) { __typename ... on Commit { oid parents(first: 2) { nodes { oid } } } }
    pullRequest(number: $number) {
      reviews(last: 100) { pageInfo { hasPreviousPage startCursor } nodes { REVIEW } }
      commits(first: 100) { pageInfo { hasNextPage endCursor } nodes { COMMIT } }
      comments(last: 100) { pageInfo { hasPreviousPage startCursor } nodes { COMMENT } }
    }
    __BLOBS__
  }
}
""".replace("REVIEW", _REVIEW_FIELDS)
    .replace("COMMIT", _COMMIT_FIELDS)
    .replace("COMMENT", _COMMENT_FIELDS)
)

# One more page of one of the PR's lists (reviews and comments backwards, commits forwards).
_PAGE_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $cursor: String!) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) {
    LIST(PAGING: $cursor) { pageInfo { MORE CURSOR } nodes { FIELDS } } } }
}
"""
MAX_PAGES = 10  # per list: 1,000 reviews, commits or comments; beyond that the read is incomplete
_LISTS = {
    # name: (paging argument, whether another page exists, its cursor, node fields)
    "reviews": ("last: 100, before", "hasPreviousPage", "startCursor", _REVIEW_FIELDS),
    "commits": ("first: 100, after", "hasNextPage", "endCursor", _COMMIT_FIELDS),
    "comments": ("last: 100, before", "hasPreviousPage", "startCursor", _COMMENT_FIELDS),
}


_COMMIT_QUERY = """
query($owner: String!, $name: String!, $sha: GitObjectID!) {
  repository(owner: $owner, name: $name) {
    object(oid: $sha) {
      __typename
      ... on Commit { oid author { user { __typename login } } parents(first: 2) { nodes { oid } } }
    }
  }
}
"""

_DEFAULT_BRANCH_QUERY = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) { defaultBranchRef { name target { oid } } }
}
"""


class PullRequestSource:
    def __init__(
        self,
        gh: Github,
        full_name: str,
        *,
        max_rate_limit_wait: float = 900.0,
        mergeable_waits: Sequence[float] = (0.5, 1.0, 2.0),
    ) -> None:
        self._gh = gh
        self.mergeable_waits = tuple(mergeable_waits)
        self.max_rate_limit_wait = max_rate_limit_wait  # seconds: longer, and the read fails for a retry
        self.owner, _, self.name = full_name.partition("/")
        self.full_name = full_name

    # --- the reads -------------------------------------------------------------------------------

    def _rest(self, path: str) -> Any:
        try:
            _, data = self._gh.requester.requestJsonAndCheck("GET", f"/repos/{self.full_name}{path}")
        except _API_ERRORS as error:
            raise GitHubReadError(
                f"GitHub GET /repos/{self.full_name}{path} failed: {_describe(error)}"
            ) from error
        return data

    def _graphql(
        self,
        query: str,
        variables: Mapping[str, Any],
        problems: list[str] | None = None,
        *,
        may_miss: AbstractSet[str] = frozenset(),
    ) -> Any:
        """The query's data. A field GitHub refuses for a permission (a FORBIDDEN error beside null
        data) is a problem saying which permission is missing when `problems` is given (the read is
        then incomplete, never approvable), else it fails the read. NOT_FOUND under a top-level alias in
        `may_miss` leaves that field null for the caller to judge. Any other error fails the read."""
        # Not PyGithub's graphql_query: it raises on any `errors` entry, and GitHub's refusals and
        # misses come with the rest of the answer (partial data).
        url = self._gh.requester.graphql_url
        for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
            try:
                headers, data = self._gh.requester.requestJsonAndCheck(
                    "POST", url, input={"query": query, "variables": dict(variables)}
                )
            except _API_ERRORS as error:
                raise GitHubReadError(
                    f"GitHub GraphQL query on {self.full_name} failed: {_describe(error)}"
                ) from error
            wait = rate_limit_wait(headers, data, time.time())
            if wait is None:
                break
            if wait > self.max_rate_limit_wait or attempt == RATE_LIMIT_ATTEMPTS:
                raise GitHubReadError(
                    f"GitHub's GraphQL rate limit for {self.full_name} is used up "
                    f"({_messages(data)}) and frees up in {wait:.0f} s; the work is retried later"
                )
            log.warning(
                "GraphQL rate limited on %s: waiting %.1f s (%s)", self.full_name, wait, _messages(data)
            )
            time.sleep(wait)
        errors = [e for e in data.get("errors") or () if not _missing_under(e, may_miss)]
        refused = [_refusal(e) for e in errors if e.get("type") == "FORBIDDEN"]
        others = [e for e in errors if e.get("type") != "FORBIDDEN"]
        if others or data.get("data") is None:
            said = "; ".join(str(e.get("message", e)) for e in others or errors) or "no data"
            raise GitHubReadError(f"GitHub GraphQL query on {self.full_name} failed: {said}")
        if refused and problems is None:
            raise GitHubReadError(f"GitHub GraphQL query on {self.full_name}: " + "; ".join(refused))
        if problems is not None:
            problems.extend(refused)
        return data["data"]

    def _tree(self, sha: str, problems: list[str]) -> dict[str, _Entry]:
        return self._listing(sha, problems)[1]

    def fetch_blobs(self, shas: set[str]) -> dict[str, bytes]:
        """Contents by blob sha, in one call; raises GitHubReadError unless every one was served."""
        problems: list[str] = []
        blobs, _ = self._fetch(shas, (), problems)
        if problems:
            raise GitHubReadError(f"{self.full_name}: " + "; ".join(problems))
        return blobs

    def _fetch(
        self,
        shas: set[str],
        teams: Sequence[tuple[str, str]],
        problems: list[str],
        *,
        speculative: AbstractSet[str] = frozenset(),
        warnings: list[str] | None = None,
    ) -> tuple[dict[str, bytes], dict[str, tuple[str, ...]]]:
        """`shas` must all be served (else a problem); `speculative` ones are loaded when they can be,
        silently: a later read of a file that was not loaded fetches it again, and fails there."""
        order = sorted(shas | speculative)
        if not order and not teams:
            return {}, {}
        query = f"query {{ repository(owner: {_q(self.owner)}, name: {_q(self.name)}) {{ "
        query += (_blob_fields(order) or "__typename") + " }" + _team_fields(teams)
        # A team of an organization that does not exist (or of a user) is NOT_FOUND: it resolves to
        # nobody, as an unknown team does, and must not make the PR unreadable (or no PR could fix it).
        aliases = {f"t{i}" for i in range(len(teams))}
        before = len(problems)
        data = self._graphql(query + " }", {}, problems, may_miss=aliases)
        for at in range(before, len(problems)):  # say which team, not which alias
            for i, (org, slug) in enumerate(teams):
                problems[at] = problems[at].replace(f"read t{i}.team ", f"read the members of @{org}/{slug} ")
        blobs = _blobs(data.get("repository"), sorted(shas), problems)
        blobs |= _blobs(data.get("repository"), sorted(speculative - shas), [])
        return blobs, _members(data, teams, problems, warnings if warnings is not None else [])

    def read(self, number: int, *, pusher: str | None = None, merged: bool = False) -> PullRequestSnapshot:
        """Read PR `number` (see the module docstring for the calls). `pusher` comes from the webhook
        that triggered the evaluation (GitHub's API does not say who pushed a commit).

        `merged`: the head side is what the PR would merge (the test merge, or the three-way view), as
        an evaluation must judge it. Without it the head side is the PR head's own tree (HEAD_VIEW), for
        callers that compare it with another base themselves."""
        problems: list[str] = []
        pull_data = self._rest(f"/pulls/{number}")
        for wait in self.mergeable_waits if merged else ():
            if pull_data["state"] != "open" or pull_data.get("mergeable") is not None:
                break
            # GitHub is computing the test merge; judging without it would judge another tree than the
            # one a later evaluation sees, and the verdict could change with no change to the PR.
            time.sleep(wait)
            pull_data = self._rest(f"/pulls/{number}")
        head_sha = pull_data["head"]["sha"]
        base_ref = pull_data["base"]["ref"]
        test_merge = _test_merge_candidate(pull_data) if merged else None
        # The base is listed by branch name, before the facts say which commit the branch is at, so the
        # changed files can be read with the facts. The listing names its tree; the facts name the tree
        # of the commit they saw: the rare base that moved in between is listed again by that commit.
        # GitHub reads a name with a slash as a path, so such a branch is listed after the facts.
        early = base_ref if "/" not in base_ref else None
        base_listing = self._listing(early, problems) if early else None
        compared: Any = None
        if not merged:
            head_entries: dict[str, _Entry] | None = self._tree(head_sha, problems)
        elif test_merge is not None:
            head_entries = self._tree(test_merge, problems)
        else:
            head_entries = None
            if early:
                compared = self._rest(f"/compare/{early}...{head_sha}?per_page=1")
        wanted: set[str] = set()
        if base_listing is not None and head_entries is not None:
            wanted = _changed_blobs(base_listing[1], head_entries)
        elif base_listing is not None and compared is not None:
            head_guess = _three_way_entries(compared, base_listing[1], [])
            wanted = _changed_blobs(base_listing[1], head_guess)
        facts_data = self._graphql(
            _FACTS_QUERY.replace("__BLOBS__", _blob_fields(sorted(wanted))),
            {
                "owner": self.owner,
                "name": self.name,
                "number": number,
                "base": f"refs/heads/{base_ref}",
                "config": CONFIG_PATH,
                # Without a candidate the field is asked about the head and its answer ignored: one
                # query text whatever GitHub said.
                "merge": test_merge or head_sha,
                "head": head_sha,
                "check": CHECK_NAME,
            },
            problems,
        )["repository"]
        if facts_data is None or facts_data.get("pullRequest") is None:
            # Refused outright (a permission the token lacks): nothing to judge, say why.
            raise GitHubReadError(f"{self.full_name}#{number}: " + ("; ".join(problems) or "not found"))
        ref = facts_data.get("ref")
        if ref is None:
            raise GitHubReadError(f"{self.full_name}: base branch {base_ref!r} does not exist")
        base_sha = ref["target"]["oid"]
        if base_listing is None or base_listing[0] != (ref["target"].get("tree") or {}).get("oid"):
            base_listing = self._listing(base_sha, problems)
            compared = None  # compared with another base
        base_entries = base_listing[1]
        if not merged:
            view, judged_sha = HEAD_VIEW, head_sha
        elif test_merge is not None and _merges(facts_data.get("merge"), base_sha, head_sha):
            view, judged_sha = MERGE_VIEW, test_merge
        else:
            view, judged_sha = THREE_WAY_VIEW, head_sha
            if compared is None or (compared.get("base_commit") or {}).get("sha") != base_sha:
                compared = self._rest(f"/compare/{base_sha}...{head_sha}?per_page=1")
            head_entries = _three_way_entries(compared, base_entries, problems)
        assert head_entries is not None  # every branch above lists or builds it
        changes = diff_trees(base_entries, head_entries)
        blobs = _blobs(facts_data, sorted(wanted), [])

        config_file = ref["target"].get("file")
        config: bytes | None = None
        if config_file is not None:
            blob = config_file.get("object") or {}
            if blob.get("text") is None or blob.get("isTruncated"):
                problems.append(f"{CONFIG_PATH} on {base_ref} could not be read in full")
            else:
                config = blob["text"].encode()
        teams = sorted(set(_TEAM.findall(config.decode(errors="replace")))) if config else []

        needed = _changed_blobs(base_entries, head_entries) - set(blobs)
        # Every blob the first query did not serve is asked again, strictly: that is what reports it.
        guess = _referenced_blobs(changes, head_entries, base_entries, blobs, config) - set(blobs)
        warnings: list[str] = []
        more, members = self._fetch(needed, teams, problems, speculative=guess - needed, warnings=warnings)
        blobs |= more

        base = GitHubTree(self, base_sha, base_entries)
        head = GitHubTree(self, judged_sha, head_entries)
        base.pair(head)
        for tree, entries in ((base, base_entries), (head, head_entries)):
            tree._fill({p: e.sha for p, e in entries.items()}, blobs)

        pull = _pull_state(pull_data, base_sha)
        lists = {name: self._list(number, name, facts_data["pullRequest"], problems) for name in _LISTS}
        facts, comments = _facts(pull, lists, members, pusher, problems)
        check_runs = _check_runs(facts_data.get("head"))
        return PullRequestSnapshot(
            pull, base, head, changes, facts, config, comments, view, check_runs, tuple(warnings)
        )

    def _list(self, number: int, name: str, pull: Mapping[str, Any], problems: list[str]) -> list[Any]:
        """Every node of the PR's list `name`, oldest first: the facts query's page, and the pages
        before (reviews, comments) or after it (commits), one query (one point) each."""
        paging, more, cursor_field, fields = _LISTS[name]
        page = pull[name]
        nodes = list(page["nodes"])
        query = (
            _PAGE_QUERY.replace("LIST", name)
            .replace("PAGING", paging)
            .replace("MORE", more)
            .replace("CURSOR", cursor_field)
            .replace("FIELDS", fields)
        )
        for _ in range(MAX_PAGES - 1):
            info = page["pageInfo"]
            if not info[more]:
                return nodes
            if not info[cursor_field]:  # more, but nowhere to go on from: GitHub answered short
                problems.append(
                    f"GitHub listed only part of the pull request's {name}; not all could be read"
                )
                return nodes
            variables = {
                "owner": self.owner,
                "name": self.name,
                "number": number,
                "cursor": info[cursor_field],
            }
            found = (self._graphql(query, variables)["repository"] or {}).get("pullRequest")
            if found is None:
                raise GitHubReadError(f"{self.full_name}#{number} vanished while its {name} were read")
            page = found[name]
            nodes = nodes + list(page["nodes"]) if more == "hasNextPage" else list(page["nodes"]) + nodes
        if page["pageInfo"][more]:
            problems.append(
                f"the pull request has more than {MAX_PAGES * PAGE} {name}; not all could be read"
            )
        return nodes

    def _listing(self, ref: str, problems: list[str]) -> tuple[str, dict[str, _Entry]]:
        """The tree of `ref` (a branch name or a sha): its own sha and its files."""
        data = self._rest(f"/git/trees/{ref}?recursive=1")
        if data.get("truncated"):
            problems.append(f"GitHub truncated the file list of {ref[:12]}; it is too large to check")
        return str(data.get("sha") or ""), _entries(data)

    # --- the default branch: apply-on-merge, drift and reconcile --------------------------------------

    def read_commit(self, sha: str, *, since: str | None = None) -> CommitSnapshot:
        """Commit `sha` against its first parent (or against `since`, an ancestor: a rebase merge is
        judged from the base before its first commit), in at most four calls however many files
        changed: GraphQL (commit, parents, author), the two trees, one GraphQL batch for the changed
        files' contents and both `.approvalbot.yml`. Raises GitHubReadError unless everything was read."""
        variables = {"owner": self.owner, "name": self.name, "sha": sha}
        node = self._graphql(_COMMIT_QUERY, variables)["repository"]["object"]
        if node is None or node.get("__typename") != "Commit":
            raise GitHubReadError(f"{self.full_name}: no commit {sha[:12]}; was the branch force-pushed?")
        parents = [p["oid"] for p in node["parents"]["nodes"]]
        parent = since if since is not None else (parents[0] if parents else None)
        problems: list[str] = []
        base_entries = self._tree(parent, problems) if parent else {}
        head_entries = self._tree(sha, problems)
        changes = diff_trees(base_entries, head_entries)
        wanted = {
            entries[path].sha
            for entries in (base_entries, head_entries)
            for change in changes
            for path in change.paths
            if path in entries
        }
        wanted |= {e[CONFIG_PATH].sha for e in (base_entries, head_entries) if CONFIG_PATH in e}
        blobs, _ = self._fetch(wanted, (), problems)
        if problems:
            raise GitHubReadError(f"{self.full_name} at {sha[:12]}: " + "; ".join(problems))
        base = GitHubTree(self, parent or EMPTY_TREE, base_entries)
        head = GitHubTree(self, sha, head_entries)
        base.pair(head)
        for tree, entries in ((base, base_entries), (head, head_entries)):
            tree._fill({p: e.sha for p, e in entries.items()}, blobs)

        def config(entries: Mapping[str, _Entry]) -> bytes | None:
            return blobs[entries[CONFIG_PATH].sha] if CONFIG_PATH in entries else None

        author = _actor_login((node.get("author") or {}).get("user"))
        return CommitSnapshot(
            sha,
            parent,
            author,
            base,
            head,
            changes,
            config(base_entries),
            config(head_entries),
            tuple(parents),
        )

    def parents(self, sha: str) -> tuple[str, ...]:
        """The parents of commit `sha`, first first (one GraphQL call)."""
        variables = {"owner": self.owner, "name": self.name, "sha": sha}
        node = self._graphql(_COMMIT_QUERY, variables)["repository"]["object"]
        if node is None or node.get("__typename") != "Commit":
            raise GitHubReadError(f"{self.full_name}: no commit {sha[:12]}; was the branch force-pushed?")
        return tuple(p["oid"] for p in node["parents"]["nodes"])

    def merged_pulls_for_commit(self, sha: str) -> list[MergedPull]:
        """The pull requests GitHub associates with commit `sha` (one call, plus one to learn who merged
        the PR whose merge commit `sha` is: the list does not say)."""
        items = self._rest(f"/commits/{sha}/pulls?per_page={PAGE}")
        out = []
        for item in items:
            merged_at = _stamp(item.get("merged_at"))
            merged_by = None
            if merged_at is not None and item.get("merge_commit_sha") == sha:
                full = self._rest(f"/pulls/{item['number']}")
                merged_by = (full.get("merged_by") or {}).get("login")
            out.append(
                MergedPull(
                    number=item["number"],
                    merged=merged_at is not None,
                    merge_commit_sha=item.get("merge_commit_sha"),
                    merged_at=merged_at,
                    merged_by=merged_by,
                    head_sha=item["head"]["sha"],
                    title=item.get("title") or "",
                    base_ref=item["base"]["ref"],
                )
            )
        return out

    def first_parent_chain(self, head: str, *, stop: str | None, limit: int) -> list[str]:
        """Shas from `head` back along first parents, newest first, ending before `stop` (exclusive;
        all zeros means none) or after `limit` commits (see `first_parent_walk`)."""
        return self.first_parent_walk(head, stop=stop, limit=limit).chain

    def first_parent_walk(self, head: str, *, stop: str | None, limit: int) -> FirstParentWalk:
        """The first-parent chain from `head` (newest first) and whether it reached `stop`. One call
        per 100 commits listed: the list GitHub gives holds every commit's parents, and the walk
        follows first parents through it."""
        stop = None if stop == NO_COMMIT else stop
        parents: dict[str, list[str]] = {}
        chain: list[str] = []
        current: str | None = head
        while current is not None and current != stop and len(chain) < limit:
            if current not in parents:
                page = self._rest(f"/commits?sha={current}&per_page={PAGE}")
                parents.update({c["sha"]: [p["sha"] for p in c["parents"]] for c in page})
                if current not in parents:
                    raise GitHubReadError(f"{self.full_name}: GitHub did not list commit {current[:12]}")
            chain.append(current)
            firsts = parents[current]
            current = firsts[0] if firsts else None
        return FirstParentWalk(chain, reached_stop=stop is not None and current == stop)

    def default_branch_head(self) -> str:
        """The sha at the tip of the default branch (one call)."""
        variables = {"owner": self.owner, "name": self.name}
        ref = self._graphql(_DEFAULT_BRANCH_QUERY, variables)["repository"]["defaultBranchRef"]
        if ref is None:
            raise GitHubReadError(f"{self.full_name} has no default branch (is it empty?)")
        return str(ref["target"]["oid"])

    def tree(self, sha: str) -> GitHubTree:
        """Revision `sha` as a Tree: its listing read now (one call), contents fetched in batches when
        read. Raises GitHubReadError when GitHub truncates the listing."""
        problems: list[str] = []
        entries = self._tree(sha, problems)
        if problems:
            raise GitHubReadError(f"{self.full_name}: " + "; ".join(problems))
        return GitHubTree(self, sha, entries)

    def open_pull_numbers_at(self, head_sha: str) -> list[int]:
        """Open PRs whose head is `head_sha`, forks' included. For a check run's "Re-run": GitHub's
        `check_run.pull_requests` leaves out PRs from forks, and "List pull requests associated with a
        commit" does not find a commit that is only in a fork; the open PR list has every head."""
        try:
            pulls = self._gh.get_repo(self.full_name).get_pulls(state="open")
            return [p.number for p in pulls if p.head.sha == head_sha]
        except _API_ERRORS as error:
            raise GitHubReadError(
                f"listing open pull requests of {self.full_name} failed: {_describe(error)}"
            ) from error

    def open_pull_heads(self) -> list[tuple[int, str]]:
        """Open PRs and their head shas (paged: one call per 100)."""
        try:
            return [(p.number, p.head.sha) for p in self._gh.get_repo(self.full_name).get_pulls(state="open")]
        except _API_ERRORS as error:
            raise GitHubReadError(
                f"listing open pull requests of {self.full_name} failed: {_describe(error)}"
            ) from error

    def judged_heads(self, shas: Sequence[str], app_id: int | None) -> set[str]:
        """Those of `shas` whose newest CHECK_NAME run (of app `app_id`, when given) is completed: a
        verdict was published for that head. One GraphQL call per JUDGED_BATCH heads, about one point
        each with an app id (one suite asked per head)."""
        judged: set[str] = set()
        wanted = list(dict.fromkeys(shas))
        for start in range(0, len(wanted), JUDGED_BATCH):
            batch = wanted[start : start + JUDGED_BATCH]
            suites = (
                f"checkSuites(first: 1, filterBy: {{appId: {int(app_id)}}})"
                if app_id
                else "checkSuites(first: 5)"
            )
            fields = " ".join(
                f'h{sha}: object(oid: "{sha}") {{ ... on Commit {{ {suites} {{ nodes {{ '
                f'checkRuns(first: 1, filterBy: {{checkName: "{CHECK_NAME}", checkType: LATEST}}) '
                "{ nodes { status } } } } } }"
                for sha in batch
            )
            query = (
                "query($owner: String!, $name: String!) "
                f"{{ repository(owner: $owner, name: $name) {{ {fields} }} }}"
            )
            data = self._graphql(query, {"owner": self.owner, "name": self.name})["repository"] or {}
            for sha in batch:
                suite_nodes = ((data.get(f"h{sha}") or {}).get("checkSuites") or {}).get("nodes") or []
                runs = [run for suite in suite_nodes for run in suite["checkRuns"]["nodes"]]
                if any(run["status"] == "COMPLETED" for run in runs):
                    judged.add(sha)
        return judged

    def open_pull_numbers(self) -> list[int]:
        """Open PRs of the repository (paged: one call per 100), e.g. to re-evaluate after a base push."""
        try:
            return [p.number for p in self._gh.get_repo(self.full_name).get_pulls(state="open")]
        except _API_ERRORS as error:
            raise GitHubReadError(
                f"listing open pull requests of {self.full_name} failed: {_describe(error)}"
            ) from error


def _entries(listing: Mapping[str, Any]) -> dict[str, _Entry]:
    return {e["path"]: _Entry(e["sha"], e.get("size")) for e in listing["tree"] if e["type"] == "blob"}


def _blob_fields(shas: Sequence[str]) -> str:
    """GraphQL fields reading blobs by oid inside `repository`, aliased by sha (see `_blobs`)."""
    return " ".join(
        f'b{sha}: object(oid: "{sha}") {{ ... on Blob {{ text isTruncated isBinary }} }}' for sha in shas
    )


def _blobs(
    repository: Mapping[str, Any] | None, shas: Sequence[str], problems: list[str]
) -> dict[str, bytes]:
    """The blobs `_blob_fields` asked for that GitHub served in full; a problem for each other one."""
    blobs: dict[str, bytes] = {}
    for sha in shas:
        blob = (repository or {}).get(f"b{sha}")
        if blob is None or blob.get("text") is None:
            problems.append(f"GitHub did not serve blob {sha[:12]} as text (binary or missing)")
        elif blob.get("isTruncated"):
            problems.append(f"blob {sha[:12]} is too large for GitHub to serve in full")
        else:
            blobs[sha] = blob["text"].encode()
    return blobs


def _missing_under(error: Mapping[str, Any], aliases: AbstractSet[str]) -> bool:
    path = error.get("path") or []
    return error.get("type") == "NOT_FOUND" and bool(path) and path[0] in aliases


def _team_fields(teams: Sequence[tuple[str, str]]) -> str:
    return "".join(
        f" t{i}: organization(login: {_q(org)}) {{ team(slug: {_q(slug)}) {{"
        f" members(first: {PAGE}) {{ pageInfo {{ hasNextPage }} nodes {{ login }} }} }} }}"
        for i, (org, slug) in enumerate(teams)
    )


def _members(
    data: Mapping[str, Any], teams: Sequence[tuple[str, str]], problems: list[str], warnings: list[str]
) -> dict[str, tuple[str, ...]]:
    members: dict[str, tuple[str, ...]] = {}
    for i, (org, slug) in enumerate(teams):
        found = data.get(f"t{i}")
        team = (found or {}).get("team")
        if team is None:
            # Resolves to nobody (fail closed), said on the check so the typo gets fixed.
            why = f"there is no organization {org!r}" if found is None else f"{org} has no team {slug!r}"
            warnings.append(f"`@{org}/{slug}` resolves to nobody: {why} that this App can see")
            continue
        if team["members"]["pageInfo"]["hasNextPage"]:
            problems.append(f"team @{org}/{slug} has more than {PAGE} members")
        members[f"{org}/{slug}"] = tuple(n["login"] for n in team["members"]["nodes"])
    return members


def _changed_blobs(base: Mapping[str, _Entry], head: Mapping[str, _Entry]) -> set[str]:
    """The blob shas of both sides of every changed path."""
    return {
        entries[path].sha
        for change in diff_trees(base, head)
        for path in change.paths
        for entries in (base, head)
        if path in entries
    }


def _three_way_entries(
    compared: Mapping[str, Any], base_entries: Mapping[str, _Entry], problems: list[str]
) -> dict[str, _Entry]:
    """The base head's files with those the PR changed since the merge base (GitHub's three-dot
    comparison) as they are on the PR head: what the PR means to change, without what the base
    branch gained since the PR was branched off."""
    files = compared.get("files") or []
    if len(files) >= COMPARE_FILES:
        problems.append(
            f"the pull request changes {len(files)} or more files; GitHub lists no more than "
            f"{COMPARE_FILES}, so it cannot be checked in full"
        )
    entries = dict(base_entries)
    for item in files:
        path, status = item["filename"], item["status"]
        if status == "removed":
            entries.pop(path, None)
            continue
        if status == "renamed" and item.get("previous_filename"):
            entries.pop(item["previous_filename"], None)
        if not item.get("sha"):
            problems.append(f"GitHub gave no blob for {path} in the comparison")
            continue
        entries[path] = _Entry(item["sha"], None)
    return entries


def _referenced_blobs(
    changes: Sequence[FileChange],
    head: Mapping[str, _Entry],
    base: Mapping[str, _Entry],
    blobs: Mapping[str, bytes],
    config: bytes | None,
) -> set[str]:
    """A guess at the files the planner will look up next: the variables the changed experiments
    override (`<id>.yaml`/`.yml` in the experiment's account), on both sides. Read with the team
    members, they save the planner a call; a wrong guess costs only the bytes."""
    repo_config, _ = parse_repo_config(config) if config else (None, [])

    def account(path: str) -> str | None:
        found = repo_config.account_for(path) if repo_config is not None else None
        return found.name if found is not None else None

    named: dict[str, list[str]] = {}
    for path in {*head, *base}:
        if path.endswith(RESOURCE_SUFFIXES):
            named.setdefault(path.rsplit("/", 1)[-1], []).append(path)
    out: set[str] = set()
    for change in changes:
        entry = head.get(change.path)
        raw = blobs.get(entry.sha) if entry is not None else None
        if raw is None or not change.path.endswith(RESOURCE_SUFFIXES):
            continue
        document, _ = parse_yaml(change.path, raw)
        if document is None or document.data.get("kind") != Kind.EXPERIMENT.value:
            continue
        owner = account(change.path)
        resource = Resource(
            ResourceKey(owner or "", Kind.EXPERIMENT, str(document.data.get("id"))), change.path, document
        )
        for ident in overrides_used(resource):
            for name in (ident + suffix for suffix in RESOURCE_SUFFIXES):
                for path in named.get(name, ()):
                    if repo_config is None or account(path) == owner:
                        out |= {e[path].sha for e in (head, base) if path in e}
    return out


def _test_merge_candidate(pull: Mapping[str, Any]) -> str | None:
    """GitHub's test merge of an open PR, when it says there is one (`mergeable` true; null while it
    is still computing, false on conflicts: then `merge_commit_sha` is stale or absent)."""
    if pull.get("state") != "open" or pull.get("mergeable") is not True:
        return None
    sha = pull.get("merge_commit_sha")
    return str(sha) if sha else None


def _merges(node: Mapping[str, Any] | None, base_sha: str, head_sha: str) -> bool:
    """Whether the commit read is the merge of exactly this base head and this PR head."""
    if not node or node.get("__typename") != "Commit":
        return False
    parents = [p["oid"] for p in (node.get("parents") or {}).get("nodes", [])]
    return parents == [base_sha, head_sha]


def _check_runs(commit: Mapping[str, Any] | None) -> tuple[CheckRunRecord, ...] | None:
    """The check runs named CHECK_NAME the facts query found on the head; None unless listed in full
    (a run left out could be the newest one, and skipping a write on its account would show a stale
    verdict)."""
    suites = (commit or {}).get("checkSuites")
    if suites is None or suites["pageInfo"]["hasNextPage"]:
        return None
    out = []
    for suite in suites["nodes"]:
        runs = suite["checkRuns"]
        if runs["pageInfo"]["hasNextPage"]:
            return None
        app_id = (suite.get("app") or {}).get("databaseId")
        out += [
            CheckRunRecord(
                id=int(run["databaseId"]),
                app_id=int(app_id) if app_id is not None else None,
                external_id=run.get("externalId") or "",
                status=str(run["status"]).lower(),
                annotations=int(run["annotations"]["totalCount"]),
            )
            for run in runs["nodes"]
        ]
    return tuple(sorted(out, key=lambda r: -r.id))  # newest first, as REST lists them


# What each field GraphQL may refuse needs: the same permission as the REST endpoint for that data.
_FIELD_PERMISSIONS = {
    "team": "the organization permission Members: read (to resolve @org/team roles; a workflow's "
    "GITHUB_TOKEN never has it: give the Action a GitHub App token with it)",
    "checkSuites": "Checks: read",
    "pullRequest": "Pull requests: read",
    "comments": "Pull requests: read",
    "object": "Contents: read",
    "ref": "Contents: read",
    "defaultBranchRef": "Contents: read",
}


RATE_LIMIT_ATTEMPTS = 3
_RATE_LIMITED = frozenset({"RATE_LIMITED", "RATE_LIMIT"})


def rate_limit_wait(headers: Mapping[str, str], data: Mapping[str, Any], now: float) -> float | None:
    """Seconds to wait before asking again when a GraphQL answer is a rate limit, else None.

    GitHub answers an exceeded GraphQL limit with HTTP 200 and an error, not with the 403/429 that
    PyGithub's retry handles (docs.github.com, "Rate limits and query limits for the GraphQL API",
    "Exceeding the rate limit"): primary, error type RATE_LIMITED (newer answers: RATE_LIMIT) and
    `x-ratelimit-remaining: 0`, wait until `x-ratelimit-reset`; secondary, a message saying so, wait
    `retry-after` seconds when given, else at least a minute."""
    errors = data.get("errors") or ()
    primary = any(e.get("type") in _RATE_LIMITED for e in errors)
    secondary = any("secondary rate limit" in str(e.get("message", "")).lower() for e in errors)
    if not (primary or secondary):
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in lowered:
        return max(0.0, float(lowered["retry-after"]))
    if lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
        return max(0.0, float(lowered["x-ratelimit-reset"]) - now) + 1.0  # the reset's second, whole
    return 60.0


def _messages(data: Mapping[str, Any]) -> str:
    return "; ".join(str(e.get("message", e)) for e in data.get("errors") or ()) or "no message"


def _refusal(error: Mapping[str, Any]) -> str:
    """A FORBIDDEN GraphQL error as a sentence naming what was refused and the permission it needs."""
    path = [str(p) for p in error.get("path") or ()]
    field = next((p for p in reversed(path) if p in _FIELD_PERMISSIONS), None)
    needs = _FIELD_PERMISSIONS[field] if field else "a permission the token lacks"
    return (
        f"GitHub refused to read {'.'.join(path) or 'a field'} ({error.get('message', 'forbidden')}): "
        f"the token needs {needs}"
    )


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pull_state(data: Mapping[str, Any], base_sha: str) -> PullState:
    return PullState(
        number=data["number"],
        node_id=data["node_id"],
        state=data["state"],
        merged=bool(data.get("merged")),
        draft=bool(data.get("draft")),
        author=data["user"]["login"],
        title=data.get("title") or "",
        head_sha=data["head"]["sha"],
        head_ref=data["head"]["ref"],
        base_ref=data["base"]["ref"],
        base_sha=base_sha,
        created_at=_stamp(data.get("created_at")),
        labels=tuple(label["name"] for label in data.get("labels", [])),
        requested_reviewers=tuple(u["login"] for u in data.get("requested_reviewers", [])),
        requested_teams=tuple(t["slug"] for t in data.get("requested_teams", [])),
        mergeable=data.get("mergeable"),
        updated_at=_stamp(data.get("updated_at")),
        repo_url=str(((data.get("base") or {}).get("repo") or {}).get("html_url") or ""),
    )


def _facts(
    pull: PullState,
    lists: Mapping[str, Sequence[Any]],
    teams: Mapping[str, tuple[str, ...]],
    pusher: str | None,
    problems: list[str],
) -> tuple[PullRequestFacts, tuple[CommentRecord, ...]]:
    reviews = []
    for node in lists["reviews"]:
        login = _actor_login(node.get("author"))
        if login is None:
            continue  # a deleted account ("ghost") can neither approve nor be a creator
        reviews.append(
            Review(
                user=login,
                state=ReviewState(node["state"]),
                body=node.get("body") or "",
                commit_id=(node.get("commit") or {}).get("oid", ""),
                submitted_at=_stamp(node.get("submittedAt")),
                edited_by=_editor(node),
            )
        )
    commits = []
    for node in lists["commits"]:
        commit = node["commit"]
        authors = commit["authors"]
        if authors["pageInfo"]["hasNextPage"]:
            problems.append(f"commit {commit['oid'][:12]} has more co-authors than could be read")
        author = _actor_login((commit.get("author") or {}).get("user"))
        co_authors = [_actor_login(a.get("user")) for a in authors["nodes"]]
        # An identity GitHub maps to no account is kept by its email: the decision tries the noreply
        # forms and `users:`, and fails closed on what stays unknown (never skipped silently).
        actors = [commit.get("author") or {}, commit.get("committer") or {}, *authors["nodes"]]
        unresolved = sorted({str(a["email"]).strip() for a in actors if a.get("email") and not a.get("user")})
        commits.append(
            Commit(
                sha=commit["oid"],
                author=author,
                committer=_actor_login((commit.get("committer") or {}).get("user")),
                co_authors=tuple(sorted({c for c in co_authors if c and c != author})),
                unresolved=tuple(unresolved),
            )
        )
    comments, records = [], []
    for node in lists["comments"]:
        login = _actor_login(node.get("author"))
        if login is None:
            continue
        comments.append(
            Comment(
                login,
                node["body"],
                _stamp(node.get("createdAt")),
                edited=node.get("lastEditedAt") is not None,
                edited_by=_editor(node),
            )
        )
        records.append(CommentRecord(int(node["databaseId"]), login, node["body"]))
    facts = PullRequestFacts(
        number=pull.number,
        author=pull.author,
        head_sha=pull.head_sha,
        draft=pull.draft,
        # GitHub's API does not say when a PR left draft without reading its timeline; creation time is
        # the stand-in (locks are ordered by the store, not by this field).
        ready_at=None if pull.draft else pull.created_at,
        commits=tuple(commits),
        pusher=pusher,
        reviews=tuple(reviews),
        comments=tuple(comments),
        teams=dict(teams),
        incomplete="; ".join(problems) or None,
    )
    return facts, tuple(records)


def _editor(node: Mapping[str, Any]) -> str | None:
    """Who last edited a review's or comment's body: its editor, "(unknown)" when GitHub names none
    (a deleted account), None when it was never edited."""
    if node.get("lastEditedAt") is None:
        return None
    return _actor_login(node.get("editor")) or "(unknown)"


def with_incomplete(snapshot: PullRequestSnapshot, reason: str) -> PullRequestSnapshot:
    """The same snapshot, marked unreadable (e.g. a lazily read file failed later)."""
    facts = replace(snapshot.facts, incomplete="; ".join(filter(None, [snapshot.facts.incomplete, reason])))
    return replace(snapshot, facts=facts)
