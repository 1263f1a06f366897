"""Who is told what (SPEC §5), per account, with teams, warnings and stable idempotency keys."""

from __future__ import annotations

import pytest
from notify_support import CHECKOUT, FEE, TEAMS, request

from bot.core.model import Action, Kind, PendingState, Plan, PlannedAction, ResourceKey, Status
from bot.core.notifications import (
    BYPASS_NOTE,
    DISABLED_REVERT_NOTE,
    ChangeItem,
    NotificationEvent,
    change_items,
    plan_notifications,
)
from bot.core.repo_config import RepoConfig


def recipients(
    config: RepoConfig, event: NotificationEvent, accounts=("growth",), **extra
) -> dict[str, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    plan = plan_notifications(config, request(event, accounts, **extra), TEAMS)
    return {n.account: n.emails for n in plan.notifications}


GROWTH_APPROVERS = ("alice@example.com", "bob@example.com", "lena@example.com", "tess@example.com")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (NotificationEvent.SUBMITTED, GROWTH_APPROVERS),
        (NotificationEvent.APPROVED, ("alice@example.com", "carol@example.com")),
        (NotificationEvent.REJECTED, ("alice@example.com", "carol@example.com")),
        (NotificationEvent.WORKFLOW_ENABLED, GROWTH_APPROVERS),
        (NotificationEvent.WORKFLOW_DISABLED, GROWTH_APPROVERS),
        (NotificationEvent.BYPASS, ("alice@example.com",)),
    ],
)
def test_each_event_reaches_exactly_its_audience(
    config: RepoConfig, event: NotificationEvent, expected
) -> None:  # type: ignore[no-untyped-def]
    assert recipients(config, event) == {"growth": expected}


def test_recipients_are_per_account(config: RepoConfig) -> None:
    plan = plan_notifications(config, request(NotificationEvent.SUBMITTED, ("growth", "payments")), TEAMS)
    by_account = {n.account: n for n in plan.notifications}
    assert by_account["growth"].emails == GROWTH_APPROVERS
    assert by_account["payments"].emails == ("bob@example.com", "paula@example.com")
    # Each account's email lists that account's resources only.
    assert "checkout-button" in by_account["growth"].text and "fee_rate" not in by_account["growth"].text
    assert "fee_rate" in by_account["payments"].text and "checkout-button" not in by_account["payments"].text


def test_viewers_draft_contributors_and_non_approving_roles_are_never_told(config: RepoConfig) -> None:
    everyone = set()
    for event in NotificationEvent:
        for emails in recipients(config, event, ("growth", "payments")).values():
            everyone.update(emails)
    assert not everyone & {"victor@example.com", "rita@example.com", "dave@example.com"}


def test_login_without_email_is_skipped_with_a_warning(config: RepoConfig) -> None:
    plan = plan_notifications(config, request(NotificationEvent.SUBMITTED, ("payments",)), TEAMS)
    assert plan.notifications[0].recipients == ("bob", "paula")
    assert plan.warnings == (
        "erin is not told about submitted on account payments: no users.erin.email in .approvalbot.yml",
    )


def test_unknown_team_warns_and_tells_nobody_from_it(config: RepoConfig) -> None:
    plan = plan_notifications(config, request(NotificationEvent.SUBMITTED), teams={})
    assert "tess" not in plan.notifications[0].recipients
    assert any("team @acme/reviewers" in w for w in plan.warnings)


def test_account_with_nobody_to_tell_sends_nothing_and_says_so(config: RepoConfig) -> None:
    plan = plan_notifications(config, request(NotificationEvent.BYPASS, ("unknown-account",)), TEAMS)
    assert plan.notifications == ()
    assert plan.warnings == ("nobody with an email is to be told about bypass on account unknown-account",)


def test_content_names_account_resources_actions_actor_and_link(config: RepoConfig) -> None:
    (n,) = plan_notifications(config, request(NotificationEvent.SUBMITTED), TEAMS).notifications
    assert (
        n.subject == "[approvalbot] growth: change submitted for approval — PR #12: Pause the checkout test"
    )
    for fragment in (
        "Account: growth",
        "Repository: acme/experiments",
        "By: bob",
        "experiment checkout-button: pause (PAUSE PENDING)",
        "https://github.com/acme/experiments/pull/12",
    ):
        assert fragment in n.text
    for fragment in (
        "<td>growth</td>",
        "<td>bob</td>",
        "<li>experiment checkout-button: pause (PAUSE PENDING)</li>",
        '<a href="https://github.com/acme/experiments/pull/12">',
    ):
        assert fragment in n.html


def test_rejection_carries_the_feedback_escaped_in_html(config: RepoConfig) -> None:
    feedback = "Traffic too high <script>alert(1)</script>\nlower it to 10 %"
    (n,) = plan_notifications(
        config, request(NotificationEvent.REJECTED, feedback=feedback), TEAMS
    ).notifications
    assert "Feedback:\n  Traffic too high <script>alert(1)</script>\n  lower it to 10 %" in n.text
    assert "&lt;script&gt;" in n.html and "<script>" not in n.html


def test_toggle_and_bypass_explain_what_happened(config: RepoConfig) -> None:
    (off,) = plan_notifications(config, request(NotificationEvent.WORKFLOW_DISABLED), TEAMS).notifications
    (bypass,) = plan_notifications(config, request(NotificationEvent.BYPASS), TEAMS).notifications
    assert DISABLED_REVERT_NOTE in off.text
    assert BYPASS_NOTE in bypass.text and "not applied" in bypass.subject


def test_idempotency_key_is_stable_and_tells_events_commits_and_audiences_apart(config: RepoConfig) -> None:
    def key(event: NotificationEvent, **extra) -> str:  # type: ignore[no-untyped-def]
        return plan_notifications(config, request(event, **extra), TEAMS).notifications[0].idempotency_key

    first = key(NotificationEvent.SUBMITTED)
    assert first == key(NotificationEvent.SUBMITTED)
    assert first != key(NotificationEvent.SUBMITTED, head_sha="fedcba")
    assert first != key(NotificationEvent.SUBMITTED, pr_number=13)
    assert key(NotificationEvent.APPROVED) != key(NotificationEvent.REJECTED)
    assert key(NotificationEvent.APPROVED) != key(NotificationEvent.APPROVED, creators=("dave",))


def test_change_items_from_a_plan_skip_refused_resources() -> None:
    def planned(key: ResourceKey, action: Action | None, pending: PendingState | None) -> PlannedAction:
        return PlannedAction(key, f"{key.id}.yaml", action, Status.RUNNING, Status.PAUSED, pending, True)

    refused = ResourceKey("growth", Kind.EXPERIMENT, "broken")
    plan = Plan(
        actions=(
            planned(FEE, Action.PUBLISH, PendingState.APPROVAL_PENDING),
            planned(CHECKOUT, Action.PAUSE, PendingState.PAUSE_PENDING),
            planned(refused, None, None),
        )
    )
    assert change_items(plan) == (
        ChangeItem(CHECKOUT, Action.PAUSE, PendingState.PAUSE_PENDING),
        ChangeItem(FEE, Action.PUBLISH, PendingState.APPROVAL_PENDING),
    )
