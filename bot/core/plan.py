"""What a change (base → head) submits: one PlannedAction per touched resource, and the problems.

Only the touched files are read, plus the few they reference: the remote config variables an
experiment overrides (found by file name), and, when a variable is deleted, the experiments that
mention it (found with `Tree.mentioning`, so an adapter such as git can search without reading).
Every problem of the change is collected and reported together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from bot.core import rules
from bot.core.diff import changed_top_fields, diff_documents
from bot.core.loading import load_resource, with_yaml11_hint
from bot.core.model import (
    Action,
    FieldChange,
    Kind,
    LoadResult,
    Plan,
    PlannedAction,
    Problem,
    Resource,
    ResourceKey,
    Status,
)
from bot.core.repo_config import CONFIG_PATH, Account, RepoConfig, parse_repo_config
from bot.core.schedule import clock_steps
from bot.core.transitions import USING_STATUSES, Refusal, Transition, classify, effective_status
from bot.core.tree import ChangeType, FileChange, Tree, prefetch

RESOURCE_SUFFIXES = (".yaml", ".yml")

OUTSIDE_ACCOUNTS = (
    "{path} is not in any account of {config} on the base branch; move it under an account's paths, "
    "or add the account to {config} in a change of its own first"
)
RENAMED = (
    "{old} was renamed to {new}: a resource's file and id never change; delete the old resource and "
    "create the new one instead"
)
CHANGED_ID = "the id changed from {old!r} to {new!r}: an id never changes; create a new resource instead"
CHANGED_KIND = "the kind changed from {old} to {new}: delete this resource and create a new one instead"
BROKEN_BASE = "the base version of this file is invalid ({problems}); fix it on the base branch first"
IN_USE = (
    "remote config {id!r} cannot be deleted while {users} use{s} it (the default branch would be left "
    "with overrides of a variable that does not exist); {advice}"
)
# What to do instead, by the status of the experiments that use the variable.
IN_USE_ADVICE = {
    "using": "finish {them} or remove {their} overrides first",
    Status.DRAFT: "remove the overrides from {them}, or delete {them}, in this change or first",
    Status.FINISHED: "delete {them} in this change or first",
}
_SOME = {
    "using": "the scheduled, running or paused ones",
    Status.DRAFT: "the drafts",
    Status.FINISHED: "the finished ones",
}
DUPLICATE = "{name} is also defined in {others}; ids must be unique per account and kind"
CLOCK_RULE = {
    "start_at": "a scheduled experiment starts at its start_at",
    "end_at": "a running experiment finishes at its end_at",
}
HEAD_CLOCK_HINT = "keep the schedule in the future, or change the status itself in a change of its own"
BROKEN_HEAD_CONFIG = "this change leaves {config} invalid: {problem}"


# (path, account, file content) → its load, and whether it was judged (see `load_resource`): a file
# the change leaves alone (a referenced variable, most often) has the same bytes on both sides and is
# parsed and validated once, not twice.
_Loads = dict[tuple[str, str, bytes], tuple[LoadResult, bool]]


class _Accounts:
    """`RepoConfig.account_for` remembered per path: the planner asks about the same paths many times."""

    def __init__(self, config: RepoConfig) -> None:
        self.config = config
        self._known: dict[str, Account | None] = {}

    def account_for(self, path: str) -> Account | None:
        if path in self._known:
            return self._known[path]
        found = self._known[path] = self.config.account_for(path)
        return found

    def owner(self, path: str) -> str | None:
        account = self.account_for(path)
        return account.name if account is not None else None


@dataclass
class _Reader:
    """Loads files of one tree once each, with the account its path belongs to."""

    tree: Tree
    accounts: _Accounts
    shared: _Loads = field(default_factory=dict)
    judge: bool = True  # False on the base side: its files are compared with, not judged
    loaded: dict[str, LoadResult | None] = field(default_factory=dict)
    by_name: dict[str, list[str]] | None = None  # file name → paths, built on first use

    def load(self, path: str) -> LoadResult | None:
        if path not in self.loaded:
            account = self.accounts.account_for(path)
            raw = self.tree.read(path) if account is not None else None
            loaded = None if raw is None or account is None else self._load(path, raw, account.name)
            self.loaded[path] = loaded
        return self.loaded[path]

    def _load(self, path: str, raw: bytes, account: str) -> LoadResult:
        key = (path, account, raw)
        cached = self.shared.get(key)
        if cached is None or (self.judge and not cached[1]):
            cached = self.shared[key] = (load_resource(path, raw, account, judge=self.judge), self.judge)
        return cached[0]

    def resource(self, path: str) -> Resource | None:
        result = self.load(path)
        return result.resource if result is not None else None

    def remote_config(self, account: str, ident: str) -> tuple[str, Resource] | None:
        """The remote config variable `ident` of `account`, found by its file name."""
        for path in self.named(account, ident):
            found = self.resource(path)
            if found is not None and found.key.kind is Kind.REMOTE_CONFIG and found.key.id == ident:
                return path, found
        return None

    def same_name(self, account: str, ident: str) -> list[Resource]:
        return [r for p in self.named(account, ident) if (r := self.resource(p)) is not None]

    def named(self, account: str, ident: str) -> list[str]:
        if self.by_name is None:
            self.by_name = {}
            for path in self.tree.paths():
                if path.endswith(RESOURCE_SUFFIXES):
                    self.by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
        names = [ident + suffix for suffix in RESOURCE_SUFFIXES]
        found = [p for name in names for p in self.by_name.get(name, ())]
        return [p for p in found if self.accounts.owner(p) == account]

    def account_paths(self, account: str) -> list[str]:
        """Every resource file of `account` (names only: nothing is read)."""
        return [p for p in self.tree.paths() if is_resource_path(p) and self.accounts.owner(p) == account]


def is_resource_path(path: str) -> bool:
    """YAML files outside hidden directories: READMEs and CI workflows are not resources."""
    if not path.endswith(RESOURCE_SUFFIXES):
        return False
    if not any(p.startswith(".") for p in path.split("/")):
        return True  # the common case, decided without pathlib's (slow) parsing
    # A '.' component ('a/./b.yaml') is no hidden directory: pathlib drops it, and decides.
    return not any(p.startswith(".") for p in PurePosixPath(path).parts)


def make_plan(
    base: Tree, head: Tree, changes: Sequence[FileChange], config: RepoConfig, now: datetime
) -> Plan:
    """The plan of a change: `config` is the base branch's config, `now` the evaluation time."""
    loads: _Loads = {}
    accounts = _Accounts(config)
    before, after = _Reader(base, accounts, loads, judge=False), _Reader(head, accounts, loads)
    errors: list[Problem] = []
    drafts: list[_Draft] = []
    config_changed = any(CONFIG_PATH in c.paths for c in changes)
    config_accounts: tuple[str, ...] = ()
    if config_changed:
        config_accounts, config_errors = _config_accounts(base, head)
        errors += config_errors
    _prefetch(base, [c.old_path or c.path for c in changes if c.change is not ChangeType.ADDED])
    _prefetch(head, [c.path for c in changes if c.change is not ChangeType.DELETED])
    for change in changes:
        if not any(is_resource_path(p) for p in change.paths):
            continue
        outside = [p for p in change.paths if accounts.account_for(p) is None]
        if outside:
            errors += [Problem(p, 1, 1, OUTSIDE_ACCOUNTS.format(path=p, config=CONFIG_PATH)) for p in outside]
            continue
        draft = _classify_file(change, before, after, now)
        if isinstance(draft, list):
            errors += draft
        elif draft is not None:
            drafts.append(draft)
    _prefetch_references(drafts, before, after)
    published = {d.key for d in drafts if d.key.kind is Kind.REMOTE_CONFIG and d.head_live and d.ok}
    touched = frozenset(c.path for c in changes)
    finished = (_finish(d, before, after, published, now, touched) for d in drafts)
    actions = tuple(sorted(finished, key=_order))
    return Plan(actions, tuple(sorted(set(errors))), config_changed, config_accounts)


def _prefetch(tree: Tree, paths: Sequence[str]) -> None:
    prefetch(tree, [p for p in paths if is_resource_path(p)])


def _prefetch_references(drafts: Sequence[_Draft], before: _Reader, after: _Reader) -> None:
    paths: set[str] = set()
    for draft in drafts:
        if draft.head is not None and draft.key.kind is Kind.EXPERIMENT:
            for ident in rules.overrides_used(draft.head):
                paths.update(after.named(draft.key.account, ident))
    wanted = sorted(p for p in paths if p not in after.loaded)
    _prefetch(after.tree, wanted)
    _prefetch(before.tree, sorted(p for p in paths if p not in before.loaded))


def _order(action: PlannedAction) -> tuple[ResourceKey, str]:
    return action.key, action.file


@dataclass
class _Draft:
    """A touched resource between its classification and the checks that need the whole change."""

    key: ResourceKey
    file: str
    base: Resource | None
    head: Resource | None
    action: Action | None
    from_status: Status | None
    to_status: Status | None
    transition: Transition | None
    changes: tuple[FieldChange, ...]
    errors: list[Problem]
    unreadable: bool = False  # the head file is there but cannot be read (its problems say why)

    @property
    def ok(self) -> bool:
        return self.action is not None and not self.errors

    @property
    def head_live(self) -> bool:
        return self.head is not None and self.head.status is Status.LIVE


def _classify_file(
    change: FileChange, before: _Reader, after: _Reader, now: datetime
) -> _Draft | list[Problem] | None:
    old_path = change.old_path or change.path
    base_load = before.load(old_path) if change.change is not ChangeType.ADDED else None
    head_load = after.load(change.path) if change.change is not ChangeType.DELETED else None
    if base_load is not None and base_load.resource is None:
        listed = "; ".join(str(p) for p in base_load.problems)
        return [Problem(old_path, 1, 1, BROKEN_BASE.format(problems=listed))]
    base = base_load.resource if base_load is not None else None
    head = head_load.resource if head_load is not None else None
    errors = list(head_load.problems) if head_load is not None else []
    example = head or base
    if example is None:  # a new file that cannot be read as a resource: its problems are all there is
        return errors
    key = example.key
    file = change.path if head_load is not None else old_path
    from_status = effective_status(base, now) if base is not None else None
    to_status = effective_status(head, now) if head is not None else None
    if head_load is not None and head is None:
        # The head cannot be read: its problems say why. It is no deletion, so there is neither a
        # transition to judge nor a diff to show (every field would read as removed).
        return _Draft(key, file, base, None, None, from_status, None, None, (), errors, unreadable=True)
    changes = diff_documents(base.data if base else None, head.data if head else None)
    draft = _Draft(key, file, base, head, None, from_status, to_status, None, changes, errors)
    identity = _identity_problem(change, base, head)
    if identity is not None:
        draft.errors.append(identity)
        return draft
    fields = changed_top_fields(changes) - {"status"} if head is not None else frozenset()
    if base is not None and head is not None and base.status != head.status and from_status == to_status:
        fields |= {"status"}  # the file's status moved to what the clock already made it: an edit
    verdict = classify(key.kind, from_status, to_status, fields)
    if verdict is None:
        return None
    if isinstance(verdict, Refusal):
        message = _clock_refusal(verdict, base, head, fields, now) or verdict.message
        draft.errors.append(_at_status(example, f"{_name(key)}: {message}"))
        return draft
    draft.action = verdict.action
    draft.transition = verdict
    return draft


def _clock_refusal(
    verdict: Refusal, base: Resource | None, head: Resource | None, fields: frozenset[str], now: datetime
) -> str | None:
    """A refusal told as the file asks it, when the clock moved a status the file does not write.

    `classify` judges effective statuses: a `running` file whose end_at has passed is finished. Its
    "finished → finished" names a transition nobody wrote; this says what the file asks for, what the
    clock made of it and why, and what is allowed. None when the clock changed nothing.
    """
    on_base = _clock_fact(base, now) if base is not None else None
    on_head = _clock_fact(head, now) if head is not None else None
    if on_base is None and on_head is None:
        return None
    edits = sorted(fields - {"status"})
    edited = f" and edits {', '.join(edits)}" if edits else ""
    if head is None:
        asks = "the change deletes the file"
    elif base is not None and base.status == head.status:
        asks = f"the file keeps status: {head.status.value}{edited}"
    else:
        asks = f"the file asks for status: {head.status.value}{edited}"
    allowed = ", ".join(a.label for a in verdict.allowed) or "none"
    if on_base is not None:
        why = f"{on_base[0]}, so it is {on_base[1].value} already"
        reason = verdict.reason
    else:
        assert on_head is not None
        why = f"on the head {on_head[0]}, so the merge would make it {on_head[1].value} at once"
        reason = HEAD_CLOCK_HINT
    return f"{asks}, but {why}; {reason} (allowed from here: {allowed})"


def _clock_fact(resource: Resource, now: datetime) -> tuple[str, Status] | None:
    """('schedule.end_at (…) has passed and a running experiment finishes at its end_at', finished)."""
    steps = clock_steps(resource.key.kind, resource.status, resource.data, now)
    if not steps:
        return None
    schedule = resource.data.get("schedule")
    written = schedule if isinstance(schedule, Mapping) else {}
    facts = []
    for step in steps:
        field = "start_at" if step.to_status is Status.RUNNING else "end_at"
        facts.append(
            f"schedule.{field} ({written.get(field, step.at.isoformat())}) has passed and {CLOCK_RULE[field]}"
        )
    return "; ".join(facts), steps[-1].to_status


def _identity_problem(change: FileChange, base: Resource | None, head: Resource | None) -> Problem | None:
    if change.change is ChangeType.RENAMED and change.old_path:
        where = head or base
        assert where is not None
        return _at_line(where, ("id",), RENAMED.format(old=change.old_path, new=change.path))
    if base is None or head is None:
        return None
    if base.key.id != head.key.id:
        return _at_line(head, ("id",), CHANGED_ID.format(old=base.key.id, new=head.key.id))
    if base.key.kind is not head.key.kind:
        return _at_line(
            head, ("kind",), CHANGED_KIND.format(old=base.key.kind.value, new=head.key.kind.value)
        )
    return None


def _finish(
    draft: _Draft,
    before: _Reader,
    after: _Reader,
    published: set[ResourceKey],
    now: datetime,
    touched: frozenset[str] = frozenset(),
) -> PlannedAction:
    """Adds what needs the other files: references, dependencies, users of a deleted variable."""
    errors = list(draft.errors)
    head, key = draft.head, draft.key
    uses: tuple[str, ...] = ()
    unmet: list[ResourceKey] = []
    if head is not None and key.kind is Kind.EXPERIMENT:
        uses = rules.overrides_used(head)
        variables = {i: rc for i in uses if (rc := after.remote_config(key.account, i)) is not None}
        broken = {i: _unreadable_variable(after, key.account, i, touched) for i in uses if i not in variables}
        unreadable = {i: where for i, (found, where) in broken.items() if found}
        references = rules.check_references(head, {i: rc for i, (_p, rc) in variables.items()}, unreadable)
        errors += _hinted(after.tree, head.path, references)
        if draft.to_status in USING_STATUSES:
            unmet = _unmet(key.account, variables, before, published, now)
    if head is not None:
        errors += _duplicates(draft, after)
    if draft.action in (Action.DELETE, Action.DELETE_DRAFT) and key.kind is Kind.REMOTE_CONFIG:
        errors += _in_use(draft, after, now)
    example = draft.head or draft.base
    variants = rules.variant_ids(example) if example is not None else ()
    winner = head.data.get("winner") if head is not None and draft.action is Action.FINISH else None
    transition = draft.transition
    return PlannedAction(
        key=key,
        file=draft.file,
        action=draft.action,
        from_status=draft.from_status,
        to_status=draft.to_status,
        pending_state=transition.pending_state if transition else None,
        requires_approval=transition.requires_approval if transition else False,
        errors=tuple(sorted(set(errors))),
        changes=draft.changes,
        variants=variants,
        uses=uses,
        unmet_dependencies=tuple(sorted(unmet)),
        winner=str(winner) if winner is not None else None,
        unreadable=draft.unreadable,
    )


def _hinted(tree: Tree, path: str, problems: list[Problem]) -> list[Problem]:
    """Problems of `path` with the YAML 1.1 hint where one applies (the file is read again only then)."""
    if not problems:
        return problems
    text = (tree.read(path) or b"").decode("utf-8", "replace")
    return [with_yaml11_hint(p, text) for p in problems]


def _unreadable_variable(
    after: _Reader, account: str, ident: str, touched: frozenset[str]
) -> tuple[bool, str | None]:
    """Whether the variable `ident` has a file that cannot be read, and where to point if so.

    A file this change touches has its own problems in the plan: point nowhere (None), so the one cause
    is said once, at the variable. An untouched one is named, as nothing else in the plan mentions it."""
    for path in after.named(account, ident):
        loaded = after.load(path)
        if loaded is not None and loaded.resource is None:
            return True, (None if path in touched else path)
    return False, None


def _unmet(
    account: str,
    variables: dict[str, tuple[str, Resource]],
    before: _Reader,
    published: set[ResourceKey],
    now: datetime,
) -> list[ResourceKey]:
    unmet = []
    for ident, (path, rc) in sorted(variables.items()):
        on_base = before.resource(path)
        live_on_base = on_base is not None and effective_status(on_base, now) is Status.LIVE
        if not live_on_base and rc.key not in published:
            unmet.append(ResourceKey(account, Kind.REMOTE_CONFIG, ident))
    return unmet


def _duplicates(draft: _Draft, after: _Reader) -> list[Problem]:
    """Another file of the account with the same kind and id (found by file name, as ids are names)."""
    head = draft.head
    assert head is not None
    others = [r.path for r in after.same_name(draft.key.account, draft.key.id) if r.path != head.path]
    others = [p for p in others if (r := after.resource(p)) is not None and r.key == head.key]
    if not others:
        return []
    message = DUPLICATE.format(name=_name(draft.key), others=", ".join(sorted(others)))
    return [_at_line(head, ("id",), message)]


def _in_use(draft: _Draft, after: _Reader, now: datetime) -> list[Problem]:
    """A deleted variable that an experiment of the head still overrides, whatever that experiment's status.

    A draft or finished user matters too: the default branch would fail `approvalbot validate`.
    """
    key = draft.key
    candidates = [p for p in after.account_paths(key.account) if p != draft.file]
    users: list[tuple[Status, str]] = []
    for path in after.tree.mentioning(key.id, candidates):
        experiment = after.resource(path)
        if experiment is None or experiment.key.kind is not Kind.EXPERIMENT:
            continue
        if key.id in rules.overrides_used(experiment):
            status = effective_status(experiment, now)
            users.append((status, f"{status.value} experiment {experiment.key.id!r} ({path})"))
    if not users:
        return []
    where = draft.base or draft.head
    assert where is not None
    many = len(users) != 1
    groups = {"using" if status in USING_STATUSES else status for status, _ in users}
    advice = []
    for group in ("using", Status.DRAFT, Status.FINISHED):
        if group not in groups:
            continue
        them = "it" if not many else "those experiments" if len(groups) == 1 else _SOME[group]
        advice.append(IN_USE_ADVICE[group].format(them=them, their="its" if them == "it" else "their"))
    names = ", ".join(name for _, name in users)
    message = IN_USE.format(id=key.id, users=names, s="" if many else "s", advice="; ".join(advice))
    return [_at_status(where, f"{_name(key)}: {message}")]


def _config_accounts(base: Tree, head: Tree) -> tuple[tuple[str, ...], list[Problem]]:
    """Accounts whose entry the change adds, removes or edits; all of them if shared rules change."""
    old, _ = parse_repo_config(base.read(CONFIG_PATH))
    new, problems = parse_repo_config(head.read(CONFIG_PATH))
    errors = [
        Problem(p.file, p.line, p.column, BROKEN_HEAD_CONFIG.format(config=CONFIG_PATH, problem=p.message))
        for p in problems
    ]
    old_accounts = {a.name: a for a in old.accounts} if old else {}
    new_accounts = {a.name: a for a in new.accounts} if new else {}
    names = old_accounts.keys() | new_accounts.keys()
    shared_changed = (old.approvals, old.users) != (new.approvals, new.users) if old and new else True
    if shared_changed:
        return tuple(sorted(names)), errors
    return tuple(sorted(n for n in names if old_accounts.get(n) != new_accounts.get(n))), errors


def _name(key: ResourceKey) -> str:
    return f"{key.kind.value.replace('_', ' ')} {key.id!r} (account {key.account})"


def _at_status(resource: Resource, message: str) -> Problem:
    return _at_line(resource, ("status",), message)


def _at_line(resource: Resource, where: tuple[str, ...], message: str) -> Problem:
    position = resource.document.position(where)
    return Problem(resource.path, position.line, position.column, message)
