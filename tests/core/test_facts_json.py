"""The offline FACTS.json format: safe defaults, field-naming errors, lossless round trips."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.decision import decide, decision_to_json
from bot.core.facts import Comment, Commit, OpenPullRequest, PullRequestFacts, Review, ReviewState
from bot.core.facts_json import facts_from_json, facts_to_json
from bot.core.model import Action, Kind, PendingState, Plan, PlannedAction, ResourceKey, Status
from bot.core.repo_config import Account, Approvals, RepoConfig, Role

ISSUE_EXAMPLE: dict[str, Any] = {
    "number": 42,
    "author": "carol",
    "draft": False,
    "head_sha": "abc123",
    "ready_at": "2026-11-21T09:00:00Z",
    "commits": [{"sha": "abc123", "author": "carol", "committer": "carol", "co_authors": []}],
    "pusher": "carol",
    "reviews": [
        {
            "user": "bob",
            "state": "APPROVED",
            "body": "",
            "commit_id": "abc123",
            "submitted_at": "2026-11-21T11:00:00Z",
        }
    ],
    "comments": [{"user": "bob", "body": "/winner b", "created_at": "2026-11-21T11:05:00Z", "edited": False}],
    "teams": {"acme/growth-leads": ["bob"]},
    "open_prs": [
        {
            "number": 7,
            "ready_at": "2026-11-20T00:00:00Z",
            "resources": [{"account": "acme", "kind": "experiment", "id": "checkout-button"}],
        }
    ],
}

BUTTON = ResourceKey("acme", Kind.EXPERIMENT, "checkout-button")


def test_the_issue_example_reads_as_expected() -> None:
    facts = facts_from_json(ISSUE_EXAMPLE)
    assert facts.number == 42 and facts.author == "carol" and facts.head_sha == "abc123"
    assert facts.ready_at == datetime(2026, 11, 21, 9, tzinfo=UTC)
    assert facts.commits == (Commit("abc123", "carol", "carol", ()),)
    assert facts.reviews == (
        Review("bob", ReviewState.APPROVED, "", "abc123", datetime(2026, 11, 21, 11, tzinfo=UTC)),
    )
    assert facts.comments == (Comment("bob", "/winner b", datetime(2026, 11, 21, 11, 5, tzinfo=UTC), False),)
    assert facts.teams == {"acme/growth-leads": ("bob",)}
    assert facts.open_prs == (OpenPullRequest(7, datetime(2026, 11, 20, tzinfo=UTC), (BUTTON,)),)


def test_missing_optional_fields_take_safe_defaults() -> None:
    facts = facts_from_json({"number": 1, "author": "carol"})
    assert facts == PullRequestFacts(number=1, author="carol")
    assert (facts.draft, facts.reviews, facts.comments, facts.open_prs) == (False, (), (), ())
    assert facts.head_pushed_at is None  # so no slash command counts: the safe side


def test_round_trip_keeps_everything() -> None:
    facts = PullRequestFacts(
        number=9,
        author="carol",
        head_sha="h",
        draft=True,
        ready_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        commits=(Commit("h", "carol", None, ("dana",)),),
        pusher="erin",
        reviews=(Review("bob", ReviewState.DISMISSED, "meh", "g", None),),
        comments=(Comment("bob", "/approve", datetime(2026, 1, 2, tzinfo=UTC), True, 77),),
        teams={"acme/leads": ("bob", "zed")},
        open_prs=(
            OpenPullRequest(
                3,
                None,
                (BUTTON,),
                draft=True,
                publishes=(ResourceKey("acme", Kind.REMOTE_CONFIG, "price"),),
                pending={BUTTON: PendingState.FINISH_PENDING},
            ),
        ),
        incomplete="reviews truncated",
        head_pushed_at=datetime(2026, 1, 2, 1, tzinfo=UTC),
    )
    data = facts_to_json(facts)
    assert facts_from_json(data) == facts
    assert data["open_prs"][0]["resources"][0]["pending"] == "FINISH PENDING"
    assert data["ready_at"] == "2026-01-02T03:04:05Z"


def test_times_with_an_offset_are_read_in_utc() -> None:
    data = {"number": 1, "author": "c", "ready_at": "2026-11-21T10:00:00+01:00"}
    assert facts_from_json(data).ready_at == datetime(2026, 11, 21, 9, tzinfo=UTC)


def broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(ISSUE_EXAMPLE)
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


DELETE = object()

BAD = [
    ("number missing", ("number",), DELETE, "number: missing; it is required"),
    ("number not a number", ("number",), "42", "number: expected a whole number, got '42'"),
    ("author empty", ("author",), " ", "author: a login may not be empty"),
    ("draft not a boolean", ("draft",), "no", "draft: expected true or false, got 'no'"),
    (
        "time without a zone",
        ("ready_at",),
        "2026-11-21T09:00:00",
        "ready_at: '2026-11-21T09:00:00' has no time zone",
    ),
    ("time not a time", ("ready_at",), "yesterday", "ready_at: 'yesterday' is not an RFC 3339 time"),
    ("reviews not a list", ("reviews",), {}, "reviews: expected a list, got dict"),
    (
        "review state unknown",
        ("reviews", 0, "state"),
        "LGTM",
        "reviews[0].state: unknown review state 'LGTM'",
    ),
    ("review without user", ("reviews", 0, "user"), DELETE, "reviews[0].user: missing; it is required"),
    ("commit sha missing", ("commits", 0, "sha"), DELETE, "commits[0].sha: missing"),
    ("co-authors not a list", ("commits", 0, "co_authors"), "dana", "commits[0].co_authors: expected a list"),
    (
        "comment edited not a boolean",
        ("comments", 0, "edited"),
        1,
        "comments[0].edited: expected true or false",
    ),
    ("team key not a slug", ("teams",), {"leads": ["bob"]}, "teams: key 'leads' must be a team slug"),
    (
        "resource kind unknown",
        ("open_prs", 0, "resources", 0, "kind"),
        "flag",
        "open_prs[0].resources[0].kind: unknown value 'flag'; use one of 'experiment', 'remote_config'",
    ),
    (
        "pending state unknown",
        ("open_prs", 0, "resources", 0, "pending"),
        "SOON",
        "open_prs[0].resources[0].pending: unknown value 'SOON'",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        facts_from_json(broken(path, value))
    assert message in str(caught.value)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(ValueError, match="facts: expected an object, got list"):
        facts_from_json([])  # type: ignore[arg-type]


def test_lowercase_review_states_are_accepted() -> None:
    assert (
        facts_from_json(broken(("reviews", 0, "state"), "approved")).reviews[0].state is ReviewState.APPROVED
    )


def test_the_issue_example_decides_offline() -> None:
    """FACTS.json → decide → the `decision` object, as `approvalbot check --facts` does."""
    config = RepoConfig(
        Approvals(), (Account("acme", ("acme/**",), {Role.ADMIN: ("alice",), Role.APPROVER: ("bob",)}),)
    )
    finish = PlannedAction(
        BUTTON,
        "acme/experiments/checkout-button.yaml",
        Action.FINISH,
        Status.RUNNING,
        Status.FINISHED,
        PendingState.FINISH_PENDING,
        True,
        variants=("a", "b"),
    )
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    example = facts_from_json(ISSUE_EXAMPLE)
    locked = decision_to_json(decide(config, [], Plan((finish,)), example, now))
    assert locked["state"] == "blocked"
    assert any("locked by #7" in r for r in locked["reasons"])

    free = facts_from_json({**ISSUE_EXAMPLE, "open_prs": [], "head_pushed_at": "2026-11-21T10:00:00Z"})
    out = decision_to_json(decide(config, [], Plan((finish,)), free, now))
    assert (out["state"], out["winner"], out["labels"]) == (
        "approved",
        "b",
        ["pending: FINISH PENDING", "approved"],
    )
    assert out["accounts"]["acme"]["approved_by"] == ["bob"]
