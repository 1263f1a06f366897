"""The fast, compiled schema check (fastjsonschema) and jsonschema say the same about every document.

`schemas.validate` trusts the compiled validator's "valid" and asks jsonschema only about documents
it refuses. So a document the fast check passes but jsonschema refuses would lose its errors: these
tests hold the two to one verdict on every YAML document written in the tests, every test's textual
edit of those documents, the sample repository and the benchmark's files, and fuzz the rest.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import schemas
from bot.core.loading import parse_yaml
from bot.core.model import Document

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SAMPLE = ROOT / "bot" / "data" / "experiments.example"


def _literals(file: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The string literals of a test file, and its (old, new) pairs: the edits tests make to documents."""
    strings: list[str] = []
    edits: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append(node.value)
        elif isinstance(node, ast.Tuple) and len(node.elts) >= 2:
            values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts[:2]]
            if isinstance(values[0], str) and isinstance(values[1], str) and values[0]:
                edits.append((values[0], values[1]))
    return strings, edits


def _documents_of(texts: list[str]) -> Iterator[tuple[str, Document]]:
    for text in texts:
        document, _ = parse_yaml("doc.yaml", dedent(text).encode())
        if document is not None:
            yield text, document


def _sample_and_bench_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE.rglob("*.y*ml")) if p.is_file()]
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_check
    finally:
        sys.path.remove(str(ROOT / "bench"))
    texts += [bench_check.experiment("web", n, s) for n, s in enumerate(("draft", "running"))]
    texts += [bench_check.variable(3), bench_check.CONFIG]
    return texts


_MAX_TEXT = 20_000  # the loader's size and nesting tests hold huge texts that are no documents


def corpus() -> list[Document]:
    """Every YAML mapping written in the tests, each test edit applied to each, the sample repo."""
    texts: list[str] = []
    edits: list[tuple[str, str]] = []
    for file in sorted(TESTS.rglob("*.py")):
        if not any(word in file.read_text(encoding="utf-8") for word in ("kind:", "accounts:")):
            continue  # no resource or config document in it
        strings, pairs = _literals(file)
        texts += [t for t in strings if ":" in t and "\n" in t and len(t) < _MAX_TEXT]
        edits += pairs
    bases = [text for text, _ in _documents_of(texts)] + _sample_and_bench_texts()
    edited = [dedent(base).replace(old, new) for base in bases for old, new in edits if old in dedent(base)]
    unique = {repr(document.data): document for _, document in _documents_of(bases + edited)}
    return list(unique.values())


CORPUS = corpus()


def test_the_corpus_is_big_and_has_both_verdicts() -> None:
    # A corpus of only valid (or only invalid) documents would prove nothing.
    verdicts = [schemas.is_valid(n, d.data) for d in CORPUS for n in schemas.SCHEMA_NAMES]
    assert len(CORPUS) > 200
    assert verdicts.count(True) > 20 and verdicts.count(False) > 200


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_both_validators_agree_on_every_test_document(name: str) -> None:
    slow = schemas._validator(name)
    disagree = [d.data for d in CORPUS if schemas.is_valid(name, d.data) != slow.is_valid(d.data)]
    assert disagree == []


def test_the_fast_check_never_fills_in_defaults() -> None:
    document = CORPUS[0]
    before = repr(document.data)
    for name in schemas.SCHEMA_NAMES:
        schemas.is_valid(name, document.data)
    assert repr(document.data) == before


# --- fuzzing: random edits of valid documents ---------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 50.0, 100.0, 100.5, -0.0]),
    st.sampled_from(
        [
            "",
            "x",
            "abc",
            "abc\n",
            "Abc",
            "a" * 64,
            "a" * 65,
            "running",
            "draft",
            "live",
            "string",
            "json",
            "experiment",
            "remote_config",
            "2030-01-15T09:00:00Z",
            "2030-01-15T09:00:00",
            "2030-13-45T09:00:00Z",
            "increase",
            "in",
            "alice",
            "@org/team",
            "a@b.c",
            "approve:x",
        ]
    ),
    st.text(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "x", "weight"]), inner)
    ),
    max_leaves=6,
)
_VALID = [(n, d) for d in CORPUS for n in schemas.SCHEMA_NAMES if schemas.is_valid(n, d.data)]


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, (*path, index))


def _replaced(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        if delete and not rest:
            out.pop(head, None)
        else:
            out[head] = _replaced(value[head], rest, new, delete)
        return out
    out_list = list(value)
    if delete and not rest:
        del out_list[head]
    else:
        out_list[head] = _replaced(value[head], rest, new, delete)
    return out_list


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), new=_VALUES, delete=st.booleans())
def test_both_validators_agree_on_edited_documents(data: st.DataObject, new: Any, delete: bool) -> None:
    name, document = data.draw(st.sampled_from(_VALID))
    path = data.draw(st.sampled_from(list(_places(document.data))[1:]))
    edited = _replaced(document.data, path, new, delete)
    fast, slow = schemas.is_valid(name, edited), schemas._validator(name).is_valid(edited)
    if _pattern_sees_a_final_newline(edited):
        # Python's `$` matches before a final newline; fastjsonschema anchors patterns at the very end,
        # so it refuses "abc\n" where jsonschema passes it. jsonschema then decides: validate() is unchanged.
        assert slow or not fast
    else:
        assert fast == slow, (path, new, delete)


def _pattern_sees_a_final_newline(value: Any) -> bool:
    if isinstance(value, str):
        return value.endswith("\n")
    if isinstance(value, dict):
        return any(
            _pattern_sees_a_final_newline(k) or _pattern_sees_a_final_newline(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_pattern_sees_a_final_newline(v) for v in value)
    return False


def test_a_final_newline_is_the_one_known_difference_and_changes_nothing() -> None:
    document, _ = parse_yaml(
        "web/remote_config/abc.yaml",
        b'kind: remote_config\nid: "abc\\n"\nkey: abc\ntype: string\ndefault: x\nstatus: live\n',
    )
    assert document is not None
    assert not schemas.is_valid("remote-config", document.data)
    assert schemas._validator("remote-config").is_valid(document.data)
    assert schemas.validate("remote-config", document, "f.yaml") == []


def test_nan_and_infinity_get_one_verdict() -> None:
    for value in (float("nan"), float("inf")):
        data = {"kind": "remote_config", "id": "v", "key": "v", "type": "number", "default": value}
        data["status"] = "live"
        assert schemas.is_valid("remote-config", data) == schemas._validator("remote-config").is_valid(data)


# --- the fast check sees the schemas with their local $refs inlined -------------------------------


def test_inlining_keeps_words_beside_a_ref_and_leaves_self_references() -> None:
    defs = {
        "id": {"type": "string", "maxLength": 3},
        "tree": {"type": "object", "properties": {"child": {"$ref": "#/$defs/tree"}}},
    }
    node = {
        "properties": {
            "a": {"$ref": "#/$defs/id", "description": "words only"},
            "b": {"$ref": "#/$defs/id", "minLength": 2},
            "c": {"$ref": "#/$defs/tree"},
            "d": {"$ref": "other.json#/x"},
        }
    }
    inlined = schemas._inline_refs(node, defs, ())["properties"]
    assert inlined["a"] == defs["id"]
    assert inlined["b"] == {"allOf": [defs["id"], {"minLength": 2}]}  # 2020-12: both apply
    assert inlined["c"]["properties"]["child"] == {"$ref": "#/$defs/tree"}  # recursion stays a $ref
    assert inlined["d"] == {"$ref": "other.json#/x"}


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_the_shipped_schemas_inline_completely(name: str) -> None:
    loaded = schemas.schema(name)
    inlined = schemas._inline_refs(loaded, loaded.get("$defs", {}), ())
    assert '"$ref"' not in str(inlined).replace("'", '"')
