"""Helpers for the apply tests: people's steps on the sandbox, and what the store then says.

Every step goes through the sandbox (emulator ⇄ real HTTP ⇄ the webhook server ⇄ the store) and ends
with `drain()`, so an assertion after a step sees everything the bot did about it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bot.core.live import AuditEntry, AuditKind
from bot.core.model import Kind, ResourceKey
from bot.core.notifications import Notification, NotificationEvent, SendResult
from bot.sandbox import Sandbox
from bot.web.api import make_api_blueprint

WEB_APPROVER = "bob-approver"
WEB_TEAM_APPROVER = "lena-growth"  # in @acme/growth-leads, approvers of the web account
WEB_REVIEWER = "erin-reviewer"  # custom role with approve:product_experiences
MOBILE_APPROVER = "heidi-approver"
ADMIN = "alice-admin"
CREATOR = "carol-contrib"
MOBILE_CREATOR = "ivan-contrib"

CHECKOUT_TEST = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")  # running, web
SHIPPING_TEST = ResourceKey("web", Kind.EXPERIMENT, "free_shipping_threshold_test")  # paused, web
HOMEPAGE_TEST = ResourceKey("web", Kind.EXPERIMENT, "homepage_modular_layout")  # draft, web
REVIEWS_TEST = ResourceKey("web", Kind.EXPERIMENT, "product_page_reviews_position")  # finished, web
SEARCH_TEST = ResourceKey("web", Kind.EXPERIMENT, "semantic_search_rollout")  # scheduled 2030, web
ONBOARDING_TEST = ResourceKey("mobile", Kind.EXPERIMENT, "onboarding_length_test")  # running, mobile
PAYWALL_TEST = ResourceKey("mobile", Kind.EXPERIMENT, "paywall_copy_test")  # draft, mobile
HOMEPAGE_LAYOUT = ResourceKey("web", Kind.REMOTE_CONFIG, "homepage_layout")  # draft variable, web
BUTTON_COLOR = ResourceKey("web", Kind.REMOTE_CONFIG, "checkout_button_color")  # live variable, web
ONBOARDING_STEPS = ResourceKey("mobile", Kind.REMOTE_CONFIG, "onboarding_steps")  # live variable, mobile


class Clock:
    """A settable clock for the sandbox: starts at `start`, moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Merged:
    number: int
    sha: str


def edited(box: Sandbox, key: ResourceKey, *replacements: tuple[str, str]) -> dict[str, str]:
    """The resource's file on the default branch with each (old, new) replaced once; fails loudly if an
    `old` is missing, so a changed sample never makes a test pass for the wrong reason."""
    path = box.path_of(key)
    text = box.file(path)
    for old, new in replacements:
        assert old in text, f"{path}: expected {old!r} in the sample"
        text = text.replace(old, new, 1)
    return {path: text}


def open_pr(box: Sandbox, edits: Mapping[str, str | None], *, author: str = CREATOR, branch: str = "") -> int:
    branch = branch or f"change-{len(box.github.pulls) + 1}"
    number: int = box.driver.open_pr(box.repo, author, branch, dict(edits), title=f"Change on {branch}")
    box.drain()
    return number


def review(box: Sandbox, number: int, user: str, event: str = "APPROVE", body: str = "") -> None:
    box.driver.review(box.repo, number, user, event, body)
    box.drain()


def merge(box: Sandbox, number: int, actor: str = ADMIN) -> str:
    sha: str = box.driver.merge(box.repo, number, actor)
    box.drain()
    return sha


def approved_merge(
    box: Sandbox,
    edits: Mapping[str, str | None],
    approvers: Sequence[str] = (WEB_APPROVER,),
    *,
    author: str = CREATOR,
    body: str = "",
) -> Merged:
    """Open a PR, have `approvers` approve it (the check must turn green), merge it."""
    number = open_pr(box, edits, author=author)
    for approver in approvers:
        review(box, number, approver, "APPROVE", body)
    run = box.check(number)
    assert run is not None and run.conclusion == "success", run
    return Merged(number, merge(box, number))


def audit(box: Sandbox, kind: AuditKind | None = None, **match: Any) -> list[AuditEntry]:
    """Audit entries, oldest first, of `kind` whose fields equal `match`."""
    entries = reversed(box.store.audit_log(limit=10_000))
    return [
        e
        for e in entries
        if (kind is None or e.kind is kind) and all(getattr(e, k) == v for k, v in match.items())
    ]


def applies(box: Sandbox, key: ResourceKey, sha: str) -> list[AuditEntry]:
    return audit(box, AuditKind.APPLY, resource=key, commit_sha=sha)


def revision(box: Sandbox, key: ResourceKey) -> int:
    record = box.live(key)
    assert record is not None, f"{key} is not live"
    return record.revision


def snapshot(box: Sandbox) -> dict[ResourceKey, tuple[str, int, Any]]:
    """Every live record as (status, revision, document): equal snapshots mean nothing was applied."""
    return {r.key: (r.status.value, r.revision, dict(r.document)) for r in box.store.live()}


def wrap_apply_merge(box: Sandbox, hook: Callable[..., None]) -> Callable[[], None]:
    """Make the store call `hook(change)` after each resource of every merge (inside the transaction);
    returns a function that restores the store."""
    real = box.store.apply_merge

    def apply_merge(*args: Any, **kwargs: Any) -> bool:
        return real(*args, **kwargs, after_each=hook)

    box.store.apply_merge = apply_merge  # type: ignore[method-assign]

    def restore() -> None:
        box.store.apply_merge = real  # type: ignore[method-assign]

    return restore


class RecordingNotifier:
    """A notifier that keeps what it was asked to send (once per idempotency key, like the real ones)."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> SendResult:
        if any(n.idempotency_key == notification.idempotency_key for n in self.sent):
            return SendResult(notification.idempotency_key, False, skipped=True)
        self.sent.append(notification)
        return SendResult(notification.idempotency_key, True, 1, recipients=notification.recipients)

    def of(self, event: NotificationEvent) -> list[Notification]:
        return [n for n in self.sent if n.event is event]


def read_api(box: Sandbox, tokens: Mapping[str, str]) -> FlaskClient:
    """A test client of the read API over the sandbox's store (the sandbox's server is started without
    API tokens, so the blueprint is mounted on an app of its own, exactly as create_server_app does)."""
    app = Flask("read-api")
    app.register_blueprint(make_api_blueprint(lambda: box.store, tokens, box.services.clock))
    return app.test_client()
