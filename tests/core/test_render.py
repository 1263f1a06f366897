import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.diff import diff_documents
from bot.core.model import (
    Action,
    FieldChange,
    ItemId,
    Kind,
    PendingState,
    Plan,
    PlannedAction,
    Problem,
    ResourceKey,
    Status,
)
from bot.core.render import override_rows, plan_to_json, render_markdown, render_text, variant_weights
from bot.core.repo_config import Account, Approvals, RepoConfig

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CONFIG = RepoConfig(
    Approvals(required_by_action={Action.DELETE: 2}),
    (Account("web", ("web/**",)), Account("mobile", ("mobile/**",))),
)

LONG = "A test of the green checkout button.\nIt runs in every market except where legal says no."


def variants(
    weights: dict[str, int], overrides: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    out = []
    for ident, weight in weights.items():
        item: dict[str, Any] = {"id": ident, "weight": weight}
        if ident == "control":
            item["control"] = True
        if overrides and ident in overrides:
            item["overrides"] = overrides[ident]
        out.append(item)
    return out


def key(account: str, kind: Kind, ident: str) -> ResourceKey:
    return ResourceKey(account, kind, ident)


def mixed_plan() -> Plan:
    before = {
        "id": "checkout",
        "status": "draft",
        "description": "short",
        "variants": variants({"control": 50, "treatment": 50}),
    }
    after = {
        "id": "checkout",
        "status": "running",
        "description": LONG,
        "traffic_allocation": 80,
        "variants": variants(
            {"control": 40, "blue": 10, "treatment": 50}, {"treatment": {"color": "green", "size": 2}}
        ),
        "targeting": {"segments": ["returning|buyers"]},
    }
    start = PlannedAction(
        key("web", Kind.EXPERIMENT, "checkout"),
        "web/experiments/checkout.yaml",
        Action.START,
        Status.DRAFT,
        Status.RUNNING,
        PendingState.APPROVAL_PENDING,
        True,
        changes=diff_documents(before, after),
        variants=("control", "blue", "treatment"),
        uses=("color", "size"),
        unmet_dependencies=(key("web", Kind.REMOTE_CONFIG, "size"),),
    )
    publish = PlannedAction(
        key("web", Kind.REMOTE_CONFIG, "color"),
        "web/remote_config/color.yaml",
        Action.PUBLISH,
        Status.DRAFT,
        Status.LIVE,
        PendingState.APPROVAL_PENDING,
        True,
        changes=diff_documents({"status": "draft", "default": "red"}, {"status": "live", "default": "blue"}),
    )
    refused = PlannedAction(
        key("web", Kind.EXPERIMENT, "search"),
        "web/experiments/search.yaml",
        None,
        Status.RUNNING,
        Status.PAUSED,
        None,
        False,
        errors=(
            Problem(
                "web/experiments/search.yaml",
                5,
                1,
                "experiment 'search' (account web): running → paused is not allowed: two submissions: "
                "change the status in one PR and the other fields (name) in another (allowed from here: "
                "pause, finish, publish edits)",
            ),
        ),
        changes=diff_documents(
            {"status": "running", "name": "Search"}, {"status": "paused", "name": "<Search>"}
        ),
    )
    delete = PlannedAction(
        key("mobile", Kind.EXPERIMENT, "onboarding"),
        "mobile/experiments/onboarding.yaml",
        Action.DELETE,
        Status.FINISHED,
        None,
        PendingState.DELETE_PENDING,
        True,
        changes=diff_documents({"id": "onboarding", "status": "finished", "winner": "control"}, None),
    )
    draft = PlannedAction(
        key("mobile", Kind.REMOTE_CONFIG, "banner"),
        "mobile/remote_config/banner.yaml",
        Action.CREATE_DRAFT,
        None,
        Status.DRAFT,
        None,
        False,
        changes=diff_documents(None, {"id": "banner", "status": "draft", "default": {"text": "hi"}}),
    )
    errors = (Problem("other/x.yaml", 1, 1, "other/x.yaml is not in any account of .approvalbot.yml"),)
    return Plan((draft, delete, start, publish, refused), errors, True, ("web",))


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; rerun with UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize(
    ("name", "plan"), [("mixed", mixed_plan()), ("empty", Plan())], ids=["mixed", "empty"]
)
def test_text_golden(name: str, plan: Plan) -> None:
    golden(f"plan_{name}.txt", render_text(plan, CONFIG))


@pytest.mark.parametrize(
    ("name", "plan"), [("mixed", mixed_plan()), ("empty", Plan())], ids=["mixed", "empty"]
)
def test_markdown_golden(name: str, plan: Plan) -> None:
    golden(f"plan_{name}.md", render_markdown(plan, CONFIG))


def test_markdown_groups_by_account_then_action_with_refused_last() -> None:
    text = render_markdown(mixed_plan())
    order = [
        text.index(h)
        for h in (
            "### Account `mobile`",
            "#### Create draft",
            "#### Delete",
            "### Account `web`",
            "#### Publish",
            "#### Start",
            "#### Refused",
        )
    ]
    assert order == sorted(order)


def test_long_values_are_folded_and_short_ones_are_inline() -> None:
    text = render_markdown(mixed_plan())
    assert "<details><summary><code>description</code> changed</summary>" in text
    assert "It runs in every market" in text.split("<details><summary><code>description")[1]
    assert "- `traffic_allocation` added: `80`" in text


def test_a_deleted_file_is_folded_into_one_line() -> None:
    text = render_markdown(mixed_plan())
    assert "<details><summary>the file is removed (3 fields)</summary>" in text
    assert "- the file is removed (3 fields)" in render_text(mixed_plan())
    assert "- winner: control" not in render_text(mixed_plan())


def test_weights_and_overrides_become_tables_not_bullets() -> None:
    text = render_markdown(mixed_plan())
    assert "| `control` | `50` → `40` |" in text and "| `blue` | — → `10` |" in text
    assert "| `treatment` | `color` | — → `green` |" in text
    assert "variants[control].weight" not in text


def test_table_cells_and_html_are_escaped() -> None:
    text = render_markdown(mixed_plan())
    assert '`{"segments": ["returning|buyers"]}`' in text  # outside tables a pipe is plain text
    change = FieldChange(
        ("variants", ItemId("treatment"), "overrides", "color"), FieldChange.Kind.CHANGED, "a|b", "c"
    )
    action = PlannedAction(
        key("web", Kind.EXPERIMENT, "x"), "x.yaml", None, None, None, None, False, changes=(change,)
    )
    assert "| `treatment` | `color` | `a\\|b` → `c` |" in render_markdown(Plan((action,)))
    assert "<script>" not in render_markdown(Plan(errors=(Problem("f", 1, 1, "<script>"),)))


def test_variant_weights_from_a_whole_new_list_and_overrides_from_each_layout() -> None:
    created = diff_documents(None, {"variants": variants({"control": 50, "b": 50})})
    assert variant_weights(created) == [("control", None, 50), ("b", None, 50)]
    inside = FieldChange(("variants", "x", "overrides"), FieldChange.Kind.ADDED, None, {"k": 1})
    beside = FieldChange(("overrides",), FieldChange.Kind.CHANGED, {"x": {"k": 1}}, {"x": {"k": 2}})
    assert override_rows([inside, beside]) == [("x", "k", None, 1), ("x", "k", 1, 2)]


def test_json_is_serialisable_and_carries_times_as_text() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    plan = Plan(
        (
            PlannedAction(
                key("web", Kind.EXPERIMENT, "x"),
                "web/experiments/x.yaml",
                Action.EDIT_DRAFT,
                Status.DRAFT,
                Status.DRAFT,
                None,
                False,
                changes=(FieldChange(("schedule", "start_at"), FieldChange.Kind.ADDED, None, when),),
            ),
        )
    )
    data = plan_to_json(plan)
    assert json.loads(json.dumps(data)) == data
    assert data["actions"][0]["diff"] == [
        {"path": "schedule.start_at", "change": "added", "old": None, "new": "2030-01-01T00:00:00+00:00"}
    ]
    assert "approvals_required" not in data["actions"][0]
    assert plan_to_json(plan, CONFIG)["actions"][0]["approvals_required"] == 0


def test_json_counts_approvals_per_action_from_the_config() -> None:
    data = plan_to_json(mixed_plan(), CONFIG)
    needed = {a["id"]: a["approvals_required"] for a in data["actions"]}
    assert needed == {"banner": 0, "onboarding": 2, "checkout": 1, "color": 1, "search": 0}
    assert data["errors"] == [
        {
            "file": "other/x.yaml",
            "line": 1,
            "column": 1,
            "message": "other/x.yaml is not in any account of .approvalbot.yml",
        }
    ]
    assert data["actions"][2]["unmet_dependencies"] == [
        {"account": "web", "kind": "remote_config", "id": "size"}
    ]
