"""Every state change of a submission and every change of the rules is in the audit log (issue 14).

Before: a merged `.approvalbot.yml` said nothing of who was made approver or admin; converting a ready PR
back to draft (withdrawing the request) and closing a PR unmerged left no entry; a request withdrawn and
made again on the same head was not a new submission.
"""

from __future__ import annotations

from harness import BotWorld

from bot.core.live import AuditEntry, AuditKind
from bot.core.model import Kind, ResourceKey

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running
TEST = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")


def _entries(world: BotWorld, pr: int) -> list[AuditEntry]:
    return sorted((e for e in world.store.audit_log(limit=500) if e.pr_number == pr), key=lambda e: e.id or 0)


def test_a_merged_rules_change_says_who_was_granted_what_in_which_pr(world: BotWorld) -> None:
    config = world.edited(
        ".approvalbot.yml",
        (
            'approver: [bob-approver, "@acme/growth-leads"]',
            'approver: [bob-approver, "@acme/growth-leads", dan-viewer]',
        ),
        (
            "      viewer: [dan-viewer]\n    custom_roles:\n      experiment_reviewer:",
            "    custom_roles:\n      experiment_reviewer:",
        ),
        ("    required: 1\n\nusers:", "    required: 2\n\nusers:"),
    )
    pr = world.open_pr("carol-contrib", {".approvalbot.yml": config})
    world.review(pr, "alice-admin", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]
    merge = world.merge(pr, "alice-admin")
    world.drain()

    changes = [e for e in _entries(world, pr) if e.kind is AuditKind.RULES_CHANGE]
    facts = {
        (e.account, e.detail.get("change"), e.detail.get("role"), e.detail.get("member")) for e in changes
    }
    assert ("web", "granted", "approver", "dan-viewer") in facts
    assert ("web", "revoked", "viewer", "dan-viewer") in facts
    [required] = [e for e in changes if e.detail.get("setting") == "required"]
    assert (required.account, required.detail["old"], required.detail["new"]) == ("mobile", "1", "2")
    for entry in changes:
        assert (entry.actor, entry.commit_sha, entry.at is not None) == ("alice-admin", merge, True)
        assert entry.detail["approved_by"] == ["alice-admin"]


def test_withdrawing_and_closing_unmerged_are_recorded_and_a_new_request_is_a_new_submission(
    world: BotWorld,
) -> None:
    pause = world.edited(CHECKOUT, ("status: running", "status: paused"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: pause})
    world.drain()
    world.later(5)
    world.driver.convert_to_draft(world.repo, pr, "carol-contrib")
    world.drain()
    world.later(5)
    world.driver.ready_for_review(world.repo, pr, "carol-contrib")
    world.drain()
    world.close(pr, "carol-contrib")
    world.drain()

    kinds = [(e.kind, e.resource, e.actor) for e in _entries(world, pr)]
    assert kinds == [
        (AuditKind.SUBMISSION, TEST, None),
        (AuditKind.WITHDRAWAL, TEST, "carol-contrib"),
        (AuditKind.SUBMISSION, TEST, None),
        (AuditKind.CLOSED, TEST, "carol-contrib"),
    ], kinds
    closed = _entries(world, pr)[-1]
    assert closed.detail["merged"] is False and closed.detail["pending"] == "PAUSE PENDING"


def test_a_draft_closed_unmerged_is_recorded_once_without_a_resource(world: BotWorld) -> None:
    pause = world.edited(CHECKOUT, ("status: running", "status: paused"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: pause}, draft=True)
    world.drain()
    world.close(pr, "carol-contrib")
    world.drain()
    [closed] = [e for e in _entries(world, pr) if e.kind is AuditKind.CLOSED]
    assert (closed.resource, closed.actor, closed.detail["draft"]) == (None, "carol-contrib", True)
