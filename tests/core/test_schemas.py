"""The shipped JSON schemas: well-formed, documented, strict, and explained in words at the right line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from textwrap import dedent
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.core import schemas
from bot.core.loading import parse_yaml

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
    traffic_allocation: 50
    targeting:
      segments: [returning_buyers]
      rules:
        - {attribute: country, operator: in, value: [US, CA]}
    metrics:
      primary: {id: conversion, goal: increase}
    variants:
      - id: control
        weight: 50
        control: true
      - id: green
        weight: 50
        overrides:
          button_color: green
    tags: [checkout]
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
      - {segment: beta, value: red}
    """
)


def check(name: str, text: str, file: str) -> list[str]:
    document, found = parse_yaml(file, text.encode())
    assert document is not None, found
    return [str(p) for p in schemas.validate(name, document, file)]


def test_valid_documents_pass() -> None:
    assert check("experiment", EXPERIMENT, EXP) == []
    assert check("remote-config", REMOTE_CONFIG, RC) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "name: Checkout test",
            "name: Checkout test\ncolour: red",
            f"{EXP}:4:1: unknown field 'colour' (allowed: description, hypothesis, id, kind, metrics, name, "
            "owner, "
            "schedule, status, tags, targeting, traffic_allocation, variants, winner)",
        ),
        (
            "  start_at: 2030",
            "  start: 2030",
            f"{EXP}:6:3: schedule: unknown field 'start' (allowed: end_at, start_at); "
            "did you mean 'start_at'?",
        ),
        (
            "status: running",
            "status: runing",
            f"{EXP}:4:1: status: must be one of 'draft', 'scheduled', "
            "'running', 'paused', 'finished', got 'runing'; did you mean 'running'?",
        ),
        ("status: running\n", "", f"{EXP}:1:1: missing required field 'status'"),
        (
            "  - id: green\n    weight: 50",
            "  - id: green\n    weight: fifty",
            f"{EXP}:19:5: variants[1].weight: must be a number between 0 and 100, got 'fifty'",
        ),
        (
            "  - id: green\n    weight: 50",
            "  - id: green\n    weight: 150",
            f"{EXP}:19:5: variants[1].weight: must be a number between 0 and 100, got 150",
        ),
        (
            "  - id: green\n    weight: 50",
            "  - id: green\n    colour: red\n    weight: 50",
            f"{EXP}:19:5: variants[1]: unknown field 'colour' (allowed: control, description, id, name, "
            "overrides, weight)",
        ),
        (
            "    weight: 50\n    control: true",
            "    control: true",
            f"{EXP}:15:5: variants[0]: missing required field 'weight'",
        ),
        (
            "control: true",
            "control: yes please",
            f"{EXP}:17:5: variants[0].control: must be true or false, got 'yes please'",
        ),
        (
            "id: checkout_test",
            "id: Checkout Test",
            f"{EXP}:2:1: id: must be lowercase letters, digits, '_' "
            "or '-', starting with a letter, at most 64 characters, got 'Checkout Test'",
        ),
        (
            "traffic_allocation: 50",
            "traffic_allocation: -1",
            f"{EXP}:7:1: traffic_allocation: must be a number between 0 and 100, got -1",
        ),
        (
            "operator: in",
            "operator: within",
            f"{EXP}:11:28: targeting.rules[0].operator: must be one of 'equals', "
            "'not_equals', 'in', 'not_in', 'contains', 'greater_than', 'less_than', 'version_at_least', "
            "'version_below', got 'within'",
        ),
        (
            "value: [US, CA]",
            "value: {US: 1}",
            f"{EXP}:11:42: targeting.rules[0].value: must be text (a string), "
            "a number, true or false or a list, got a mapping",
        ),
        (
            "segments: [returning_buyers]",
            "segments: [a, a]",
            f"{EXP}:9:3: targeting.segments: 'a' is listed twice; list each item once",
        ),
        ("name: Checkout test", "name: ''", f"{EXP}:3:1: name: must not be empty"),
        ("  - id: green\n    weight: 50\n", "", f"{EXP}:14:1: variants: needs at least 2 items, got 1"),
        (
            "      button_color: green",
            "      Button: green",
            f"{EXP}:21:7: variants[1].overrides: key 'Button' is "
            "not valid; keys must be lowercase letters, digits, '_' or '-', starting with a letter, "
            "at most 64 "
            "characters",
        ),
        (
            "start_at: 2030-01-15T09:00:00Z",
            "start_at: next tuesday",
            f"{EXP}:6:3: schedule.start_at: 'next "
            "tuesday' is not an RFC 3339 time; write it like 2030-01-15T09:00:00Z",
        ),
        (
            "start_at: 2030-01-15T09:00:00Z",
            "start_at: 2030-01-15T09:00:00",
            f"{EXP}:6:3: schedule.start_at: "
            "'2030-01-15T09:00:00' has no time zone; add Z (UTC) or an offset like +02:00",
        ),
        (
            "start_at: 2030-01-15T09:00:00Z",
            "start_at: 2030-02-30T09:00:00Z",
            f"{EXP}:6:3: schedule.start_at: "
            "'2030-02-30T09:00:00Z' is not an RFC 3339 time; write it like 2030-01-15T09:00:00Z",
        ),
        (
            "start_at: 2030-01-15T09:00:00Z",
            "start_at: 1893488400",
            f"{EXP}:6:3: schedule.start_at: must be text (a string), got 1893488400",
        ),
        (
            "primary: {id: conversion, goal: increase}",
            "secondary: []",
            f"{EXP}:12:1: metrics: missing required field 'primary'",
        ),
        (
            "kind: experiment",
            "kind: remote_config",
            f"{EXP}:1:1: kind: must be 'experiment', got 'remote_config'",
        ),
    ],
)
def test_experiment_schema_errors_read_well(old: str, new: str, expected: str) -> None:
    assert old in EXPERIMENT
    assert check("experiment", EXPERIMENT.replace(old, new, 1), EXP) == [expected]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "type: string",
            "type: text",
            f"{RC}:4:1: type: must be one of 'string', 'number', 'boolean', 'json', got 'text'",
        ),
        ("default: blue\n", "", f"{RC}:1:1: missing required field 'default'"),
        (
            "status: live",
            "status: running",
            f"{RC}:6:1: status: must be one of 'draft', 'live', got 'running'",
        ),
        (
            "{segment: beta, value: red}",
            "{segment: beta}",
            f"{RC}:8:5: conditional_values[0]: missing required field 'value'",
        ),
        (
            "{segment: beta, value: red}",
            "{segment: beta, value: red, when: now}",
            f"{RC}:8:33: conditional_values[0]: unknown field 'when' (allowed: description, segment, value)",
        ),
    ],
)
def test_remote_config_schema_errors_read_well(old: str, new: str, expected: str) -> None:
    assert old in REMOTE_CONFIG
    assert check("remote-config", REMOTE_CONFIG.replace(old, new, 1), RC) == [expected]


def test_several_errors_are_all_reported_in_line_order() -> None:
    text = EXPERIMENT.replace("status: running", "status: 5").replace(
        "traffic_allocation: 50", "traffic_alocation: 50"
    )
    assert check("experiment", text, EXP) == [
        f"{EXP}:4:1: status: must be one of 'draft', 'scheduled', 'running', 'paused', 'finished', got 5",
        f"{EXP}:7:1: unknown field 'traffic_alocation' (allowed: description, hypothesis, id, kind, metrics, "
        "name, owner, "
        "schedule, status, tags, targeting, traffic_allocation, variants, winner); did you mean "
        "'traffic_allocation'?",
    ]


def test_unknown_schema_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown schema 'experiments'"):
        schemas.schema("experiments")


# --- the schema files themselves -----------------------------------------------------------------

OURS = ("experiment", "remote-config")


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((files("bot") / "schemas" / f"{name}.schema.json").read_text())
    return loaded


def _objects(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}/{index}")


@pytest.mark.parametrize("name", OURS)
def test_schema_is_valid_2020_12_with_our_id(name: str) -> None:
    loaded = _load(name)
    Draft202012Validator.check_schema(loaded)
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert loaded["$id"] == f"https://approvalbot.dev/schemas/{name}.schema.json"


@pytest.mark.parametrize("name", OURS)
def test_every_field_has_a_description_for_editors(name: str) -> None:
    missing = [
        f"{where}/{field}"
        for where, node in _objects(_load(name))
        for field, spec in node.get("properties", {}).items()
        if isinstance(node.get("properties"), dict) and "description" not in spec
    ]
    assert missing == []


@pytest.mark.parametrize("name", OURS)
def test_every_object_refuses_unknown_fields(name: str) -> None:
    loose = [
        where
        for where, node in _objects(_load(name))
        if node.get("type") == "object"
        and "properties" in node
        and node.get("additionalProperties") is not False
    ]
    assert loose == []


def test_fixed_field_names() -> None:
    experiment, remote = _load("experiment"), _load("remote-config")
    assert experiment["properties"]["status"]["enum"] == [
        "draft",
        "scheduled",
        "running",
        "paused",
        "finished",
    ]
    assert set(experiment["properties"]["schedule"]["properties"]) == {"start_at", "end_at"}
    variant = experiment["$defs"]["variant"]["properties"]
    assert {"id", "weight", "control", "overrides"} <= set(variant)
    assert {"winner", "traffic_allocation", "targeting", "metrics", "owner", "hypothesis"} <= set(
        experiment["properties"]
    )
    assert remote["properties"]["type"]["enum"] == ["string", "number", "boolean", "json"]
    assert remote["properties"]["status"]["enum"] == ["draft", "live"]
    assert {"key", "default", "conditional_values", "description"} <= set(remote["properties"])
    for spec in (experiment["properties"]["schedule"]["properties"]).values():
        assert spec["format"] == "date-time"
