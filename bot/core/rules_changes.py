"""What a change to `.approvalbot.yml` changes in who may do what: the audit's record of the rules.

Pure: two parsed configs in, one `RuleChange` per grant, revocation and policy edit out, so the audit
log can say who was made approver or admin of which account, in which PR, and what else changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from bot.core.repo_config import Account, Approvals, RepoConfig, Role


@dataclass(frozen=True, order=True)
class RuleChange:
    """One change of the rules. `account` None: the shared `approvals:` settings."""

    account: str | None
    change: str  # "granted", "revoked", "account_added", "account_removed", "policy"
    role: str | None = None  # a role of `Role`, or a custom role's name
    member: str | None = None  # login or @org/team
    setting: str | None = None  # for "policy": e.g. "required", "paths", "approvals.enabled"
    old: str | None = None
    new: str | None = None

    def detail(self) -> dict[str, Any]:
        """The audit entry's `detail` (empty fields left out)."""
        out = {"change": self.change, "role": self.role, "member": self.member, "setting": self.setting}
        out |= {"old": self.old, "new": self.new}
        return {k: v for k, v in out.items() if v is not None}


def rule_changes(old: RepoConfig | None, new: RepoConfig | None) -> tuple[RuleChange, ...]:
    """Every grant, revocation and policy edit between two versions of the rules (None: no file)."""
    found: list[RuleChange] = []
    found += _policy(None, "approvals.", _approvals(old), _approvals(new))
    before = {a.name: a for a in old.accounts} if old else {}
    after = {a.name: a for a in new.accounts} if new else {}
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was is None:
            found.append(RuleChange(name, "account_added"))
        elif now is None:
            found.append(RuleChange(name, "account_removed"))
        found += _members(name, _roles(was), _roles(now))
        found += _policy(name, "", _account_policy(was), _account_policy(now))
    return tuple(found)


def _approvals(config: RepoConfig | None) -> Mapping[str, str]:
    if config is None:
        return {}
    approvals: Approvals = config.approvals
    return {f.name: _text(getattr(approvals, f.name)) for f in fields(approvals)}


def _account_policy(account: Account | None) -> Mapping[str, str]:
    if account is None:
        return {}
    out = {"paths": _text(list(account.paths))}
    if account.required is not None:
        out["required"] = _text(account.required)
    if account.required_by_action:
        out["required_by_action"] = _text(account.required_by_action)
    for custom in account.custom_roles:
        out[f"custom_roles.{custom.name}.permissions"] = _text(sorted(custom.permissions))
    return out


def _roles(account: Account | None) -> Mapping[str, frozenset[str]]:
    if account is None:
        return {}
    roles = {role.value: frozenset(account.members(role)) for role in Role}
    roles |= {custom.name: frozenset(custom.members) for custom in account.custom_roles}
    return roles


def _members(
    account: str, before: Mapping[str, frozenset[str]], after: Mapping[str, frozenset[str]]
) -> list[RuleChange]:
    out = []
    for role in sorted(before.keys() | after.keys()):
        was, now = before.get(role, frozenset()), after.get(role, frozenset())
        out += [RuleChange(account, "granted", role, member) for member in sorted(now - was)]
        out += [RuleChange(account, "revoked", role, member) for member in sorted(was - now)]
    return out


def _policy(
    account: str | None, prefix: str, before: Mapping[str, str], after: Mapping[str, str]
) -> list[RuleChange]:
    out = []
    for setting in sorted(before.keys() | after.keys()):
        was, now = before.get(setting), after.get(setting)
        if was != now:
            out.append(RuleChange(account, "policy", setting=prefix + setting, old=was, new=now))
    return out


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(
            f"{_text(k)}: {_text(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if hasattr(value, "value") and isinstance(value.value, str):
        return str(value.value)
    return str(value).lower() if isinstance(value, bool) else str(value)
