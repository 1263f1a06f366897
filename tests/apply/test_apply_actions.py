"""Every action, applied end to end: a PR through the emulator, approved, merged; the live store after.

Each test asserts the live record (status, document, revision) and that the merge was applied once
with one audit `apply` entry per resource; finish tests also check the compiled remote config.
"""

from __future__ import annotations

from applykit import (
    ADMIN,
    BUTTON_COLOR,
    CHECKOUT_TEST,
    CREATOR,
    HOMEPAGE_LAYOUT,
    HOMEPAGE_TEST,
    MOBILE_APPROVER,
    MOBILE_CREATOR,
    ONBOARDING_STEPS,
    ONBOARDING_TEST,
    PAYWALL_TEST,
    REVIEWS_TEST,
    SEARCH_TEST,
    SHIPPING_TEST,
    WEB_APPROVER,
    WEB_TEAM_APPROVER,
    applies,
    approved_merge,
    edited,
    merge,
    open_pr,
    read_api,
    review,
    revision,
)

from bot.core.compile import compile_remote_config
from bot.core.model import Action, Kind, ResourceKey, Status
from bot.sandbox import Sandbox


def _compiled(box: Sandbox, account: str) -> dict:
    return compile_remote_config(account, box.store.live(account), box.services.clock())


def _assert_applied(box: Sandbox, key: ResourceKey, sha: str, action: Action) -> None:
    entries = applies(box, key, sha)
    assert [e.action for e in entries] == [action], entries
    assert box.store.is_applied(sha)


def test_pause_goes_live_with_the_merged_document(box: Sandbox) -> None:
    before = revision(box, CHECKOUT_TEST)
    merged = approved_merge(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    record = box.live(CHECKOUT_TEST)
    assert record is not None
    assert record.status is Status.PAUSED
    assert record.document["status"] == "paused"
    assert record.document["traffic_allocation"] == 50
    assert record.revision == before + 1
    assert record.applied_commit == merged.sha
    _assert_applied(box, CHECKOUT_TEST, merged.sha, Action.PAUSE)
    entry = applies(box, CHECKOUT_TEST, merged.sha)[0]
    assert entry.actor == ADMIN and entry.pr_number == merged.number
    # The check on the merge commit says it went live.
    run = box.check(merged.sha)
    assert run is not None and run.conclusion == "success" and "Applied" in (run.title or "")


def test_resume_goes_live(box: Sandbox) -> None:
    before = revision(box, SHIPPING_TEST)
    merged = approved_merge(box, edited(box, SHIPPING_TEST, ("status: paused", "status: running")))
    record = box.live(SHIPPING_TEST)
    assert record is not None and record.status is Status.RUNNING and record.revision == before + 1
    _assert_applied(box, SHIPPING_TEST, merged.sha, Action.RESUME)


def test_start_of_a_draft_published_with_the_variable_it_uses(box: Sandbox) -> None:
    edits = edited(box, HOMEPAGE_TEST, ("status: draft", "status: running"))
    edits |= edited(box, HOMEPAGE_LAYOUT, ("status: draft", "status: live"))
    merged = approved_merge(box, edits)
    test = box.live(HOMEPAGE_TEST)
    variable = box.live(HOMEPAGE_LAYOUT)
    assert test is not None and test.status is Status.RUNNING
    assert variable is not None and variable.status is Status.LIVE
    _assert_applied(box, HOMEPAGE_TEST, merged.sha, Action.START)
    _assert_applied(box, HOMEPAGE_LAYOUT, merged.sha, Action.PUBLISH)
    compiled = _compiled(box, "web")
    assert compiled["variables"]["homepage_layout"]["default"]["modules"][0] == {
        "type": "hero",
        "variant": "carousel",
    }
    running = {e["id"]: e for e in compiled["experiments"]}
    assert running["homepage_modular_layout"]["traffic_allocation"] == 10
    overrides = {v["id"]: v["overrides"] for v in running["homepage_modular_layout"]["variants"]}
    assert overrides["recommendations_first"]["homepage_layout"]["modules"][0]["type"] == "recommendations"


def test_publish_of_a_remote_config_variable_alone(box: Sandbox) -> None:
    assert "homepage_layout" not in _compiled(box, "web")["variables"]
    merged = approved_merge(box, edited(box, HOMEPAGE_LAYOUT, ("status: draft", "status: live")))
    variable = box.live(HOMEPAGE_LAYOUT)
    assert variable is not None and variable.status is Status.LIVE and variable.document["type"] == "json"
    _assert_applied(box, HOMEPAGE_LAYOUT, merged.sha, Action.PUBLISH)
    assert "homepage_layout" in _compiled(box, "web")["variables"]


def test_schedule_goes_live_as_scheduled(box: Sandbox) -> None:
    edits = edited(
        box,
        PAYWALL_TEST,
        ("status: draft", "status: scheduled\nschedule:\n  start_at: 2031-01-05T09:00:00Z"),
    )
    merged = approved_merge(box, edits, (MOBILE_APPROVER,), author=MOBILE_CREATOR)
    record = box.live(PAYWALL_TEST)
    assert record is not None and record.status is Status.SCHEDULED
    assert record.document["schedule"]["start_at"] in ("2031-01-05T09:00:00+00:00", "2031-01-05T09:00:00Z")
    _assert_applied(box, PAYWALL_TEST, merged.sha, Action.SCHEDULE)


def test_unschedule_goes_back_to_draft(box: Sandbox) -> None:
    before = revision(box, SEARCH_TEST)
    merged = approved_merge(box, edited(box, SEARCH_TEST, ("status: scheduled", "status: draft")))
    record = box.live(SEARCH_TEST)
    assert record is not None and record.status is Status.DRAFT and record.revision == before + 1
    _assert_applied(box, SEARCH_TEST, merged.sha, Action.UNSCHEDULE)


def test_publish_edits_of_a_running_test(box: Sandbox) -> None:
    before = revision(box, CHECKOUT_TEST)
    merged = approved_merge(
        box, edited(box, CHECKOUT_TEST, ("traffic_allocation: 50", "traffic_allocation: 80"))
    )
    record = box.live(CHECKOUT_TEST)
    assert record is not None and record.status is Status.RUNNING
    assert record.document["traffic_allocation"] == 80 and record.revision == before + 1
    _assert_applied(box, CHECKOUT_TEST, merged.sha, Action.PUBLISH_EDITS)
    running = {e["id"]: e for e in _compiled(box, "web")["experiments"]}
    assert running["checkout_button_color_test"]["traffic_allocation"] == 80


def test_finish_with_the_creators_winner_rolls_it_out_to_everyone(box: Sandbox) -> None:
    compiled = _compiled(box, "web")
    assert compiled["variables"]["checkout_button_color"]["default"] != "#188038"
    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: finished"))
    path = box.path_of(CHECKOUT_TEST)
    edits[path] += "winner: green\n"
    merged = approved_merge(box, edits)
    record = box.live(CHECKOUT_TEST)
    assert record is not None and record.status is Status.FINISHED and record.winner == "green"
    _assert_applied(box, CHECKOUT_TEST, merged.sha, Action.FINISH)
    assert applies(box, CHECKOUT_TEST, merged.sha)[0].winner == "green"
    compiled = _compiled(box, "web")
    assert compiled["variables"]["checkout_button_color"]["default"] == "#188038"
    assert compiled["variables"]["checkout_button_color"]["rolled_out"] == {
        "experiment": "checkout_button_color_test",
        "variant": "green",
    }
    rollout = next(r for r in compiled["rollouts"] if r["experiment"] == "checkout_button_color_test")
    assert rollout["traffic_allocation"] == 100
    assert rollout["overrides"] == {"checkout_button_color": "#188038"}
    assert "checkout_button_color_test" not in {e["id"] for e in compiled["experiments"]}
    # The variable itself was not touched: only the compiled view changes.
    assert box.live(BUTTON_COLOR) is not None


def test_finish_with_the_approvers_winner_when_the_file_names_none(box: Sandbox) -> None:
    # A /winner the file contradicts is refused (tests/e2e/test_winner_agreement.py).
    edits = edited(box, ONBOARDING_TEST, ("status: running", "status: finished"))
    merged = approved_merge(
        box, edits, (MOBILE_APPROVER,), author=MOBILE_CREATOR, body="Data says one screen.\n/winner one_step"
    )
    record = box.live(ONBOARDING_TEST)
    assert record is not None and record.status is Status.FINISHED
    assert record.winner == "one_step" and record.document["winner"] == "one_step"
    assert applies(box, ONBOARDING_TEST, merged.sha)[0].winner == "one_step"
    compiled = _compiled(box, "mobile")
    assert compiled["variables"]["onboarding_steps"]["default"] == 1
    assert compiled["variables"]["onboarding_steps"]["declared_default"] == 5
    rollout = next(r for r in compiled["rollouts"] if r["experiment"] == "onboarding_length_test")
    assert rollout == {
        "experiment": "onboarding_length_test",
        "variant": "one_step",
        "traffic_allocation": 100,
        "overrides": {"onboarding_steps": 1},
    }
    live_variable = box.live(ONBOARDING_STEPS)
    assert live_variable is not None and live_variable.document["default"] == 5


def test_delete_needs_two_approvals_then_removes_it(box: Sandbox) -> None:
    path = box.path_of(REVIEWS_TEST)
    number = open_pr(box, {path: None})
    review(box, number, WEB_APPROVER)
    run = box.check(number)
    assert run is not None and run.conclusion == "action_required", "one approval must not be enough"
    review(box, number, WEB_TEAM_APPROVER)
    run = box.check(number)
    assert run is not None and run.conclusion == "success"
    sha = merge(box, number)
    assert box.live(REVIEWS_TEST) is None
    entries = applies(box, REVIEWS_TEST, sha)
    assert [(e.action, e.detail.get("status")) for e in entries] == [(Action.DELETE, "deleted")]


def test_delete_of_a_live_variable_removes_it_from_the_compiled_config(box: Sandbox) -> None:
    key = ResourceKey("mobile", Kind.REMOTE_CONFIG, "support_chat_greeting")
    assert "support_chat_greeting" in _compiled(box, "mobile")["variables"]
    merged = approved_merge(box, {box.path_of(key): None}, (MOBILE_APPROVER, "grace-mobile-lead"))
    assert box.live(key) is None
    _assert_applied(box, key, merged.sha, Action.DELETE)
    assert "support_chat_greeting" not in _compiled(box, "mobile")["variables"]


def test_drafts_are_created_edited_and_deleted_with_no_approval(box: Sandbox) -> None:
    new = ResourceKey("web", Kind.EXPERIMENT, "cart_drawer_test")
    text = (
        box.file(box.path_of(HOMEPAGE_TEST))
        .replace("id: homepage_modular_layout", "id: cart_drawer_test")
        .replace("name: Modular homepage", "name: Cart drawer")
    )
    created = open_pr(box, {box.path_of(new): text})
    assert box.check(created).conclusion == "success"  # type: ignore[union-attr]
    sha = merge(box, created, CREATOR)
    record = box.live(new)
    assert record is not None and record.status is Status.DRAFT and record.revision == 1
    assert record.document["name"] == "Cart drawer"
    _assert_applied(box, new, sha, Action.CREATE_DRAFT)

    edit = open_pr(box, edited(box, new, ("name: Cart drawer", "name: Slide-out cart drawer")))
    sha = merge(box, edit, CREATOR)
    record = box.live(new)
    assert record is not None and record.document["name"] == "Slide-out cart drawer" and record.revision == 2
    _assert_applied(box, new, sha, Action.EDIT_DRAFT)

    gone = open_pr(box, {box.path_of(new): None})
    sha = merge(box, gone, CREATOR)
    assert box.live(new) is None
    _assert_applied(box, new, sha, Action.DELETE_DRAFT)
    assert not box.store.drift()


def test_one_merge_of_several_resources_is_applied_together(box: Sandbox) -> None:
    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: paused"))
    edits |= edited(box, SHIPPING_TEST, ("status: paused", "status: running"))
    merged = approved_merge(box, edits)
    assert [r.status for r in (box.live(CHECKOUT_TEST), box.live(SHIPPING_TEST))] == [  # type: ignore[union-attr]
        Status.PAUSED,
        Status.RUNNING,
    ]
    entries = applies(box, CHECKOUT_TEST, merged.sha) + applies(box, SHIPPING_TEST, merged.sha)
    assert sorted(e.action for e in entries) == sorted([Action.PAUSE, Action.RESUME])
    assert {e.pr_number for e in entries} == {merged.number}


def test_the_read_api_serves_the_rollout_with_a_new_etag(box: Sandbox) -> None:
    api = read_api(box, {"web-token": "web"})
    auth = {"Authorization": "Bearer web-token"}
    url = "/api/v1/accounts/web/remote-config"
    before = api.get(url, headers=auth)
    assert before.status_code == 200 and before.headers["ETag"]
    tagged = auth | {"If-None-Match": before.headers["ETag"]}
    assert api.get(url, headers=tagged).status_code == 304

    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: finished"))
    edits[box.path_of(CHECKOUT_TEST)] += "winner: green\n"
    merged = approved_merge(box, edits)

    after = api.get(url, headers=tagged)
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert after.get_json()["variables"]["checkout_button_color"]["default"] == "#188038"
    resources = api.get("/api/v1/accounts/web/resources", headers=auth).get_json()["resources"]
    [test] = [r for r in resources if r["id"] == "checkout_button_color_test"]
    assert test["live"]["status"] == "finished" and test["live"]["winner"] == "green"
    assert test["live"]["applied_commit"] == merged.sha and test["pending"] is None
