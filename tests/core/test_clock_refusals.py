"""A refusal on a status the clock moved says what the file asks for and why (issue 14).

Before: a `status: running` file whose end_at had passed was judged as finished, and the message said
"finished → finished is not allowed", a transition the file does not make.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from gitrepo import experiment

from bot.core.plan import make_plan
from bot.core.repo_config import Account, Approvals, RepoConfig
from bot.core.tree import DictTree, changed_files

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = RepoConfig(Approvals(), (Account("web", ("web/**",)),), {})
EXP = "web/experiments/x.yaml"
ENDED = {"start_at": "2026-01-01T00:00:00Z", "end_at": "2026-02-01T00:00:00Z"}
LATER = {"start_at": "2026-01-01T00:00:00Z", "end_at": "2026-06-01T00:00:00Z"}
NOT_YET = {"start_at": "2026-05-01T00:00:00Z"}
STARTED = {"start_at": "2026-01-01T00:00:00Z"}

FINISHED_BY_CLOCK = (
    "schedule.end_at (2026-02-01T00:00:00Z) has passed and a running experiment finishes at its end_at, "
    "so it is finished already; a finished experiment can only be deleted (allowed from here: delete)"
)
STARTED_BY_CLOCK = (
    "schedule.start_at (2026-01-01T00:00:00Z) has passed and a scheduled experiment starts at its "
    "start_at, so it is running already"
)

# (name, base document, head document or None, the whole message after the resource's name)
CASES: list[tuple[str, str, str | None, str]] = [
    (
        "an edit of a running file whose end_at passed",
        experiment("x", "running", schedule=ENDED),
        experiment("x", "running", schedule=ENDED, owner="me"),
        f"the file keeps status: running and edits owner, but {FINISHED_BY_CLOCK}",
    ),
    (
        "moving end_at later to keep it running",
        experiment("x", "running", schedule=ENDED),
        experiment("x", "running", schedule=LATER),
        f"the file keeps status: running and edits schedule, but {FINISHED_BY_CLOCK}",
    ),
    (
        "pausing a running file whose end_at passed",
        experiment("x", "running", schedule=ENDED),
        experiment("x", "paused", schedule=ENDED),
        f"the file asks for status: paused, but {FINISHED_BY_CLOCK}",
    ),
    (
        "unscheduling a scheduled file whose start_at passed",
        experiment("x", "scheduled", schedule=STARTED),
        experiment("x", "draft", schedule=STARTED),
        f"the file asks for status: draft, but {STARTED_BY_CLOCK}; a running experiment cannot go back "
        "to draft; pause or finish it (allowed from here: pause, finish, publish edits)",
    ),
    (
        "deleting a scheduled file whose start_at passed",
        experiment("x", "scheduled", schedule=STARTED),
        None,
        f"the change deletes the file, but {STARTED_BY_CLOCK}; finish it first, then delete it in another "
        "change (allowed from here: pause, finish, publish edits)",
    ),
    (
        "an edit that moves end_at into the past",
        experiment("x", "running", schedule=LATER),
        experiment("x", "running", schedule=ENDED),
        "the file keeps status: running and edits schedule, but on the head schedule.end_at "
        "(2026-02-01T00:00:00Z) has passed and a running experiment finishes at its end_at, so the merge "
        "would make it finished at once; keep the schedule in the future, or change the status itself in "
        "a change of its own (allowed from here: pause, finish, publish edits)",
    ),
]


def plan_of(base: str, head: str | None) -> Any:
    before, after = DictTree({EXP: base}), DictTree({EXP: head} if head is not None else {})
    return make_plan(before, after, changed_files(before, after), CONFIG, NOW)


@pytest.mark.parametrize(("name", "base", "head", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_refusal_the_clock_caused_says_what_the_file_asks_and_why(
    name: str, base: str, head: str | None, message: str
) -> None:
    [action] = plan_of(base, head).actions
    [problem] = action.errors
    assert action.action is None
    assert problem.message == f"experiment 'x' (account web): {message}"
    assert (problem.file, problem.line) == (EXP, 4)  # the status line
    assert " → " not in problem.message  # no transition the file does not make


def test_without_the_clock_the_refusal_names_the_transition_as_before() -> None:
    [action] = plan_of(experiment("x", "running", schedule=LATER), None).actions
    [problem] = action.errors
    assert "running → absent is not allowed: finish it first" in problem.message


def test_a_schedule_still_in_the_future_changes_nothing() -> None:
    [action] = plan_of(experiment("x", "scheduled", schedule=NOT_YET), experiment("x", "paused")).actions
    assert "scheduled → paused is not allowed" in action.errors[0].message
