"""Safe YAML loading: positions, guards against hostile files, and load_resource's verdicts."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import loading
from bot.core.loading import MAX_ALIASES, MAX_DEPTH, load_resource, parse_yaml
from bot.core.model import Kind, Position, Problem, ResourceKey

FILE = "web/experiments/checkout_test.yaml"

EXPERIMENT = dedent(
    """\
    kind: experiment
    id: checkout_test
    name: Checkout test
    status: running
    metrics:
      primary: {id: conversion}
    variants:
      - id: control
        weight: 50
        control: true
      - id: green
        weight: 50
    """
)


def problems(raw: bytes | str, **kwargs: int) -> list[str]:
    data = raw.encode() if isinstance(raw, str) else raw
    document, found = parse_yaml(FILE, data, **kwargs)
    assert (document is None) == bool(found)
    return [str(p) for p in found]


# --- what a good file gives ----------------------------------------------------------------------


def test_positions_of_every_key_and_item_are_one_based() -> None:
    document, found = parse_yaml(FILE, EXPERIMENT.encode())
    assert found == [] and document is not None
    assert document.positions[("kind",)] == Position(1, 1)
    assert document.positions[("metrics", "primary")] == Position(6, 3)
    assert document.positions[("metrics", "primary", "id")] == Position(6, 13)
    assert document.positions[("variants", 1)] == Position(11, 5)
    assert document.positions[("variants", 1, "weight")] == Position(12, 5)
    assert document.position(("variants", 1, "weight", "nowhere")) == Position(12, 5)


def test_scalars_are_plain_json_values_and_times_stay_text() -> None:
    raw = "a: 0x1F\nb: 1_000\nc: 2.5\nd: true\ne: ~\nf: 2030-01-15T09:00:00Z\ng: '007'\non: yes\n1: x\n"
    document, found = parse_yaml(FILE, raw.encode())
    assert found == [] and document is not None
    assert document.data == {
        "a": 31,
        "b": 1000,
        "c": 2.5,
        "d": True,
        "e": None,
        "f": "2030-01-15T09:00:00Z",
        "g": "007",
        "on": True,  # YAML's value is a boolean, but keys keep the characters written
        "1": "x",
    }


def test_a_byte_order_mark_is_accepted() -> None:
    document, found = parse_yaml(FILE, b"\xef\xbb\xbfkind: experiment\n")
    assert found == [] and document is not None and document.data == {"kind": "experiment"}


def test_aliases_within_budget_are_expanded() -> None:
    document, found = parse_yaml(FILE, b"base: &b {x: 1}\ncopy: *b\n")
    assert found == [] and document is not None
    assert document.data == {"base": {"x": 1}, "copy": {"x": 1}}


# --- refused files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", f"{FILE}:1:1: file is empty; expected a mapping of fields like 'kind: experiment'"),
        (
            "# only a comment\n",
            f"{FILE}:1:1: file is empty; expected a mapping of fields like 'kind: experiment'",
        ),
        (
            "- a\n- b\n",
            f"{FILE}:1:1: top level must be a mapping of fields like 'kind: experiment', got a list",
        ),
        (
            "just text\n",
            f"{FILE}:1:1: top level must be a mapping of fields like 'kind: experiment', "
            "got the value 'just text'",
        ),
        (
            "kind: experiment\nid: a\nstatus: draft\nid: b\n",
            f"{FILE}:4:1: duplicate key 'id' (first at line 2); keep only one of them",
        ),
        (
            "kind: experiment\ncmd: !!python/object/apply:os.system [echo hi]\n",
            f"{FILE}:2:6: tag '!!python/object/apply:os.system' is not allowed; only plain data "
            "(text, numbers, true/false, null, lists and mappings) may be used",
        ),
        (
            "kind: !custom experiment\n",
            f"{FILE}:1:7: tag '!custom' is not allowed; only plain data "
            "(text, numbers, true/false, null, lists and mappings) may be used",
        ),
        (
            "data: !!binary aGVsbG8=\n",
            f"{FILE}:1:7: tag '!!binary' is not allowed; only plain data "
            "(text, numbers, true/false, null, lists and mappings) may be used",
        ),
        ("a: 1\n<<: {b: 2}\n", f"{FILE}:2:1: merge keys ('<<') are not supported; write the fields out"),
        ("? [a, b]\n: 1\n", f"{FILE}:1:3: a key must be plain text, not a mapping or list"),
        (
            "kind: experiment\nname: [unclosed\n",
            f"{FILE}:3:1: invalid YAML: did not find expected ',' or ']'",
        ),
        ("a: *nowhere\n", f"{FILE}:1:4: invalid YAML: found undefined alias"),
        (
            "a: &x [*x]\n",
            f"{FILE}:1:4: an alias refers to a mapping or list that contains it; YAML cycles are not allowed",
        ),
        (
            "a: 1\n---\nb: 2\n",
            f"{FILE}:2:1: invalid YAML: expected a single document in the stream, but found another document",
        ),
        ("a: \x07\n", f"{FILE}:1:4: invalid YAML: control characters are not allowed"),
        ("a: !!bool maybe\n", f"{FILE}:1:4: 'maybe' is not a valid !!bool value"),
        ("a: !!int twelve\n", f"{FILE}:1:4: 'twelve' is not a valid !!int value"),
        ("a: !!float x\n", f"{FILE}:1:4: 'x' is not a valid !!float value"),
    ],
)
def test_refused_files_say_why_and_where(raw: str, expected: str) -> None:
    assert problems(raw)[0].startswith(expected)


def test_all_duplicate_keys_and_tags_are_reported_together() -> None:
    raw = "a: 1\na: 2\nb: !!set {x}\nc:\n  d: 1\n  d: 2\n"
    assert problems(raw) == [
        f"{FILE}:2:1: duplicate key 'a' (first at line 1); keep only one of them",
        f"{FILE}:3:4: tag '!!set' is not allowed; only plain data "
        "(text, numbers, true/false, null, lists and mappings) may be used",
        f"{FILE}:6:3: duplicate key 'd' (first at line 5); keep only one of them",
    ]


def test_non_utf8_is_refused_at_the_bad_byte() -> None:
    assert problems(b"kind: experiment\nname: caf" + b"\xe9\n") == [
        f"{FILE}:2:10: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    ]


def test_size_limit() -> None:
    raw = b"a: " + b"x" * 300
    assert problems(raw, max_bytes=100) == [
        f"{FILE}:1:1: file is 303 bytes, over the limit of 100; split it up"
    ]
    assert problems(raw, max_bytes=303) == []


def test_default_size_limit_is_256_kib() -> None:
    raw = b"a: '" + b"x" * (256 * 1024) + b"'\n"
    assert problems(raw)[0].endswith("over the limit of 262,144; split it up")


BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)


def test_billion_laughs_is_refused_quickly_with_little_memory() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        found = problems(BILLION_LAUGHS)
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert found == [f"{FILE}:2:4: more than {MAX_ALIASES} alias uses (*name); write the values out instead"]
    # A hang guard, not a speed target (bench/bench_check.py measures speed): expansion never starts.
    assert elapsed < 5
    assert peak < 5 * 1024 * 1024


def test_many_aliases_to_scalars_still_count_as_values() -> None:
    # Scalar aliases cannot multiply, but every expanded value counts towards the node budget.
    raw = "a: &a x\nb: [" + ", ".join(["*a"] * 120_000) + "]\n"
    found = problems(raw.encode(), max_bytes=2_000_000)
    # Located at the aliased value: that is what the file repeats.
    assert found == [
        f"{FILE}:1:4: the file expands to more than 100,000 values (through aliases?); simplify it"
    ]


TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep; flatten the file"


def _block_mappings(depth: int) -> str:
    """`depth` mappings nested by indentation alone: no '-', '[', '{' or '?' anywhere."""
    return "".join(" " * level + f"k{level}:\n" for level in range(depth)) + " " * depth + "v: 1\n"


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        # One long line of '[': libyaml 0.2.6 refuses it itself at 1,000 levels, reading ahead of its
        # events; older libyaml crashed the process composing it. Either way the answer is ours,
        # at the 65th level (the top-level mapping is the first).
        ("a: " + "[" * 100_000 + "]" * 100_000, "1:67"),
        ("a: " + "[" * 1_500 + "]" * 1_500, "1:67"),
        ("a:\n" + "- " * 100_000 + "x\n", "2:127"),
        ("a: " + "{b: " * 30_000 + "x" + "}" * 30_000, "1:256"),
        # Mixed: block mappings, then block lists, then flow collections.
        (_block_mappings(30).replace("v: 1", "v:\n" + " " * 30 + "- " * 20 + "[" * 100 + "]" * 100), "32:84"),
        # Only indentation: the file costs ~d² bytes, so this fits the size limit, and deeper is too big.
        (_block_mappings(400), "65:65"),
    ],
)
def test_deep_nesting_is_refused_at_the_level_too_deep_in_our_words(raw: str, where: str) -> None:
    tracemalloc.start()
    try:
        found = problems(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == [f"{FILE}:{where}: mappings and lists are {TOO_DEEP}"]
    assert peak < 5 * 1024 * 1024


@pytest.mark.parametrize(
    "nest",
    [
        lambda depth: "a: " + "[" * depth + "]" * depth,
        lambda depth: "a:\n" + "- " * depth + "x\n",
        lambda depth: "a: " + "{b: " * depth + "x" + "}" * depth,
        lambda depth: _block_mappings(depth),
    ],
    ids=["flow lists", "block lists", "flow mappings", "block mappings"],
)
def test_nesting_up_to_the_limit_is_fine_and_one_more_is_refused(nest: Callable[[int], str]) -> None:
    # The top-level mapping is the first level.
    assert problems(nest(MAX_DEPTH - 1)) == []
    [refused] = problems(nest(MAX_DEPTH))
    assert refused.endswith(TOO_DEEP)


class _LibyamlWithALimit(yaml.SafeLoader):
    """A parser that, like libyaml 0.2.6, gives up on deep nesting before handing out the events."""

    limit = 70

    def get_event(self) -> Any:
        if "[" * self.limit in self.buffer:
            raise yaml.MarkedYAMLError(problem="exceeded maximum nesting depth", problem_mark=self.get_mark())
        return super().get_event()


def test_our_limit_is_said_even_where_the_parser_refuses_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # Holds on every PyYAML of our range, whichever libyaml it bundles: the guard does not depend on
    # the parser handing out the deep events, nor on its wording.
    monkeypatch.setattr(loading, "_EventParser", _LibyamlWithALimit)
    monkeypatch.setattr(loading, "_Loader", _LibyamlWithALimit)
    raw = "a: " + "[" * 200 + "]" * 200
    assert problems(raw) == [f"{FILE}:1:67: mappings and lists are {TOO_DEEP}"]


def test_a_syntax_error_in_a_file_that_needs_the_exact_count_is_still_located() -> None:
    raw = "a:\n" + "".join(f"  - {i}-{i}\n" for i in range(40)) + "b: [1, 2\n"
    assert loading._nesting_bound(raw) > MAX_DEPTH
    [error] = problems(raw)
    assert error.startswith(f"{FILE}:43:1: invalid YAML: ")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.integers(0, 9) | st.text("ab -?[{", max_size=4),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text("ab", min_size=1, max_size=2), inner, max_size=3)
        ),
        max_leaves=40,
    ),
    st.sampled_from([None, True, False]),
)
def test_the_cheap_nesting_bound_is_never_below_the_real_depth(value: object, flow: bool | None) -> None:
    text = yaml.safe_dump({"top": value}, default_flow_style=flow, width=30)
    loader = yaml.SafeLoader(text)
    depth = deepest = 0
    while (event := loader.get_event()) is not None:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    assert loading._nesting_bound(text) >= deepest


def test_python_tags_never_run_code(tmp_path) -> None:
    marker = tmp_path / "ran"
    raw = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    assert problems(raw)
    assert not marker.exists()


# --- the quick reading and the careful one -------------------------------------------------------


def _typed(value: object) -> object:
    """`value` with every scalar paired with its type: 1, 1.0 and True are equal in Python."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


def _assert_readings_agree(text: str) -> bool:
    """The quick reading, when it gives data, gives the careful reading's data; True if it did."""
    quick = loading._plain_mapping(text)
    careful, found = loading._parse_located(FILE, text)
    if quick is None:
        return False
    assert found == [] and careful is not None, found
    assert _typed(quick) == _typed(careful.data)
    return True


_PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(
        ["yes", "off", "~", "0x1F", "0o17", "017", "1_000", "1:30", "2030-01-15", ".inf", "<<"]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _PLAIN, min_size=1, max_size=4), st.booleans(), st.booleans())
def test_plain_documents_are_read_the_quick_way_with_the_careful_result(
    value: dict[str, object], flow: bool, canonical: bool
) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, canonical=canonical, allow_unicode=True)
    assert _assert_readings_agree(text), text  # no anchors, tags or duplicates: the quick way takes it


SAMPLE_FILES = sorted((Path(__file__).parents[2] / "experiments.example").rglob("*.y*ml"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_file_of_the_sample_repository_is_read_the_quick_way(path: Path) -> None:
    assert _assert_readings_agree(path.read_text(encoding="utf-8"))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=200),
        st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!?|>'\"#%@`,\n \t0.~<")), max_size=80),
    )
)
def test_the_quick_reading_never_accepts_what_the_careful_one_refuses(text: str) -> None:
    _assert_readings_agree(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: 1\na: 2\n",  # duplicate keys
        "? [a]\n: 1\n",  # a list as a key
        "<<: {a: 1}\n",  # a merge key
        "a: !!binary aGVsbG8=\n",  # a tag beyond plain data
        "a: !!int x\n",  # a value its tag refuses
        "- a\n",  # a top level that is not a mapping
        "a: 1\n---\nb: 2\n",  # two documents
        "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH,  # too deep
        "a: [\n",  # a syntax error
    ],
)
def test_unusual_files_are_left_to_the_careful_path(text: str) -> None:
    assert loading._plain_mapping(text) is None  # parse_yaml then reads it carefully: tests above


def test_positions_of_a_quickly_read_file_are_found_once_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    careful = loading._parse_located
    calls: list[str] = []
    monkeypatch.setattr(
        loading, "_parse_located", lambda path, text: (calls.append(path), careful(path, text))[1]
    )
    document, found = parse_yaml(FILE, EXPERIMENT.encode())
    assert found == [] and document is not None and calls == []  # read without positions
    assert document.position(("variants", 1, "weight")) == Position(12, 5)
    assert document.position(("metrics", "primary", "id")) == Position(6, 13)
    assert calls == [FILE]  # found by one careful reading, kept for later questions


def test_a_valid_experiment_is_judged_without_looking_up_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rules ask where things are only to report a problem: a clean file is never read twice.
    monkeypatch.setattr(loading, "_parse_located", lambda path, text: pytest.fail("positions looked up"))
    two_segments = EXPERIMENT.replace("status: running", "status: running\ntargeting: {segments: [a, b]}")
    assert load_resource(FILE, two_segments.encode(), "web").problems == ()


# --- property: nothing escapes but problems -------------------------------------------------------

_YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!?|>'\"#%@`,\n \t0.~<")), max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode), _YAMLISH.map(str.encode)))
def test_random_input_never_raises(raw: bytes) -> None:
    document, found = parse_yaml(FILE, raw)
    assert (document is None) != (not found)
    assert all(isinstance(p, Problem) and p.line >= 1 and p.column >= 1 for p in found)
    result = load_resource(FILE, raw, "web")
    assert result.resource is not None or result.problems


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=12,
    )
)
def test_random_documents_load_as_resources_or_problems(value: object) -> None:
    raw = yaml.safe_dump({"kind": "experiment", "id": "checkout_test", "extra": value}).encode()
    result = load_resource(FILE, raw, "web")
    assert result.resource is None and result.problems  # 'extra' is never allowed


# --- load_resource -------------------------------------------------------------------------------


def test_a_valid_experiment_loads_as_a_resource() -> None:
    result = load_resource(FILE, EXPERIMENT.encode(), "web")
    assert result.ok and result.problems == ()
    assert result.resource is not None
    assert result.resource.key == ResourceKey("web", Kind.EXPERIMENT, "checkout_test")
    assert result.resource.path == FILE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("id: a\n", f"{FILE}:1:1: missing required field 'kind' ('experiment' or 'remote_config')"),
        ("id: a\nkind: test\n", f"{FILE}:2:1: kind: must be 'experiment' or 'remote_config', got 'test'"),
        (
            "kind: [experiment]\n",
            f"{FILE}:1:1: kind: must be 'experiment' or 'remote_config', got ['experiment']",
        ),
    ],
)
def test_kind_chooses_the_schema(raw: str, expected: str) -> None:
    result = load_resource(FILE, raw.encode(), "web")
    assert result.resource is None
    assert [str(p) for p in result.problems] == [expected]


def test_schema_and_rule_problems_of_a_file_come_together() -> None:
    raw = EXPERIMENT.replace("name: Checkout test", "name: Checkout test\ncolour: red").replace(
        "weight: 50\n    control", "weight: 60\n    control"
    )
    result = load_resource("web/experiments/other.yaml", raw.encode(), "web")
    assert result.resource is None  # the schema failed: no typed resource
    messages = [str(p) for p in result.problems]
    assert messages == [
        "web/experiments/other.yaml:2:1: id 'checkout_test' does not match the file name 'other.yaml'; "
        "rename the file to checkout_test.yaml, or set id: other (ids never change)",
        "web/experiments/other.yaml:4:1: unknown field 'colour' (allowed: description, hypothesis, id, kind, "
        "metrics, name, owner, schedule, status, tags, targeting, traffic_allocation, variants, winner)",
        "web/experiments/other.yaml:8:1: variant weights must sum to 100, got 110 (control: 60, green: 50)",
    ]


def test_semantic_problems_keep_the_resource() -> None:
    raw = EXPERIMENT.replace("weight: 50\n    control", "weight: 60\n    control")
    result = load_resource(FILE, raw.encode(), "web")
    assert result.resource is not None and not result.ok
    assert [p.message for p in result.problems] == [
        "variant weights must sum to 100, got 110 (control: 60, green: 50)"
    ]


def test_a_time_without_zone_is_reported_once() -> None:
    raw = EXPERIMENT.replace("status: running", "status: running\nschedule:\n  start_at: 2030-01-15T09:00:00")
    result = load_resource(FILE, raw.encode(), "web")
    assert [str(p) for p in result.problems] == [
        f"{FILE}:6:3: schedule.start_at: '2030-01-15T09:00:00' has no time zone; "
        "add Z (UTC) or an offset like +02:00"
    ]


def test_pure_python_fallback_gives_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [EXPERIMENT, BILLION_LAUGHS, "a: 1\na: 2\n", "a: " + "[" * 10_000 + "]" * 10_000, "- x\n"]
    expected = [problems(raw) for raw in cases]
    monkeypatch.setattr(loading, "_Loader", yaml.SafeLoader)
    monkeypatch.setattr(loading, "_EventParser", yaml.SafeLoader)
    assert [problems(raw) for raw in cases] == expected
    # libyaml and PyYAML word syntax errors differently; both are located problems.
    assert problems("a: [")[0].startswith(f"{FILE}:1:5: invalid YAML: expected the node content")
    document, _ = parse_yaml(FILE, EXPERIMENT.encode())
    assert document is not None and document.positions[("variants", 1, "weight")] == Position(12, 5)
