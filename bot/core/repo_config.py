"""`.approvalbot.yml`: the repo's own rules, read from the base branch (never from the PR).

This module holds the typed form of the file. Parsing and validation (`parse_repo_config`) turn the
YAML text into a `RepoConfig` or a list of problems; callers fail closed on problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase

from bot.core.model import Action

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


@dataclass(frozen=True)
class RepoConfig:
    approvals: Approvals
    accounts: tuple[Account, ...]
    users: Mapping[str, User] = field(default_factory=dict)

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
