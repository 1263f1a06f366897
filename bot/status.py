"""What is live, what is pending, what happened: the read model behind `approvalbot status` and the read API.

Pure formatting over store reads. `resource_views` joins live records with the locks ready PRs hold, so
both the terminal and `/api/v1/` show a resource's live state beside its pending state (SPEC §1, "the
`pending` field in the read API"). A resource a ready PR is creating has a lock but no live record yet; it
is shown too, with no live state, because "APPROVAL PENDING" is exactly what someone looking for it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.adapters.store.jobs import JobCounts
from bot.core.live import AuditEntry, DriftRecord, LiveRecord, Lock, effective_status
from bot.core.model import ResourceKey, Status

AUDIT_LINES = 5  # per account in the terminal: enough to see what just happened, short enough to scan
NO_PENDING = "-"
EMPTY_STORE = "The live store is empty: nothing has been applied, no PR holds a resource, no audit entry."


class StoreReader(Protocol):
    """The store reads the status view needs (bot.adapters.store.Store provides them)."""

    def live(self, account: str | None = None) -> list[LiveRecord]: ...

    def get_live(self, key: ResourceKey) -> LiveRecord | None: ...

    def locks(self, repository: str | None = None) -> list[Lock]: ...

    def lock_holder(self, repository: str | None, key: ResourceKey) -> Lock | None: ...

    def audit_log(
        self, account: str | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[AuditEntry]: ...

    def drift(self, *, open_only: bool = False) -> list[DriftRecord]: ...


@dataclass(frozen=True)
class ResourceView:
    """One resource as a reader sees it: its live record (None while a PR is creating it) and its lock."""

    key: ResourceKey
    live: LiveRecord | None
    lock: Lock | None
    effective: Status | None  # what the clock says (a scheduled one past start_at is running)


def resource_views(
    live: Iterable[LiveRecord], locks: Iterable[Lock], now: datetime, *, account: str | None = None
) -> list[ResourceView]:
    """Live records joined with locks by key, ordered by key; only `account`'s when given."""
    records = {r.key: r for r in live if account is None or r.key.account == account}
    held = {lock.key: lock for lock in locks if account is None or lock.key.account == account}
    views = []
    for key in sorted(records.keys() | held.keys()):
        record = records.get(key)
        effective = None if record is None else effective_status(record, now)
        views.append(ResourceView(key, record, held.get(key), effective))
    return views


def resource_view(store: StoreReader, key: ResourceKey, now: datetime) -> ResourceView | None:
    """One resource's view, or None when it is neither live nor held by a PR."""
    record = store.get_live(key)
    lock = store.lock_holder(None, key)  # readers see accounts, not repositories: any holder will do
    if record is None and lock is None:
        return None
    return ResourceView(key, record, lock, None if record is None else effective_status(record, now))


def drift_accounts(record: DriftRecord) -> frozenset[str]:
    """The accounts a drift record names in its detail (`account` and/or `accounts`); may be empty.

    The store keeps drift per commit, not per account: the recorder says which accounts the commit
    touched. A record naming none is shown only to readers of every account.
    """
    found: set[str] = set()
    single = record.detail.get("account")
    if isinstance(single, str):
        found.add(single)
    many = record.detail.get("accounts")
    if isinstance(many, list | tuple):
        found.update(a for a in many if isinstance(a, str))
    return frozenset(found)


def drift_for(records: Iterable[DriftRecord], account: str | None) -> list[DriftRecord]:
    """Every record when `account` is None, else those naming `account`."""
    return [r for r in records if account is None or account in drift_accounts(r)]


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC as RFC 3339 with a `Z` (a naive time is taken as UTC, as the store writes it)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pending_label(lock: Lock | None) -> str:
    """E.g. "PAUSE PENDING (PR acme/exp#12)"; "held by PR acme/exp#12" when no approval is needed; "-" when
    unlocked. The repository is named because PR numbers are only unique within one ("PR #12" for a lock
    taken before locks recorded it).
    """
    if lock is None:
        return NO_PENDING
    pull = f"PR {lock.repository}#{lock.pr_number}"
    if lock.pending_state is None:
        return f"held by {pull}"
    return f"{lock.pending_state.value} ({pull})"


def status_label(view: ResourceView) -> str:
    """The live status; "not live" for a resource only a PR knows; the clock's view when it differs."""
    if view.live is None:
        return "not live"
    if view.effective is not None and view.effective is not view.live.status:
        # The scheduler has not ticked yet; readers (and the compiled config) already see the new status.
        return f"{view.live.status.value} (due: {view.effective.value})"
    return view.live.status.value


def status_text(
    store: StoreReader, account: str | None, now: datetime, *, audit_lines: int = AUDIT_LINES
) -> str:
    """`approvalbot status`: per account, its resources, its latest audit entries and its open drift.

    With `account` None every account the store knows (live, locked or audited) is shown, then any drift
    that names no account.
    """
    live = store.live(account)
    locks = store.locks()
    drift = store.drift(open_only=True)
    accounts = [account] if account is not None else _known_accounts(store, live, locks, drift)
    if not accounts:
        return EMPTY_STORE + "\n"
    blocks = [
        _account_block(
            name,
            resource_views(live, locks, now, account=name),
            store.audit_log(name, limit=audit_lines),
            drift_for(drift, name),
        )
        for name in accounts
    ]
    if account is None:
        unattributed = [r for r in drift if not drift_accounts(r)]
        if unattributed:
            blocks.append("\n".join(["Drift naming no account:", *_drift_lines(unattributed)]))
    return "\n\n".join(blocks) + "\n"


def _known_accounts(
    store: StoreReader, live: Sequence[LiveRecord], locks: Sequence[Lock], drift: Sequence[DriftRecord]
) -> list[str]:
    names = {r.key.account for r in live} | {lock.key.account for lock in locks}
    names |= {e.account for e in store.audit_log(None, limit=500) if e.account is not None}
    for record in drift:
        names |= drift_accounts(record)
    return sorted(names)


def _account_block(
    account: str, views: Sequence[ResourceView], audit: Sequence[AuditEntry], drift: Sequence[DriftRecord]
) -> str:
    lines = [f"Account {account}"]
    if views:
        rows = [("KIND", "ID", "STATUS", "REV", "PENDING")]
        rows += [
            (
                v.key.kind.value,
                v.key.id,
                status_label(v),
                NO_PENDING if v.live is None else str(v.live.revision),
                pending_label(v.lock),
            )
            for v in views
        ]
        lines += ["  " + line for line in _table(rows)]
    else:
        lines.append("  no live resources and no pending changes")
    lines.append("  Latest audit entries (newest first):" if audit else "  No audit entries.")
    lines += ["    " + audit_line(e) for e in audit]
    if drift:
        lines.append("  DRIFT (on the default branch without approval, not applied):")
        lines += ["  " + line for line in _drift_lines(drift)]
    else:
        lines.append("  No drift.")
    return "\n".join(lines)


def audit_line(entry: AuditEntry) -> str:
    """One audit entry on one line: when, what, which resource, who, PR and commit, winner, feedback."""
    parts = [rfc3339(entry.at) if entry.at is not None else "?", entry.kind.value]
    if entry.resource is not None:
        parts.append(f"{entry.resource.kind.value}/{entry.resource.id}")
    if entry.action is not None:
        parts.append(entry.action.label)
    if entry.actor:
        parts.append(f"by {entry.actor}")
    if entry.pr_number is not None:
        parts.append(f"PR #{entry.pr_number}")
    if entry.commit_sha:
        parts.append(entry.commit_sha[:7])
    if entry.winner:
        parts.append(f"winner {entry.winner}")
    if entry.feedback:
        parts.append(f"feedback: {_one_line(entry.feedback)}")
    return "  ".join(parts)


def _drift_lines(records: Sequence[DriftRecord]) -> list[str]:
    lines = []
    for record in records:
        reason = record.detail.get("reason")
        suffix = f"  {_one_line(str(reason))}" if reason else ""
        lines.append(f"  {rfc3339(record.at)}  commit {record.commit_sha[:7]}{suffix}")
    return lines


def _one_line(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def jobs_text(counts: JobCounts, parked: Iterable[Mapping[str, Any]]) -> str:
    """The job queue's state for `approvalbot status`: empty when nothing waits, runs or is parked."""
    if not (counts.queued or counts.running or counts.parked):
        return ""
    lines = [f"Jobs: {counts.queued} queued, {counts.running} running, {counts.parked} parked"]
    for job in parked:
        error = str(job.get("last_error") or "").splitlines()[0:1] or ["no error recorded"]
        lines.append(
            f"  parked: delivery {job['delivery_id'] or '-'} ({job['event']}, {job['key']}) after "
            f"{job['attempts']} attempts: {error[0]}"
        )
    if counts.parked:
        lines.append(
            "  A parked job runs again when GitHub redelivers its delivery (the App's Advanced tab)."
        )
    return "\n".join(lines) + "\n"
