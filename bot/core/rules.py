"""Semantic rules: what a JSON schema cannot say about a resource, each with its own message.

Rules run on documents that may also have failed their schema (so that every problem of a file is
reported at once); each rule therefore looks only at values of the type it expects and leaves wrong
types to the schema's messages.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from bot.core.model import DocPath, Document, Kind, Problem, Resource, ResourceKey, Status

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<zone>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)
TIME_EXAMPLE = "2030-01-15T09:00:00Z"
WEIGHT_TOTAL = 100

_TYPE_PHRASES = {
    "string": "text (a string)",
    "number": "a number",
    "boolean": "true or false",
    "json": "a mapping or a list (a JSON object or array)",
}


# --- helpers shared with the schema messages -----------------------------------------------------


def dotted(path: DocPath) -> str:
    """`variants[1].weight` for ("variants", 1, "weight"): how people write a place in a document."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(value: Any) -> str:
    """A value as the user wrote it in YAML, for "got …" in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 time with a zone, or None when `value` is not one."""
    match = _RFC3339.fullmatch(value)
    if match is None or match.group("zone") is None:
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        return None


def time_error(value: object) -> str | None:
    """Why `value` is not an RFC 3339 time with a zone; None when it is one (or is not text at all)."""
    if not isinstance(value, str):
        return None
    match = _RFC3339.fullmatch(value)
    if match is not None and match.group("zone") is None:
        return f"{value!r} has no time zone; add Z (UTC) or an offset like +02:00"
    if parse_time(value) is None:
        return f"{value!r} is not an RFC 3339 time; write it like {TIME_EXAMPLE}"
    return None


def matches_type(variable_type: str, value: Any) -> bool:
    """Whether `value` may be the value of a remote config variable of `variable_type`."""
    if variable_type == "string":
        return isinstance(value, str)
    if variable_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if variable_type == "boolean":
        return isinstance(value, bool)
    if variable_type == "json":
        return isinstance(value, Mapping | list)
    return True  # an unknown type is the schema's to report


# --- per document -------------------------------------------------------------------------------


def check_resource(resource: Resource) -> list[Problem]:
    return check_document(resource.document, resource.path)


def check_document(document: Document, file: str) -> list[Problem]:
    """Every per-document rule for the document's `kind`; sorted problems."""
    found = _Found(document, file)
    _check_id(found)
    kind = document.data.get("kind")
    if kind == Kind.EXPERIMENT.value:
        _check_experiment(found)
    elif kind == Kind.REMOTE_CONFIG.value:
        _check_remote_config(found)
    return sorted(found.problems)


class _Found:
    """The document under check and the problems found in it so far."""

    def __init__(self, document: Document, file: str) -> None:
        self.document = document
        self.data = document.data
        self.file = file
        self.problems: list[Problem] = []

    def add(self, path: DocPath, message: str) -> None:
        position = self.document.position(path)
        self.problems.append(Problem(self.file, position.line, position.column, message))

    def line(self, path: DocPath) -> int:
        return self.document.position(path).line


def _check_id(found: _Found) -> None:
    ident = found.data.get("id")
    name = file_name(found.file)
    stem = _stem(name)
    if isinstance(ident, str) and ident != stem:
        found.add(
            ("id",),
            f"id {ident!r} does not match the file name {name!r}; "
            f"rename the file to {ident}.yaml, or set id: {stem} (ids never change)",
        )


def file_name(path: str) -> str:
    """The last part of a '/'-separated path, as `PurePosixPath(path).name` says, without its cost."""
    if "//" in path or path.endswith("/") or "/." in f"/{path}":
        return PurePosixPath(path).name  # pathlib normalises these; let it
    return path.rsplit("/", 1)[-1]


def _stem(name: str) -> str:
    """The name without its last suffix, by `PurePosixPath.stem`'s rule ('.yaml' has no suffix)."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _check_remote_config(found: _Found) -> None:
    data = found.data
    key, ident = data.get("key"), data.get("id")
    if isinstance(key, str) and isinstance(ident, str) and key != ident:
        found.add(("key",), f"key {key!r} must equal id {ident!r}")
    variable_type = data.get("type")
    if not isinstance(variable_type, str) or variable_type not in _TYPE_PHRASES:
        return
    if "default" in data:
        _check_value(
            found, ("default",), variable_type, data["default"], f"the variable's type is {variable_type}"
        )
    conditions = data.get("conditional_values")
    if not isinstance(conditions, list):
        return
    first_seen: dict[str, DocPath] = {}  # a line is looked up only when a segment repeats
    for index, condition in enumerate(conditions):
        if not isinstance(condition, Mapping):
            continue
        path: DocPath = ("conditional_values", index)
        if "value" in condition:
            why = f"the variable's type is {variable_type}"
            _check_value(found, (*path, "value"), variable_type, condition["value"], why)
        segment = condition.get("segment")
        if isinstance(segment, str):
            if segment in first_seen:
                found.add(
                    (*path, "segment"),
                    f"{dotted((*path, 'segment'))}: segment {segment!r} already has a value "
                    f"(line {found.line(first_seen[segment])}); give each segment one value",
                )
            else:
                first_seen[segment] = (*path, "segment")


def _check_value(found: _Found, path: DocPath, variable_type: str, value: Any, why: str) -> None:
    if not matches_type(variable_type, value):
        found.add(
            path, f"{dotted(path)}: must be {_TYPE_PHRASES[variable_type]} ({why}), got {describe(value)}"
        )


def _variants(data: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    variants = data.get("variants")
    if not isinstance(variants, list):
        return []
    return [(i, v) for i, v in enumerate(variants) if isinstance(v, Mapping)]


def _check_experiment(found: _Found) -> None:
    _check_weights(found)
    _check_control(found)
    _check_variant_ids(found)
    _check_winner(found)
    _check_schedule(found)
    _check_metrics(found)


def _check_weights(found: _Found) -> None:
    variants = _variants(found.data)
    weights: list[tuple[Any, Any]] = [(v.get("id"), v.get("weight")) for _, v in variants]
    if not weights or not all(_is_number(w) for _, w in weights):
        return  # missing or mistyped weights are the schema's to report
    total = sum(w for _, w in weights)
    if not math.isclose(total, WEIGHT_TOTAL, abs_tol=1e-9):
        parts = ", ".join(f"{ident}: {_number(w)}" for ident, w in weights)
        found.add(
            ("variants",), f"variant weights must sum to {WEIGHT_TOTAL}, got {_number(total)} ({parts})"
        )


def _check_control(found: _Found) -> None:
    variants = _variants(found.data)
    if not variants:
        return
    controls = [i for i, v in variants if v.get("control") is True]
    if not controls:
        found.add(("variants",), "no variant is the control; set control: true on exactly one variant")
    for index in controls[1:]:
        first = controls[0]
        found.add(
            ("variants", index, "control"),
            f"variants[{index}] is a second control (variants[{first}] at line "
            f"{found.line(('variants', first))} already is); exactly one variant is the control",
        )


def _check_variant_ids(found: _Found) -> None:
    first_seen: dict[str, DocPath] = {}  # a line is looked up only when an id repeats
    for index, variant in _variants(found.data):
        ident = variant.get("id")
        if not isinstance(ident, str):
            continue
        path: DocPath = ("variants", index, "id")
        if ident in first_seen:
            found.add(
                path,
                f"variant id {ident!r} is used twice (first at line {found.line(first_seen[ident])}); "
                "ids must differ",
            )
        else:
            first_seen[ident] = path


def _check_winner(found: _Found) -> None:
    data = found.data
    winner = data.get("winner")
    if winner is None:
        return
    status = data.get("status")
    if status != Status.FINISHED.value:
        found.add(
            ("winner",),
            f"winner is only allowed when status is finished (status is {describe(status)}); "
            "remove it, or finish the experiment",
        )
    names = sorted(set(variant_ids_of(data)))
    if isinstance(winner, str) and names and winner not in names:
        found.add(
            ("winner",), f"winner {winner!r} is not a variant of this experiment{_suggest(winner, names)}"
        )


def _check_schedule(found: _Found) -> None:
    data = found.data
    schedule = data.get("schedule")
    schedule = schedule if isinstance(schedule, Mapping) else {}
    if data.get("status") == Status.SCHEDULED.value and schedule.get("start_at") is None:
        found.add(("status",), "status scheduled needs schedule.start_at (when the experiment starts)")
    times: dict[str, datetime] = {}
    for name in ("start_at", "end_at"):
        value = schedule.get(name)
        error = time_error(value)
        if error is not None:
            found.add(("schedule", name), f"schedule.{name}: {error}")
        elif isinstance(value, str):
            parsed = parse_time(value)
            if parsed is not None:
                times[name] = parsed
    if "start_at" in times and "end_at" in times and times["end_at"] <= times["start_at"]:
        found.add(
            ("schedule", "end_at"),
            f"schedule.end_at ({schedule['end_at']}) must be after "
            f"schedule.start_at ({schedule['start_at']})",
        )


def _check_metrics(found: _Found) -> None:
    data = found.data
    metrics = data.get("metrics")
    metrics = metrics if isinstance(metrics, Mapping) else {}
    primary = metrics.get("primary")
    status = data.get("status")
    live_statuses = {s.value for s in Status} - {Status.DRAFT.value, Status.LIVE.value}
    if primary is None and status in live_statuses:
        where: DocPath = ("metrics",) if "metrics" in data else ("status",)
        found.add(where, f"a {status} experiment needs exactly one primary metric; add metrics.primary")
    seen: dict[str, str] = {}
    if isinstance(primary, Mapping) and isinstance(primary.get("id"), str):
        seen[primary["id"]] = "the primary metric"
    secondary = metrics.get("secondary")
    if not isinstance(secondary, list):
        return
    for index, metric in enumerate(secondary):
        ident = metric.get("id") if isinstance(metric, Mapping) else None
        if not isinstance(ident, str):
            continue
        path: DocPath = ("metrics", "secondary", index, "id")
        if ident in seen:
            found.add(path, f"metric {ident!r} is already {seen[ident]}; list each metric once")
        else:
            seen[ident] = f"metrics.secondary[{index}]"


# --- across documents ---------------------------------------------------------------------------


def check_references(
    resource: Resource,
    remote_configs: Mapping[str, Resource],
    unreadable: Mapping[str, str | None] | None = None,
) -> list[Problem]:
    """Override keys must be remote config variables of the experiment's own account, values of their type.

    `remote_configs` maps ids to the remote config resources visible to the experiment (the same
    account's; any other account's entries are ignored, never matched). `unreadable` maps ids of the
    account's variables whose file is there but cannot be read to None (that file's own problems are
    reported: say nothing here, so one cause reads once, where it is) or to the file to point at.
    """
    if resource.key.kind is not Kind.EXPERIMENT:
        return []
    account = resource.key.account

    def own(ident: str) -> Resource | None:
        rc = remote_configs.get(ident)
        if rc is None or rc.key.account != account or rc.key.kind is not Kind.REMOTE_CONFIG:
            return None
        return rc

    found = _Found(resource.document, resource.path)
    for index, variant in _variants(resource.data):
        overrides = variant.get("overrides")
        if not isinstance(overrides, Mapping):
            continue
        for key, value in overrides.items():
            path: DocPath = ("variants", index, "overrides", key)
            variable = own(key)
            if variable is None and unreadable is not None and key in unreadable:
                broken = unreadable[key]
                if broken is not None:
                    found.add(
                        path, f"{dotted(path[:-1])}: {key!r} cannot be checked: {broken} cannot be read"
                    )
                continue
            if variable is None:
                known = sorted(i for i in remote_configs if own(i) is not None)
                found.add(
                    path,
                    f"{dotted(path[:-1])}: {key!r} is not a remote config variable of account {account!r}"
                    f"{_suggest(key, known)}",
                )
                continue
            variable_type = variable.data.get("type")
            if isinstance(variable_type, str) and variable_type in _TYPE_PHRASES:
                why = f"remote config {key!r} is of type {variable_type}"
                _check_value(found, path, variable_type, value, why)
    return sorted(found.problems)


def check_unique_ids(resources: Iterable[Resource]) -> list[Problem]:
    """One file per (account, kind, id): every file after the first (by path) is a problem."""
    first: dict[ResourceKey, Resource] = {}
    problems: list[Problem] = []
    for resource in sorted(resources, key=lambda r: r.path):
        earlier = first.setdefault(resource.key, resource)
        if earlier is resource:
            continue
        position = resource.document.position(("id",))
        key = resource.key
        problems.append(
            Problem(
                resource.path,
                position.line,
                position.column,
                f"{key.kind.value} {key.id!r} of account {key.account!r} is already defined in "
                f"{earlier.path}; ids must be unique per account and kind",
            )
        )
    return sorted(problems)


def overrides_used(resource: Resource) -> tuple[str, ...]:
    """The remote config ids an experiment's variants override, sorted, each once."""
    keys: set[str] = set()
    for _, variant in _variants(resource.data):
        overrides = variant.get("overrides")
        if isinstance(overrides, Mapping):
            keys.update(k for k in overrides if isinstance(k, str))
    return tuple(sorted(keys))


def variant_ids(resource: Resource) -> tuple[str, ...]:
    """The variant ids of an experiment, in file order (empty for a remote config)."""
    return variant_ids_of(resource.data)


def variant_ids_of(data: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(v["id"] for _, v in _variants(data) if isinstance(v.get("id"), str))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: float) -> str:
    return f"{value:g}"


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    if choices:
        return f" (known: {', '.join(choices)})"
    return ""
