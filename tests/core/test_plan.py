from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from gitrepo import experiment, variable

from bot.core.model import Action, Kind, PendingState, Plan, PlannedAction, ResourceKey, Status
from bot.core.plan import make_plan
from bot.core.repo_config import Account, Approvals, RepoConfig
from bot.core.tree import ChangeType, DictTree, FileChange, changed_files

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = RepoConfig(Approvals(), (Account("web", ("web/**",)), Account("mobile", ("mobile/**",))), {})
CONFIG_YAML = """
approvals: {required: 1}
accounts:
  web:
    paths: ["web/**"]
    roles: {admin: [alice]}
  mobile:
    paths: ["mobile/**"]
    roles: {admin: [bob]}
"""


def uses(variable_id: str, value: str = "green") -> list[dict[str, Any]]:
    return [
        {"id": "control", "weight": 50, "control": True},
        {"id": "treatment", "weight": 50, "overrides": {variable_id: value}},
    ]


def plan_of(base: Mapping[str, str], head: Mapping[str, str], config: RepoConfig = CONFIG) -> Plan:
    before, after = DictTree(base), DictTree(head)
    return make_plan(before, after, changed_files(before, after), config, NOW)


def only(plan: Plan) -> PlannedAction:
    assert len(plan.actions) == 1, plan
    return plan.actions[0]


EXP = "web/experiments/checkout.yaml"
RC = "web/remote_config/color.yaml"


def test_starting_a_draft_needs_approval_and_shows_the_status_change() -> None:
    plan = plan_of({EXP: experiment("checkout", "draft")}, {EXP: experiment("checkout", "running")})
    action = only(plan)
    assert action.key == ResourceKey("web", Kind.EXPERIMENT, "checkout")
    assert (action.action, action.from_status, action.to_status) == (
        Action.START,
        Status.DRAFT,
        Status.RUNNING,
    )
    assert action.pending_state is PendingState.APPROVAL_PENDING and action.requires_approval
    assert [(c.dotted, c.old, c.new) for c in action.changes] == [("status", "draft", "running")]
    assert action.variants == ("control", "treatment") and plan.valid


def test_deleting_a_running_experiment_is_refused_at_its_status_line() -> None:
    plan = plan_of({EXP: experiment("checkout", "running")}, {})
    action = only(plan)
    assert action.action is None and not plan.valid
    [problem] = action.errors
    assert (problem.file, problem.line) == (EXP, 4)
    assert (
        "experiment 'checkout' (account web): running → absent is not allowed: finish it first"
        in problem.message
    )


def test_a_status_change_with_other_edits_on_a_live_experiment_is_two_submissions() -> None:
    plan = plan_of(
        {EXP: experiment("checkout", "running")}, {EXP: experiment("checkout", "paused", owner="me")}
    )
    [problem] = only(plan).errors
    assert "two submissions" in problem.message and "(owner)" in problem.message


def test_finish_carries_the_winner_and_a_new_paused_file_is_refused() -> None:
    plan = plan_of(
        {EXP: experiment("checkout", "running")},
        {
            EXP: experiment("checkout", "finished", winner="treatment"),
            "web/experiments/new.yaml": experiment("new", "paused"),
        },
    )
    finish, new = plan.actions
    assert finish.action is Action.FINISH and finish.winner == "treatment" and finish.valid
    assert finish.pending_state is PendingState.FINISH_PENDING
    assert new.action is None and "a new experiment starts as draft" in new.errors[0].message


def test_a_scheduled_experiment_past_its_start_is_running_so_an_edit_publishes_edits() -> None:
    schedule = {"start_at": "2026-02-01T00:00:00Z"}
    base = experiment("checkout", "scheduled", schedule=schedule)
    head = experiment("checkout", "scheduled", schedule=schedule, description="now blue")
    action = only(plan_of({EXP: base}, {EXP: head}))
    assert (action.action, action.from_status, action.to_status) == (
        Action.PUBLISH_EDITS,
        Status.RUNNING,
        Status.RUNNING,
    )


def test_an_unchanged_document_submits_nothing() -> None:
    text = experiment("checkout", "running")
    assert plan_of({EXP: text}, {EXP: text + "# a comment\n"}).actions == ()


def test_renamed_file_and_changed_id_are_refused() -> None:
    before, after = (
        DictTree({EXP: experiment("checkout", "draft")}),
        DictTree({"web/experiments/basket.yaml": experiment("checkout", "draft")}),
    )
    renamed = [FileChange(ChangeType.RENAMED, "web/experiments/basket.yaml", EXP)]
    action = only(make_plan(before, after, renamed, CONFIG, NOW))
    assert any("was renamed" in p.message for p in action.errors)
    changed = only(plan_of({EXP: experiment("checkout", "draft")}, {EXP: experiment("basket", "draft")}))
    assert any("the id changed from 'checkout' to 'basket'" in p.message for p in changed.errors)


def test_files_outside_every_account_are_plan_errors_and_tool_files_are_ignored() -> None:
    plan = plan_of(
        {},
        {
            "other/experiments/x.yaml": experiment("x", "draft"),
            ".github/workflows/ci.yml": "on: push\n",
            "README.md": "hello",
        },
    )
    assert plan.actions == ()
    [problem] = plan.errors
    assert problem.file == "other/experiments/x.yaml" and "not in any account" in problem.message


def test_an_invalid_head_reports_the_loader_problems() -> None:
    plan = plan_of({EXP: experiment("checkout", "draft")}, {EXP: experiment("checkout", "draft", colour=1)})
    action = only(plan)
    assert action.action is None and any("colour" in p.message for p in action.errors)
    broken = plan_of({}, {"web/experiments/x.yaml": "kind: [unclosed\n"})
    assert broken.actions == () and broken.errors and broken.errors[0].file == "web/experiments/x.yaml"


def test_a_running_experiment_using_a_draft_variable_has_an_unmet_dependency() -> None:
    base = {RC: variable("color", "draft"), EXP: experiment("checkout", "draft", variants=uses("color"))}
    head = {RC: variable("color", "draft"), EXP: experiment("checkout", "running", variants=uses("color"))}
    action = only(plan_of(base, head))
    assert action.uses == ("color",)
    assert action.unmet_dependencies == (ResourceKey("web", Kind.REMOTE_CONFIG, "color"),)


def test_publishing_the_variable_in_the_same_change_meets_the_dependency() -> None:
    base = {RC: variable("color", "draft"), EXP: experiment("checkout", "draft", variants=uses("color"))}
    head = {RC: variable("color", "live"), EXP: experiment("checkout", "running", variants=uses("color"))}
    plan = plan_of(base, head)
    publish = next(a for a in plan.actions if a.key.kind is Kind.REMOTE_CONFIG)
    start = next(a for a in plan.actions if a.key.kind is Kind.EXPERIMENT)
    assert publish.action is Action.PUBLISH and start.unmet_dependencies == () and plan.valid


def test_a_variable_live_on_the_base_is_met_and_a_draft_experiment_has_no_dependencies() -> None:
    live = {RC: variable("color", "live"), EXP: experiment("checkout", "draft")}
    started = {**live, EXP: experiment("checkout", "running", variants=uses("color"))}
    assert only(plan_of(live, started)).unmet_dependencies == ()
    draft = {RC: variable("color", "draft")}
    drafted = {**draft, EXP: experiment("checkout", "draft", variants=uses("color"))}
    assert only(plan_of(draft, drafted)).unmet_dependencies == ()


def test_an_override_of_an_unknown_variable_is_an_error() -> None:
    action = only(plan_of({}, {EXP: experiment("checkout", "draft", variants=uses("colour"))}))
    assert any(
        "'colour' is not a remote config variable of account 'web'" in p.message for p in action.errors
    )


class CountingTree(DictTree):
    def __init__(self, files: Mapping[str, str]) -> None:
        super().__init__(files)
        self.read_paths: list[str] = []
        self.searched: list[tuple[str, list[str]]] = []

    def read(self, path: str) -> bytes | None:
        self.read_paths.append(path)
        return super().read(path)

    def mentioning(self, word: str, paths: Iterable[str]) -> list[str]:
        listed = list(paths)
        self.searched.append((word, listed))
        return super().mentioning(word, listed)


def test_deleting_a_variable_a_running_experiment_uses_is_refused_reading_only_the_users() -> None:
    files = {RC: variable("color", "live"), EXP: experiment("checkout", "running", variants=uses("color"))}
    files |= {f"web/experiments/other{i}.yaml": experiment(f"other{i}", "running") for i in range(5)}
    base = CountingTree(files)
    head = CountingTree({p: v for p, v in files.items() if p != RC})
    plan = make_plan(base, head, [FileChange(ChangeType.DELETED, RC)], CONFIG, NOW)
    action = only(plan)
    assert action.action is Action.DELETE and not action.valid
    assert (
        "remote config 'color' cannot be deleted while running experiment 'checkout'"
        in action.errors[0].message
    )
    assert action.errors[0].file == RC
    assert base.read_paths == [RC] and head.read_paths == [EXP]
    [(word, candidates)] = head.searched
    assert word == "color" and EXP in candidates


def test_deleting_a_variable_a_finished_experiment_still_uses_is_refused() -> None:
    # A finished experiment's overrides would name a variable that no longer exists: the default
    # branch would fail `approvalbot validate` (issue 14; tests/core/test_variable_in_use.py).
    files = {RC: variable("color", "live"), EXP: experiment("checkout", "finished", variants=uses("color"))}
    head = {p: v for p, v in files.items() if p != RC}
    action = only(plan_of(files, head))
    assert action.action is Action.DELETE and not action.valid
    assert "delete it in this change or first" in action.errors[0].message


def test_a_change_only_reads_the_touched_files_and_the_variables_they_use() -> None:
    files = {f"web/experiments/e{i}.yaml": experiment(f"e{i}", "draft") for i in range(20)}
    files |= {RC: variable("color", "live"), "web/remote_config/size.yaml": variable("size", "live")}
    base = CountingTree(files)
    head = CountingTree(
        {**files, "web/experiments/e3.yaml": experiment("e3", "running", variants=uses("color"))}
    )
    change = [FileChange(ChangeType.MODIFIED, "web/experiments/e3.yaml")]
    plan = make_plan(base, head, change, CONFIG, NOW)
    assert only(plan).valid
    assert sorted(base.read_paths) == ["web/experiments/e3.yaml", RC]
    assert sorted(head.read_paths) == ["web/experiments/e3.yaml", RC]


def test_every_error_of_a_change_is_reported_together() -> None:
    base = {EXP: experiment("checkout", "running"), "mobile/experiments/a.yaml": experiment("a", "finished")}
    head = {
        "mobile/experiments/a.yaml": experiment("a", "running"),
        "nowhere/x.yaml": experiment("x", "draft"),
    }
    plan = plan_of(base, head)
    files = sorted(p.file for p in plan.all_problems)
    assert files == ["mobile/experiments/a.yaml", "nowhere/x.yaml", EXP]


def test_a_duplicate_id_in_another_folder_of_the_account_is_an_error() -> None:
    head = {EXP: experiment("checkout", "draft"), "web/old/checkout.yaml": experiment("checkout", "draft")}
    plan = make_plan(
        DictTree({"web/old/checkout.yaml": head["web/old/checkout.yaml"]}),
        DictTree(head),
        [FileChange(ChangeType.ADDED, EXP)],
        CONFIG,
        NOW,
    )
    assert any("also defined in web/old/checkout.yaml" in p.message for p in only(plan).errors)


def config_plan(old: str, new: str) -> Plan:
    base, head = DictTree({".approvalbot.yml": old}), DictTree({".approvalbot.yml": new})
    return make_plan(base, head, [FileChange(ChangeType.MODIFIED, ".approvalbot.yml")], CONFIG, NOW)


def test_a_config_change_names_the_accounts_it_affects() -> None:
    one = config_plan(CONFIG_YAML, CONFIG_YAML.replace("admin: [bob]", "admin: [bob, carol]"))
    assert one.config_changed and one.config_accounts == ("mobile",) and one.valid
    added = config_plan(CONFIG_YAML, CONFIG_YAML + "  ios:\n    paths: [ios/**]\n    roles: {admin: [dan]}\n")
    assert added.config_accounts == ("ios",)
    shared = config_plan(CONFIG_YAML, CONFIG_YAML.replace("required: 1", "required: 2"))
    assert shared.config_accounts == ("mobile", "web")


def test_a_config_change_that_breaks_the_config_is_an_error() -> None:
    plan = config_plan(CONFIG_YAML, "approvals: {required: many}\n")
    assert plan.config_changed and not plan.valid
    assert all("leaves .approvalbot.yml invalid" in p.message for p in plan.errors)
