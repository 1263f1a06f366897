"""Review requests as GitHub allows them (issue 12, rule 3): whom GitHub refuses is said on the check,
everyone else is still asked, and a refused write never stops the verdict, the audit or the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import ORG, BotWorld, world_fixture

from bot.core.live import AuditKind

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
LABELS = "POST /repos/{owner}/{repo}/issues/{issue_number}/labels"


@pytest.fixture
def world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    yield from world_fixture(emulator, github_settings, tmp_path)


def _pause(world: BotWorld) -> int:
    edit = world.edited(CHECKOUT, ("status: running", "status: paused"))
    return world.open_pr("carol-contrib", {CHECKOUT: edit})


def _audited(world: BotWorld, pr: int, kind: AuditKind) -> int:
    return sum(1 for e in world.store.audit_log() if e.pr_number == pr and e.kind is kind)


def test_an_approver_without_access_is_named_on_the_check_and_the_others_are_asked(world: BotWorld) -> None:
    world.emulator.world.members[ORG].discard("bob-approver")  # left the organization
    pr = _pause(world)
    world.drain()

    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run and run.summary
    assert "could not ask @bob-approver" in run.summary
    assert "not a collaborator" in run.summary
    asked = world.requested(pr)
    assert "bob-approver" not in asked
    assert {"alice-admin", "erin-reviewer"} <= asked
    assert _audited(world, pr, AuditKind.SUBMISSION) == 1


def test_everyone_who_can_be_asked_is_asked_in_one_request(world: BotWorld) -> None:
    pr = _pause(world)
    world.drain()
    run = world.check(pr)
    assert run is not None and "could not ask" not in run.summary
    calls = world.emulator.calls.of("POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers")
    assert [c.status for c in calls] == [201]


def test_a_refused_write_does_not_stop_the_check_nor_the_audit(world: BotWorld) -> None:
    world.emulator.faults.fail(LABELS, times=50, status=403, message="Resource not accessible by integration")
    pr = _pause(world)
    world.drain()

    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required"
    assert world.labels(pr) == set()  # the one write GitHub refused
    assert _audited(world, pr, AuditKind.SUBMISSION) == 1
    assert world.requested(pr)  # reviewers were asked all the same

    world.emulator.faults.clear()
    world.review(pr, "alice-admin", "APPROVE")
    world.drain()
    assert "approved" in world.labels(pr)  # once GitHub accepts again, the labels catch up
