"""Who is told what, for which event (SPEC §5). Pure: the mail adapter only delivers the result.

One `Notification` per account touched, so an approver of account B never reads about account A.
Recipients are logins (teams expanded), resolved to emails through `users:` in `.approvalbot.yml`;
a login without an email is skipped with a warning, never silently.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from typing import Protocol

from bot.core.model import Action, PendingState, Plan, ResourceKey
from bot.core.repo_config import Account, RepoConfig, Role

SUBJECT_PREFIX = "[approvalbot]"


class NotificationEvent(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WORKFLOW_ENABLED = "workflow_enabled"
    WORKFLOW_DISABLED = "workflow_disabled"
    BYPASS = "bypass"  # an unapproved change reached the default branch; it is not applied

    @property
    def headline(self) -> str:
        return HEADLINES[self]


HEADLINES: Mapping[NotificationEvent, str] = {
    NotificationEvent.SUBMITTED: "change submitted for approval",
    NotificationEvent.APPROVED: "change approved",
    NotificationEvent.REJECTED: "change rejected",
    NotificationEvent.WORKFLOW_ENABLED: "approval workflow enabled",
    NotificationEvent.WORKFLOW_DISABLED: "approval workflow disabled",
    NotificationEvent.BYPASS: "unapproved change reached the default branch (not applied)",
}

NO_EMAIL_WARNING = (
    "{login} is not told about {event} on account {account}: no users.{login}.email in {config}"
)
UNKNOWN_TEAM_WARNING = (
    "team @{team} (account {account}) has no known members: nobody in it is told about {event}"
)
NOBODY_WARNING = "nobody with an email is to be told about {event} on account {account}"
DISABLED_REVERT_NOTE = (
    "Every pending approval request was reverted: open ready pull requests were converted to drafts "
    "and their resources stay as they are."
)
BYPASS_NOTE = "This change was not applied to the live store. It is recorded as drift until it is resolved."


@dataclass(frozen=True)
class ChangeItem:
    """One resource as the email lists it."""

    key: ResourceKey
    action: Action | None
    pending: PendingState | None = None


def change_items(plan: Plan) -> tuple[ChangeItem, ...]:
    """The resources a plan submits, as the emails list them (refused ones have no action to announce)."""
    return tuple(
        ChangeItem(a.key, a.action, a.pending_state)
        for a in sorted(plan.actions, key=lambda a: a.key)
        if a.action
    )


@dataclass(frozen=True)
class NotificationRequest:
    """What happened. `accounts` are the accounts touched (every account for a workflow toggle)."""

    event: NotificationEvent
    accounts: tuple[str, ...]
    repository: str = ""  # "owner/repo"
    actor: str | None = None  # who submitted, approved, rejected, merged or pushed
    creators: tuple[str, ...] = ()
    items: tuple[ChangeItem, ...] = ()
    pr_number: int | None = None
    pr_url: str | None = None
    pr_title: str | None = None
    head_sha: str = ""  # the PR head, the merge or the pushed commit: part of the idempotency key
    feedback: str | None = None


@dataclass(frozen=True)
class Notification:
    event: NotificationEvent
    account: str
    recipients: tuple[str, ...]  # logins, sorted
    emails: tuple[str, ...]  # their addresses, in the same order
    subject: str
    text: str
    html: str
    idempotency_key: str


@dataclass(frozen=True)
class NotificationPlan:
    notifications: tuple[Notification, ...]
    warnings: tuple[str, ...] = ()


def plan_notifications(
    config: RepoConfig,
    request: NotificationRequest,
    teams: Mapping[str, Sequence[str]] | None = None,
    *,
    config_path: str = ".approvalbot.yml",
) -> NotificationPlan:
    """The emails `request` calls for: one per account, to that account's audience with an address."""
    teams = teams or {}
    notifications: list[Notification] = []
    warnings: list[str] = []
    for name in sorted(dict.fromkeys(request.accounts)):
        account = config.account(name)
        members, team_warnings = _audience(account, name, request, teams)
        warnings.extend(team_warnings)
        emails: dict[str, str] = {}
        for login in sorted(members, key=str.lower):
            email = config.email_of(login)
            if email:
                emails[login] = email
            else:
                warnings.append(
                    NO_EMAIL_WARNING.format(
                        login=login, event=request.event.value, account=name, config=config_path
                    )
                )
        if not emails:
            warnings.append(NOBODY_WARNING.format(event=request.event.value, account=name))
            continue
        notifications.append(_notification(request, name, emails))
    return NotificationPlan(tuple(notifications), tuple(warnings))


def _audience(
    account: Account | None, name: str, request: NotificationRequest, teams: Mapping[str, Sequence[str]]
) -> tuple[set[str], list[str]]:
    event = request.event
    entries: list[str] = []
    if account is not None:
        entries.extend(account.members(Role.ADMIN))
        if event in (
            NotificationEvent.SUBMITTED,
            NotificationEvent.WORKFLOW_ENABLED,
            NotificationEvent.WORKFLOW_DISABLED,
        ):
            entries.extend(_approvers(account))
    if event in (NotificationEvent.APPROVED, NotificationEvent.REJECTED):
        entries.extend(request.creators)
    return _expand(entries, name, event, teams)


def _approvers(account: Account) -> Iterable[str]:
    yield from account.members(Role.APPROVER)
    for role in account.custom_roles:
        if role.approves:
            yield from role.members


def _expand(
    entries: Iterable[str], account: str, event: NotificationEvent, teams: Mapping[str, Sequence[str]]
) -> tuple[set[str], list[str]]:
    logins: set[str] = set()
    warnings: list[str] = []
    for entry in entries:
        if not entry.startswith("@"):
            logins.add(entry)
            continue
        team = entry[1:]
        members = teams.get(team)
        if not members:
            warnings.append(UNKNOWN_TEAM_WARNING.format(team=team, account=account, event=event.value))
        logins.update(members or ())
    return logins, warnings


def _notification(request: NotificationRequest, account: str, emails: Mapping[str, str]) -> Notification:
    logins = tuple(emails)
    items = tuple(i for i in request.items if i.key.account == account)
    return Notification(
        event=request.event,
        account=account,
        recipients=logins,
        emails=tuple(emails[login] for login in logins),
        subject=_subject(request, account),
        text=_text(request, account, items),
        html=_html(request, account, items),
        idempotency_key=idempotency_key(request, account, logins),
    )


def idempotency_key(request: NotificationRequest, account: str, recipients: Sequence[str]) -> str:
    """Same event, PR, commit and audience → same key, so a redelivered webhook sends nothing twice."""
    audience = hashlib.sha256("\n".join(sorted(recipients)).encode()).hexdigest()[:16]
    pr = f"pr{request.pr_number}" if request.pr_number is not None else "nopr"
    return f"{request.event.value}:{request.repository}:{pr}:{request.head_sha}:{account}:{audience}"


def _subject(request: NotificationRequest, account: str) -> str:
    where = f" — PR #{request.pr_number}" if request.pr_number is not None else ""
    title = f": {request.pr_title}" if request.pr_title else ""
    return f"{SUBJECT_PREFIX} {account}: {request.event.headline}{where}{title}"


def _item_line(item: ChangeItem) -> str:
    action = item.action.label if item.action else "change"
    pending = f" ({item.pending.value})" if item.pending else ""
    return f"{item.key.kind.value} {item.key.id}: {action}{pending}"


def _facts(request: NotificationRequest, account: str) -> list[tuple[str, str]]:
    facts = [("Account", account)]
    if request.repository:
        facts.append(("Repository", request.repository))
    if request.pr_number is not None:
        facts.append(("Pull request", f"#{request.pr_number} {request.pr_title or ''}".rstrip()))
    if request.actor:
        facts.append(("By", request.actor))
    if request.creators:
        facts.append(("Created by", ", ".join(request.creators)))
    if request.head_sha:
        facts.append(("Commit", request.head_sha[:12]))
    return facts


def _note(request: NotificationRequest) -> str | None:
    if request.event is NotificationEvent.WORKFLOW_DISABLED:
        return DISABLED_REVERT_NOTE
    if request.event is NotificationEvent.BYPASS:
        return BYPASS_NOTE
    return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _text(request: NotificationRequest, account: str, items: Sequence[ChangeItem]) -> str:
    lines = [_sentence(request.event.headline), ""]
    lines += [f"{label}: {value}" for label, value in _facts(request, account)]
    if items:
        lines += ["", "Resources:"] + [f"  - {_item_line(item)}" for item in items]
    if request.feedback:
        lines += ["", "Feedback:", *(f"  {line}" for line in request.feedback.splitlines())]
    note = _note(request)
    if note:
        lines += ["", note]
    if request.pr_url:
        lines += ["", f"Open the pull request: {request.pr_url}"]
    return "\n".join(lines) + "\n"


def _html(request: NotificationRequest, account: str, items: Sequence[ChangeItem]) -> str:
    parts = [f"<p><strong>{escape(_sentence(request.event.headline))}</strong></p>", "<table>"]
    parts += [
        f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _facts(request, account)
    ]
    parts.append("</table>")
    if items:
        parts.append("<ul>" + "".join(f"<li>{escape(_item_line(i))}</li>" for i in items) + "</ul>")
    if request.feedback:
        parts.append(f"<p>Feedback:</p><blockquote>{escape(request.feedback)}</blockquote>")
    note = _note(request)
    if note:
        parts.append(f"<p>{escape(note)}</p>")
    if request.pr_url:
        parts.append(f'<p><a href="{escape(request.pr_url, quote=True)}">Open the pull request</a></p>')
    return "<html><body>" + "\n".join(parts) + "</body></html>"


# --- The channel port: adapters (SMTP, chat webhooks) deliver a Notification and report the outcome ---


@dataclass(frozen=True)
class SendResult:
    idempotency_key: str
    delivered: bool
    attempts: int = 0
    skipped: bool = False  # already sent for this key (a redelivery): nothing was sent now
    recipients: tuple[str, ...] = ()
    error: str | None = None


class Notifier(Protocol):
    def send(self, notification: Notification) -> SendResult:
        """Deliver once per idempotency key; report failures in the result, never raise."""
        ...


# True the first time a key is claimed (the SQL store's `claim_notification` across processes).
Claim = Callable[[str], bool]


class InMemoryClaims:
    """`claim(key)` is True once per key in this process; `release(key)` lets a failed send be retried."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._keys.discard(key)
