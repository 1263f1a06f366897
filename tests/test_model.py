from bot.core.model import Action, Document, FieldChange, Kind, Position, ResourceKey


def test_dotted_path_reads_like_yaml() -> None:
    change = FieldChange(("variants", 1, "weight"), FieldChange.Kind.CHANGED, 50, 40)
    assert change.dotted == "variants[1].weight"


def test_document_position_falls_back_to_the_enclosing_node() -> None:
    doc = Document({"a": {"b": 1}}, {(): Position(1), ("a",): Position(2, 3)})
    assert doc.position(("a", "b", "c")) == Position(2, 3)
    assert doc.position(("zzz",)) == Position(1)


def test_names_are_the_json_contract() -> None:
    assert Action.PUBLISH_EDITS.value == "publish_edits"
    assert Action.PUBLISH_EDITS.label == "publish edits"
    assert str(ResourceKey("acme", Kind.EXPERIMENT, "x")) == "acme/experiment/x"
