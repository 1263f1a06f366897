"""Resource files, from bytes to checked `Resource`s: safe YAML only, every problem located.

A file is read in one of two ways, which give the same data (tests hold them to it):

- The quick reading (`_plain_mapping`) builds plain data straight from libyaml's event stream. It
  takes only ordinary files (a mapping of plain values: no anchors, aliases or tags, no duplicate
  keys, shallow nesting) and gives up on anything else. It records no positions; `_Positions` finds
  them by a careful reading of the same text the first time a problem needs locating, which most
  files never do. Both sides of a change read this way cost about what PyYAML takes to load one
  side (bench/bench_check.py).
- The careful reading (`_parse_located`) composes a node graph with libyaml, which keeps each node's
  line and column, and builds the data from the nodes itself. That lets it record the position of
  every key and item, refuse duplicate keys (PyYAML silently keeps the last one), refuse tags
  outside plain data, and bound alias expansion: the node graph shares aliased nodes, so a "billion
  laughs" file composes in linear time and is refused when the walk exceeds its budget, long before
  it could fill memory. Every problem it reports carries file:line:column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core import rules, schemas
from bot.core.model import DocPath, Document, Kind, LoadResult, Position, Problem, Resource, ResourceKey

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64  # nesting of mappings and lists; real resources use fewer than 8
MAX_ALIASES = 100  # alias uses per file
MAX_NODES = 100_000  # values after alias expansion
# libyaml's composer recurses on the C stack and crashes the process on very deep nesting, so files
# that could nest that deep are measured event by event before composing (see `_nesting_guard`).

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The quick reading needs only events: libyaml's bare parser, without a constructor and resolver to set up.
_EventParser: type[Any] = getattr(getattr(yaml, "cyaml", None), "CParser", yaml.SafeLoader)
_RESOLVED_MAX = 20_000  # plain scalars remembered: field names, statuses, small numbers repeat a lot


_plain_tags: dict[str, str] = {}
_RESOLVER: Any = yaml.resolver.Resolver()  # the one SafeLoader and CSafeLoader use


def _plain_tag(value: str) -> str:
    """The tag YAML 1.1 gives an unquoted scalar (int, bool, null...), remembered.

    PyYAML decides it with regular expressions, for every scalar of every file, a large part of the
    time reading takes; the answer depends only on the text, and field names, statuses and small
    numbers repeat a lot.
    """
    tag = _plain_tags.get(value)
    if tag is None:
        if len(_plain_tags) >= _RESOLVED_MAX:
            _plain_tags.clear()
        tag = _plain_tags[value] = _RESOLVER.resolve(ScalarNode, value, (True, False))
    return tag


class _Loader(_BaseLoader):  # type: ignore[misc]
    """libyaml's safe loader, with the tags of unquoted scalars remembered (see `_plain_tag`)."""

    def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            return _plain_tag(value)
        tag: str = super().resolve(kind, value, implicit)
        return tag


_SCHEMA_FOR_KIND = {Kind.EXPERIMENT: "experiment", Kind.REMOTE_CONFIG: "remote-config"}

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _VALUE, _SEQ, _MAP, _MERGE = (_YAML + t for t in ("timestamp", "value", "seq", "map", "merge"))

_constructor = SafeConstructor()
_BOOLS: dict[str, bool] = SafeConstructor.bool_values


def _bool(value: str) -> bool:
    return _BOOLS[value.lower()]  # KeyError for '!!bool maybe': reported as a bad value


def _float(value: str) -> float:
    number: float = SafeConstructor.construct_yaml_float(_constructor, ScalarNode(_FLOAT, value))
    return number


def _integer(value: str) -> int:
    # Plain decimal digits are most integers; PyYAML's rules (octal '0..', '0x', '1_000', '1:30')
    # for the rest.
    if value.isascii() and value.isdigit() and (len(value) == 1 or value[0] != "0"):
        return int(value)
    integer: int = SafeConstructor.construct_yaml_int(_constructor, ScalarNode(_INT, value))
    return integer


def _text(value: str) -> str:
    return value


def _null(value: str) -> None:
    return None


# A scalar's value from its text, by resolved tag. Timestamps stay text: schemas check them as
# RFC 3339 strings and the rules insist on a zone, which a datetime built by PyYAML would have
# dropped or invented.
_SCALARS: dict[str, Callable[[str], Any]] = {
    _STR: _text,
    _TIMESTAMP: _text,
    _VALUE: _text,
    _NULL: _null,
    _BOOL: _bool,
    _INT: _integer,
    _FLOAT: _float,
}
_BAD_SCALAR = (ValueError, LookupError, yaml.YAMLError)


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
    data = _plain_mapping(text)
    if data is not None:
        return Document(data, _Positions(path, text)), []
    return _parse_located(path, text)


def _parse_located(path: str, text: str) -> tuple[Document | None, list[Problem]]:
    """The careful reading: a node graph, every position recorded, every problem said and located."""
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


def _plain_mapping(text: str) -> dict[str, Any] | None:
    """The file's data straight from libyaml's events if it is an ordinary file, else None.

    Almost every file is a mapping of plain values, and reading it needs no node graph and no
    positions (those are found again, once, when a problem must be located: see `_Positions`).
    Anything unusual (a syntax error, an anchor or alias, a tag, a duplicate or non-text key, deep
    nesting, a huge file, a top level that is not a mapping, a second document) gives None, and
    the file takes the careful path, which says what is wrong and where. The two paths agree on
    every file this one accepts (tests/core/test_loading.py checks it on random documents).
    """
    try:
        loader = _EventParser(text)
    except yaml.YAMLError:  # the pure-Python reader checks characters up front
        return None
    try:
        return _read_events(loader.get_event)
    except (_Unusual, *_BAD_SCALAR):  # YAMLError among them: syntax, said by the careful path
        return None
    finally:
        loader.dispose()


def _read_events(next_event: Callable[[], Any]) -> dict[str, Any] | None:
    if next_event().__class__ is not StreamStartEvent or next_event().__class__ is not DocumentStartEvent:
        return None
    root: dict[str, Any] = {}
    start = next_event()
    if start.__class__ is not MappingStartEvent or not _plain_collection(start, _MAP):
        return None
    # The open collections, innermost last, and for each the key awaiting its value (mappings only).
    open_: list[dict[str, Any] | list[Any]] = [root]
    keys: list[str | None] = [None]
    parent: dict[str, Any] | list[Any] = root
    known = _plain_tags
    for _ in range(MAX_NODES):
        event = next_event()
        kind = event.__class__
        if kind is ScalarEvent:
            if event.anchor is not None:
                return None
            text: str = event.value
            tag = event.tag
            if tag is None or tag == "!":  # the common case, inline: most of a file's events are here
                tag = (known.get(text) or _plain_tag(text)) if event.implicit[0] else _STR
            if isinstance(parent, list):
                parent.append(_scalar(text, tag))
            elif keys[-1] is None:
                # A key keeps the characters written ('1:' is "1"), as on the careful path.
                if tag not in _SCALARS or text in parent:
                    return None
                keys[-1] = text
            else:
                parent[keys[-1]] = _scalar(text, tag)
                keys[-1] = None
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            mapping = kind is MappingStartEvent
            if len(open_) >= MAX_DEPTH or not _plain_collection(event, _MAP if mapping else _SEQ):
                return None
            child: dict[str, Any] | list[Any] = {} if mapping else []
            if isinstance(parent, list):
                parent.append(child)
            elif keys[-1] is None:  # a mapping or list as a key
                return None
            else:
                parent[keys[-1]] = child
                keys[-1] = None
            open_.append(child)
            keys.append(None)
            parent = child
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            open_.pop()
            keys.pop()
            if not open_:
                break
            parent = open_[-1]
        else:  # an alias
            return None
    else:
        return None  # more values than a resource needs: the careful path counts them
    if next_event().__class__ is not DocumentEndEvent or next_event().__class__ is not StreamEndEvent:
        return None
    return root


class _Unusual(Exception):
    """Raised by the quick reading for anything it leaves to the careful one."""


def _scalar(text: str, tag: str) -> Any:
    if tag == _STR:
        return text
    construct = _SCALARS.get(tag)
    if construct is None:  # a tag beyond plain data, or a merge key ('<<') as a value
        raise _Unusual
    return construct(text)


class _Positions(Mapping[DocPath, Position]):
    """Where each key and item of a file read the quick way is, found when first asked.

    Positions are needed only to locate a problem, and most files have none: reading such a file
    again, carefully, once, costs far less than recording every position of every file.
    """

    def __init__(self, path: str, text: str) -> None:
        self._path = path
        self._text = text
        self._found: Mapping[DocPath, Position] | None = None

    def _positions(self) -> Mapping[DocPath, Position]:
        if self._found is None:
            document, _ = _parse_located(self._path, self._text)
            self._found = document.positions if document is not None else {}
            self._text = ""
        return self._found

    def __getitem__(self, path: DocPath) -> Position:
        return self._positions()[path]

    def __iter__(self) -> Iterator[DocPath]:
        return iter(self._positions())

    def __len__(self) -> int:
        return len(self._positions())

    def __repr__(self) -> str:
        return repr(dict(self._positions()))


def _plain_collection(event: Any, tag: str) -> bool:
    return event.anchor is None and event.tag in (None, "!", tag)


def load_resource(path: str, raw: bytes, account: str, *, judge: bool = True) -> LoadResult:
    """Parse, validate against the kind's schema and check the per-document rules of one file.

    The resource is returned whenever the document matches its schema (so its fields have the types
    the schema promises), even when semantic rules fail; every problem found is reported together.
    `judge=False` is for a file that is only compared with (the base side of a change): its semantic
    rules are checked only when the schema fails, the one case where its problems are reported.
    """
    document, problems = parse_yaml(path, raw)
    if document is None:
        return LoadResult(path, None, tuple(problems))
    kind = _kind(document, path)
    if isinstance(kind, Problem):
        return LoadResult(path, None, (kind,))
    schema_problems = schemas.validate(_SCHEMA_FOR_KIND[kind], document, path)
    found = set(schema_problems)
    if judge or schema_problems:
        found.update(rules.check_document(document, path))
    resource = None
    if not schema_problems:
        resource = Resource(ResourceKey(account, kind, str(document.data["id"])), path, document)
    if found:
        text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
        found = {with_yaml11_hint(p, text) for p in found}
    return LoadResult(path, resource, tuple(sorted(found)))


_KINDS = {k.value: k for k in Kind}
_ALLOWED_KINDS = " or ".join(f"'{k}'" for k in _KINDS)


def _kind(document: Document, path: str) -> Kind | Problem:
    value = document.data.get("kind")
    if value is None:
        line, column = _position(document.position(()))
        return Problem(path, line, column, f"missing required field 'kind' ({_ALLOWED_KINDS})")
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        line, column = _position(document.position(("kind",)))
        return Problem(path, line, column, f"kind: must be {_ALLOWED_KINDS}, got {value!r}")
    return kind


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
    """Refuse nesting deeper than MAX_DEPTH, at the first collection too deep, before composing.

    libyaml's composer recurses on the C stack (deep enough files crash the process), and libyaml
    0.2.6 (PyYAML 6.0.4's wheels) refuses more than 1,000 levels itself, in its own words and at its
    own place. Our limit is checked here first, by counting collection events, so that every PyYAML
    and libyaml of our range gives the same answer: ours, at the 65th level.
    """
    if _nesting_bound(text) <= MAX_DEPTH:
        return
    where = _too_deep_at(_EventParser, text)
    if where is _UNREADABLE and _EventParser is not yaml.SafeLoader:
        # libyaml reads ahead of the events it hands out (looking for a `key:`), so on a long line of
        # '[' its own limit can stop it before it hands out our 65th level. PyYAML's own parser reads
        # ahead too, but has no limit of its own: it finds where ours was passed, if it was.
        where = _too_deep_at(yaml.SafeLoader, text)
    if isinstance(where, tuple):
        raise _Stop(Problem(path, *where, _too_deep()))
    # Within the limit, or a syntax error before any level too deep: the composer sees the same
    # events up to the error, so it recurses at most MAX_DEPTH levels, and reports the error itself.


_UNREADABLE = "unreadable"


def _too_deep_at(parser: type[Any], text: str) -> tuple[int, int] | str | None:
    """Where `parser`'s events first nest deeper than MAX_DEPTH; None within it, or _UNREADABLE."""
    loader = parser(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return _mark(event)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return _UNREADABLE
    finally:
        loader.dispose()
    return None


def _nesting_bound(text: str) -> int:
    """A cheap upper bound of how deep `text` nests, so that ordinary files skip the exact count.

    Every level of a chain of nested collections costs the file a character of its own: a flow
    collection its '[' or '{'; a block sequence its '-'; a block mapping either a '?', or a line
    indented deeper than its parent's (so no more such levels than the deepest indentation, plus
    one), or, when it starts on its parent's '- ' or '? ' line, that indicator a second time.
    Overcounting (a '-' in a date or in a comment) only costs the exact count.
    """
    indicators = text.count("[") + text.count("{") + 2 * (text.count("-") + text.count("?"))
    indentation = max((len(line) - len(line.lstrip(" \t")) for line in text.splitlines()), default=0)
    return indicators + indentation + 1


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
            return construct(node.value)
        except _BAD_SCALAR:
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


# --- YAML 1.1 surprises -------------------------------------------------------------------------------

# Unquoted words YAML 1.1 (PyYAML's rules) reads as true or false: `default: NO` is the boolean false.
_YAML11_BOOLS = frozenset({"y", "n", "yes", "no", "on", "off"})
_VALUE_END = re.compile(r"\s+#|[,\]}]|\s*$")
_KEY = re.compile(r"""(?:[^\s'"\[\]{},:#][^:#]*?|"[^"]*"|'[^']*'):(?:\s+|$)""")


def with_yaml11_hint(problem: Problem, text: str) -> Problem:
    """`problem` with a hint to quote its value when YAML 1.1 turned unquoted text into something else.

    YAML reads `NO`, `on`, `yes` as booleans, `1.10` as the number 1.1, `0123` as an octal number and
    `1_000` as 1000, which surprises people writing text. A type problem ("…, got false") at such a value
    gets told what YAML made of it and to quote it."""
    if ", got " not in problem.message:
        return problem
    token = _value_at(text, problem.line, problem.column)
    if token is None or token[:1] in ("'", '"', "[", "{", "|", ">", "&", "*", "!"):
        return problem
    tag = _plain_tag(token)
    if tag == _BOOL and token.lower() not in _YAML11_BOOLS:
        return problem  # true and false are booleans in every YAML: the problem alone says it
    if tag not in (_BOOL, _INT, _FLOAT) or (tag != _BOOL and "must be text" not in problem.message):
        return problem  # a number is a surprise only where text was expected ("weight: at most 100")
    try:
        made = _SCALARS[tag](token)
    except _BAD_SCALAR:
        return problem
    read = f"the boolean {'true' if made else 'false'}" if tag == _BOOL else f"the number {made}"
    hint = f'; YAML reads the unquoted {token} as {read}: write "{token}" in quotes if you mean the text'
    return Problem(problem.file, problem.line, problem.column, problem.message + hint)


def _value_at(text: str, line: int, column: int) -> str | None:
    """The plain scalar a problem at line:column points to: the value after a key there, or the item."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    rest = lines[line - 1][max(column - 1, 0) :]
    rest = rest.removeprefix("- ").lstrip()
    key = _KEY.match(rest)
    if key is not None:
        rest = rest[key.end() :]
    end = _VALUE_END.search(rest)
    token = rest[: end.start()] if end else rest
    return token.strip() or None
