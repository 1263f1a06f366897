"""Semantic rules: one clear message per rule, at the line of the offending field."""

from __future__ import annotations

from textwrap import dedent

import pytest

from bot.core import rules
from bot.core.loading import load_resource, parse_yaml
from bot.core.model import Kind, Resource

EXP = "web/experiments/checkout_test.yaml"
RC = "web/remote_config/button_color.yaml"

EXPERIMENT = dedent(
    """\
    kind: experiment
    id: checkout_test
    name: Checkout test
    status: running
    schedule:
      start_at: 2030-01-15T09:00:00Z
      end_at: 2030-02-15T09:00:00+01:00
    metrics:
      primary: {id: conversion}
      secondary:
        - {id: revenue}
    variants:
      - id: control
        weight: 50
        control: true
      - id: green
        weight: 50
        overrides:
          button_color: green
          max_items: 3
    """
)

REMOTE_CONFIG = dedent(
    """\
    kind: remote_config
    id: button_color
    key: button_color
    type: string
    default: blue
    status: live
    conditional_values:
      - segment: beta
        value: red
      - segment: staff
        value: black
    """
)


def check(text: str, file: str) -> list[str]:
    document, found = parse_yaml(file, text.encode())
    assert document is not None, found
    return [str(p) for p in rules.check_document(document, file)]


def resource(text: str, file: str, account: str = "web") -> Resource:
    result = load_resource(file, text.encode(), account)
    assert result.resource is not None, result.problems
    return result.resource


def test_valid_documents_pass() -> None:
    assert check(EXPERIMENT, EXP) == []
    assert check(REMOTE_CONFIG, RC) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "id: checkout_test",
            "id: checkout",
            f"{EXP}:2:1: id 'checkout' does not match the file name 'checkout_test.yaml'; "
            "rename the file to checkout.yaml, or set id: checkout_test (ids never change)",
        ),
        (
            "  - id: green\n    weight: 50",
            "  - id: green\n    weight: 40",
            f"{EXP}:12:1: variant weights must sum to 100, got 90 (control: 50, green: 40)",
        ),
        (
            "  - id: control\n    weight: 50",
            "  - id: control\n    weight: 50.5",
            f"{EXP}:12:1: variant weights must sum to 100, got 100.5 (control: 50.5, green: 50)",
        ),
        (
            "    control: true\n",
            "",
            f"{EXP}:12:1: no variant is the control; set control: true on exactly one variant",
        ),
        (
            "    weight: 50\n    overrides",
            "    weight: 50\n    control: true\n    overrides",
            f"{EXP}:18:5: variants[1] is a second control (variants[0] at line 13 already is); "
            "exactly one variant is the control",
        ),
        (
            "  - id: green",
            "  - id: control",
            f"{EXP}:16:5: variant id 'control' is used twice (first at line 13); ids must differ",
        ),
        (
            "status: running",
            "status: running\nwinner: green",
            f"{EXP}:5:1: winner is only allowed when status is finished (status is 'running'); "
            "remove it, or finish the experiment",
        ),
        (
            "status: running",
            "status: finished\nwinner: gren",
            f"{EXP}:5:1: winner 'gren' is not a variant of this experiment; did you mean 'green'?",
        ),
        (
            "status: running",
            "status: finished\nwinner: blue",
            f"{EXP}:5:1: winner 'blue' is not a variant of this experiment (known: control, green)",
        ),
        (
            "status: running\nschedule:\n  start_at: 2030-01-15T09:00:00Z\n",
            "status: scheduled\nschedule:\n",
            f"{EXP}:4:1: status scheduled needs schedule.start_at (when the experiment starts)",
        ),
        (
            "status: running\nschedule:\n  start_at: 2030-01-15T09:00:00Z\n"
            "  end_at: 2030-02-15T09:00:00+01:00\n",
            "status: scheduled\n",
            f"{EXP}:4:1: status scheduled needs schedule.start_at (when the experiment starts)",
        ),
        (
            "end_at: 2030-02-15T09:00:00+01:00",
            "end_at: 2030-01-15T09:30:00+01:00",
            f"{EXP}:7:3: schedule.end_at (2030-01-15T09:30:00+01:00) must be after "
            "schedule.start_at (2030-01-15T09:00:00Z)",
        ),
        (
            "start_at: 2030-01-15T09:00:00Z",
            "start_at: 2030-01-15T09:00:00",
            f"{EXP}:6:3: schedule.start_at: '2030-01-15T09:00:00' has no time zone; "
            "add Z (UTC) or an offset like +02:00",
        ),
        (
            "end_at: 2030-02-15T09:00:00+01:00",
            "end_at: 2030-02-15",
            f"{EXP}:7:3: schedule.end_at: '2030-02-15' is not an RFC 3339 time; "
            "write it like 2030-01-15T09:00:00Z",
        ),
        (
            "  primary: {id: conversion}\n",
            "",
            f"{EXP}:8:1: a running experiment needs exactly one primary metric; add metrics.primary",
        ),
        (
            "    - {id: revenue}",
            "    - {id: conversion}",
            f"{EXP}:11:8: metric 'conversion' is already the primary metric; list each metric once",
        ),
        (
            "    - {id: revenue}",
            "    - {id: revenue}\n    - {id: revenue}",
            f"{EXP}:12:8: metric 'revenue' is already metrics.secondary[0]; list each metric once",
        ),
    ],
)
def test_experiment_rules(old: str, new: str, expected: str) -> None:
    assert old in EXPERIMENT
    assert check(EXPERIMENT.replace(old, new, 1), EXP) == [expected]


def test_a_draft_needs_no_metric_and_no_schedule() -> None:
    text = EXPERIMENT.replace("status: running", "status: draft").replace("  primary: {id: conversion}\n", "")
    assert check(text, EXP) == []


def test_rules_leave_wrong_types_to_the_schema() -> None:
    text = (
        EXPERIMENT.replace("weight: 50\n    control", "weight: fifty\n    control")
        .replace("control: true", "control: 'yes'")
        .replace("start_at: 2030-01-15T09:00:00Z", "start_at: 5")
        .replace("  - id: green", "  - id: [green]")
    )
    # No sum with a non-number, no control found among non-booleans: only the rule that still applies.
    assert check(text, EXP) == [
        f"{EXP}:12:1: no variant is the control; set control: true on exactly one variant"
    ]


def test_rules_do_not_crash_on_odd_shapes() -> None:
    for text in (
        "kind: experiment\nvariants: 5\nmetrics: [1]\nschedule: x\n",
        "kind: experiment\nvariants: [1, 2]\n",
    ):
        assert check(text, EXP) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "key: button_color",
            "key: button_colour",
            f"{RC}:3:1: key 'button_colour' must equal id 'button_color'",
        ),
        (
            "default: blue",
            "default: 5",
            f"{RC}:5:1: default: must be text (a string) (the variable's type is string), got 5",
        ),
        (
            "value: red",
            "value: true",
            f"{RC}:9:5: conditional_values[0].value: must be text (a string) "
            "(the variable's type is string), "
            "got true",
        ),
        (
            "segment: staff",
            "segment: beta",
            f"{RC}:10:5: conditional_values[1].segment: segment 'beta' already has a value (line 8); "
            "give each segment one value",
        ),
        (
            "id: button_color\nkey: button_color",
            "id: button_colors\nkey: button_colors",
            f"{RC}:2:1: id 'button_colors' does not match the file name 'button_color.yaml'; "
            "rename the file to button_colors.yaml, or set id: button_color (ids never change)",
        ),
    ],
)
def test_remote_config_rules(old: str, new: str, expected: str) -> None:
    assert old in REMOTE_CONFIG
    assert check(REMOTE_CONFIG.replace(old, new, 1), RC) == [expected]


@pytest.mark.parametrize(
    ("variable_type", "good", "bad", "phrase"),
    [
        ("string", "'x'", "1", "text (a string)"),
        ("number", "1.5", "'1.5'", "a number"),
        ("number", "-3", "true", "a number"),
        ("boolean", "false", "'false'", "true or false"),
        ("json", "{a: [1]}", "'{\"a\": 1}'", "a mapping or a list (a JSON object or array)"),
        ("json", "[1, 2]", "3", "a mapping or a list (a JSON object or array)"),
    ],
)
def test_default_must_be_of_the_variable_type(variable_type: str, good: str, bad: str, phrase: str) -> None:
    base = REMOTE_CONFIG.replace("type: string", f"type: {variable_type}")
    base = base.replace("value: red", f"value: {good}").replace("value: black", f"value: {good}")
    assert check(base.replace("default: blue", f"default: {good}"), RC) == []
    found = check(base.replace("default: blue", f"default: {bad}"), RC)
    assert len(found) == 1 and found[0].startswith(
        f"{RC}:5:1: default: must be {phrase} (the variable's type"
    )


# --- across documents ---------------------------------------------------------------------------


def variables(account: str = "web") -> dict[str, Resource]:
    button = resource(REMOTE_CONFIG, f"{account}/remote_config/button_color.yaml", account)
    limit_text = REMOTE_CONFIG.replace("button_color", "max_items").replace("type: string", "type: number")
    limit_text = limit_text.replace("default: blue", "default: 10").split("conditional_values")[0]
    limit = resource(limit_text, f"{account}/remote_config/max_items.yaml", account)
    return {"button_color": button, "max_items": limit}


def test_references_resolve_in_the_same_account() -> None:
    experiment = resource(EXPERIMENT, EXP)
    assert rules.check_references(experiment, variables()) == []


def test_references_to_unknown_variables_and_other_accounts() -> None:
    experiment = resource(EXPERIMENT.replace("max_items: 3", "max_item: 3"), EXP)
    found = [str(p) for p in rules.check_references(experiment, variables())]
    assert found == [
        f"{EXP}:20:7: variants[1].overrides: 'max_item' is not a remote config variable of account 'web'; "
        "did you mean 'max_items'?"
    ]
    # The same ids in another account are not this account's variables.
    found = [str(p) for p in rules.check_references(resource(EXPERIMENT, EXP), variables("mobile"))]
    assert found == [
        f"{EXP}:19:7: variants[1].overrides: 'button_color' is not a remote config variable of account 'web'",
        f"{EXP}:20:7: variants[1].overrides: 'max_items' is not a remote config variable of account 'web'",
    ]


def test_override_values_must_have_the_variable_type() -> None:
    experiment = resource(EXPERIMENT.replace("max_items: 3", "max_items: three"), EXP)
    assert [str(p) for p in rules.check_references(experiment, variables())] == [
        f"{EXP}:20:7: variants[1].overrides.max_items: must be a number "
        "(remote config 'max_items' is of type number), got 'three'"
    ]


def test_remote_configs_have_no_references() -> None:
    assert rules.check_references(resource(REMOTE_CONFIG, RC), {}) == []


def test_unique_ids_per_account_and_kind() -> None:
    first = resource(EXPERIMENT, EXP)
    again = resource(EXPERIMENT, "web/experiments/old/checkout_test.yaml")
    other_account = resource(EXPERIMENT, "mobile/experiments/checkout_test.yaml", "mobile")
    found = [str(p) for p in rules.check_unique_ids([again, first, other_account])]
    assert found == [
        "web/experiments/old/checkout_test.yaml:2:1: experiment 'checkout_test' of account 'web' is already "
        f"defined in {EXP}; ids must be unique per account and kind"
    ]
    assert rules.check_unique_ids([first, other_account]) == []


def test_helpers_for_the_planner() -> None:
    experiment = resource(EXPERIMENT, EXP)
    assert experiment.key.kind is Kind.EXPERIMENT
    assert rules.overrides_used(experiment) == ("button_color", "max_items")
    assert rules.variant_ids(experiment) == ("control", "green")
    remote = resource(REMOTE_CONFIG, RC)
    assert rules.overrides_used(remote) == () and rules.variant_ids(remote) == ()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2030-01-15T09:00:00Z", True),
        ("2030-01-15t09:00:00z", True),
        ("2030-01-15T09:00:00.123+05:30", True),
        ("2030-01-15T09:00:00-00:00", True),
        ("2030-01-15T09:00:00", False),
        ("2030-01-15 09:00:00Z", False),
        ("2030-13-15T09:00:00Z", False),
        ("2030-01-15T25:00:00Z", False),
        ("2030-01-15T09:00Z", False),
        ("", False),
    ],
)
def test_time_format(value: str, ok: bool) -> None:
    assert (rules.time_error(value) is None) is ok
    assert (rules.parse_time(value) is not None) is ok
