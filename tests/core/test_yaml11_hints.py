"""YAML 1.1 surprises get a hint to quote the value (issue 14).

YAML (PyYAML follows 1.1) reads unquoted `NO`, `on`, `yes` as booleans and `1.10` as the number 1.1.
Before, `default: NO` on a string variable said only "got false".
"""

import pytest

from bot.core.loading import load_resource

RC = "web/remote_config/x.yaml"
EXP = "web/experiments/x.yaml"


def variable(default: str, extra: str = "") -> str:
    return f"kind: remote_config\nid: x\nkey: x\ntype: string\ndefault: {default}\nstatus: draft\n{extra}"


EXPERIMENT = """kind: experiment
id: x
name: x
status: draft
metrics: {primary: {id: c}}
variants:
  - {id: control, weight: 50, control: true}
  - id: %s
    weight: 50
"""

# (name, path, text, the problem's line, the hint it must end with)
CASES = [
    ("NO", RC, variable("NO"), 5, 'YAML reads the unquoted NO as the boolean false: write "NO" in quotes'),
    ("on", RC, variable("on"), 5, 'YAML reads the unquoted on as the boolean true: write "on" in quotes'),
    ("Yes", RC, variable("Yes"), 5, "YAML reads the unquoted Yes as the boolean true"),
    (
        "1.10",
        RC,
        variable("1.10"),
        5,
        'YAML reads the unquoted 1.10 as the number 1.1: write "1.10" in quotes',
    ),
    ("007", RC, variable("007"), 5, "YAML reads the unquoted 007 as the number 7"),
    ("a comment after it", RC, variable("off  # the default"), 5, "unquoted off as the boolean false"),
    (
        "in a flow mapping",
        RC,
        variable('"x"', "conditional_values:\n  - {segment: s, value: off}\n"),
        8,
        "unquoted off as the boolean false",
    ),
    ("a variant id", EXP, EXPERIMENT % "on", 8, "YAML reads the unquoted on as the boolean true"),
]


@pytest.mark.parametrize(("name", "path", "text", "line", "hint"), CASES, ids=[c[0] for c in CASES])
def test_a_value_yaml_turned_into_something_else_gets_a_hint(
    name: str, path: str, text: str, line: int, hint: str
) -> None:
    result = load_resource(path, text.encode(), "web")
    [problem] = result.problems
    assert problem.line == line
    assert problem.message.endswith(hint + " if you mean the text") or hint in problem.message, problem


@pytest.mark.parametrize(
    "text",
    [
        variable('"NO"'),  # quoted: it is the text, and valid
        variable("true"),  # true is a boolean in every YAML: the type problem alone says it
        variable("[a, b]"),  # a list: no scalar to explain
    ],
)
def test_no_hint_when_yaml_did_what_it_says(text: str) -> None:
    result = load_resource(RC, text.encode(), "web")
    assert all("YAML reads" not in p.message for p in result.problems)


def test_an_on_key_stays_the_word_on() -> None:
    # Keys are kept as written, so `on:` is the field "on" (here unknown), never the boolean true.
    result = load_resource(RC, (variable('"x"') + "on: 1\n").encode(), "web")
    [problem] = result.problems
    assert "unknown field 'on'" in problem.message


def test_a_number_out_of_range_gets_no_hint() -> None:
    text = EXPERIMENT % "b" + "traffic_allocation: 150\n"
    result = load_resource(EXP, text.encode(), "web")
    assert result.problems and all("YAML reads" not in p.message for p in result.problems)


def test_an_override_value_yaml_read_as_a_boolean_gets_the_hint_in_check_and_validate() -> None:
    from datetime import UTC, datetime

    from bot.core.plan import make_plan
    from bot.core.repo_config import Account, Approvals, RepoConfig
    from bot.core.tree import DictTree, changed_files
    from bot.core.validate import validate_tree

    config = RepoConfig(Approvals(), (Account("web", ("web/**",)),), {})
    head = {
        RC: variable('"x"').replace("status: draft", "status: live"),
        EXP: EXPERIMENT % "b" + "    overrides: {x: off}\n",
    }
    before, after = DictTree({RC: head[RC]}), DictTree(head)
    plan = make_plan(before, after, changed_files(before, after), config, datetime(2026, 3, 1, tzinfo=UTC))
    [problem] = plan.all_problems
    assert "unquoted off as the boolean false" in problem.message, problem
    [problem] = validate_tree(after, config)
    assert "unquoted off as the boolean false" in problem.message, problem
