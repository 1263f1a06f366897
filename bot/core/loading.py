"""Resource files, from bytes to checked `Resource`s: safe YAML only, every problem located.

YAML is parsed by libyaml (`yaml.CSafeLoader`) into a node graph, which keeps each node's line and
column; we then build plain data from the nodes ourselves. Doing the construction here, rather than
with PyYAML's constructor, is what lets us record the position of every key and item, refuse
duplicate keys (PyYAML silently keeps the last one), refuse tags outside plain data, and bound alias
expansion: the node graph shares aliased nodes, so a "billion laughs" file composes in linear time
and is refused when our walk exceeds its budget, long before it could fill memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core import rules, schemas
from bot.core.model import DocPath, Document, Kind, LoadResult, Position, Problem, Resource, ResourceKey

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64  # nesting of mappings and lists; real resources use fewer than 8
MAX_ALIASES = 100  # alias uses per file
MAX_NODES = 100_000  # values after alias expansion
# libyaml's composer recurses on the C stack and crashes the process on very deep nesting, so files
# that could nest that deep are measured event by event before composing (see `_nesting_guard`).
_CHEAP_NESTING_BOUND = 5_000  # libyaml survives 20,000 levels; indentation adds < 1,000

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVED_MAX = 20_000  # plain scalars remembered: field names, statuses, small numbers repeat a lot


class _Loader(_BaseLoader):  # type: ignore[misc]
    """libyaml's safe loader, with the tag of each plain scalar remembered.

    libyaml calls back into Python's regex-based resolver for every scalar, about a third of the time
    it takes to compose a document; the answer depends only on the arguments, so we keep it.
    """

    _resolved: ClassVar[dict[tuple[Any, str, tuple[bool, bool]], str]] = {}

    def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
        key = (kind, value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._resolved) >= _RESOLVED_MAX:
                self._resolved.clear()
            self._resolved[key] = tag
        return tag


_SCHEMA_FOR_KIND = {Kind.EXPERIMENT: "experiment", Kind.REMOTE_CONFIG: "remote-config"}

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _VALUE, _SEQ, _MAP, _MERGE = (_YAML + t for t in ("timestamp", "value", "seq", "map", "merge"))

_constructor = SafeConstructor()


def _construct_with(method: Callable[[SafeConstructor, ScalarNode], Any]) -> Callable[[ScalarNode], Any]:
    return lambda node: method(_constructor, node)


# Timestamps stay text: schemas check them as RFC 3339 strings and the rules insist on a zone, which
# a datetime built by PyYAML would have dropped or invented.
_SCALARS: dict[str, Callable[[ScalarNode], Any]] = {
    _STR: lambda node: node.value,
    _TIMESTAMP: lambda node: node.value,
    _VALUE: lambda node: node.value,
    _NULL: lambda node: None,
    _BOOL: _construct_with(SafeConstructor.construct_yaml_bool),
    _INT: lambda node: _integer(node),
    _FLOAT: _construct_with(SafeConstructor.construct_yaml_float),
}


def _integer(node: ScalarNode) -> int:
    value: str = node.value
    # Plain decimal digits are most integers; PyYAML's rules (octal '0..', '0x', '1_000', '1:30')
    # for the rest.
    if value.isascii() and value.isdigit() and (len(value) == 1 or value[0] != "0"):
        return int(value)
    integer: int = SafeConstructor.construct_yaml_int(_constructor, node)
    return integer


class _Stop(Exception):
    """A problem that makes reading the rest of the file pointless or dangerous."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def parse_yaml(path: str, raw: bytes, *, max_bytes: int = MAX_BYTES) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML file whose top level must be a mapping; never raises for bad input."""
    if len(raw) > max_bytes:
        return None, [
            Problem(path, 1, 1, f"file is {len(raw):,} bytes, over the limit of {max_bytes:,}; split it up")
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _byte_position(raw, error.start)
        byte = raw[error.start]
        return None, [
            Problem(path, line, column, f"not valid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8")
        ]
    text = text.removeprefix("\ufeff")
    try:
        root = _compose(path, text)
        if root is None:
            return None, [
                Problem(path, 1, 1, "file is empty; expected a mapping of fields like 'kind: experiment'")
            ]
        builder = _Builder(path)
        data = builder.build(root, (), 0)
    except _Stop as stop:
        return None, [stop.problem]
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"the value {data!r}"
        return None, [
            Problem(
                path,
                *_mark(root),
                f"top level must be a mapping of fields like 'kind: experiment', got {what}",
            )
        ]
    if builder.problems:
        return None, sorted(builder.problems)
    return Document(data, builder.positions), []


def load_resource(path: str, raw: bytes, account: str) -> LoadResult:
    """Parse, validate against the kind's schema and check the per-document rules of one file.

    The resource is returned whenever the document matches its schema (so its fields have the types
    the schema promises), even when semantic rules fail; every problem found is reported together.
    """
    document, problems = parse_yaml(path, raw)
    if document is None:
        return LoadResult(path, None, tuple(problems))
    kind = _kind(document, path)
    if isinstance(kind, Problem):
        return LoadResult(path, None, (kind,))
    schema_problems = schemas.validate(_SCHEMA_FOR_KIND[kind], document, path)
    found = set(schema_problems) | set(rules.check_document(document, path))
    resource = None
    if not schema_problems:
        resource = Resource(ResourceKey(account, kind, str(document.data["id"])), path, document)
    return LoadResult(path, resource, tuple(sorted(found)))


def _kind(document: Document, path: str) -> Kind | Problem:
    value = document.data.get("kind")
    allowed = " or ".join(f"'{k.value}'" for k in Kind)
    if value is None:
        line, column = _position(document.position(()))
        return Problem(path, line, column, f"missing required field 'kind' ({allowed})")
    if not isinstance(value, str) or value not in {k.value for k in Kind}:
        line, column = _position(document.position(("kind",)))
        return Problem(path, line, column, f"kind: must be {allowed}, got {value!r}")
    return Kind(value)


def _compose(path: str, text: str) -> Node | None:
    _nesting_guard(path, text)
    loader = _Loader(text)
    try:
        node: Node | None = loader.get_single_node()
        return node
    except yaml.MarkedYAMLError as error:
        raise _Stop(_syntax_problem(path, error)) from None
    except yaml.reader.ReaderError as error:
        line, column = _byte_position(text.encode("utf-8"), error.position)
        raise _Stop(Problem(path, line, column, f"invalid YAML: {error.reason}")) from None
    except yaml.YAMLError as error:
        raise _Stop(Problem(path, 1, 1, f"invalid YAML: {error}")) from None
    finally:
        loader.dispose()


def _nesting_guard(path: str, text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before libyaml's recursive composer sees it.

    Block nesting costs indentation, so a file within the size limit nests only a few hundred levels
    that way; deep nesting needs '[', '{', '-' or '?' per level. Counting those is cheap, and only a
    file with many of them pays for the exact, event-by-event measure.
    """
    if sum(text.count(c) for c in "[{-?") < _CHEAP_NESTING_BOUND:
        return
    loader = _Loader(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line, column = _mark(event)
                    raise _Stop(Problem(path, line, column, _too_deep()))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        raise _Stop(_syntax_problem(path, error)) from None
    except yaml.YAMLError:
        return  # the composer reports it with the same handling as any other file
    finally:
        loader.dispose()


def _syntax_problem(path: str, error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = error.problem or error.context or "unreadable YAML"
    message = f"invalid YAML: {what}"
    if error.context and error.problem and error.problem.startswith("but "):
        message = f"invalid YAML: {error.context}, {error.problem}"
    elif error.context and error.problem and error.context_mark is not None:
        message += f" ({error.context} at line {error.context_mark.line + 1})"
    return Problem(path, line, column, message)


class _Builder:
    """Plain data from a node graph, recording positions and refusing what is not plain data."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.positions: dict[DocPath, Position] = {}
        self.problems: list[Problem] = []
        self._nodes = 0
        self._aliases = 0
        self._built: set[int] = set()  # collections already built: meeting one again is an alias
        self._open: set[int] = set()  # collections being built: meeting one of these is a cycle

    def build(self, node: Node, path: DocPath, depth: int) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            self._stop(
                node, f"the file expands to more than {MAX_NODES:,} values (through aliases?); simplify it"
            )
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if depth >= MAX_DEPTH:
            self._stop(node, _too_deep())
        identity = id(node)
        if identity in self._open:
            self._stop(
                node, "an alias refers to a mapping or list that contains it; YAML cycles are not allowed"
            )
        if identity in self._built:
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                self._stop(node, f"more than {MAX_ALIASES} alias uses (*name); write the values out instead")
        self._built.add(identity)
        self._open.add(identity)
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path, depth)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path, depth)
        finally:
            self._open.discard(identity)
        self._stop(node, "unsupported YAML node")  # pragma: no cover - PyYAML has only three node types

    def _scalar(self, node: ScalarNode) -> Any:
        construct = _SCALARS.get(node.tag)
        if construct is None:
            self._refuse_tag(node)
            return None
        try:
            return construct(node)
        except (ValueError, yaml.YAMLError):
            self._problem(node, f"{node.value!r} is not a valid {_short_tag(node.tag)} value")
            return None

    def _mapping(self, node: MappingNode, path: DocPath, depth: int) -> dict[str, Any]:
        if node.tag != _MAP:
            self._refuse_tag(node)
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            if key is None:
                continue
            line, column = _mark(key_node)
            if key in first_line:
                self._problem(
                    key_node,
                    f"duplicate key '{key}' (first at line {first_line[key]}); keep only one of them",
                )
                continue
            first_line[key] = line
            child = (*path, key)
            self.positions[child] = Position(line, column)
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def _sequence(self, node: SequenceNode, path: DocPath, depth: int) -> list[Any]:
        if node.tag != _SEQ:
            self._refuse_tag(node)
        out: list[Any] = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            self.positions[child] = Position(*_mark(item))
            out.append(self.build(item, child, depth + 1))
        return out

    def _key(self, node: Node) -> str | None:
        if node.tag == _MERGE:
            self._problem(node, "merge keys ('<<') are not supported; write the fields out")
            return None
        if not isinstance(node, ScalarNode):
            self._problem(node, "a key must be plain text, not a mapping or list")
            return None
        if node.tag not in _SCALARS:
            self._refuse_tag(node)
            return None
        # Keys are field names and ids, always text: `on:` or `1:` keep the characters written.
        value: str = node.value
        return value

    def _refuse_tag(self, node: Node) -> None:
        self._problem(
            node,
            f"tag '{_short_tag(node.tag)}' is not allowed; only plain data "
            "(text, numbers, true/false, null, lists and mappings) may be used",
        )

    def _problem(self, node: Node, message: str) -> None:
        line, column = _mark(node)
        self.problems.append(Problem(self.path, line, column, message))

    def _stop(self, node: Node, message: str) -> None:
        line, column = _mark(node)
        raise _Stop(Problem(self.path, line, column, message))


def _too_deep() -> str:
    return f"mappings and lists are nested more than {MAX_DEPTH} levels deep; flatten the file"


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _mark(node: Any) -> tuple[int, int]:
    """PyYAML marks count from 0; people count from 1."""
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def _position(position: Position) -> tuple[int, int]:
    return position.line, position.column


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    return before.count(b"\n") + 1, len(before[line_start:].decode("utf-8", errors="replace")) + 1
