"""Deleting a remote config variable that an experiment of the head still uses is refused (issue 14).

Before: only scheduled, running or paused users counted, so deleting a draft variable that a draft
experiment overrides needed no approval and left the default branch failing `approvalbot validate`.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from gitrepo import experiment, variable

from bot.core.model import Action
from bot.core.plan import make_plan
from bot.core.repo_config import Account, Approvals, RepoConfig
from bot.core.tree import DictTree, changed_files
from bot.core.validate import validate_tree

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = RepoConfig(Approvals(), (Account("web", ("web/**",)),), {})
RC = "web/remote_config/color.yaml"
EXP = "web/experiments/checkout.yaml"


def uses_color() -> list[dict[str, Any]]:
    return [
        {"id": "control", "weight": 50, "control": True},
        {"id": "treatment", "weight": 50, "overrides": {"color": "green"}},
    ]


FINISHED = {"winner": "treatment"}

# (variable's status, user's status and extra fields, action, words of the advice)
CASES = [
    ("draft", "draft", {}, Action.DELETE_DRAFT, "remove the overrides from it, or delete it"),
    ("live", "draft", {}, Action.DELETE, "remove the overrides from it, or delete it"),
    ("live", "running", {}, Action.DELETE, "finish it or remove its overrides first"),
    ("live", "paused", {}, Action.DELETE, "finish it or remove its overrides first"),
    ("live", "finished", FINISHED, Action.DELETE, "delete it in this change or first"),
    ("draft", "finished", FINISHED, Action.DELETE_DRAFT, "delete it in this change or first"),
]


@pytest.mark.parametrize(("rc_status", "user", "extra", "action", "advice"), CASES)
def test_deleting_a_variable_an_experiment_uses_is_refused_naming_it(
    rc_status: str, user: str, extra: dict[str, Any], action: Action, advice: str
) -> None:
    files = {
        RC: variable("color", rc_status),
        EXP: experiment("checkout", user, variants=uses_color(), **extra),
    }
    before, after = DictTree(files), DictTree({EXP: files[EXP]})
    assert validate_tree(before, CONFIG) == []
    assert validate_tree(after, CONFIG) != []  # what accepting it would leave on the default branch
    plan = make_plan(before, after, changed_files(before, after), CONFIG, NOW)
    [planned] = plan.actions
    assert planned.action is action and not planned.valid and not plan.valid
    [problem] = planned.errors
    assert problem.file == RC and problem.line == 6  # the variable's status line
    assert f"cannot be deleted while {user} experiment 'checkout' ({EXP}) uses it" in problem.message
    assert advice in problem.message


def test_several_users_of_different_statuses_each_get_their_advice() -> None:
    files = {
        RC: variable("color", "live"),
        EXP: experiment("checkout", "running", variants=uses_color()),
        "web/experiments/draft.yaml": experiment("draft", "draft", variants=uses_color()),
    }
    before = DictTree(files)
    after = DictTree({p: v for p, v in files.items() if p != RC})
    [planned] = make_plan(before, after, changed_files(before, after), CONFIG, NOW).actions
    [problem] = planned.errors
    assert (
        "running experiment 'checkout'" in problem.message and "draft experiment 'draft'" in problem.message
    )
    assert "finish the scheduled, running or paused ones" in problem.message
    assert "remove the overrides from the drafts" in problem.message


def test_deleting_the_variable_with_its_only_user_is_fine() -> None:
    files = {RC: variable("color", "draft"), EXP: experiment("checkout", "draft", variants=uses_color())}
    before, after = DictTree(files), DictTree({})
    plan = make_plan(before, after, changed_files(before, after), CONFIG, NOW)
    assert plan.valid and {a.action for a in plan.actions} == {Action.DELETE_DRAFT}


def test_deleting_a_variable_nobody_uses_needs_no_approval_when_it_is_a_draft() -> None:
    files = {RC: variable("color", "draft"), EXP: experiment("checkout", "draft")}
    before, after = DictTree(files), DictTree({EXP: files[EXP]})
    [planned] = make_plan(before, after, changed_files(before, after), CONFIG, NOW).actions
    assert planned.valid and planned.action is Action.DELETE_DRAFT and not planned.requires_approval
