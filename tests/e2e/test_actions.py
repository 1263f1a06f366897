"""Each action row of SPEC §3, end to end: a PR opened by a contributor shows its pending state, asks the
approvers, and turns green once an eligible approver approves on GitHub."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from harness import BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running
SHIPPING = "web/experiments/free_shipping_threshold_test.yaml"  # paused
SEARCH = "web/experiments/semantic_search_rollout.yaml"  # scheduled (2030)
REVIEWS = "web/experiments/product_page_reviews_position.yaml"  # finished
PAYWALL = "mobile/experiments/paywall_copy_test.yaml"  # draft, overrides a live variable
LAYOUT = "web/remote_config/homepage_layout.yaml"  # remote config, draft
SEARCH_FLAG = "web/remote_config/semantic_search_enabled.yaml"  # remote config, live, used by SEARCH
DARK = "mobile/remote_config/dark_mode_default.yaml"  # remote config, draft
DRAFT = "web/experiments/homepage_modular_layout.yaml"  # draft experiment


@dataclass(frozen=True)
class Row:
    name: str
    path: str
    edit: tuple[tuple[str, str], ...] | None  # None: delete the file
    action: str  # the heading of the diff comment's group
    pending: str
    approvers: tuple[str, ...]  # who approves (delete needs two)
    requested: str  # one login that must be asked to review


ROWS = [
    Row(
        "start",
        PAYWALL,
        (("status: draft", "status: running\nschedule:\n  start_at: 2025-01-06T09:00:00Z"),),
        "Start",
        "APPROVAL PENDING",
        ("heidi-approver",),
        "heidi-approver",
    ),
    Row(
        "schedule",
        PAYWALL,
        (("status: draft", "status: scheduled\nschedule:\n  start_at: 2031-01-06T09:00:00Z"),),
        "Schedule",
        "SCHEDULING PENDING",
        ("judy-release",),
        "grace-mobile-lead",
    ),
    Row(
        "unschedule",
        SEARCH,
        (("status: scheduled", "status: draft"),),
        "Unschedule",
        "APPROVAL PENDING",
        ("bob-approver",),
        "bob-approver",
    ),
    Row(
        "pause",
        CHECKOUT,
        (("status: running", "status: paused"),),
        "Pause",
        "PAUSE PENDING",
        ("erin-reviewer",),
        "alice-admin",
    ),
    Row(
        "resume",
        SHIPPING,
        (("status: paused", "status: running"),),
        "Resume",
        "RESUME PENDING",
        ("team-lead-tina",),
        "team-lead-tom",
    ),
    Row(
        "finish with winner",
        CHECKOUT,
        (("status: running", "status: finished\nwinner: green"),),
        "Finish",
        "FINISH PENDING",
        ("bob-approver",),
        "bob-approver",
    ),
    Row(
        "finish paused",
        SHIPPING,
        (("status: paused", "status: finished"),),
        "Finish",
        "FINISH PENDING",
        ("bob-approver",),
        "bob-approver",
    ),
    Row(
        "publish edits",
        CHECKOUT,
        (("traffic_allocation: 50", "traffic_allocation: 60"),),
        "Publish edits",
        "APPROVAL PENDING",
        ("alice-admin",),
        "bob-approver",
    ),
    Row(
        "delete", REVIEWS, None, "Delete", "DELETE PENDING", ("bob-approver", "erin-reviewer"), "alice-admin"
    ),
    Row(
        "publish remote config",
        DARK,
        (("status: draft", "status: live"),),
        "Publish",
        "APPROVAL PENDING",
        ("grace-mobile-lead",),
        "heidi-approver",
    ),
    Row(
        "publish remote config edits",
        SEARCH_FLAG,
        (("default: false", "default: true"),),
        "Publish edits",
        "APPROVAL PENDING",
        ("bob-approver",),
        "bob-approver",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_action_from_open_to_approved(world: BotWorld, row: Row) -> None:
    content = None if row.edit is None else world.edited(row.path, *row.edit)
    pr = world.open_pr(
        "ivan-contrib" if row.path.startswith("mobile") else "carol-contrib", {row.path: content}
    )
    world.drain()

    run = world.check(pr)
    assert run is not None
    assert (run.conclusion, run.title) == ("action_required", f"Waiting for approval — {row.pending}")
    assert row.pending in (run.summary or "")
    assert world.labels(pr) == {f"pending: {row.pending}"}
    assert row.requested in world.requested(pr)
    body = world.comment(pr)
    assert f"#### {row.action}" in body and row.path in body

    for approver in row.approvers[:-1]:
        world.review(pr, approver, "APPROVE")
        world.drain()
        assert world.check(pr).conclusion == "action_required"  # type: ignore[union-attr]
    world.review(pr, row.approvers[-1], "APPROVE")
    world.drain()

    run = world.check(pr)
    assert run is not None
    assert (run.conclusion, run.title) == ("success", "Approved")
    assert "approved" in world.labels(pr)
    assert all(a in (run.summary or "") for a in row.approvers)
    assert world.state(pr) == "open"  # merge_on_approval is false in the sample: a person merges
    assert world.comment(pr) == body  # one comment, unchanged by the approval


NEW = "web/experiments/new_banner_test.yaml"


def _new_draft(world: BotWorld) -> str:
    text = world.edited(DRAFT, ("id: homepage_modular_layout", "id: new_banner_test"))
    return text[: text.index("    overrides:")]  # no overrides: a plain new draft


@pytest.mark.parametrize(
    ("name", "path", "content", "action"),
    [
        ("create draft", NEW, _new_draft, "Create draft"),
        (
            "edit draft",
            DRAFT,
            lambda w: w.edited(DRAFT, ("name: Modular homepage", "name: Modular home")),
            "Edit draft",
        ),
        ("delete draft", DRAFT, lambda w: None, "Delete draft"),
    ],
)
def test_draft_changes_need_no_approval(world: BotWorld, name: str, path: str, content, action: str) -> None:  # type: ignore[no-untyped-def]
    pr = world.open_pr("carol-contrib", {path: content(world)})
    world.drain()

    run = world.check(pr)
    assert run is not None
    assert (run.conclusion, run.title) == ("success", "No approval needed"), run.summary
    assert world.labels(pr) == set()
    assert world.requested(pr) == set()
    assert f"#### {action}" in world.comment(pr)
