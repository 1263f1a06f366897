from typing import Any

from bot.core.diff import changed_top_fields, diff_documents
from bot.core.model import FieldChange

ADDED, REMOVED, CHANGED = FieldChange.Kind.ADDED, FieldChange.Kind.REMOVED, FieldChange.Kind.CHANGED


def variants(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"id": v, "name": v.title(), "weight": w} for v, w in pairs]


def summary(changes: tuple[FieldChange, ...]) -> list[tuple[str, str, Any, Any]]:
    return [(c.dotted, c.change.value, c.old, c.new) for c in changes]


def test_a_changed_weight_is_one_change_named_by_variant_id() -> None:
    old = {"variants": variants(("control", 50), ("treatment", 50))}
    new = {"variants": variants(("control", 40), ("treatment", 60))}
    assert summary(diff_documents(old, new)) == [
        ("variants[control].weight", "changed", 50, 40),
        ("variants[treatment].weight", "changed", 50, 60),
    ]


def test_inserting_a_variant_does_not_shift_the_later_ones() -> None:
    old = {"variants": variants(("control", 50), ("treatment", 50))}
    new = {"variants": variants(("control", 50), ("blue", 0), ("treatment", 50))}
    assert summary(diff_documents(old, new)) == [
        ("variants[blue]", "added", None, {"id": "blue", "name": "Blue", "weight": 0}),
    ]


def test_reordering_variants_is_no_change() -> None:
    old = {"variants": variants(("control", 50), ("treatment", 50))}
    new = {"variants": variants(("treatment", 50), ("control", 50))}
    assert diff_documents(old, new) == ()


def test_lists_without_unique_ids_are_compared_by_position() -> None:
    old = {"targeting": {"segments": ["a", "b"]}, "rules": [{"id": "x", "eq": 1}, {"id": "x", "eq": 2}]}
    new = {"targeting": {"segments": ["a", "c"]}, "rules": [{"id": "x", "eq": 1}, {"id": "x", "eq": 3}]}
    assert summary(diff_documents(old, new)) == [
        ("rules[1].eq", "changed", 2, 3),
        ("targeting.segments[1]", "changed", "b", "c"),
    ]


def test_fields_added_and_removed_and_type_changes() -> None:
    old = {"id": "x", "description": "old", "traffic": 50, "overrides": {"control": {"color": "red"}}}
    new = {"id": "x", "winner": "control", "traffic": "50", "overrides": {"control": {}}}
    assert summary(diff_documents(old, new)) == [
        ("description", "removed", "old", None),
        ("overrides.control.color", "removed", "red", None),
        ("traffic", "changed", 50, "50"),
        ("winner", "added", None, "control"),
    ]


def test_a_new_file_lists_each_top_field_and_a_deleted_one_each_removal() -> None:
    doc = {"status": "draft", "id": "x", "variants": variants(("control", 100))}
    created = diff_documents(None, doc)
    assert [(c.dotted, c.change) for c in created] == [("id", ADDED), ("status", ADDED), ("variants", ADDED)]
    assert created[2].new == doc["variants"]  # shown as the list the user wrote
    assert {c.change for c in diff_documents(doc, None)} == {REMOVED}


def test_identical_documents_have_no_diff_and_changed_fields_are_top_level() -> None:
    doc = {"a": {"b": [1, 2]}}
    assert diff_documents(doc, doc) == ()
    changes = diff_documents({"a": {"b": 1}, "s": "x"}, {"a": {"b": 2}, "s": "y"})
    assert changed_top_fields(changes) == frozenset({"a", "s"})
    assert all(c.change is CHANGED for c in changes)
