"""Drift: the default branch out of step with the live state, and how the two get back in step.

A commit that reaches the default branch without the approvals it needs is not applied (merge.py
records it as drift). From then on the branch says one thing and the live state another for the
resources it changed, so:

- a change that touches one of them is refused until the drift is resolved (unless it puts that
  resource back to its live state): approving it would put the unapproved change live along with its
  own, and its diff (against the branch) never shows it;
- a later commit that brings the resources it changes back to exactly their live state (a revert,
  most often) is not drift itself: there is nothing to apply, and nobody's approval is needed to
  undo what was never applied;
- a drift record is resolved by the first commit after which every resource it changed is back in
  step with the live state (restored, or written live by an approved apply).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.adapters.github.source import CommitSnapshot
from bot.adapters.store import Store
from bot.core.live import AuditEntry, AuditKind, DriftRecord, to_jsonable
from bot.core.loading import load_resource
from bot.core.model import Kind, Plan, Problem, ResourceKey
from bot.core.transitions import effective_status
from bot.core.tree import Tree

DRIFTED = (
    "{name} is out of step with the live state: commit {sha} changed it on the default branch without "
    "approval, and that change was never applied. Revert that commit on the default branch first (a "
    "revert that brings it back to its live state needs no approval), then update this branch."
)


def open_drift(store: Store, repo: str) -> list[DriftRecord]:
    """The unresolved drift records of `repo`, oldest first (a record naming no repository counts for
    every one: refusing too much is safer than applying an unapproved change)."""
    return [d for d in store.drift(open_only=True) if d.detail.get("repository") in (repo, None)]


def with_drift_problems(store: Store, repo: str, plan: Plan, base: Tree, head: Tree, now: datetime) -> Plan:
    """`plan` (base → head), refused for each resource an open drift record of `repo` holds out of
    step, unless the change puts that resource back to its live state, or its base already is (a
    revert that an older approvalbot recorded as drift, say): then the diff shows all there is."""
    held: dict[str, str] = {}
    for record in open_drift(store, repo):
        for resource in record.resources:
            held.setdefault(resource, record.commit_sha)
    problems = [
        Problem(action.file, 1, 1, DRIFTED.format(name=_name(action.key), sha=held[str(action.key)][:12]))
        for action in plan.actions
        if str(action.key) in held
        and not _in_step(store, head, action.key, action.file, now)
        and not _in_step(store, base, action.key, action.file, now)
    ]
    if not problems:
        return plan
    return replace(plan, errors=tuple(sorted({*plan.errors, *problems})))


def restores_live(
    store: Store, commit: CommitSnapshot, plan: Plan, approved_rules: bytes | None, now: datetime
) -> bool:
    """Whether `commit` leaves every resource it changes exactly as it is live (and the config as
    approved): then it only undoes what was never applied."""
    if plan.errors or not (plan.actions or plan.config_changed):
        return False
    if plan.config_changed and commit.config_after != approved_rules:
        return False
    return all(_in_step(store, commit.head, action.key, action.file, now) for action in plan.actions)


def settle(
    store: Store,
    repo: str,
    commit: CommitSnapshot,
    synced: Collection[str],
    config_in_step: bool,
    now: datetime,
) -> list[str]:
    """Resolve the open drift records of `repo` that `commit` brings back in step; returns their commits.

    `synced` names the resources (`account/kind/id`) the commit applied or restored; any other resource
    of a record is compared with the live state in the commit's tree. `config_in_step` says whether the
    commit's `.approvalbot.yml` is the approved one, which a record that changed it needs.
    """
    resolved = []
    for record in open_drift(store, repo):
        if record.commit_sha == commit.sha or (record.detail.get("config_changed") and not config_in_step):
            continue
        files: Mapping[str, str] = record.detail.get("files") or {}
        if not all(
            r in synced or _in_step_by_name(store, commit.head, r, files.get(r), now)
            for r in record.resources
        ):
            continue
        if not store.resolve_drift(record.commit_sha, commit.sha):
            continue  # another worker resolved it a moment ago
        resolved.append(record.commit_sha)
        detail = {"repository": repo, "resolved_by": commit.sha, "resources": list(record.resources)}
        store.audit(AuditEntry(AuditKind.DRIFT_RESOLVED, commit_sha=record.commit_sha, detail=detail))
    return resolved


def _in_step_by_name(store: Store, head: Tree, resource: str, file: str | None, now: datetime) -> bool:
    key = _parse_key(resource)
    return key is not None and file is not None and _in_step(store, head, key, file, now)


def _in_step(store: Store, head: Tree, key: ResourceKey, file: str, now: datetime) -> bool:
    """Whether `file` in `head` says exactly what the live state holds for `key` at `now`."""
    live = store.get_live(key)
    raw = head.read(file)
    if raw is None:
        return live is None  # deleted on the branch: in step only if it is not live either
    loaded = load_resource(file, raw, key.account)
    resource = loaded.resource
    if resource is None or resource.key != key or live is None:
        return False
    # The clock moves a live status on (scheduled → running → finished) without a commit, keeping the
    # document's `status` in step: compare what the branch's status means now, then the rest.
    if effective_status(resource, now) is not live.status:
        return False
    return _without_status(live.document) == _without_status(to_jsonable(dict(resource.data)))


def _without_status(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "status"}


def _parse_key(text: str) -> ResourceKey | None:
    """The key `str(ResourceKey)` wrote as `account/kind/id`; None for anything else."""
    account, _, rest = text.partition("/")
    kind, _, ident = rest.partition("/")
    if kind not in _KINDS or not account or not ident:
        return None
    return ResourceKey(account, Kind(kind), ident)


_KINDS = frozenset(k.value for k in Kind)


def _name(key: ResourceKey) -> str:
    return f"{key.kind.value.replace('_', ' ')} {key.id!r} (account {key.account})"
