"""A `/reject` needs a reason; a rejection with none never shows an empty quote (issue 14).

Chosen: a bare `/reject` comment does not count and its author is asked, in a reply, for the reason
(the creator needs it to fix the change). A CHANGES_REQUESTED review with an empty body still rejects
(GitHub lets one carry only comments on the files), and says plainly that no reason was given.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.core.decision import NO_REASON_GIVEN, DecisionState, decide, decision_markdown
from bot.core.facts import Comment, Commit, PullRequestFacts, Review, ReviewState
from bot.core.model import Action, Kind, PendingState, Plan, PlannedAction, ResourceKey, Status
from bot.core.repo_config import Account, Approvals, RepoConfig, Role

PUSHED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HEAD = "h2h2h2h2h2"
CONFIG = RepoConfig(Approvals(), (Account("acme", ("acme/**",), {Role.APPROVER: ("bob",)}),))
KEY = ResourceKey("acme", Kind.EXPERIMENT, "button")
PLAN = Plan(
    (
        PlannedAction(
            KEY, "acme/experiments/button.yaml", Action.PAUSE, Status.RUNNING, Status.PAUSED,
            PendingState.PAUSE_PENDING, True,
        ),
    )
)  # fmt: skip
BASE = PullRequestFacts(
    number=42, author="carol", head_sha=HEAD, ready_at=PUSHED, head_pushed_at=PUSHED,
    commits=(Commit(HEAD, "carol", "carol"),), pusher="carol",
)  # fmt: skip


def by_comment(body: str) -> PullRequestFacts:
    return replace(BASE, comments=(Comment("bob", body, LATER, False, 7),))


def by_review(body: str) -> PullRequestFacts:
    return replace(BASE, reviews=(Review("bob", ReviewState.CHANGES_REQUESTED, body, HEAD, LATER),))


@pytest.mark.parametrize("body", ["/reject", "/reject   ", "/REJECT\n", "looks off\n/reject"])
def test_a_reject_command_without_a_reason_does_not_count_and_asks_for_one(body: str) -> None:
    decision = decide(CONFIG, [], PLAN, by_comment(body), NOW)
    assert decision.state is DecisionState.PENDING and decision.feedback == ()
    [reply] = decision.replies
    assert (reply.user, reply.comment_id) == ("bob", 7)
    assert "bob's /reject does not count: it gives no reason" in reply.text
    assert "/reject REASON" in reply.text


# (facts, state, the feedback as the check shows it)
CASES = [
    (by_comment("/reject the copy is wrong"), DecisionState.REJECTED, "> **bob**: the copy is wrong"),
    (by_comment("/reject\nthe copy is wrong"), DecisionState.REJECTED, "> **bob**: the copy is wrong"),
    (by_review("the copy is wrong"), DecisionState.REJECTED, "> **bob**: the copy is wrong"),
    (by_review(""), DecisionState.REJECTED, f"> **bob**: {NO_REASON_GIVEN}"),
]


@pytest.mark.parametrize(("facts", "state", "shown"), CASES)
def test_a_rejection_shows_its_reason_or_says_there_is_none(
    facts: PullRequestFacts, state: DecisionState, shown: str
) -> None:
    decision = decide(CONFIG, [], PLAN, facts, NOW)
    assert decision.state is state
    assert shown in decision_markdown(decision)
    assert "> **bob**: \n" not in decision_markdown(decision)
    [told] = [n for n in decision.notify if n.feedback is not None]
    assert told.feedback == f"bob: {shown.split(': ', 1)[1]}"
