"""A team that cannot be resolved (issue 12, rule 10): an organization that does not exist, or a user
named as one, is a GraphQL NOT_FOUND on GitHub. It resolves to nobody with a warning on the check; it
never makes the PR unreadable (one typo in `.approvalbot.yml` used to block every PR, even its fix)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import BotWorld, world_fixture

from bot.sandbox import sample_files

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
CONFIG = ".approvalbot.yml"
TYPOS = '"@acme/growth-leads", "@acmee/growth-leads", "@carol-contrib/leads", "@acme/no-such-team"'


def _with_typos() -> dict[str, bytes]:
    files = sample_files()
    text = files[CONFIG].decode()
    before = 'approver: [bob-approver, "@acme/growth-leads"]'
    assert before in text
    files[CONFIG] = text.replace(before, f"approver: [bob-approver, {TYPOS}]").encode()
    return files


@pytest.fixture
def world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    yield from world_fixture(emulator, github_settings, tmp_path, files=_with_typos())


def test_unresolvable_teams_are_nobody_with_a_warning_and_the_pr_is_judged(world: BotWorld) -> None:
    edit = world.edited(CHECKOUT, ("status: running", "status: paused"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: edit})
    world.drain()

    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run and run.summary
    assert "`@acmee/growth-leads` resolves to nobody: there is no organization 'acmee'" in run.summary
    assert (
        "`@carol-contrib/leads` resolves to nobody: there is no organization 'carol-contrib'" in run.summary
    )
    assert "`@acme/no-such-team` resolves to nobody: acme has no team 'no-such-team'" in run.summary
    assert "team-lead-tina" in world.requested(pr)  # the team that exists still counts

    world.review(pr, "team-lead-tina", "APPROVE")
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "success", run.summary


def test_the_pr_that_fixes_the_typo_is_judged_too(world: BotWorld) -> None:
    fixed = world.seed(CONFIG)  # the sample as shipped, without the typos
    assert TYPOS not in fixed
    pr = world.open_pr("bob-approver", {CONFIG: fixed})
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run and run.summary
    assert "cannot read" not in run.summary.lower()
    world.review(pr, "alice-admin", "APPROVE")
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "success", run.summary
