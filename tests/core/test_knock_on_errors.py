"""One cause, said once, where it is; `file:line` links to the head's file (issue 14).

Before: a remote config file that could not be read also blamed every experiment overriding it ("is
not a remote config variable"), in `validate` and in a PR touching both; the PR comment listed each
resource's problem twice (the top list and the resource); `file:line` linked nowhere.
"""

from datetime import UTC, datetime
from typing import Any

from gitrepo import experiment, variable

from bot.core.plan import make_plan
from bot.core.render import render_markdown
from bot.core.repo_config import Account, Approvals, RepoConfig
from bot.core.tree import DictTree, changed_files
from bot.core.validate import validate_tree

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = RepoConfig(Approvals(), (Account("web", ("web/**",)),), {})
RC = "web/remote_config/color.yaml"
EXP = "web/experiments/checkout.yaml"
BROKEN_RC = variable("color", "live").replace("type: string", "type: strin")
FILES_AT = "https://github.com/acme/experiments/blob/0123abc"


def uses_color(value: str = "green") -> list[dict[str, Any]]:
    return [
        {"id": "control", "weight": 50, "control": True},
        {"id": "treatment", "weight": 50, "overrides": {"color": value}},
    ]


RUNNING = experiment("checkout", "running", variants=uses_color())


def test_validate_blames_only_the_broken_variable() -> None:
    problems = validate_tree(DictTree({RC: BROKEN_RC, EXP: RUNNING}), CONFIG)
    assert [p.file for p in problems] == [RC], problems
    assert "got 'strin'" in problems[0].message


def test_validate_still_reports_an_override_of_a_variable_that_does_not_exist() -> None:
    [problem] = validate_tree(DictTree({EXP: RUNNING}), CONFIG)
    assert problem.file == EXP and "'color' is not a remote config variable" in problem.message


def test_a_pr_breaking_a_variable_and_editing_its_user_blames_the_variable_once() -> None:
    base = DictTree({RC: variable("color", "live"), EXP: RUNNING})
    head = DictTree({RC: BROKEN_RC, EXP: experiment("checkout", "running", variants=uses_color("blue"))})
    plan = make_plan(base, head, changed_files(base, head), CONFIG, NOW)
    assert [p.file for p in plan.all_problems] == [RC], plan.all_problems
    assert [a.key.id for a in plan.actions if a.valid] == ["checkout"]


def test_an_untouched_broken_variable_is_pointed_at_from_its_user() -> None:
    base = DictTree({RC: BROKEN_RC, EXP: RUNNING})
    head = DictTree({RC: BROKEN_RC, EXP: experiment("checkout", "running", variants=uses_color("blue"))})
    plan = make_plan(base, head, changed_files(base, head), CONFIG, NOW)
    [problem] = plan.all_problems
    assert problem.file == EXP
    assert f"'color' cannot be checked: {RC} cannot be read" in problem.message


def test_the_pr_comment_says_each_problem_once_and_links_it_to_the_head() -> None:
    base = DictTree({RC: variable("color", "live"), EXP: RUNNING})
    head = DictTree({RC: BROKEN_RC, EXP: RUNNING, "other/x.yaml": "a: 1\n"})
    plan = make_plan(base, head, changed_files(base, head), CONFIG, NOW)
    markdown = render_markdown(plan, CONFIG, FILES_AT)
    assert markdown.count("got 'strin'") == 1
    assert markdown.count("is not in any account") == 1
    assert "**2 problems** — nothing can merge yet (1 shown below at its resource):" in markdown
    assert f"[`{RC}:4`]({FILES_AT}/web/remote_config/color.yaml#L4)" in markdown
    assert f"[`other/x.yaml:1`]({FILES_AT}/other/x.yaml#L1)" in markdown
    without = render_markdown(plan, CONFIG)
    assert f"`{RC}:4`" in without and "](" not in without


def test_only_resource_problems_are_not_listed_at_the_top() -> None:
    base = DictTree({RC: variable("color", "live")})
    head = DictTree({RC: BROKEN_RC})
    plan = make_plan(base, head, changed_files(base, head), CONFIG, NOW)
    markdown = render_markdown(plan, CONFIG)
    assert markdown.startswith("**1 problem** — nothing can merge yet; it is shown below at the resource.")
    assert markdown.count("got 'strin'") == 1
