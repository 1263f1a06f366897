"""`.approvalbot.yml`: the repo's own rules, read from the base branch (never from the PR).

This module holds the typed form of the file. Parsing and validation (`parse_repo_config`) turn the
YAML text into a `RepoConfig` or a list of problems; callers fail closed on problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from bot.core.model import Action, DocPath, Document, Problem

CONFIG_PATH = ".approvalbot.yml"
APPROVE_PERMISSION = "approve:product_experiences"


class Role(StrEnum):
    ADMIN = "admin"
    APPROVER = "approver"
    DRAFT_CONTRIBUTOR = "draft_contributor"
    VIEWER = "viewer"


class Subject(StrEnum):
    EVERYONE = "everyone"
    DRAFT_CONTRIBUTORS = "draft_contributors"


class OnReject(StrEnum):
    CLOSE = "close"
    KEEP_OPEN = "keep_open"


class MergeMethod(StrEnum):
    """GitHub's merge methods (REST "Merge a pull request", `merge_method`), in the order the bot
    prefers them when `approvals.merge_method` is not set: a merge commit, a squash, a rebase."""

    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


@dataclass(frozen=True)
class CustomRole:
    name: str
    permissions: frozenset[str]
    members: tuple[str, ...]  # logins or "@org/team"

    @property
    def approves(self) -> bool:
        return APPROVE_PERMISSION in self.permissions


@dataclass(frozen=True)
class Account:
    name: str
    paths: tuple[str, ...]  # glob patterns, matched against '/'-separated repo paths
    roles: Mapping[Role, tuple[str, ...]] = field(default_factory=dict)
    custom_roles: tuple[CustomRole, ...] = ()
    required: int | None = None  # overrides approvals.required for this account
    required_by_action: Mapping[Action, int] = field(default_factory=dict)

    def owns(self, path: str) -> bool:
        return any(_glob_match(path, pattern) for pattern in self.paths)

    def members(self, role: Role) -> tuple[str, ...]:
        return tuple(self.roles.get(role, ()))


@dataclass(frozen=True)
class User:
    login: str
    email: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Approvals:
    enabled: bool = True
    subject: Subject = Subject.EVERYONE
    required: int = 1
    required_by_action: Mapping[Action, int] = field(default_factory=dict)
    on_reject: OnReject = OnReject.CLOSE
    merge_on_approval: bool = False
    # How merge_on_approval merges; None: the first of MergeMethod the repository allows.
    merge_method: MergeMethod | None = None


@dataclass(frozen=True)
class RepoConfig:
    approvals: Approvals
    accounts: tuple[Account, ...]
    users: Mapping[str, User] = field(default_factory=dict)
    # Worth telling the user, but not wrong enough to refuse the file (e.g. a glob two accounts share).
    warnings: tuple[Problem, ...] = ()

    def account(self, name: str) -> Account | None:
        return next((a for a in self.accounts if a.name == name), None)

    def account_for(self, path: str) -> Account | None:
        """The first account (in file order) whose globs match `path`."""
        return next((a for a in self.accounts if a.owns(path)), None)

    def required_for(self, account: str, action: Action | None) -> int:
        """Approvals needed: per-account-per-action, then per-action, then per-account, then global."""
        acc = self.account(account)
        if acc is not None and action is not None and action in acc.required_by_action:
            return acc.required_by_action[action]
        if action is not None and action in self.approvals.required_by_action:
            return self.approvals.required_by_action[action]
        if acc is not None and acc.required is not None:
            return acc.required
        return self.approvals.required

    def email_of(self, login: str) -> str | None:
        user = self.users.get(login)
        return user.email if user else None

    @property
    def people(self) -> frozenset[str]:
        """Every login the file names (roles, custom roles, users), teams (`@org/team`) left out."""
        named: set[str] = set(self.users)
        for account in self.accounts:
            for members in account.roles.values():
                named.update(members)
            for custom in account.custom_roles:
                named.update(custom.members)
        return frozenset(login for login in named if not login.startswith("@"))


def _glob_match(path: str, pattern: str) -> bool:
    """Glob with `**` spanning directories and `*` staying inside one, like .gitignore users expect."""
    return _match_parts(path.split("/"), pattern.strip("/").split("/"))


def _match_parts(parts: list[str], pats: list[str]) -> bool:
    if not pats:
        return not parts
    head, rest = pats[0], pats[1:]
    if head == "**":
        return any(_match_parts(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _match_parts(parts[1:], rest)


# ---------------------------------------------------------------------------------------------------
# Parsing. Callers fail closed: with problems, no change to a resource can be approved.

SCHEMA_NAME = "approvalbot-config"
MISSING_CONFIG_MESSAGE = (
    f"there is no {CONFIG_PATH} on the base branch, so nobody may approve changes to resources; "
    f"every such pull request is blocked until an admin merges a {CONFIG_PATH} "
    "(start from experiments.example/.approvalbot.yml)"
)


def missing_config_problem(path: str = CONFIG_PATH) -> Problem:
    """The one problem every caller reports when the base branch has no config."""
    return Problem(path, 1, 1, MISSING_CONFIG_MESSAGE)


def broken_config_message(problems: Sequence[Problem]) -> str:
    """The one sentence every caller shows when the base config is missing or broken."""
    if not problems or all(p.message == MISSING_CONFIG_MESSAGE for p in problems):
        return f"Blocked: {MISSING_CONFIG_MESSAGE}."
    listed = "; ".join(str(p) for p in problems)
    return (
        f"Blocked: {CONFIG_PATH} on the base branch is broken, so nobody may approve changes to resources "
        f"until an admin fixes it in a pull request of its own. Problems: {listed}"
    )


def parse_repo_config(raw: bytes | None, path: str = CONFIG_PATH) -> tuple[RepoConfig | None, list[Problem]]:
    """Read `.approvalbot.yml` from the base branch: a config, or the problems that stop it (never both).

    `raw` None means the file does not exist.
    """
    # Imported here, not at the top: loading pulls in the schema and rule modules, which may
    # themselves need the config types above, and this module must stay importable on its own.
    from bot.core.loading import parse_yaml
    from bot.core.schemas import validate

    if raw is None:
        return None, [missing_config_problem(path)]
    document, problems = parse_yaml(path, raw)
    if document is None:
        return None, problems
    problems = validate(SCHEMA_NAME, document, path)
    if problems:
        return None, sorted(problems)
    problems = _semantic_problems(document, path)
    if problems:
        return None, sorted(problems)
    return _build(document, path), []


def _at(document: Document, path: str, where: DocPath, message: str) -> Problem:
    position = document.position(where)
    return Problem(path, position.line, position.column, message)


def _semantic_problems(document: Document, path: str) -> list[Problem]:
    data = document.data
    found = _unknown_actions(document, path, ("approvals",), data.get("approvals") or {})
    if not data.get("accounts"):
        found.append(
            _at(
                document,
                path,
                ("accounts",),
                "accounts: none defined; add at least one account with its paths and roles "
                "(every resource file must belong to an account)",
            )
        )
    for name, account in (data.get("accounts") or {}).items():
        if not account.get("roles", {}).get(Role.ADMIN.value):
            found.append(
                _at(
                    document,
                    path,
                    ("accounts", name, "roles"),
                    f"account '{name}' has no admin; add at least one login or @org/team under "
                    f"accounts.{name}.roles.admin (only admins may approve changes to {CONFIG_PATH}, "
                    "and they are the approvers of last resort)",
                )
            )
        found += _unknown_actions(document, path, ("accounts", name), account)
    return found


def _unknown_actions(
    document: Document, path: str, where: DocPath, section: Mapping[str, Any]
) -> list[Problem]:
    known = {a.value for a in Action}
    allowed = ", ".join(a.value for a in Action)
    dotted = ".".join(str(p) for p in where)
    return [
        _at(
            document,
            path,
            (*where, "required_by_action", name),
            f"{dotted}.required_by_action: unknown action '{name}'; the actions are: {allowed}",
        )
        for name in (section.get("required_by_action") or {})
        if name not in known
    ]


def _shared_globs(document: Document, path: str, accounts: Sequence[Account]) -> list[Problem]:
    owner: dict[str, str] = {}
    warnings = []
    for account in accounts:
        for index, pattern in enumerate(account.paths):
            first = owner.setdefault(pattern, account.name)
            if first != account.name:
                warnings.append(
                    _at(
                        document,
                        path,
                        ("accounts", account.name, "paths", index),
                        f"path glob '{pattern}' is listed by accounts '{first}' and '{account.name}'; "
                        f"files it matches belong to '{first}', the first in file order",
                    )
                )
    return warnings


def _build(document: Document, path: str) -> RepoConfig:
    data = document.data
    section = data.get("approvals") or {}
    approvals = Approvals(
        enabled=bool(section.get("enabled", True)),
        subject=Subject(section.get("subject", Subject.EVERYONE.value)),
        required=int(section.get("required", 1)),
        required_by_action=_by_action(section),
        on_reject=OnReject(section.get("on_reject", OnReject.CLOSE.value)),
        merge_on_approval=bool(section.get("merge_on_approval", False)),
        merge_method=MergeMethod(section["merge_method"]) if section.get("merge_method") else None,
    )
    accounts = tuple(_account(name, body) for name, body in (data.get("accounts") or {}).items())
    users = {
        login: User(login, body.get("email"), body.get("name"))
        for login, body in (data.get("users") or {}).items()
    }
    warnings = tuple(_shared_globs(document, path, accounts))
    return RepoConfig(approvals, accounts, users, warnings)


def _by_action(section: Mapping[str, Any]) -> dict[Action, int]:
    return {Action(name): int(count) for name, count in (section.get("required_by_action") or {}).items()}


def _account(name: str, body: Mapping[str, Any]) -> Account:
    roles = {Role(role): tuple(members) for role, members in (body.get("roles") or {}).items()}
    custom = tuple(
        CustomRole(role, frozenset(spec.get("permissions", ())), tuple(spec.get("members", ())))
        for role, spec in (body.get("custom_roles") or {}).items()
    )
    required = body.get("required")
    return Account(
        name=name,
        paths=tuple(body.get("paths", ())),
        roles=roles,
        custom_roles=custom,
        required=int(required) if required is not None else None,
        required_by_action=_by_action(body),
    )
