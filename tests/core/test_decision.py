"""The decision engine, rule by rule: each row builds a plan and facts by hand and checks the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.decision import (
    Decision,
    DecisionState,
    NotifyEvent,
    decide,
    decision_markdown,
    decision_to_json,
)
from bot.core.facts import Comment, Commit, OpenPullRequest, PullRequestFacts, Review, ReviewState
from bot.core.model import Action, Kind, PendingState, Plan, PlannedAction, Problem, ResourceKey, Status
from bot.core.repo_config import (
    APPROVE_PERMISSION,
    Account,
    Approvals,
    CustomRole,
    RepoConfig,
    Role,
    Subject,
    missing_config_problem,
)

S = DecisionState
READY = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
PUSHED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HEAD, OLD = "h2h2h2h2h2", "h1h1h1h1h1"

ACME = Account(
    "acme",
    ("acme/**",),
    {
        Role.ADMIN: ("alice",),
        Role.APPROVER: ("bob", "@acme/growth-leads", "deploy[bot]"),
        Role.DRAFT_CONTRIBUTOR: ("dana",),
        Role.VIEWER: ("vic",),
    },
    (
        CustomRole("reviewers", frozenset({APPROVE_PERMISSION}), ("rita",)),
        CustomRole("analysts", frozenset({"read:reports"}), ("andy",)),
    ),
)
BETA = Account("beta", ("beta/**",), {Role.ADMIN: ("alice", "zed"), Role.APPROVER: ("bea",)})
CONFIG = RepoConfig(Approvals(), (ACME, BETA))

BUTTON = ResourceKey("acme", Kind.EXPERIMENT, "checkout-button")
PRICE = ResourceKey("acme", Kind.REMOTE_CONFIG, "price")
BANNER = ResourceKey("beta", Kind.EXPERIMENT, "banner")


def act(
    key: ResourceKey = BUTTON,
    action: Action = Action.PAUSE,
    pending: PendingState | None = PendingState.PAUSE_PENDING,
    **extra: object,
) -> PlannedAction:
    return PlannedAction(
        key=key,
        file=f"{key.account}/{key.kind.value}s/{key.id}.yaml",
        action=action,
        from_status=Status.RUNNING,
        to_status=Status.PAUSED,
        pending_state=pending,
        requires_approval=pending is not None,
        variants=("a", "b"),
        **extra,  # type: ignore[arg-type]
    )


PAUSE = Plan((act(),))
FINISH = Plan((act(action=Action.FINISH, pending=PendingState.FINISH_PENDING),))
TWO_ACCOUNTS = Plan((act(), act(BANNER, Action.START, PendingState.APPROVAL_PENDING)))
CONFIG_CHANGE = Plan(config_changed=True, config_accounts=("acme",))


def approve(user: str, sha: str = HEAD, at: datetime = LATER, body: str = "") -> Review:
    return Review(user, ReviewState.APPROVED, body, sha, at)


def reject(user: str, body: str = "too risky", sha: str = HEAD, at: datetime = LATER) -> Review:
    return Review(user, ReviewState.CHANGES_REQUESTED, body, sha, at)


def comment(user: str, body: str, at: datetime = LATER, edited: bool = False, id: int = 1) -> Comment:
    return Comment(user, body, at, edited, id)


def facts(**changes: object) -> PullRequestFacts:
    base = PullRequestFacts(
        number=42,
        author="carol",
        head_sha=HEAD,
        ready_at=READY,
        head_pushed_at=PUSHED,
        commits=(Commit(HEAD, "carol", "carol"),),
        pusher="carol",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    id: str
    facts: PullRequestFacts
    state: DecisionState
    plan: Plan = PAUSE
    config: RepoConfig = CONFIG
    approved_by: tuple[str, ...] | None = None
    reason: str | None = None  # a substring of some reason (top level or per account)
    extra: dict[str, object] = field(default_factory=dict)


def all_reasons(decision: Decision) -> str:
    return "\n".join([*decision.reasons, *(r for a in decision.accounts for r in a.reasons)])


def with_approvals(**changes: object) -> RepoConfig:
    return replace(CONFIG, approvals=replace(Approvals(), **changes))  # type: ignore[arg-type]


TEAMS = {"acme/growth-leads": ("gina",)}
FINISH_VARIANTS = "its variants are: a, b"

CASES = [
    Case(
        "eligible approver on head approves",
        facts(reviews=(approve("bob"),)),
        S.APPROVED,
        approved_by=("bob",),
    ),
    Case("admin approves", facts(reviews=(approve("alice"),)), S.APPROVED, approved_by=("alice",)),
    Case("logins are case-insensitive", facts(reviews=(approve("Bob"),)), S.APPROVED, approved_by=("Bob",)),
    Case("no review yet", facts(), S.PENDING, approved_by=(), reason="1 more needed"),
    Case(
        "self-approval refused",
        facts(reviews=(approve("carol"),), author="carol"),
        S.PENDING,
        approved_by=(),
        reason="carol is a creator of this change (author of this pull request)",
    ),
    Case(
        "self-approval refused even for an admin author",
        facts(reviews=(approve("alice"),), author="alice", commits=(Commit(HEAD, "alice", "alice"),)),
        S.PENDING,
        reason="alice is a creator",
    ),
    Case(
        "co-author approval refused",
        facts(reviews=(approve("bob"),), commits=(Commit(HEAD, "carol", "carol", ("bob",)),)),
        S.PENDING,
        reason="co-author of commit h2h2h2h",
    ),
    Case(
        "commit author approval refused",
        facts(reviews=(approve("bob"),), commits=(Commit(HEAD, "bob", "carol"),)),
        S.PENDING,
        reason="author of commit h2h2h2h",
    ),
    Case(
        "committer approval refused",
        facts(reviews=(approve("bob"),), commits=(Commit(HEAD, "carol", "bob"),)),
        S.PENDING,
        reason="committer of commit",
    ),
    Case(
        "last pusher refused",
        facts(reviews=(approve("bob"),), pusher="bob"),
        S.PENDING,
        reason="the last pusher",
    ),
    Case(
        "bot refused even when listed as approver",
        facts(reviews=(approve("deploy[bot]"),)),
        S.PENDING,
        reason="bots and GitHub Apps never approve",
    ),
    Case(
        "approval then push is stale",
        facts(reviews=(approve("bob", sha=OLD),)),
        S.PENDING,
        approved_by=(),
        reason="given on commit h1h1h1h, not on the head h2h2h2h; a push made it stale",
    ),
    Case(
        "approve then request changes: rejected (latest wins)",
        facts(reviews=(approve("bob", at=LATER), reject("bob", at=LATER + timedelta(minutes=5)))),
        S.REJECTED,
        approved_by=(),
        reason="Rejected by bob",
    ),
    Case(
        "request changes then approve: approved (latest wins)",
        facts(reviews=(reject("bob", at=LATER), approve("bob", at=LATER + timedelta(minutes=5)))),
        S.APPROVED,
        approved_by=("bob",),
    ),
    Case(
        "a COMMENTED review does not replace an approval",
        facts(
            reviews=(
                approve("bob"),
                Review("bob", ReviewState.COMMENTED, "nice", HEAD, LATER + timedelta(minutes=1)),
            )
        ),
        S.APPROVED,
        approved_by=("bob",),
    ),
    Case(
        "stale rejection does not count",
        facts(reviews=(reject("bob", sha=OLD),)),
        S.PENDING,
        reason="bob must reject again on the current head",
    ),
    Case(
        "dismissed approval counts for nothing",
        facts(reviews=(Review("bob", ReviewState.DISMISSED, "", HEAD, LATER),)),
        S.PENDING,
        approved_by=(),
        reason="dismissed review counts for nothing",
    ),
    Case(
        "approver of another account",
        facts(reviews=(approve("bea"),)),
        S.PENDING,
        reason="bea is not an admin, approver or approving custom role of acme",
    ),
    Case(
        "team member approves",
        facts(reviews=(approve("gina"),), teams=TEAMS),
        S.APPROVED,
        approved_by=("gina",),
    ),
    Case(
        "unknown team resolves to nobody",
        facts(reviews=(approve("gina"),)),
        S.PENDING,
        reason="Team @acme/growth-leads is named in .approvalbot.yml but its members are unknown",
    ),
    Case(
        "custom role with approve permission",
        facts(reviews=(approve("rita"),)),
        S.APPROVED,
        approved_by=("rita",),
    ),
    Case(
        "custom role without approve permission",
        facts(reviews=(approve("andy"),)),
        S.PENDING,
        reason="andy is not an admin, approver or approving custom role of acme",
    ),
    Case("draft contributor never approves", facts(reviews=(approve("dana"),)), S.PENDING, approved_by=()),
    Case("viewer never approves", facts(reviews=(approve("vic"),)), S.PENDING, approved_by=()),
    Case(
        "two accounts: an approver of one is not enough",
        facts(reviews=(approve("bob"), approve("bea"))),
        S.PENDING,
        plan=TWO_ACCOUNTS,
        approved_by=(),
        reason="may approve for every account this PR touches: acme, beta",
    ),
    Case(
        "two accounts: one approver eligible for both",
        facts(reviews=(approve("alice"),)),
        S.APPROVED,
        plan=TWO_ACCOUNTS,
        approved_by=("alice",),
    ),
    Case(
        "required: 2 with one approval",
        facts(reviews=(approve("bob"),)),
        S.PENDING,
        config=with_approvals(required=2),
        reason="1 of 2 approvals given (by bob); 1 more needed",
    ),
    Case(
        "required: 2 with two approvals",
        facts(reviews=(approve("bob"), approve("rita"))),
        S.APPROVED,
        config=with_approvals(required=2),
        approved_by=("bob", "rita"),
    ),
    Case(
        "per-action required: pause needs the default",
        facts(reviews=(approve("bob"),)),
        S.APPROVED,
        config=with_approvals(required_by_action={Action.FINISH: 2}),
    ),
    Case(
        "per-action required: finish needs two",
        facts(reviews=(approve("bob"),)),
        S.PENDING,
        plan=FINISH,
        config=with_approvals(required_by_action={Action.FINISH: 2}),
        reason="1 of 2 approvals given",
    ),
    Case(
        "per-account required",
        facts(reviews=(approve("bob"),)),
        S.PENDING,
        config=replace(CONFIG, accounts=(replace(ACME, required=2), BETA)),
    ),
    Case(
        "config change approved by an approver who is not an admin",
        facts(reviews=(approve("bob"),)),
        S.PENDING,
        plan=CONFIG_CHANGE,
        reason="bob is not an admin of acme (this PR changes .approvalbot.yml)",
    ),
    Case(
        "config change approved by an admin",
        facts(reviews=(approve("alice"),)),
        S.APPROVED,
        plan=CONFIG_CHANGE,
        approved_by=("alice",),
    ),
    Case(
        "config change of the global settings needs an admin of every account",
        facts(reviews=(approve("zed"),)),
        S.PENDING,
        plan=Plan(config_changed=True),
        reason="zed is not an admin of acme",
    ),
    Case(
        "adding an account needs an admin of every existing account",
        facts(reviews=(approve("zed"),)),
        S.PENDING,
        plan=Plan(config_changed=True, config_accounts=("gamma",)),
        reason="zed is not an admin of acme (this PR changes .approvalbot.yml)",
    ),
    Case(
        "adding an account approved by an admin of every existing account",
        facts(reviews=(approve("alice"),)),
        S.APPROVED,
        plan=Plan(config_changed=True, config_accounts=("gamma",)),
    ),
    Case(
        "draft-contributor mode: a draft contributor's change needs approval",
        facts(author="dana", commits=(Commit(HEAD, "dana", "dana"),), pusher="dana"),
        S.PENDING,
        config=with_approvals(subject=Subject.DRAFT_CONTRIBUTORS),
        reason="dana is a draft contributor of acme",
    ),
    Case(
        "draft-contributor mode: an approver's change may publish now",
        facts(author="bob", commits=(Commit(HEAD, "bob", "bob"),), pusher="bob"),
        S.NO_APPROVAL_NEEDED,
        config=with_approvals(subject=Subject.DRAFT_CONTRIBUTORS),
        reason="may be published now",
    ),
    Case(
        "draft-contributor mode: a draft contributor co-authored the approver's change",
        facts(author="bob", commits=(Commit(HEAD, "bob", "bob", ("dana",)),), pusher="bob"),
        S.PENDING,
        config=with_approvals(subject=Subject.DRAFT_CONTRIBUTORS),
    ),
    Case(
        "draft-contributor mode: someone with no role is not privileged",
        facts(author="stranger", commits=(Commit(HEAD, "stranger", "stranger"),), pusher="stranger"),
        S.PENDING,
        config=with_approvals(subject=Subject.DRAFT_CONTRIBUTORS),
        reason="stranger has no admin or approver role in acme",
    ),
    Case(
        "draft-contributor mode: a config change still needs an admin",
        facts(author="bob", commits=(Commit(HEAD, "bob", "bob"),), pusher="bob"),
        S.PENDING,
        plan=CONFIG_CHANGE,
        config=with_approvals(subject=Subject.DRAFT_CONTRIBUTORS),
    ),
    Case(
        "workflow disabled: nothing needs approval",
        facts(),
        S.NO_APPROVAL_NEEDED,
        config=with_approvals(enabled=False),
        reason="approvals.enabled: false",
    ),
    Case(
        # Issue 14: with the workflow off, anyone who can merge could otherwise rewrite the rules.
        "workflow disabled: a config change still needs an admin",
        facts(),
        S.PENDING,
        plan=CONFIG_CHANGE,
        config=with_approvals(enabled=False),
        reason="except this change to .approvalbot.yml itself, which needs an admin",
    ),
    Case(
        "an action that needs no approval",
        facts(),
        S.NO_APPROVAL_NEEDED,
        plan=Plan((act(action=Action.EDIT_DRAFT, pending=None),)),
    ),
    Case(
        "invalid plan",
        facts(reviews=(approve("bob"),)),
        S.INVALID,
        plan=Plan(
            (act(errors=(Problem("acme/experiments/x.yaml", 3, 1, "running → absent is not allowed"),)),)
        ),
        reason="acme/experiments/x.yaml:3:1: running → absent is not allowed",
    ),
    Case(
        "plan error outside any account",
        facts(),
        S.INVALID,
        plan=Plan((act(),), errors=(Problem("stray.yaml", 1, 1, "belongs to no account"),)),
        reason="stray.yaml:1:1: belongs to no account",
    ),
    Case(
        "account missing from the config",
        facts(reviews=(approve("bob"),)),
        S.BLOCKED,
        plan=Plan((act(ResourceKey("gamma", Kind.EXPERIMENT, "x")),)),
        reason="Account gamma is not defined in .approvalbot.yml",
    ),
    Case(
        "incomplete facts never approve",
        facts(reviews=(approve("bob"),), incomplete="reviews list truncated"),
        S.BLOCKED,
        reason="incomplete (reviews list truncated)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rules(case: Case) -> None:
    decision = decide(case.config, [], case.plan, case.facts, NOW)
    assert decision.state is case.state, all_reasons(decision)
    if case.approved_by is not None:
        for account in decision.accounts:
            if account.state not in (S.NO_APPROVAL_NEEDED, S.INVALID, S.BLOCKED):
                assert account.approved_by == case.approved_by
    if case.reason is not None:
        assert case.reason in all_reasons(decision)


# --- locks ----------------------------------------------------------------------------------------

EARLIER, LATER_READY = READY - timedelta(hours=1), READY + timedelta(hours=1)


def other(number: int, ready_at: datetime | None, draft: bool = False, **extra: object) -> OpenPullRequest:
    return OpenPullRequest(
        number, ready_at, (BUTTON,), draft, pending={BUTTON: PendingState.PAUSE_PENDING}, **extra
    )  # type: ignore[arg-type]


LOCK_CASES = [
    ("an older ready PR holds the lock", facts(open_prs=(other(12, EARLIER),)), S.BLOCKED),
    ("a younger ready PR does not", facts(open_prs=(other(50, LATER_READY),)), S.PENDING),
    ("a draft PR holds no lock", facts(open_prs=(other(12, None, draft=True),)), S.PENDING),
    (
        "a draft PR holds no lock even with a ready time",
        facts(open_prs=(other(12, EARLIER, True),)),
        S.PENDING,
    ),
    (
        "this draft PR is blocked by a ready one",
        facts(draft=True, open_prs=(other(50, LATER_READY),)),
        S.BLOCKED,
    ),
    ("same ready time: the lower number first", facts(open_prs=(other(41, READY),)), S.BLOCKED),
    ("same ready time: a higher number waits", facts(open_prs=(other(43, READY),)), S.PENDING),
    ("this PR's own entry is ignored", facts(open_prs=(other(42, EARLIER),)), S.PENDING),
]


@pytest.mark.parametrize(("pr_facts", "state"), [c[1:] for c in LOCK_CASES], ids=[c[0] for c in LOCK_CASES])
def test_locks(pr_facts: PullRequestFacts, state: DecisionState) -> None:
    decision = decide(CONFIG, [], PAUSE, pr_facts, NOW)
    assert decision.state is state, all_reasons(decision)
    if state is S.BLOCKED:
        assert "blocked" in decision.labels
        assert decision.request == ()


def test_lock_names_the_pr_and_its_pending_state() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(open_prs=(other(12, EARLIER),)), NOW)
    assert "acme/experiment/checkout-button is locked by #12 — PAUSE PENDING" in all_reasons(decision)
    assert decision.labels == ("blocked",)


def test_locks_in_both_orders() -> None:
    """Two ready PRs on one resource: exactly the one that became ready first proceeds."""
    first = facts(number=12, ready_at=EARLIER, open_prs=(other(42, READY),))
    second = facts(number=42, ready_at=READY, open_prs=(other(12, EARLIER),))
    assert decide(CONFIG, [], PAUSE, first, NOW).state is S.PENDING
    assert decide(CONFIG, [], PAUSE, second, NOW).state is S.BLOCKED


def test_workflow_disabled_has_no_locks() -> None:
    decision = decide(with_approvals(enabled=False), [], PAUSE, facts(open_prs=(other(12, EARLIER),)), NOW)
    assert decision.state is S.NO_APPROVAL_NEEDED


# --- dependencies ---------------------------------------------------------------------------------

USES_PRICE = act(action=Action.START, pending=PendingState.APPROVAL_PENDING, unmet_dependencies=(PRICE,))
PUBLISH_PRICE = act(PRICE, Action.PUBLISH, PendingState.APPROVAL_PENDING)


def test_dependency_published_in_the_same_pr_does_not_block() -> None:
    decision = decide(CONFIG, [], Plan((USES_PRICE, PUBLISH_PRICE)), facts(reviews=(approve("bob"),)), NOW)
    assert decision.state is S.APPROVED


def test_dependency_held_by_another_pr_blocks_naming_it() -> None:
    holder = OpenPullRequest(7, EARLIER, (PRICE,), publishes=(PRICE,))
    decision = decide(
        CONFIG, [], Plan((USES_PRICE,)), facts(open_prs=(holder,), reviews=(approve("bob"),)), NOW
    )
    assert decision.state is S.BLOCKED
    assert "uses acme/remote_config/price" in all_reasons(decision)
    assert "#7 publishes it: merge #7 first" in all_reasons(decision)


def test_dependency_nobody_publishes_blocks_with_advice() -> None:
    decision = decide(CONFIG, [], Plan((USES_PRICE,)), facts(), NOW)
    assert decision.state is S.BLOCKED
    assert "publish it in this PR or before this one" in all_reasons(decision)


# --- winner ---------------------------------------------------------------------------------------


def test_winner_from_the_approving_review() -> None:
    decision = decide(CONFIG, [], FINISH, facts(reviews=(approve("bob", body="Ship it\n/winner b"),)), NOW)
    assert decision.state is S.APPROVED
    assert decision.winner == "b"
    assert decision_to_json(decision)["winner"] == "b"


def test_winner_from_a_comment_of_the_approver() -> None:
    pr = facts(reviews=(approve("bob"),), comments=(comment("bob", "/winner a"),))
    decision = decide(CONFIG, [], FINISH, pr, NOW)
    assert (decision.state, decision.winner) == (S.APPROVED, "a")


def test_unknown_winner_is_refused_with_the_variants() -> None:
    decision = decide(CONFIG, [], FINISH, facts(reviews=(approve("bob", body="/winner zzz"),)), NOW)
    assert decision.state is S.PENDING
    assert decision.winner is None
    assert "checkout-button has no variant 'zzz'; its variants are: a, b" in all_reasons(decision)
    assert [r.user for r in decision.replies] == ["bob"]


def test_winner_of_someone_whose_approval_does_not_count_is_ignored() -> None:
    pr = facts(reviews=(approve("bob"),), comments=(comment("dave", "/winner a"),))
    decision = decide(CONFIG, [], FINISH, pr, NOW)
    assert (decision.state, decision.winner) == (S.APPROVED, None)


def test_approvers_disagreeing_on_the_winner_block() -> None:
    pr = facts(reviews=(approve("bob", body="/winner a"), approve("rita", body="/winner b")))
    decision = decide(CONFIG, [], FINISH, pr, NOW)
    assert decision.state is S.BLOCKED
    assert "disagree on the winner" in all_reasons(decision)


def test_winner_without_a_finish_is_ignored_but_the_approval_counts() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(reviews=(approve("bob", body="/winner a"),)), NOW)
    assert (decision.state, decision.winner) == (S.APPROVED, None)
    assert "finishes no experiment" in all_reasons(decision)


# --- feedback -------------------------------------------------------------------------------------


def test_feedback_of_1024_characters_rejects() -> None:
    text = "x" * 1024
    decision = decide(CONFIG, [], PAUSE, facts(reviews=(reject("bob", body=text),)), NOW)
    assert decision.state is S.REJECTED
    assert [(f.user, f.text) for f in decision.feedback] == [("bob", text)]
    assert "rejected" in decision.labels
    rejected = decision.notify[0]
    assert rejected.event is NotifyEvent.REJECTED
    assert rejected.feedback == f"bob: {text}"


def test_feedback_of_1025_characters_is_refused() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(reviews=(reject("bob", body="x" * 1025),)), NOW)
    assert decision.state is S.PENDING
    assert decision.feedback == ()
    assert "1,025 characters, over the limit of 1,024. Please reject again with shorter feedback" in (
        all_reasons(decision)
    )
    assert decision.replies[0].user == "bob"


def test_rejection_by_an_approver_of_one_of_two_accounts_counts() -> None:
    decision = decide(CONFIG, [], TWO_ACCOUNTS, facts(reviews=(reject("bea"),)), NOW)
    assert decision.state is S.REJECTED
    states = {a.account: a.state for a in decision.accounts}
    assert states == {"acme": S.PENDING, "beta": S.REJECTED}


def test_rejection_by_someone_with_no_role_is_ignored() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(reviews=(reject("dave"),)), NOW)
    assert decision.state is S.PENDING
    assert "dave may not approve or reject for any account" in all_reasons(decision)


# --- slash commands -------------------------------------------------------------------------------

COMMAND_CASES = [
    ("/approve after the push counts", (comment("bob", "/approve"),), S.APPROVED, None),
    (
        "/approve before the push is stale",
        (comment("bob", "/approve", at=PUSHED - timedelta(minutes=1)),),
        S.PENDING,
        "made before the latest push",
    ),
    (
        "/approve from an ineligible user is ignored with a reason",
        (comment("dave", "/approve", id=9),),
        S.PENDING,
        "dave's approval (comment) does not count: dave is not an admin, approver",
    ),
    (
        "/approve from a creator is ignored",
        (comment("carol", "/approve"),),
        S.PENDING,
        "carol is a creator",
    ),
    (
        "edited command is ignored",
        (comment("bob", "/approve", edited=True),),
        S.PENDING,
        "the comment was edited, and an edited command never counts",
    ),
    (
        "/reject with a reason rejects",
        (comment("bob", "/reject not this week"),),
        S.REJECTED,
        "Rejected by bob",
    ),
    (
        "approve and reject in one comment count for nothing",
        (comment("bob", "/approve\n/reject no"),),
        S.PENDING,
        "both approves and rejects",
    ),
    (
        "a command dated in the future is not trusted",
        (comment("bob", "/approve", at=NOW + timedelta(days=1)),),
        S.PENDING,
        "in the future",
    ),
    ("/recheck is not a vote", (comment("bob", "/recheck"),), S.PENDING, None),
]


@pytest.mark.parametrize(
    ("comments", "state", "reason"), [c[1:] for c in COMMAND_CASES], ids=[c[0] for c in COMMAND_CASES]
)
def test_slash_commands(comments: tuple[Comment, ...], state: DecisionState, reason: str | None) -> None:
    decision = decide(CONFIG, [], PAUSE, facts(comments=comments), NOW)
    assert decision.state is state, all_reasons(decision)
    if reason:
        assert reason in all_reasons(decision)


def test_a_later_reject_command_replaces_a_review_approval_and_vice_versa() -> None:
    reject_later = facts(
        reviews=(approve("bob"),), comments=(comment("bob", "/reject wait", LATER + timedelta(minutes=1)),)
    )
    assert decide(CONFIG, [], PAUSE, reject_later, NOW).state is S.REJECTED
    approve_later = facts(
        reviews=(reject("bob"),), comments=(comment("bob", "/approve", LATER + timedelta(minutes=1)),)
    )
    assert decide(CONFIG, [], PAUSE, approve_later, NOW).state is S.APPROVED


def test_an_undatable_command_does_not_undo_a_review_that_counts() -> None:
    pr = facts(head_pushed_at=None, reviews=(approve("bob"),), comments=(comment("bob", "/approve"),))
    decision = decide(CONFIG, [], PAUSE, pr, NOW)
    assert decision.state is S.APPROVED
    assert "bob's approval (comment) was ignored: the time of the latest push is unknown" in all_reasons(
        decision
    )


def test_ignored_command_gets_a_reply_to_its_comment() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(comments=(comment("dave", "/approve", id=9),)), NOW)
    assert [(r.user, r.comment_id) for r in decision.replies] == [("dave", 9)]
    assert "dave is not an admin, approver or approving custom role of acme" in decision.replies[0].text


def test_unknown_command_gets_a_reply_listing_the_commands() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(comments=(comment("bob", "/aprove", id=3),)), NOW)
    assert decision.replies[0].comment_id == 3
    assert "/aprove is not a command I know; the commands are /approve, /reject, /winner, /recheck" in (
        decision.replies[0].text
    )


def test_commands_without_a_known_push_time_do_not_count() -> None:
    decision = decide(
        CONFIG, [], PAUSE, facts(head_pushed_at=None, comments=(comment("bob", "/approve"),)), NOW
    )
    assert decision.state is S.PENDING
    assert "time of the latest push is unknown" in all_reasons(decision)


# --- config missing or broken ---------------------------------------------------------------------


def test_missing_config_blocks_a_change_to_resources() -> None:
    decision = decide(None, [], PAUSE, facts(reviews=(approve("bob"),)), NOW)
    assert decision.state is S.BLOCKED
    assert decision.labels == ("blocked",)
    assert "there is no .approvalbot.yml on the base branch" in all_reasons(decision)
    assert decision.request == () and decision.notify == ()


def test_broken_config_blocks_naming_the_problems() -> None:
    problems = [Problem(".approvalbot.yml", 4, 3, "accounts.acme: unknown key 'rolez'")]
    decision = decide(None, problems, PAUSE, facts(reviews=(approve("bob"),)), NOW)
    assert decision.state is S.BLOCKED
    assert ".approvalbot.yml:4:3: accounts.acme: unknown key 'rolez'" in all_reasons(decision)
    # A config that parsed but came with problems is still refused.
    assert decide(CONFIG, problems, PAUSE, facts(), NOW).state is S.BLOCKED


def test_missing_config_lets_a_pr_that_adds_one_through() -> None:
    decision = decide(None, [missing_config_problem()], Plan(config_changed=True), facts(), NOW)
    assert decision.state is S.NO_APPROVAL_NEEDED


def test_missing_config_reported_as_plan_error_still_blocks() -> None:
    """A caller that could not plan without a config passes its problems both ways: still blocked."""
    problems = [missing_config_problem()]
    decision = decide(None, problems, Plan(errors=tuple(problems)), facts(), NOW)
    assert decision.state is S.BLOCKED


def test_a_pr_adding_a_broken_config_is_invalid() -> None:
    bad = Problem(".approvalbot.yml", 2, 1, "accounts: none defined")
    plan = Plan(errors=(bad,), config_changed=True)
    decision = decide(None, [missing_config_problem()], plan, facts(), NOW)
    assert decision.state is S.INVALID
    assert ".approvalbot.yml:2:1: accounts: none defined" in decision.reasons


# --- drafts, requests, notifications, labels ------------------------------------------------------


def test_draft_pr_requests_nothing_and_notifies_nobody_but_is_evaluated() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(draft=True, reviews=(approve("carol"),)), NOW)
    assert decision.state is S.PENDING
    assert decision.request == () and decision.notify == ()
    assert decision.labels == ()
    assert "carol is a creator" in all_reasons(decision)
    assert "This is a draft pull request" in all_reasons(decision)


def test_ready_pending_pr_requests_eligible_non_creators_and_notifies_admins_and_approvers() -> None:
    pr = facts(teams=TEAMS, commits=(Commit(HEAD, "carol", "carol", ("rita",)),))
    decision = decide(CONFIG, [], PAUSE, pr, NOW)
    assert decision.request == ("alice", "bob", "gina")  # rita co-authored; deploy[bot] is a bot
    assert decision.labels == ("pending: PAUSE PENDING",)
    (submitted,) = decision.notify
    assert submitted.event is NotifyEvent.SUBMITTED
    assert submitted.logins == ("alice", "bob", "gina")


def test_approved_notifies_creators_and_admins() -> None:
    decision = decide(CONFIG, [], PAUSE, facts(reviews=(approve("bob"),)), NOW)
    assert decision.labels == ("pending: PAUSE PENDING", "approved")
    assert decision.request == ()
    (approved,) = decision.notify
    assert (approved.event, approved.logins) == (NotifyEvent.APPROVED, ("alice", "carol"))


def test_two_accounts_request_only_people_eligible_for_both() -> None:
    decision = decide(CONFIG, [], TWO_ACCOUNTS, facts(), NOW)
    assert decision.request == ("alice",)
    assert decision.labels == ("pending: APPROVAL PENDING", "pending: PAUSE PENDING")
    assert decision.notify[0].logins == ("alice", "bea", "bob", "rita", "zed")


def test_nobody_eligible_says_what_to_do() -> None:
    pr = facts(author="alice", commits=(Commit(HEAD, "alice", "alice"),), pusher="alice")
    decision = decide(CONFIG, [], TWO_ACCOUNTS, pr, NOW)
    assert decision.state is S.PENDING
    assert "nobody who is not a creator may approve for every account" in all_reasons(decision)


# --- output ---------------------------------------------------------------------------------------


def test_json_has_exactly_the_documented_keys() -> None:
    decision = decide(CONFIG, [], TWO_ACCOUNTS, facts(reviews=(approve("alice"),)), NOW)
    out = decision_to_json(decision)
    assert set(out) == {"state", "labels", "winner", "request", "notify", "reasons", "accounts"}
    assert out["state"] == "approved"
    assert out["accounts"]["acme"] == {
        "state": "approved",
        "required": 1,
        "approved_by": ["alice"],
        "missing": 0,
        "reasons": ["Approved by alice (1 of 1 required)."],
    }
    assert out["notify"] == [{"event": "approved", "logins": ["alice", "carol", "zed"]}]


def test_json_missing_counts_what_is_still_needed() -> None:
    out = decision_to_json(
        decide(with_approvals(required=2), [], PAUSE, facts(reviews=(approve("bob"),)), NOW)
    )
    assert (out["accounts"]["acme"]["missing"], out["accounts"]["acme"]["required"]) == (1, 2)
    assert out["request"] == ["alice", "rita"]


def test_markdown_lists_accounts_given_missing_and_reasons() -> None:
    decision = decide(
        CONFIG, [], PAUSE, facts(reviews=(approve("carol"), reject("bob", body="a | b <x>"))), NOW
    )
    text = decision_markdown(decision)
    assert text.startswith("**Approval: Rejected** (`rejected`)")
    assert "| acme | rejected | 1 | — | 1 |" in text
    assert "carol is a creator" in text
    assert "> **bob**: a \\| b &lt;x>" in text


# --- winner: the file and the approver agree (issue 14) ---------------------------------------------

FILE_SAYS_A = Plan((act(action=Action.FINISH, pending=PendingState.FINISH_PENDING, winner="a"),))

WINNER_CASES = [
    ("file names none, approver picks b", FINISH, "/winner b", S.APPROVED, "b"),
    ("file says a, approver agrees", FILE_SAYS_A, "/winner a", S.APPROVED, "a"),
    ("file says a, approver is silent", FILE_SAYS_A, "", S.APPROVED, None),
    ("file says a, approver says b: refused", FILE_SAYS_A, "/winner b", S.PENDING, None),
]


@pytest.mark.parametrize(
    ("plan", "body", "state", "winner"), [c[1:] for c in WINNER_CASES], ids=[c[0] for c in WINNER_CASES]
)
def test_a_winner_the_file_contradicts_is_refused(
    plan: Plan, body: str, state: S, winner: str | None
) -> None:
    decision = decide(CONFIG, [], plan, facts(reviews=(approve("bob", body=body),)), NOW)
    assert (decision.state, decision.winner) == (state, winner)
    if state is S.PENDING:
        assert "bob's /winner b was refused: the file says winner: a" in all_reasons(decision)
