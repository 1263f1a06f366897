"""`approvalbot status`: per account, resources with live and pending state, latest audit entries, drift."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.adapters.store import AuditEntry, AuditKind, DriftRecord, LiveChange, LiveRecord, Lock, Store
from bot.core.model import Action, Kind, PendingState, ResourceKey, Status
from bot.status import EMPTY_STORE, drift_accounts, resource_views, rfc3339, status_text

STORED_AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
BEFORE_START = datetime(2030, 1, 1, 13, 0, tzinfo=UTC)
AFTER_START = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)

CHECKOUT = ResourceKey("web", Kind.EXPERIMENT, "checkout")
ONBOARDING = ResourceKey("web", Kind.EXPERIMENT, "onboarding")
BANNER = ResourceKey("web", Kind.EXPERIMENT, "new-banner")
COLOR = ResourceKey("web", Kind.REMOTE_CONFIG, "button_color")
SPLASH = ResourceKey("mobile", Kind.EXPERIMENT, "splash")
REPO = "acme/web-config"


def change(key: ResourceKey, action: Action, status: Status, **extra: object) -> LiveChange:
    return LiveChange(key, action, status, {"id": key.id, "status": status.value, **extra})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.from_url(f"sqlite:///{tmp_path / 'status.db'}", clock=lambda: STORED_AT)
    yield opened
    opened.close()


@pytest.fixture
def filled(store: Store) -> Store:
    web = [
        change(COLOR, Action.PUBLISH, Status.LIVE, type="string", default="blue"),
        change(CHECKOUT, Action.START, Status.RUNNING),
        change(ONBOARDING, Action.SCHEDULE, Status.SCHEDULED, schedule={"start_at": "2030-01-01T18:00:00Z"}),
    ]
    audit = [AuditEntry(AuditKind.APPLY, resource=c.key, actor="alice", action=c.action) for c in web]
    store.apply_merge("aaaaaaa1111", 10, web, audit)
    splash = change(SPLASH, Action.START, Status.RUNNING)
    store.apply_merge(
        "bbbbbbb2222", 11, [splash], [AuditEntry(AuditKind.APPLY, resource=SPLASH, actor="carol")]
    )
    store.set_locks(REPO, 21, {CHECKOUT: PendingState.PAUSE_PENDING})
    store.set_locks(REPO, 22, {BANNER: PendingState.APPROVAL_PENDING, COLOR: None})
    store.audit(
        AuditEntry(
            AuditKind.REJECTION,
            resource=CHECKOUT,
            actor="bob",
            pr_number=20,
            feedback="too risky\nfor Friday",
        )
    )
    store.audit(AuditEntry(AuditKind.APPROVAL, resource=SPLASH, actor="dave", pr_number=23, winner="b"))
    store.record_drift("ccccccc3333", {"reason": "direct push", "account": "web"})
    store.record_drift("ddddddd4444", {"reason": "pushed by an admin"})
    return store


def block(text: str, account: str) -> str:
    """The lines of one account's block."""
    start = text.index(f"Account {account}\n")
    end = text.find("\n\n", start)
    return text[start : end if end != -1 else len(text)]


def test_every_account_is_shown_in_order(filled: Store) -> None:
    text = status_text(filled, None, AFTER_START)
    assert text.index("Account mobile") < text.index("Account web")
    assert text.endswith(
        "Drift naming no account:\n  2030-01-01T12:00:00Z  commit ddddddd  pushed by an admin\n"
    )


def test_resources_with_live_and_pending_state(filled: Store) -> None:
    web = block(status_text(filled, None, AFTER_START), "web").splitlines()
    assert web[1].split() == ["KIND", "ID", "STATUS", "REV", "PENDING"]
    rows = [line.split(None, 2) for line in web[2:6]]
    assert [(kind, rid) for kind, rid, _ in rows] == [
        ("experiment", "checkout"),
        ("experiment", "new-banner"),
        ("experiment", "onboarding"),
        ("remote_config", "button_color"),
    ]
    rest = {rid: " ".join(tail.split()) for _, rid, tail in rows}
    assert rest == {
        "checkout": "running 1 PAUSE PENDING (PR acme/web-config#21)",
        "new-banner": "not live - APPROVAL PENDING (PR acme/web-config#22)",
        "onboarding": "scheduled (due: running) 1 -",
        "button_color": "live 1 held by PR acme/web-config#22",
    }
    # The columns line up under their headers.
    assert web[1].index("STATUS") == web[2].index("running") == web[5].index("live")
    assert web[1].index("PENDING") == web[2].index("PAUSE PENDING") == web[5].index("held by")


def test_a_scheduled_experiment_before_its_start_is_just_scheduled(filled: Store) -> None:
    web = block(status_text(filled, "web", BEFORE_START), "web")
    assert "scheduled (due" not in web
    assert [
        " ".join(line.split())
        for line in web.splitlines()
        if line.split()[:2] == ["experiment", "onboarding"]
    ] == ["experiment onboarding scheduled 1 -"]


def test_latest_audit_entries_newest_first(filled: Store) -> None:
    web = block(status_text(filled, "web", AFTER_START), "web")
    audit = web[web.index("Latest audit entries (newest first):") :].splitlines()[1:5]
    assert [" ".join(line.split()) for line in audit] == [
        "2030-01-01T12:00:00Z rejection experiment/checkout by bob PR #20 feedback: too risky for Friday",
        "2030-01-01T12:00:00Z apply experiment/onboarding schedule by alice PR #10 aaaaaaa",
        "2030-01-01T12:00:00Z apply experiment/checkout start by alice PR #10 aaaaaaa",
        "2030-01-01T12:00:00Z apply remote_config/button_color publish by alice PR #10 aaaaaaa",
    ]
    mobile = block(status_text(filled, None, AFTER_START), "mobile")
    assert "approval  experiment/splash  by dave  PR #23  winner b" in mobile


def test_audit_lines_are_limited(filled: Store) -> None:
    web = block(status_text(filled, "web", AFTER_START, audit_lines=2), "web")
    assert "rejection" in web and "onboarding  schedule" in web
    assert "checkout  start" not in web


def test_drift_is_shown_under_its_account(filled: Store) -> None:
    text = status_text(filled, None, AFTER_START)
    web = block(text, "web")
    assert "DRIFT (on the default branch without approval, not applied):" in web
    assert "2030-01-01T12:00:00Z  commit ccccccc  direct push" in web
    assert "pushed by an admin" not in web
    assert "No drift." in block(text, "mobile")


def test_one_account_only(filled: Store) -> None:
    text = status_text(filled, "web", AFTER_START)
    assert text.startswith("Account web\n")
    assert "mobile" not in text and "splash" not in text
    assert "Drift naming no account" not in text


def test_an_account_with_nothing(filled: Store) -> None:
    assert status_text(filled, "nobody", AFTER_START) == (
        "Account nobody\n  no live resources and no pending changes\n  No audit entries.\n  No drift.\n"
    )


def test_an_empty_store(store: Store) -> None:
    assert status_text(store, None, AFTER_START) == EMPTY_STORE + "\n"


def test_an_account_known_only_from_its_audit_is_shown(store: Store) -> None:
    refused = ResourceKey("ads", Kind.EXPERIMENT, "x")
    store.audit(AuditEntry(AuditKind.REFUSAL, resource=refused, actor="eve", pr_number=5))
    text = status_text(store, None, AFTER_START)
    assert text.startswith("Account ads\n  no live resources and no pending changes\n")
    assert "refusal  experiment/x  by eve  PR #5" in text


def test_long_feedback_is_shortened_to_one_line(store: Store) -> None:
    store.audit(AuditEntry(AuditKind.REJECTION, resource=CHECKOUT, actor="bob", feedback="word " * 100))
    line = next(line for line in status_text(store, "web", AFTER_START).splitlines() if "rejection" in line)
    assert line.endswith("…")
    assert len(line.split("feedback: ")[1]) == 80


# -- the read model shared with the API --


def test_resource_views_join_live_records_and_locks() -> None:
    running = LiveRecord(CHECKOUT, Status.RUNNING, {"status": "running"}, 3, "m", STORED_AT)
    other = LiveRecord(SPLASH, Status.RUNNING, {"status": "running"})
    locks = [
        Lock(BANNER, 8, PendingState.APPROVAL_PENDING, STORED_AT),
        Lock(CHECKOUT, 9, PendingState.FINISH_PENDING, STORED_AT),
        Lock(SPLASH, 7, None, STORED_AT),
    ]
    views = resource_views([running, other], locks, AFTER_START, account="web")
    assert [(v.key, v.live, v.lock, v.effective) for v in views] == [
        (CHECKOUT, running, locks[1], Status.RUNNING),
        (BANNER, None, locks[0], None),
    ]
    assert [v.key for v in resource_views([running, other], locks, AFTER_START)] == [SPLASH, CHECKOUT, BANNER]


def test_drift_accounts_come_from_the_detail() -> None:
    def record(**detail: object) -> DriftRecord:
        return DriftRecord("c", detail, STORED_AT)

    assert drift_accounts(record(account="web")) == {"web"}
    assert drift_accounts(record(account="web", accounts=["mobile", 3])) == {"web", "mobile"}
    assert drift_accounts(record(reason="x")) == frozenset()


def test_times_are_rfc3339_utc() -> None:
    assert rfc3339(datetime(2030, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == "2030-01-01T12:00:00Z"
    assert rfc3339(datetime(2030, 1, 1, 12, 0)) == "2030-01-01T12:00:00Z"


def test_the_job_queue_shows_only_when_something_waits_runs_or_is_parked() -> None:
    from bot.adapters.store.jobs import JobCounts
    from bot.status import jobs_text

    assert jobs_text(JobCounts(0, 0, 0, None), []) == ""
    parked = [
        {
            "delivery_id": "d-9",
            "event": "push",
            "key": "acme/config",
            "attempts": 8,
            "last_error": "GitHubReadError: 502\nmore",
        }
    ]
    text = jobs_text(JobCounts(2, 1, 1, None), parked)
    assert text.splitlines() == [
        "Jobs: 2 queued, 1 running, 1 parked",
        "  parked: delivery d-9 (push, acme/config) after 8 attempts: GitHubReadError: 502",
        "  A parked job runs again when GitHub redelivers its delivery (the App's Advanced tab).",
    ]
