"""The structured diff of one resource between two revisions: what a reviewer reads.

deepdiff does the comparison. Lists of mappings that carry a unique `id` (variants, metrics, rules)
are compared as mappings keyed by that id, so inserting or reordering a variant shows as one variant
added, not as every later variant changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepdiff import DeepDiff

from bot.core.model import DocPath, FieldChange, ItemId

_ADDED = frozenset({"dictionary_item_added", "iterable_item_added", "attribute_added", "set_item_added"})
_REMOVED = frozenset(
    {"dictionary_item_removed", "iterable_item_removed", "attribute_removed", "set_item_removed"}
)
_CHANGED = frozenset({"values_changed", "type_changes"})


def diff_documents(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> tuple[FieldChange, ...]:
    """Every field added, removed or changed from `old` to `new` (None: absent), sorted by path."""
    raw_before, raw_after = dict(old or {}), dict(new or {})
    found: list[FieldChange] = []
    # Top-level fields are compared one by one so a created or deleted file lists its fields rather
    # than one change of the whole document.
    for name in raw_before.keys() | raw_after.keys():
        if name in raw_before and name in raw_after and raw_before[name] == raw_after[name]:
            continue  # most fields of most changes: skip keying by id and deepdiff's far costlier walk
        before = {name: _by_id(raw_before[name])} if name in raw_before else {}
        after = {name: _by_id(raw_after[name])} if name in raw_after else {}
        if name not in before:
            found.append(FieldChange((name,), FieldChange.Kind.ADDED, None, _plain(after[name])))
        elif name not in after:
            found.append(FieldChange((name,), FieldChange.Kind.REMOVED, _plain(before[name]), None))
        elif before[name] == after[name]:
            continue  # items with ids only reordered: nothing a reviewer needs to see
        elif _is_container(before[name]) and _is_container(after[name]):
            found.extend(_diff_values((name,), before[name], after[name]))
        else:
            found.append(
                FieldChange((name,), FieldChange.Kind.CHANGED, _plain(before[name]), _plain(after[name]))
            )
    return tuple(sorted(found, key=lambda c: path_sort_key(c.path)))


def _diff_values(prefix: DocPath, old: Any, new: Any) -> list[FieldChange]:
    found: list[FieldChange] = []
    tree = DeepDiff(old, new, ignore_order=False, view="tree")
    for report, levels in tree.items():
        kind = _kind_of(report)
        if kind is None:
            continue
        for level in levels:
            path: DocPath = prefix + tuple(level.path(output_format="list"))
            old_value = None if kind is FieldChange.Kind.ADDED else _plain(level.t1)
            new_value = None if kind is FieldChange.Kind.REMOVED else _plain(level.t2)
            found.append(FieldChange(path, kind, old_value, new_value))
    return found


def changed_top_fields(changes: tuple[FieldChange, ...]) -> frozenset[str]:
    """The top-level field names a diff touches (what the state machine weighs as "edited")."""
    return frozenset(str(c.path[0]) for c in changes if c.path)


def path_sort_key(path: DocPath) -> tuple[tuple[int, int, str], ...]:
    """Orders paths mixing names and indexes: indexes numerically, names alphabetically."""
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def _is_container(value: Any) -> bool:
    return isinstance(value, Mapping | list)


def _kind_of(report: str) -> FieldChange.Kind | None:
    if report in _ADDED:
        return FieldChange.Kind.ADDED
    if report in _REMOVED:
        return FieldChange.Kind.REMOVED
    if report in _CHANGED:
        return FieldChange.Kind.CHANGED
    return None  # repetition changes only arise with ignore_order, which we never use


def _by_id(value: Any) -> Any:
    """Replaces every list of mappings with unique string ids by a mapping keyed by `ItemId`."""
    if isinstance(value, Mapping):
        return {k: _by_id(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_by_id(v) for v in value]
        ids = [v.get("id") if isinstance(v, Mapping) else None for v in items]
        if items and all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids):
            return {ItemId(i): v for i, v in zip(ids, items, strict=True)}
        return items
    return value


def _plain(value: Any) -> Any:
    """Undoes `_by_id` on a value shown to the user: a variant added is shown as the list item it was."""
    if isinstance(value, Mapping):
        if value and all(isinstance(k, ItemId) for k in value):
            return [_plain(v) for v in value.values()]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
