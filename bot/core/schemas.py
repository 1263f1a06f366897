"""The JSON schemas shipped in the package, and their errors as located, readable `Problem`s.

jsonschema's own messages ("'fifty' is not of type 'number'") are for programmers; we rebuild each
from the failing keyword and the schema node, and place it at the offending key using the document's
position map.

Most documents are valid, and jsonschema's validator is slow at saying so (0.7 ms a resource, more
than `check` spends on everything else of a resource). A validator compiled to Python code by
fastjsonschema, from the schema with its local `$ref`s inlined, answers "valid?" some forty times
faster; jsonschema runs only on the documents it refuses, to find and explain every error. Our
schemas use only keywords that draft 7 already had, and tests hold the two validators to the same
verdict on every test document and the sample repository.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.resources import files
from typing import Any

import fastjsonschema

# jsonschema ships no type hints and types-jsonschema is not a dependency.
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

from bot.core.model import DocPath, Document, Problem
from bot.core.rules import describe, dotted, time_error

SCHEMA_NAMES = ("experiment", "remote-config", "approvalbot-config")

_TYPE_NAMES = {
    "string": "text (a string)",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
_DRAFT_7 = "http://json-schema.org/draft-07/schema#"
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def schema(name: str) -> Mapping[str, Any]:
    """The parsed schema document `name` (one of SCHEMA_NAMES)."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; expected one of {', '.join(SCHEMA_NAMES)}")
    return _load(name)


def validate(schema_name: str, document: Document, file: str) -> list[Problem]:
    """Every schema violation of `document`, one readable problem each, sorted."""
    if is_valid(schema_name, document.data):
        return []
    return explain(schema_name, document, file)


def explain(schema_name: str, document: Document, file: str) -> list[Problem]:
    """`validate` by jsonschema alone (slow): finds and words every error, whatever the fast check said."""
    validator = _validator(schema_name)
    found: set[Problem] = set()
    for error in validator.iter_errors(document.data):
        for path, message in _explain(error):
            position = document.position(path)
            found.add(Problem(file, position.line, position.column, message))
    return sorted(found)


def is_valid(schema_name: str, data: Any) -> bool:
    """Whether `data` matches the schema, by the compiled validator (fast; says nothing about why)."""
    check = _compiled(schema_name)
    try:
        check(data)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@functools.cache
def _load(name: str) -> Mapping[str, Any]:
    resource = files("bot") / "schemas" / f"{name}.schema.json"
    loaded: Mapping[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    loaded = schema(name)
    Draft202012Validator.check_schema(loaded)
    return Draft202012Validator(loaded, format_checker=_format_checker())


@functools.cache
def _compiled(name: str) -> Callable[[Any], Any]:
    # fastjsonschema knows drafts 4, 6 and 7 by their $schema; ours declare 2020-12 but use only
    # draft 7 keywords ($defs is reached by JSON pointer like any other member), so we say draft 7.
    loaded = {**schema(name), "$schema": _DRAFT_7}
    inlined = _inline_refs(loaded, loaded.get("$defs", {}), ())
    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        inlined, formats={"date-time": _is_time}, use_default=False
    )
    return compiled


_LOCAL_DEF = "#/$defs/"


def _inline_refs(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """`node` with each `$ref` to a local definition replaced by the definition itself.

    fastjsonschema compiles every `$ref` into a function call that formats the name of the value
    being checked, even when the value is fine: inlined, a resource is checked three times faster.
    Words beside a `$ref` (a description, a tighter bound) still apply, as in JSON Schema 2020-12;
    a definition that refers to itself stays a `$ref`.
    """
    if isinstance(node, list):
        return [_inline_refs(item, defs, seen) for item in node]
    if not isinstance(node, Mapping):
        return node
    ref = node.get("$ref")
    rest = {key: _inline_refs(value, defs, seen) for key, value in node.items() if key != "$ref"}
    if not isinstance(ref, str) or not ref.startswith(_LOCAL_DEF):
        return rest if ref is None else {**rest, "$ref": ref}
    name = ref.removeprefix(_LOCAL_DEF)
    if name in seen or name not in defs:
        return {**rest, "$ref": ref}
    target = _inline_refs(defs[name], defs, (*seen, name))
    rules = {key: value for key, value in rest.items() if key not in _ANNOTATIONS}
    if not rules:
        return target
    return {"allOf": [target, rules]}


_ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment"})


def _is_time(value: Any) -> bool:
    return time_error(value) is None


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    # Our own date-time check: jsonschema's needs an optional package, and we insist on a zone.
    checker.checks("date-time")(_is_time)
    return checker


def _explain(error: ValidationError) -> Iterator[tuple[DocPath, str]]:
    """(where, message) pairs for one jsonschema error; some errors name several places."""
    path: DocPath = tuple(error.absolute_path)
    keyword = str(error.validator)
    node: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    where = f"{dotted(path)}: " if path else ""
    if keyword in ("anyOf", "oneOf") and error.context:
        inner = best_match(error.context)
        if inner is not None:
            yield from _explain(inner)
            return
    if "propertyNames" in error.relative_schema_path:
        yield (*path, str(instance)), f"{where}key {instance!r} is not valid; keys must be {_rule_text(node)}"
    elif keyword == "additionalProperties" and isinstance(instance, Mapping):
        yield from _unknown_fields(path, node, instance)
    elif keyword == "required" and isinstance(instance, Mapping):
        for name in error.validator_value:
            if name not in instance:
                yield path, f"{where}missing required field {name!r}"
    elif keyword == "type" or keyword in _BOUNDS:
        yield path, f"{where}must be {_expected(node)}, got {describe(instance)}"
    elif keyword == "enum":
        choices = [describe(c) for c in error.validator_value]
        hint = _did_you_mean(instance, [str(c) for c in error.validator_value])
        yield path, f"{where}must be one of {', '.join(choices)}, got {describe(instance)}{hint}"
    elif keyword == "const":
        yield path, f"{where}must be {describe(error.validator_value)}, got {describe(instance)}"
    elif keyword == "pattern":
        yield path, f"{where}must be {_rule_text(node)}, got {describe(instance)}"
    elif keyword == "format" and error.validator_value == "date-time":
        yield path, f"{where}{time_error(instance)}"
    else:
        yield path, f"{where}{_size_message(keyword, error.validator_value, instance) or error.message}"


def _unknown_fields(
    path: DocPath, node: Mapping[str, Any], instance: Mapping[str, Any]
) -> Iterator[tuple[DocPath, str]]:
    allowed = sorted(node.get("properties", {}))
    where = f"{dotted(path)}: " if path else ""
    for name in instance:
        if name in allowed:
            continue
        hint = _did_you_mean(name, allowed)
        yield (*path, name), f"{where}unknown field {name!r} (allowed: {', '.join(allowed)}){hint}"


def _expected(node: Mapping[str, Any]) -> str:
    types = node.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    text = _or([_TYPE_NAMES.get(t, t) for t in names]) or "a valid value"
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        return f"{text} between {low} and {high}"
    if low is not None:
        return f"{text} of at least {low}"
    if node.get("exclusiveMinimum") is not None:
        text += f" greater than {node['exclusiveMinimum']}"
    if high is not None:
        text += f" of at most {high}"
    return text


def _rule_text(node: Mapping[str, Any]) -> str:
    """What a pattern means in words: the schema node's description, else the pattern itself."""
    description = node.get("description")
    if isinstance(description, str):
        return description[0].lower() + description[1:].rstrip(".")
    return f"text matching {node.get('pattern')}"


def _size_message(keyword: str, limit: Any, instance: Any) -> str | None:
    if keyword == "minLength":
        return "must not be empty" if limit == 1 else f"must be at least {limit} characters long"
    if keyword == "maxLength":
        return f"is {len(instance)} characters long; at most {limit} are allowed"
    if keyword == "minItems":
        return f"needs at least {limit} items, got {len(instance)}"
    if keyword == "maxItems":
        return f"may have at most {limit} items, got {len(instance)}"
    if keyword == "uniqueItems" and isinstance(instance, list):
        seen: list[Any] = []
        for item in instance:
            if item in seen:
                return f"{describe(item)} is listed twice; list each item once"
            seen.append(item)
    return None


def _did_you_mean(word: Any, choices: Sequence[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _or(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"
