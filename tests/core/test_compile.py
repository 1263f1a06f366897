"""The compiled remote config: live variables, running experiments, winners rolled out, a stable ETag."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.core.compile import compile_remote_config, etag
from bot.core.live import LiveRecord, to_jsonable
from bot.core.model import Kind, ResourceKey, Status


def var(
    key: str, type_: str, default: Any, status: Status = Status.LIVE, account: str = "web", **extra: Any
) -> LiveRecord:
    doc = {
        "kind": "remote_config",
        "id": key,
        "key": key,
        "type": type_,
        "default": default,
        "status": status.value,
        **extra,
    }
    return LiveRecord(ResourceKey(account, Kind.REMOTE_CONFIG, key), status, doc)


def exp(
    id_: str,
    status: Status,
    variants: list[dict[str, Any]],
    *,
    winner: str | None = None,
    updated: datetime | None = None,
    **extra: Any,
) -> LiveRecord:
    doc: dict[str, Any] = {
        "kind": "experiment",
        "id": id_,
        "status": status.value,
        "variants": variants,
        **extra,
    }
    if winner:
        doc["winner"] = winner
    return LiveRecord(ResourceKey("web", Kind.EXPERIMENT, id_), status, doc, revision=2, updated_at=updated)


VARIANTS = [
    {"id": "control", "weight": 50, "control": True, "overrides": {}},
    {"id": "green", "weight": 50, "overrides": {"button_color": "green", "max_items": 7, "unknown_key": 1}},
]


def live_state() -> list[LiveRecord]:
    return [
        var("button_color", "string", "blue", conditional_values=[{"segment": "beta", "value": "purple"}]),
        var("max_items", "number", 5),
        var("new_checkout", "boolean", False, status=Status.DRAFT),
        var("other_account", "string", "x", account="mobile"),
        exp("checkout", Status.RUNNING, VARIANTS, traffic_allocation=20, targeting={"segments": ["beta"]}),
        exp("paused_one", Status.PAUSED, VARIANTS),
        exp("old_test", Status.FINISHED, VARIANTS, winner="green"),
    ]


def test_only_live_variables_of_the_account_are_compiled() -> None:
    compiled = compile_remote_config("web", live_state())
    assert list(compiled["variables"]) == ["button_color", "max_items"]
    assert compiled["account"] == "web"


def test_running_experiments_say_who_gets_what() -> None:
    (running,) = compile_remote_config("web", live_state())["experiments"]
    assert running["id"] == "checkout"
    assert running["traffic_allocation"] == 20
    assert running["targeting"] == {"segments": ["beta"]}
    assert running["variants"] == [
        {"id": "control", "weight": 50, "control": True, "overrides": {}},
        # keys that are not live variables are never sent to clients
        {
            "id": "green",
            "weight": 50,
            "control": False,
            "overrides": {"button_color": "green", "max_items": 7},
        },
    ]


def test_a_winner_is_rolled_out_to_everyone_and_replaces_the_defaults() -> None:
    compiled = compile_remote_config("web", live_state())
    assert compiled["rollouts"] == [
        {
            "experiment": "old_test",
            "variant": "green",
            "traffic_allocation": 100,
            "overrides": {"button_color": "green", "max_items": 7},
        },
    ]
    color = compiled["variables"]["button_color"]
    assert color["default"] == "green"
    assert color["declared_default"] == "blue"
    assert color["rolled_out"] == {"experiment": "old_test", "variant": "green"}
    assert color["conditional_values"] == [{"segment": "beta", "value": "purple"}]
    assert compiled["variables"]["max_items"]["default"] == 7


def test_without_a_winner_nothing_is_rolled_out() -> None:
    records = [var("button_color", "string", "blue"), exp("old", Status.FINISHED, VARIANTS)]
    compiled = compile_remote_config("web", records)
    assert compiled["rollouts"] == []
    assert compiled["variables"]["button_color"]["default"] == "blue"
    assert "rolled_out" not in compiled["variables"]["button_color"]


def test_the_latest_finish_wins_a_key_two_winners_set() -> None:
    blue = [
        {"id": "c", "weight": 50, "control": True},
        {"id": "b", "weight": 50, "overrides": {"button_color": "navy"}},
    ]
    records = [
        var("button_color", "string", "blue"),
        exp("zz_first", Status.FINISHED, VARIANTS, winner="green", updated=datetime(2030, 1, 1, tzinfo=UTC)),
        exp("aa_second", Status.FINISHED, blue, winner="b", updated=datetime(2030, 2, 1, tzinfo=UTC)),
    ]
    color = compile_remote_config("web", records)["variables"]["button_color"]
    assert color["default"] == "navy"
    assert color["declared_default"] == "blue"
    assert color["rolled_out"]["experiment"] == "aa_second"


def test_scheduled_experiment_counts_as_running_once_started_when_now_is_given() -> None:
    sched = exp("later", Status.SCHEDULED, VARIANTS, schedule={"start_at": "2030-01-01T00:00:00Z"})
    records = [var("button_color", "string", "blue"), sched]
    assert compile_remote_config("web", records)["experiments"] == []
    before = compile_remote_config("web", records, now=datetime(2029, 12, 31, tzinfo=UTC))
    after = compile_remote_config("web", records, now=datetime(2030, 1, 2, tzinfo=UTC))
    assert before["experiments"] == []
    assert [e["id"] for e in after["experiments"]] == ["later"]


def test_output_is_json_and_the_etag_is_stable_under_input_order() -> None:
    records = live_state()
    first = compile_remote_config("web", records)
    tags = set()
    for seed in range(5):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        compiled = compile_remote_config("web", shuffled)
        assert json.dumps(compiled, sort_keys=True) == json.dumps(first, sort_keys=True)
        tags.add(etag(compiled))
    assert tags == {etag(first)}
    assert len(etag(first)) == 64


def test_the_etag_changes_when_the_live_state_does() -> None:
    records = live_state()
    published = [*records, var("new_flag", "boolean", True)]
    paused = [*records[:4], exp("checkout", Status.PAUSED, VARIANTS), *records[5:]]
    tags = {etag(compile_remote_config("web", r)) for r in (records, published, paused)}
    assert len(tags) == 3


SAMPLE = Path(__file__).resolve().parents[2] / "experiments.example"


def sample_records(account: str) -> list[LiveRecord]:
    """The sample repo as if every file were live in its declared status (YAML read plainly)."""
    records = []
    for path in sorted((SAMPLE / account).glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text())
        key = ResourceKey(account, Kind(data["kind"]), data["id"])
        records.append(LiveRecord(key, Status(data["status"]), to_jsonable(data)))
    return records


def test_the_sample_repo_compiles_to_json() -> None:
    compiled = compile_remote_config("web", sample_records("web"))
    json.dumps(compiled)  # YAML timestamps and all: JSON-able
    assert sorted(compiled["variables"]) == [
        "checkout_button_color",
        "free_shipping_threshold",
        "semantic_search_enabled",
    ]
    assert compiled["variables"]["free_shipping_threshold"]["conditional_values"][0] == {
        "segment": "loyalty_gold",
        "value": 25,
    }
    (running,) = compiled["experiments"]
    assert running["id"] == "checkout_button_color_test"
    assert running["traffic_allocation"] == 50
    assert running["targeting"]["segments"] == ["returning_buyers", "new_visitors"]
    assert running["variants"][1]["overrides"] == {"checkout_button_color": "#188038"}
    assert [(r["experiment"], r["variant"]) for r in compiled["rollouts"]] == [
        ("product_page_reviews_position", "beside_price")
    ]
