"""GitHub Actions' trigger rules: which workflow runs an event starts, with which token, in which order.

The emulator's webhooks are the events; a `WorkflowHost` takes them as its sink (the same payloads, less
`installation`, as a workflow's event payload has none), decides which jobs of which workflow files run,
queues them by concurrency group, and runs each job when the test drains the queue: it registers the
job's GITHUB_TOKEN with the job's `permissions:`, posts the job's own check run (named after the job, as
the `github-actions` app does) and hands the run to a callback (the tests run action.yml's step there).

Each rule cites GitHub's documentation:
- "Triggering a workflow from a workflow" (actions/using-workflows/triggering-a-workflow): "events
  triggered by the GITHUB_TOKEN, with the exception of workflow_dispatch and repository_dispatch, will
  not create a new workflow run" — an event whose sender is `github-actions[bot]` starts nothing here;
- "Events that trigger workflows" (actions/using-workflows/events-that-trigger-workflows): which commit's
  workflow file runs (GITHUB_SHA) per event — `pull_request` and `pull_request_review` the PR's merge ref
  (the PR's own files: a PR can add or change workflows), `pull_request_target`, `issue_comment`,
  `schedule` and `check_run` the default branch (the base), `push` the pushed commit; the default
  activity types; and "with the exception of GITHUB_TOKEN, secrets are not passed to the runner when a
  workflow is triggered from a forked repository. The GITHUB_TOKEN has read-only permissions" for
  `pull_request`, `pull_request_review` and `pull_request_review_comment` from forks, while
  `pull_request_target` runs "in the context of the base" with its write token even for forks;
- "Control the concurrency of workflows and jobs" (actions/using-jobs/using-concurrency): "at most one
  running and one pending job in a concurrency group at any time ... Any existing pending job or
  workflow in the same concurrency group, if it exists, will be canceled and the new queued job or
  workflow will take its place"; `cancel-in-progress: true` cancels the running one too;
- "Workflow syntax" (`jobs.<job_id>.name`: the name shown, and the job's check run name; the job id
  without one) and "Evaluate expressions" (`||` and `&&` give an operand, `==` compares strings
  ignoring case) for the small expression subset the workflows use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from bot.emulator.state import CheckRun, Repo

if TYPE_CHECKING:
    from bot.emulator.server import GitHubEmulator

WORKFLOWS_DIR = ".github/workflows/"
GITHUB_ACTIONS_LOGIN = "github-actions[bot]"
# The only events a GITHUB_TOKEN may cause that still start a run ("Triggering a workflow from a workflow").
TOKEN_MAY_TRIGGER = frozenset({"workflow_dispatch", "repository_dispatch"})
# "Events that trigger workflows": the activity types an event runs on when `types:` is not given.
DEFAULT_TYPES: Mapping[str, frozenset[str]] = {
    "pull_request": frozenset({"opened", "synchronize", "reopened"}),
    "pull_request_target": frozenset({"opened", "synchronize", "reopened"}),
}
# Read-only token and no secrets when the PR's head is a fork (same page, per event).
FORK_READ_ONLY = frozenset({"pull_request", "pull_request_review", "pull_request_review_comment"})
# Whose workflow file runs: the PR's own (its merge ref) or the base repository's default branch.
FROM_THE_PR = frozenset({"pull_request", "pull_request_review", "pull_request_review_comment"})
FROM_DEFAULT_BRANCH = frozenset(
    {"pull_request_target", "issue_comment", "schedule", "check_run", "workflow_dispatch"}
)


# --- expressions --------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\))|'((?:[^']|'')*)'|([A-Za-z_][\w.-]*)|(\d+))")


def evaluate(expression: str, contexts: Mapping[str, Any]) -> Any:
    """The value of an expression (without `${{ }}`) in the subset: context paths, 'strings', numbers,
    true/false/null, `!`, `==`, `!=`, `&&`, `||` and parentheses. Anything else is an error, so a
    workflow using more fails loudly rather than being judged wrongly."""
    tokens = _tokens(expression)
    value, rest = _or(tokens, contexts)
    if rest:
        raise ValueError(f"expression {expression!r}: unexpected {rest[0]!r}")
    return value


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    at = 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ValueError(f"expression {text!r}: cannot read {text[at:]!r} (not in the emulator's subset)")
        op, string, name, number = match.groups()
        if op:
            out.append(("op", op))
        elif string is not None:
            out.append(("value", string.replace("''", "'")))
        elif number:
            out.append(("value", int(number)))
        else:
            out.append(("name", name))
        at = match.end()
    return out


Tokens = list[tuple[str, Any]]


def _or(tokens: Tokens, ctx: Mapping[str, Any]) -> tuple[Any, Tokens]:
    left, tokens = _and(tokens, ctx)
    while tokens and tokens[0] == ("op", "||"):
        right, tokens = _and(tokens[1:], ctx)
        left = left if _truthy(left) else right
    return left, tokens


def _and(tokens: Tokens, ctx: Mapping[str, Any]) -> tuple[Any, Tokens]:
    left, tokens = _compare(tokens, ctx)
    while tokens and tokens[0] == ("op", "&&"):
        right, tokens = _compare(tokens[1:], ctx)
        left = right if _truthy(left) else left
    return left, tokens


def _compare(tokens: Tokens, ctx: Mapping[str, Any]) -> tuple[Any, Tokens]:
    left, tokens = _unary(tokens, ctx)
    while tokens and tokens[0] in (("op", "=="), ("op", "!=")):
        op = tokens[0][1]
        right, tokens = _unary(tokens[1:], ctx)
        same = _loose(left) == _loose(right)
        left = same if op == "==" else not same
    return left, tokens


def _unary(tokens: Tokens, ctx: Mapping[str, Any]) -> tuple[Any, Tokens]:
    if not tokens:
        raise ValueError("expression ends too soon")
    kind, value = tokens[0]
    if (kind, value) == ("op", "!"):
        operand, rest = _unary(tokens[1:], ctx)
        return not _truthy(operand), rest
    if (kind, value) == ("op", "("):
        inner, rest = _or(tokens[1:], ctx)
        if not rest or rest[0] != ("op", ")"):
            raise ValueError("expression: a '(' is not closed")
        return inner, rest[1:]
    if kind == "value":
        return value, tokens[1:]
    if kind == "name":
        literal = {"true": True, "false": False, "null": None}
        if value in literal:
            return literal[value], tokens[1:]
        return _lookup(value, ctx), tokens[1:]
    raise ValueError(f"expression: unexpected {value!r}")


def _lookup(path: str, ctx: Mapping[str, Any]) -> Any:
    """A missing property is null, as in GitHub's expressions."""
    current: Any = ctx
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    return current


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


def _loose(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


_EMBEDDED = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def interpolate(text: str, contexts: Mapping[str, Any]) -> str:
    """A string with `${{ expr }}` parts replaced by their values (null as '', as GitHub does)."""

    def value(match: re.Match[str]) -> str:
        found = evaluate(match.group(1), contexts)
        return "" if found is None else str(found).lower() if isinstance(found, bool) else str(found)

    return _EMBEDDED.sub(value, text)


def condition(text: str | bool | None, contexts: Mapping[str, Any]) -> bool:
    """A job's `if:`, with or without `${{ }}` ("you can omit the expression syntax" in `if`)."""
    if text is None:
        return True
    if isinstance(text, bool):
        return text
    inner = _EMBEDDED.fullmatch(text.strip())
    return _truthy(evaluate(inner.group(1) if inner else text, contexts))


# --- workflow files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    id: str
    name: str  # its check run's name: `name:` or, without one, the job id
    condition: str | bool | None
    permissions: Mapping[str, str] | None  # None: the workflow's
    concurrency: str | None  # the group, unexpanded
    cancel_in_progress: bool
    steps: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Workflow:
    path: str
    name: str
    on: Mapping[str, Any]  # event → its filter (types, branches), {} when none
    permissions: Mapping[str, str] | None
    jobs: tuple[Job, ...]

    @classmethod
    def parse(cls, path: str, text: str) -> Workflow:
        document = yaml.safe_load(text) or {}
        if not isinstance(document, dict):
            raise ValueError(f"{path}: a workflow is a mapping")
        # PyYAML reads the YAML 1.1 boolean `on` as True.
        raw_on = document.get("on", document.get(True))
        if isinstance(raw_on, str):
            on: dict[str, Any] = {raw_on: {}}
        elif isinstance(raw_on, list):
            on = {str(event): {} for event in raw_on}
        elif isinstance(raw_on, dict):
            on = {str(event): dict(spec) if isinstance(spec, dict) else {} for event, spec in raw_on.items()}
        else:
            raise ValueError(f"{path}: no `on:` (the events the workflow runs on)")
        jobs = []
        for job_id, spec in (document.get("jobs") or {}).items():
            raw = spec.get("concurrency")
            group = raw.get("group") if isinstance(raw, dict) else raw
            cancel = bool(raw.get("cancel-in-progress")) if isinstance(raw, dict) else False
            jobs.append(
                Job(
                    str(job_id),
                    str(spec.get("name") or job_id),
                    spec.get("if"),
                    spec.get("permissions"),
                    None if group is None else str(group),
                    cancel,
                    tuple(spec.get("steps") or ()),
                )
            )
        return cls(path, str(document.get("name") or path), on, document.get("permissions"), tuple(jobs))

    def triggered_by(self, event: str, payload: Mapping[str, Any], ref: str) -> bool:
        if event not in self.on:
            return False
        spec = self.on[event]
        action = payload.get("action")
        types = spec.get("types")
        wanted = frozenset(types) if types else DEFAULT_TYPES.get(event)
        if wanted is not None and action is not None and action not in wanted:
            return False
        branches = spec.get("branches")
        if branches and event == "push":
            branch = ref.removeprefix("refs/heads/")
            return any(_glob(pattern, branch) for pattern in branches)
        return True


def _glob(pattern: str, branch: str) -> bool:
    """Branch filters' `*` (no `/`) and `**` (anything), enough for the workflows the tests use."""
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, branch) is not None


# --- runs ----------------------------------------------------------------------------------------


@dataclass
class JobRun:
    run_id: int
    workflow: Workflow
    job: Job
    event: str
    payload: dict[str, Any]
    sha: str  # GITHUB_SHA: whose workflow file this is, and where the job's check run goes
    ref: str  # GITHUB_REF
    permissions: dict[str, str]  # the job's GITHUB_TOKEN (read-only for a fork's pull_request)
    secrets: bool  # False for a fork's pull_request: `${{ secrets.X }}` is empty
    group: str | None
    state: str = "queued"  # queued → in_progress → completed, or cancelled
    check_run_id: int | None = None
    token: str = ""
    result: Any = None


@dataclass
class WorkflowHost:
    """The Actions side of one repository: events in, job runs out, in GitHub's order and groups."""

    emulator: GitHubEmulator
    repo_name: str
    app_id: int
    installation_id: int | None = None
    runs: list[JobRun] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (event, why no run started)
    _next_id: int = 1000

    def attach(self) -> WorkflowHost:
        """Receive the emulator's webhooks (they still count as delivered: the status is 200)."""
        self.emulator.webhooks.sink = self.receive
        return self

    def receive(self, headers: Mapping[str, str], body: bytes) -> int:
        self.on_event(headers["X-GitHub-Event"], json.loads(body))
        return 200

    @property
    def repo(self) -> Repo:
        return self.emulator.world.repo(self.repo_name)

    def on_event(self, event: str, payload: dict[str, Any]) -> list[JobRun]:
        """Queue the job runs GitHub would start for this event; returns them."""
        if (payload.get("repository") or {}).get("full_name") != self.repo_name:
            return []
        payload = {k: v for k, v in payload.items() if k != "installation"}
        if (payload.get("sender") or {}).get(
            "login"
        ) == GITHUB_ACTIONS_LOGIN and event not in TOKEN_MAY_TRIGGER:
            self.skipped.append((event, "caused by GITHUB_TOKEN: starts no workflow run"))
            return []
        started: list[JobRun] = []
        for pull_event in self._events_for(event, payload):
            started += self._start(*pull_event)
        return started

    def _events_for(self, event: str, payload: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """A `pull_request` webhook is also the `pull_request_target` event of the same payload."""
        yield event, payload
        if event == "pull_request":
            yield "pull_request_target", payload

    def _start(self, event: str, payload: dict[str, Any]) -> list[JobRun]:
        sha, ref = self._context_commit(event, payload)
        fork = event in FORK_READ_ONLY and _from_fork(payload)
        started = []
        for workflow in self._workflows(sha):
            if not workflow.triggered_by(event, payload, ref):
                continue
            contexts = self._contexts(event, payload, sha, ref)
            for job in workflow.jobs:
                if not condition(job.condition, contexts):
                    continue
                block = dict(job.permissions if job.permissions is not None else workflow.permissions or {})
                if fork:
                    block = {key: "read" for key, level in block.items() if level in ("read", "write")}
                run_id = self._next_id
                self._next_id += 1
                contexts["github"]["run_id"] = str(run_id)
                group = interpolate(job.concurrency, contexts).lower() if job.concurrency else None
                run = JobRun(run_id, workflow, job, event, payload, sha, ref, block, not fork, group)
                self._queue(run)
                started.append(run)
        return started

    def _context_commit(self, event: str, payload: Mapping[str, Any]) -> tuple[str, str]:
        repo = self.repo
        default = repo.default_branch
        if event == "push":
            return str(payload["after"]), str(payload["ref"])
        if event in FROM_THE_PR:
            number = int(payload["pull_request"]["number"])
            pr = repo.pulls[number]
            # The merge ref's files are the PR's head's for any workflow file the base did not change since.
            return pr.head_sha, f"refs/pull/{number}/merge"
        # FROM_DEFAULT_BRANCH, and any other event the emulator sends.
        return repo.branches[default], f"refs/heads/{default}"

    def _workflows(self, sha: str) -> list[Workflow]:
        world, repo = self.emulator.world, self.repo
        files = world.snapshot(repo, sha)
        return [
            Workflow.parse(path, content.decode())
            for path, content in sorted(files.items())
            if path.startswith(WORKFLOWS_DIR) and path.endswith((".yml", ".yaml"))
        ]

    def _contexts(self, event: str, payload: Mapping[str, Any], sha: str, ref: str) -> dict[str, Any]:
        actor = (payload.get("sender") or {}).get("login")
        github = {
            "event_name": event,
            "event": payload,
            "sha": sha,
            "ref": ref,
            "repository": self.repo_name,
            "actor": actor,
        }
        return {"github": github}

    # --- concurrency -----------------------------------------------------------------------------

    def _queue(self, run: JobRun) -> None:
        """Queue `run`; in its group, the run already going on stays (unless `cancel-in-progress`) and the
        pending one, if any, is cancelled: the newest takes its place."""
        if run.group is not None:
            same = [r for r in self.runs if r.group == run.group and r.state in ("queued", "in_progress")]
            # With nothing in progress, the oldest queued run of the group has started as it was queued
            # (this host only runs it later, when drained).
            going = next((r for r in same if r.state == "in_progress"), same[0] if same else None)
            for other in same:
                if other is not going or run.job.cancel_in_progress:
                    other.state = "cancelled"
        self.runs.append(run)

    def queued(self) -> list[JobRun]:
        return [r for r in self.runs if r.state == "queued"]

    def drain(self, execute: Callable[[JobRun], Any], *, limit: int = 50) -> list[JobRun]:
        """Run queued jobs one at a time, oldest first, each to completion (events they cause queue more)."""
        done: list[JobRun] = []
        while self.queued():
            if len(done) >= limit:
                raise RuntimeError(f"more than {limit} job runs: a workflow triggering itself?")
            run = self.queued()[0]
            self._run(run, execute)
            done.append(run)
        return done

    def start_next(self) -> JobRun | None:
        """Mark the oldest queued run in progress without finishing it (to model overlapping runs)."""
        queued = self.queued()
        if not queued:
            return None
        queued[0].state = "in_progress"
        return queued[0]

    def finish(self, run: JobRun, execute: Callable[[JobRun], Any]) -> None:
        self._run(run, execute)

    def _run(self, run: JobRun, execute: Callable[[JobRun], Any]) -> None:
        run.state = "in_progress"
        run.token = f"ghs_job_{run.run_id}"
        self.emulator.register_workflow_token(
            run.token, run.permissions, app_id=self.app_id, installation_id=self.installation_id
        )
        world = self.emulator.world
        with world.lock:
            # The job's own check run, by the github-actions app, named after the job.
            check = CheckRun(world.new_id(), run.job.name, run.sha, self.app_id, status="in_progress")
            check.check_suite_id = world.new_id()
            check.started_at = world.now()
            self.repo.check_runs[check.id] = check
            run.check_run_id = check.id
        ok = False
        try:
            run.result = execute(run)
            ok = getattr(run.result, "returncode", 0) == 0
        finally:
            with world.lock:
                check.status, check.conclusion = "completed", "success" if ok else "failure"
                check.completed_at = world.now()
            run.state = "completed"
            self.emulator.driver.flush()


def _from_fork(payload: Mapping[str, Any]) -> bool:
    pull = payload.get("pull_request") or {}
    head = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
    base = ((pull.get("base") or {}).get("repo") or {}).get("full_name")
    return head != base
