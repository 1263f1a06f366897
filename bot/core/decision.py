"""Who may approve, and whether they have: the pure decision engine (SPEC §4, §5, §9).

`decide` weighs the repo config read from the base branch, the plan of the change and the facts of
the pull request, and returns a `Decision`. The GitHub App, the Action, the demo and the CLI all call
it; it asks nobody anything and reads no clock (`now` is given).

Fail-closed rules worth knowing when reading this module:
- an approval counts only from someone who may approve for EVERY account the PR touches, who is not a
  creator of the PR, on the head commit, and only as that user's latest decisive review or command;
- a rejection is the safe outcome, so it counts for each account its author may approve for;
- a missing or broken config blocks every PR that touches resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.core.commands import KNOWN_COMMANDS, CommandName, parse_commands, unknown_commands
from bot.core.facts import PullRequestFacts, Review, ReviewState
from bot.core.model import Action, PendingState, Plan, PlannedAction, Problem
from bot.core.repo_config import (
    CONFIG_PATH,
    Account,
    RepoConfig,
    Role,
    Subject,
    broken_config_message,
    missing_config_problem,
)

NO_REASON_GIVEN = "(no reason given in the review's body; its comments on the files may say more)"
REJECT_WITHOUT_REASON = (
    "{user}'s /reject does not count: it gives no reason, and the reason is what the creator needs to "
    "fix the change. Write a new comment with the reason after the command: /reject REASON."
)
FEEDBACK_LIMIT = 1024  # characters, as CleverTap's feedback box (SPEC §1)
# GitHub's clock and ours may disagree a little; beyond this a vote dated in the future is not trusted.
CLOCK_SKEW = timedelta(minutes=5)


class DecisionState(StrEnum):
    NO_APPROVAL_NEEDED = "no_approval_needed"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    INVALID = "invalid"


# When several accounts disagree, the PR shows the most serious state: a rejection is final, a block
# must be cleared before anything else, and one pending account keeps the PR pending.
_PRECEDENCE = (
    DecisionState.INVALID,
    DecisionState.REJECTED,
    DecisionState.BLOCKED,
    DecisionState.PENDING,
    DecisionState.APPROVED,
    DecisionState.NO_APPROVAL_NEEDED,
)

STATE_LABELS = {
    DecisionState.APPROVED: "approved",
    DecisionState.REJECTED: "rejected",
    DecisionState.BLOCKED: "blocked",
}
PENDING_LABEL_PREFIX = "pending: "


class NotifyEvent(StrEnum):
    """SPEC §5 events the decision itself can raise (the others belong to merges and pushes)."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Recipients:
    event: NotifyEvent
    logins: tuple[str, ...]
    feedback: str | None = None  # set on rejections: what the approvers said


@dataclass(frozen=True)
class Feedback:
    user: str
    text: str

    @property
    def said(self) -> str:
        """The feedback, or plainly that there is none (a review's body may be empty on GitHub)."""
        return self.text or NO_REASON_GIVEN


@dataclass(frozen=True)
class Reply:
    """An answer to a command or review that did not count, so its author learns why."""

    user: str
    text: str
    comment_id: int | None = None  # None: the answer is about a review


@dataclass(frozen=True)
class AccountDecision:
    account: str
    state: DecisionState
    required: int
    approved_by: tuple[str, ...] = ()
    eligible: tuple[str, ...] = ()  # who could still give an approval that counts
    rejected_by: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def missing(self) -> int:
        if self.state in (DecisionState.NO_APPROVAL_NEEDED, DecisionState.INVALID):
            return 0
        return max(0, self.required - len(self.approved_by))


@dataclass(frozen=True)
class Decision:
    state: DecisionState
    accounts: tuple[AccountDecision, ...] = ()
    labels: tuple[str, ...] = ()
    winner: str | None = None  # the approvers' `/winner` choice; None leaves the creator's own
    request: tuple[str, ...] = ()  # logins to ask for a review
    notify: tuple[Recipients, ...] = ()
    reasons: tuple[str, ...] = ()
    feedback: tuple[Feedback, ...] = ()
    replies: tuple[Reply, ...] = ()


# ---------------------------------------------------------------------------------------------------
# Votes: reviews and slash commands, reduced to what the rules weigh.


class _Kind(StrEnum):
    APPROVE = "approval"
    REJECT = "rejection"
    DISMISSED = "dismissed review"
    EDITED = "edited approval"  # an approval whose body someone else rewrote: counts for nothing


@dataclass(frozen=True)
class _Vote:
    user: str
    kind: _Kind
    at: datetime | None
    order: int  # position among the facts, to break ties between equal times
    from_comment: bool
    fresh: bool  # on the head commit (reviews) or made after the head was pushed (comments)
    stale_why: str = ""
    feedback: str = ""
    comment_id: int | None = None
    edited_by: str = ""  # who else rewrote the body, when someone did

    @property
    def sort_key(self) -> tuple[bool, datetime, int]:
        return (self.at is not None, self.at or datetime.min.replace(tzinfo=UTC), self.order)

    @property
    def what(self) -> str:
        source = "comment" if self.from_comment else "review"
        return f"{self.kind.value} ({source})"


@dataclass(frozen=True)
class _WinnerChoice:
    user: str
    variant: str
    at: datetime | None
    order: int
    comment_id: int | None = None

    @property
    def sort_key(self) -> tuple[bool, datetime, int]:
        return (self.at is not None, self.at or datetime.min.replace(tzinfo=UTC), self.order)


@dataclass
class _Notes:
    """What the evaluation found to say, collected as it goes."""

    reasons: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)

    def ignore(self, user: str, text: str, comment_id: int | None = None, reply: bool = True) -> None:
        self.reasons.append(text)
        if reply:
            self.replies.append(Reply(user, text, comment_id))


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _short(sha: str) -> str:
    return sha[:7] if sha else "(unknown)"


def _is_bot(login: str) -> bool:
    return login.lower().endswith("[bot]")


def _fold(login: str) -> str:
    # GitHub logins are case-insensitive: "Bob" and "bob" are one person.
    return login.strip().lstrip("@").casefold()


# ---------------------------------------------------------------------------------------------------
# Creators and roles.


def creators(facts: PullRequestFacts) -> dict[str, str]:
    """Every creator of the PR (folded login → why they are one): they never approve it."""
    found: dict[str, str] = {}

    def add(login: str | None, why: str) -> None:
        if login and _fold(login) not in found:
            found[_fold(login)] = why

    add(facts.author, "author of this pull request")
    for commit in facts.commits:
        add(commit.author, f"author of commit {_short(commit.sha)}")
        add(commit.committer, f"committer of commit {_short(commit.sha)}")
        for co_author in commit.co_authors:
            add(co_author, f"co-author of commit {_short(commit.sha)}")
    add(facts.pusher, "the last pusher of this branch")
    for pusher in facts.pushers:
        add(pusher, "a pusher of this pull request's branch")
    return found


_NOREPLY = re.compile(
    r"^(?:\d+\+)?([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)@users\.noreply\.github\.com$", re.I
)


def login_for_email(config: RepoConfig, email: str) -> str | None:
    """The GitHub login an email names: GitHub's noreply forms (`ID+login@users.noreply.github.com`,
    `login@users.noreply.github.com`), else the one person `users:` gives that email; None otherwise."""
    address = email.strip()
    noreply = _NOREPLY.match(address)
    if noreply:
        return noreply.group(1)
    named = [
        login for login, user in config.users.items() if (user.email or "").casefold() == address.casefold()
    ]
    return named[0] if len(named) == 1 else None


def _resolve_emails(config: RepoConfig, facts: PullRequestFacts, creator_of: dict[str, str]) -> list[str]:
    """Adds to `creator_of` the people the commits' unmapped emails name; the identities still unknown,
    as sentences (an email `users:` gives two people is unknown too: either may have written it)."""
    unknown: list[str] = []
    for commit in facts.commits:
        for email in commit.unresolved:
            login = login_for_email(config, email)
            if login is None:
                unknown.append(f"commit {_short(commit.sha)} is by {email}")
            elif _fold(login) not in creator_of:
                creator_of[_fold(login)] = (
                    f"author, committer or co-author of commit {_short(commit.sha)} as {email}"
                )
    return unknown


class _Directory:
    """Role membership of the config's accounts, with teams resolved through the facts."""

    def __init__(self, config: RepoConfig, teams: Mapping[str, tuple[str, ...]]) -> None:
        self._config = config
        self._teams = {_fold(slug): tuple(members) for slug, members in teams.items()}
        self.unknown_teams: set[str] = set()

    def expand(self, members: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for member in members:
            if member.startswith("@"):
                slug = _fold(member)
                if slug not in self._teams:
                    self.unknown_teams.add(member)
                out.update(_fold(m) for m in self._teams.get(slug, ()))
            else:
                out.add(_fold(member))
        return out

    def admins(self, account: Account) -> set[str]:
        return self.expand(account.members(Role.ADMIN))

    def approvers(self, account: Account) -> set[str]:
        """Admins, approvers and members of custom roles with the approve permission."""
        found = self.admins(account) | self.expand(account.members(Role.APPROVER))
        for role in account.custom_roles:
            if role.approves:
                found |= self.expand(role.members)
        return found

    def draft_contributors(self, account: Account) -> set[str]:
        found = self.expand(account.members(Role.DRAFT_CONTRIBUTOR))
        for role in account.custom_roles:
            if not role.approves:
                found |= self.expand(role.members)
        return found

    def display(self) -> dict[str, str]:
        """Folded login → login as the config or the teams spell it, for messages."""
        names: dict[str, str] = {}
        for account in self._config.accounts:
            for members in account.roles.values():
                for m in members:
                    if not m.startswith("@"):
                        names.setdefault(_fold(m), m)
            for role in account.custom_roles:
                for m in role.members:
                    if not m.startswith("@"):
                        names.setdefault(_fold(m), m)
        for members in self._teams.values():
            for m in members:
                names.setdefault(_fold(m), m)
        return names


@dataclass(frozen=True)
class _Scope:
    """The accounts a PR touches, and what it takes to approve for each of them."""

    touched: tuple[str, ...]
    admin_only: frozenset[str]  # accounts whose config the PR changes: only admins approve there
    allowed: Mapping[str, frozenset[str]]  # account → folded logins who may approve for it

    def may_approve_all(self, login: str) -> bool:
        return bool(self.touched) and all(_fold(login) in self.allowed[a] for a in self.touched)

    def lacking(self, login: str) -> list[str]:
        return [a for a in self.touched if _fold(login) not in self.allowed[a]]

    def role_words(self, account: str) -> str:
        if account in self.admin_only:
            return f"an admin of {account} (this PR changes {CONFIG_PATH})"
        return f"an admin, approver or approving custom role of {account}"


def _scope(config: RepoConfig, plan: Plan, directory: _Directory) -> _Scope:
    config_accounts = set(plan.config_accounts)
    known = {a.name for a in config.accounts}
    if (plan.config_changed and not config_accounts) or config_accounts - known:
        # A change to the global settings affects every account; so does adding an account, which
        # has no admin on the base yet to approve it.
        config_accounts = (config_accounts & known) | known
    touched = tuple(sorted({a.key.account for a in plan.actions} | config_accounts))
    allowed: dict[str, frozenset[str]] = {}
    for name in touched:
        account = config.account(name)
        if account is None:
            allowed[name] = frozenset()
        elif name in config_accounts:
            allowed[name] = frozenset(directory.admins(account))
        else:
            allowed[name] = frozenset(directory.approvers(account))
    return _Scope(touched, frozenset(config_accounts), allowed)


# ---------------------------------------------------------------------------------------------------
# Collecting votes.


def _review_votes(facts: PullRequestFacts) -> tuple[list[_Vote], list[_WinnerChoice]]:
    votes: list[_Vote] = []
    winners: list[_WinnerChoice] = []
    for order, review in enumerate(facts.reviews):
        kind = _review_kind(review)
        if kind is None:
            continue
        fresh = bool(facts.head_sha) and review.commit_id == facts.head_sha
        stale_why = (
            ""
            if fresh
            else f"it was given on commit {_short(review.commit_id)}, not on the head "
            f"{_short(facts.head_sha)}; a push made it stale"
        )
        at = _utc(review.submitted_at)
        editor = (
            review.edited_by if review.edited_by and _fold(review.edited_by) != _fold(review.user) else ""
        )
        feedback = review.body.strip()
        if editor and kind is _Kind.APPROVE:
            kind = _Kind.EDITED  # neither the approval nor its /winner are the reviewer's words now
        elif editor and kind is _Kind.REJECT:
            feedback = f"(the feedback was edited by {editor}, so it is not shown as {review.user}'s)"
        retarget = _utc(facts.base_changed_at)
        if fresh and retarget is not None and (at is None or at <= retarget):
            # The diff the reviewer saw was against another base (GitHub keeps the review on a retarget).
            fresh = False
            stale_why = (
                "it was given before the pull request's base branch was changed; the change it saw differs"
            )
        votes.append(_Vote(review.user, kind, at, order, False, fresh, stale_why, feedback, None, editor))
        if kind is _Kind.APPROVE:
            for command in parse_commands(review.body):
                if command.name is CommandName.WINNER:
                    winners.append(_WinnerChoice(review.user, command.argument, at, order))
    return votes, winners


def _review_kind(review: Review) -> _Kind | None:
    # COMMENTED reviews do not replace an earlier decision (GitHub's own rule); PENDING is unsubmitted.
    return {  # EDITED is set by the caller
        ReviewState.APPROVED: _Kind.APPROVE,
        ReviewState.CHANGES_REQUESTED: _Kind.REJECT,
        ReviewState.DISMISSED: _Kind.DISMISSED,
    }.get(review.state)


def _comment_votes(
    facts: PullRequestFacts, notes: _Notes, tampered: set[str]
) -> tuple[list[_Vote], list[_WinnerChoice]]:
    """`tampered` gains the (folded) users whose `/winner` someone else edited: their approval of a
    finish waits until they choose again."""
    votes: list[_Vote] = []
    winners: list[_WinnerChoice] = []
    base = len(facts.reviews)
    head_at = _utc(facts.head_pushed_at)
    for index, comment in enumerate(facts.comments):
        order = base + index
        commands = [c for c in parse_commands(comment.body) if c.name is not CommandName.RECHECK]
        for unknown in unknown_commands(comment.body):
            notes.replies.append(
                Reply(
                    comment.user,
                    f"/{unknown.word} is not a command I know; the commands are {KNOWN_COMMANDS}.",
                    comment.id,
                )
            )
        if not commands:
            continue
        if comment.edited:
            editor = comment.edited_by or ""
            by_other = bool(editor) and _fold(editor) != _fold(comment.user)
            if by_other and any(c.name is CommandName.WINNER for c in commands):
                tampered.add(_fold(comment.user))
            by = f" by {editor}" if by_other else ""
            notes.ignore(
                comment.user,
                f"{comment.user}'s command was ignored: the comment was edited{by}, and an edited command "
                "never counts. Write a new comment instead.",
                comment.id,
            )
            continue
        names = {c.name for c in commands}
        if {CommandName.APPROVE, CommandName.REJECT} <= names:
            notes.ignore(
                comment.user,
                f"{comment.user}'s comment both approves and rejects, so neither counts. "
                "Write a new comment with one of /approve or /reject.",
                comment.id,
            )
            continue
        at = _utc(comment.created_at)
        fresh, stale_why = _comment_freshness(at, head_at)
        for command in commands:
            if command.name is CommandName.WINNER:
                if fresh:
                    winners.append(_WinnerChoice(comment.user, command.argument, at, order, comment.id))
                else:
                    notes.ignore(
                        comment.user, f"{comment.user}'s /winner was ignored: {stale_why}.", comment.id
                    )
                continue
            kind = _Kind.APPROVE if command.name is CommandName.APPROVE else _Kind.REJECT
            feedback = command.argument if kind is _Kind.REJECT else ""
            votes.append(_Vote(comment.user, kind, at, order, True, fresh, stale_why, feedback, comment.id))
    return votes, winners


def _comment_freshness(at: datetime | None, head_at: datetime | None) -> tuple[bool, str]:
    if at is None:
        return False, "the comment has no creation time, so it cannot be placed after the latest push"
    if head_at is None:
        return False, "the time of the latest push is unknown, so the command cannot be shown to be newer"
    if at <= head_at:
        return False, "it was made before the latest push; a push made it stale"
    return True, ""


def _latest_votes(votes: Sequence[_Vote], now: datetime, notes: _Notes) -> dict[str, _Vote]:
    latest: dict[str, _Vote] = {}
    for vote in sorted(votes, key=lambda v: v.sort_key):
        if vote.at is not None and vote.at > now + CLOCK_SKEW:
            notes.ignore(
                vote.user,
                f"{vote.user}'s {vote.what} was ignored: it is dated {vote.at.isoformat()}, in the future.",
                vote.comment_id,
            )
            continue
        folded = _fold(vote.user)
        if vote.from_comment and not vote.fresh and folded in latest:
            # A command that cannot be shown to be newer than the head must not undo a review that counts.
            notes.ignore(
                vote.user, f"{vote.user}'s {vote.what} was ignored: {vote.stale_why}.", vote.comment_id
            )
            continue
        latest[folded] = vote
    return latest


# ---------------------------------------------------------------------------------------------------
# Judging votes.


@dataclass
class _Tally:
    approvers: dict[str, _Vote] = field(default_factory=dict)  # folded login → counted approval
    rejections: dict[str, _Vote] = field(default_factory=dict)  # folded login → counted rejection
    winners: dict[str, str] = field(default_factory=dict)  # folded login → chosen variant
    winner_conflict: bool = False


def _judge(
    latest: Mapping[str, _Vote],
    winner_choices: Sequence[_WinnerChoice],
    scope: _Scope,
    creator_of: Mapping[str, str],
    plan: Plan,
    notes: _Notes,
    tampered: AbstractSet[str] = frozenset(),
) -> _Tally:
    tally = _Tally()
    for folded, vote in latest.items():
        why_not = _why_not(vote, scope, creator_of)
        if why_not:
            # A command gets an answer where it was written; a review's verdict is in the check run.
            text = f"{vote.user}'s {vote.what} does not count: {why_not}."
            notes.ignore(vote.user, text, vote.comment_id, reply=vote.from_comment)
            continue
        if vote.kind is _Kind.REJECT:
            if vote.from_comment and not vote.feedback:
                # A review with no body still rejects (GitHub lets one carry only comments on the files);
                # a bare /reject says nothing the creator can act on, so it asks for the reason instead.
                notes.ignore(vote.user, REJECT_WITHOUT_REASON.format(user=vote.user), vote.comment_id)
                continue
            if len(vote.feedback) > FEEDBACK_LIMIT:
                notes.ignore(
                    vote.user,
                    f"{vote.user}'s rejection was refused: its feedback is {len(vote.feedback):,} "
                    f"characters, over the limit of {FEEDBACK_LIMIT:,}. Please reject again with "
                    "shorter feedback.",
                    vote.comment_id,
                )
                continue
            tally.rejections[folded] = vote
            notes.reasons.append(f"{vote.user} rejected this change ({vote.what}).")
            continue
        tally.approvers[folded] = vote
    _judge_winners(tally, winner_choices, plan, notes, tampered)
    for folded, vote in sorted(tally.approvers.items()):
        chosen = tally.winners.get(folded)
        extra = f", choosing {chosen} as the winner" if chosen else ""
        notes.reasons.append(f"{vote.user}'s {vote.what} counts{extra}.")
    return tally


def _why_not(vote: _Vote, scope: _Scope, creator_of: Mapping[str, str]) -> str:
    """Why a user's latest vote does not count, or "" when it does."""
    if vote.kind is _Kind.DISMISSED:
        return "the review was dismissed, and a dismissed review counts for nothing"
    if vote.kind is _Kind.EDITED:
        return (
            f"its body was edited by {vote.edited_by}, and words someone else put in a review never count; "
            f"{vote.user} must review again"
        )
    if _is_bot(vote.user):
        return "bots and GitHub Apps never approve or reject"
    creator = creator_of.get(_fold(vote.user))
    if creator:
        return (
            f"{vote.user} is a creator of this change ({creator}), and creators never approve "
            "their own change"
        )
    if vote.kind is _Kind.APPROVE and not scope.may_approve_all(vote.user):
        lacking = scope.lacking(vote.user)
        words = "; nor ".join(scope.role_words(a) for a in lacking)
        touched = ", ".join(scope.touched)
        return (
            f"{vote.user} is not {words} (an approval must come from someone who may approve for every "
            f"account this PR touches: {touched})"
        )
    if vote.kind is _Kind.REJECT and len(scope.lacking(vote.user)) == len(scope.touched):
        touched = ", ".join(scope.touched)
        return f"{vote.user} may not approve or reject for any account this PR touches ({touched})"
    if not vote.fresh:
        again = "approve" if vote.kind is _Kind.APPROVE else "reject"
        return f"{vote.stale_why}. {vote.user} must {again} again on the current head"
    return ""


def _finishing(plan: Plan) -> list[PlannedAction]:
    return [a for a in plan.actions if a.action is Action.FINISH]


def _judge_winners(
    tally: _Tally,
    choices: Sequence[_WinnerChoice],
    plan: Plan,
    notes: _Notes,
    tampered: AbstractSet[str] = frozenset(),
) -> None:
    latest: dict[str, _WinnerChoice] = {}
    for choice in sorted(choices, key=lambda c: c.sort_key):
        latest[_fold(choice.user)] = choice
    finishing = _finishing(plan)
    for folded in sorted(tampered & set(tally.approvers)):
        if finishing and folded not in latest:
            # Someone else rewrote this approver's /winner: the winner they meant is unknown, so the
            # creator's must not go live on their approval.
            user = tally.approvers.pop(folded).user
            notes.reasons.append(
                f"{user}'s /winner comment was edited by someone else, so the winner {user} chose is "
                f"unknown; {user}'s approval waits until {user} writes /winner VARIANT in a new comment."
            )
    for folded, choice in sorted(latest.items()):
        if folded not in tally.approvers:
            continue  # a winner only means something together with an approval that counts
        refusal = _winner_refusal(choice, finishing)
        if refusal is None:
            tally.winners[folded] = choice.variant
            continue
        notes.ignore(choice.user, refusal, choice.comment_id)
        if finishing:
            # The approver meant a winner we cannot honour: their approval waits for a valid one.
            del tally.approvers[folded]
    if len(set(tally.winners.values())) > 1:
        tally.winner_conflict = True
        picks = ", ".join(f"{tally.approvers[u].user} chose {v}" for u, v in sorted(tally.winners.items()))
        notes.reasons.append(
            f"The approvers disagree on the winner ({picks}); one of them must change it with "
            "/winner VARIANT."
        )


def _winner_refusal(choice: _WinnerChoice, finishing: Sequence[PlannedAction]) -> str | None:
    who = choice.user
    if not choice.variant:
        return f"{who}'s /winner names no variant; write /winner VARIANT."
    if not finishing:
        return f"{who}'s /winner {choice.variant} was ignored: this PR finishes no experiment."
    if len(finishing) > 1:
        names = ", ".join(a.key.id for a in finishing)
        return (
            f"{who}'s /winner {choice.variant} was refused: this PR finishes several experiments ({names}), "
            "so a winner is ambiguous. Finish them in separate pull requests; the approval does not count "
            "until then."
        )
    action = finishing[0]
    if choice.variant not in action.variants:
        variants = ", ".join(action.variants) or "(none)"
        return (
            f"{who}'s /winner {choice.variant} was refused: {action.key.id} has no variant "
            f"{choice.variant!r}; its variants are: {variants}. Approve again with one of them; "
            "the approval does not count until then."
        )
    if action.winner is not None and action.winner != choice.variant:
        # Live and the default branch must say one thing: the merge puts the file on the branch, so a
        # winner the file contradicts would go live with the branch saying otherwise, and nothing would
        # report it. The file is changed (or the /winner dropped), never silently overruled.
        return (
            f"{who}'s /winner {choice.variant} was refused: the file says winner: {action.winner}, and "
            f"the live state must say what the default branch says. Either the file is changed to winner: "
            f"{choice.variant} (a push; approve again), or approve without /winner to keep "
            f"{action.winner}; the approval does not count until then."
        )
    return None


# ---------------------------------------------------------------------------------------------------
# Locks and dependencies.


def _holds_lock_over(facts: PullRequestFacts, other_ready: datetime | None, other_number: int) -> bool:
    """Whether another ready PR, ready at `other_ready`, came first and so holds the lock."""
    if other_ready is None:
        return False
    mine = _utc(facts.ready_at)
    if facts.draft or mine is None:
        return True
    theirs = _utc(other_ready)
    assert theirs is not None
    return (theirs, other_number) < (mine, facts.number)


def _lock_reasons(action: PlannedAction, facts: PullRequestFacts) -> list[str]:
    reasons = []
    for other in facts.open_prs:
        if other.number == facts.number or other.draft or action.key not in other.resources:
            continue
        if not _holds_lock_over(facts, other.ready_at, other.number):
            continue
        pending = other.pending.get(action.key)
        held = f"#{other.number} — {pending.value}" if pending else f"#{other.number}"
        reasons.append(
            f"{action.key} is locked by {held}: wait until #{other.number} is merged or closed; this PR "
            "is re-checked then."
        )
    return reasons


def _dependency_reasons(action: PlannedAction, plan: Plan, facts: PullRequestFacts) -> list[str]:
    published_here = {a.key for a in plan.actions if a.action is Action.PUBLISH}
    reasons = []
    for dependency in action.unmet_dependencies:
        if dependency in published_here:
            continue
        holders = [
            other.number
            for other in facts.open_prs
            if other.number != facts.number and dependency in other.publishes
        ]
        where = (
            f"#{min(holders)} publishes it: merge #{min(holders)} first"
            if holders
            else "publish it in this PR or before this one"
        )
        reasons.append(
            f"{action.key} uses {dependency}, which is not live on the base branch and not published by "
            f"this PR; {where}."
        )
    return reasons


# ---------------------------------------------------------------------------------------------------
# Per account.


def _needs_approval(
    config: RepoConfig,
    facts: PullRequestFacts,
    directory: _Directory,
    scope: _Scope,
    creator_of: Mapping[str, str],
    unresolved: Sequence[str] = (),
) -> tuple[bool, str]:
    """Whether the resource actions of this PR need approval under `approvals.subject`, and why."""
    if config.approvals.subject is Subject.EVERYONE:
        return True, ""
    subject: list[str] = [f"a creator is unknown ({u})" for u in unresolved]
    if facts.unknown_pushes:
        subject.append(f"who pushed {_shas(facts.unknown_pushes)} is unknown")
    for login in sorted(creator_of):
        if _is_bot(login):
            # A bot holds no role, and whoever drives it is unknown: never a reason to skip approval.
            subject.append(f"{login} is a bot, and a bot's change always needs approval")
            continue
        for name in scope.touched:
            account = config.account(name)
            if account is None:
                continue
            if login in directory.draft_contributors(account):
                subject.append(f"{login} is a draft contributor of {name}")
            elif login not in directory.approvers(account):
                # Publishing now is a privilege; someone with no approving role does not have it.
                subject.append(f"{login} has no admin or approver role in {name}")
    if subject:
        return True, "Approval is needed because " + "; ".join(subject) + "."
    return False, (
        "No approval is needed: no creator of this change is a draft contributor "
        "(approvals.subject: draft_contributors), so it may be published now."
    )


def _account_decision(
    name: str,
    config: RepoConfig,
    plan: Plan,
    facts: PullRequestFacts,
    scope: _Scope,
    tally: _Tally,
    eligible: Sequence[str],
    display: Mapping[str, str],
    subject_needs: bool,
) -> AccountDecision:
    actions = [a for a in plan.actions if a.key.account == name]
    account = config.account(name)
    # A change to the rules needs an admin even with the workflow off: turning it on or off, or naming
    # oneself admin, is an admin's act (as in the source product), or anyone who can merge owns the rules.
    config_change = name in scope.admin_only
    approving = [a for a in actions if a.requires_approval and subject_needs]
    required = _required(config, name, approving, config_change)
    invalid = [p for a in actions for p in a.errors] + [
        Problem(a.file, 1, 1, f"{a.key}: no action could be worked out")
        for a in actions
        if a.action is None and not a.errors
    ]
    if invalid:
        return AccountDecision(name, DecisionState.INVALID, required, reasons=tuple(f"{p}" for p in invalid))
    blocked: list[str] = []
    if account is None:
        blocked.append(
            f"Account {name} is not defined in {CONFIG_PATH} on the base branch; add it under accounts: "
            "(with its paths and roles) in a PR of its own."
        )
    for action in actions:
        blocked += _lock_reasons(action, facts) if config.approvals.enabled else []
        blocked += _dependency_reasons(action, plan, facts)
    if not approving and not config_change:
        if blocked:
            return AccountDecision(name, DecisionState.BLOCKED, 0, reasons=tuple(blocked))
        return AccountDecision(
            name, DecisionState.NO_APPROVAL_NEEDED, 0, reasons=(f"Nothing in {name} needs approval.",)
        )
    approved_by = tuple(sorted(v.user for v in tally.approvers.values()))
    rejected_by = tuple(sorted(v.user for u, v in tally.rejections.items() if u in scope.allowed[name]))
    waiting = tuple(sorted(display.get(u, u) for u in eligible if u not in tally.approvers))
    reasons = list(blocked)
    if rejected_by:
        state = DecisionState.REJECTED
        reasons.append(f"Rejected by {', '.join(rejected_by)}.")
    elif blocked:
        state = DecisionState.BLOCKED
    elif len(approved_by) >= required:
        state = DecisionState.APPROVED
        reasons.append(f"Approved by {', '.join(approved_by)} ({len(approved_by)} of {required} required).")
    else:
        state = DecisionState.PENDING
        reasons.append(_missing_sentence(name, required, approved_by, waiting, scope))
    return AccountDecision(name, state, required, approved_by, waiting, rejected_by, tuple(reasons))


def _required(config: RepoConfig, name: str, approving: Sequence[PlannedAction], config_change: bool) -> int:
    counts = [config.required_for(name, a.action) for a in approving]
    if config_change:
        counts.append(config.required_for(name, None))
    return max(counts, default=0)


def _missing_sentence(
    name: str, required: int, approved_by: Sequence[str], waiting: Sequence[str], scope: _Scope
) -> str:
    missing = required - len(approved_by)
    given = f"{len(approved_by)} of {required} approvals given" + (
        f" (by {', '.join(approved_by)})" if approved_by else ""
    )
    who = "an admin" if name in scope.admin_only else "an eligible approver"
    if not waiting:
        return (
            f"{name}: {given}; {missing} missing, and nobody who is not a creator may approve for every "
            f"account this PR touches. Add {who} to {CONFIG_PATH} or split the PR by account."
        )
    if len(waiting) < missing:
        return (
            f"{name}: {given}; {missing} missing, but only {len(waiting)} can still approve "
            f"({', '.join(waiting)}). Add more in {CONFIG_PATH}."
        )
    return f"{name}: {given}; {missing} more needed from {who}: {', '.join(waiting)}."


# ---------------------------------------------------------------------------------------------------
# The decision.


def decide(
    config: RepoConfig | None,
    config_problems: Sequence[Problem],
    plan: Plan,
    facts: PullRequestFacts,
    now: datetime,
) -> Decision:
    """Everything the bot must show and do for this PR now, as data."""
    now = _utc(now) or now
    if config is None or config_problems:
        return _without_config(config_problems, plan, facts)
    notes = _Notes()
    if facts.draft:
        notes.reasons.append(
            "This is a draft pull request: it is evaluated, but no review is requested and nobody is "
            "notified. Mark it ready for review to submit it for approval."
        )
    if not config.approvals.enabled:
        notes.reasons.append(
            f"Approvals are disabled in {CONFIG_PATH} (approvals.enabled: false): nothing needs approval"
            + (
                f", except this change to {CONFIG_PATH} itself, which needs an admin."
                if plan.config_changed
                else "."
            )
        )
    directory = _Directory(config, facts.teams)
    scope = _scope(config, plan, directory)
    creator_of = creators(facts)
    unresolved = _resolve_emails(config, facts, creator_of)
    review_votes, review_winners = _review_votes(facts)
    tampered: set[str] = set()
    comment_votes, comment_winners = _comment_votes(facts, notes, tampered)
    latest = _latest_votes(review_votes + comment_votes, now, notes)
    tally = _judge(latest, review_winners + comment_winners, scope, creator_of, plan, notes, tampered)
    subject_needs, subject_why = _needs_approval(config, facts, directory, scope, creator_of, unresolved)
    if subject_why:
        notes.reasons.append(subject_why)
    if not config.approvals.enabled:
        subject_needs = False
    candidates: set[str] = set().union(*scope.allowed.values()) if scope.touched else set()
    eligible = sorted(
        login
        for login in candidates
        if scope.may_approve_all(login) and login not in creator_of and not _is_bot(login)
    )
    display = directory.display()
    accounts = tuple(
        _account_decision(name, config, plan, facts, scope, tally, eligible, display, subject_needs)
        for name in scope.touched
    )
    for team in sorted(directory.unknown_teams):
        notes.reasons.append(
            f"Team {team} is named in {CONFIG_PATH} but its members are unknown, so none of them may approve."
        )
    state = _overall(plan, facts, accounts, tally, notes, unresolved)
    return _finish(state, accounts, config, plan, facts, scope, directory, creator_of, tally, notes)


def _overall(
    plan: Plan,
    facts: PullRequestFacts,
    accounts: Sequence[AccountDecision],
    tally: _Tally,
    notes: _Notes,
    unresolved: Sequence[str] = (),
) -> DecisionState:
    if plan.errors:
        notes.reasons.extend(str(p) for p in plan.errors)
    states = {a.state for a in accounts}
    if plan.errors:
        states.add(DecisionState.INVALID)
    if facts.incomplete:
        notes.reasons.append(
            f"The facts of this pull request are incomplete ({facts.incomplete}), so nothing can be "
            "approved now; /recheck to try again."
        )
        states.add(DecisionState.BLOCKED)
    if facts.unknown_pushes and states - {DecisionState.NO_APPROVAL_NEEDED, DecisionState.INVALID}:
        notes.reasons.append(_unknown_pushes_message(facts.unknown_pushes))
        states.add(DecisionState.BLOCKED)
    if unresolved and states - {DecisionState.NO_APPROVAL_NEEDED, DecisionState.INVALID}:
        notes.reasons.append(
            f"{'; '.join(unresolved)}: GitHub maps no account to "
            f"{'these emails' if len(unresolved) > 1 else 'this email'}, and {CONFIG_PATH} names nobody "
            "with it under users:, so approvalbot cannot tell whether an approver wrote the change, and no "
            f"approval counts. Add the person under users: (login: {{email: ...}}) in {CONFIG_PATH} "
            "through a pull request of its own, or rewrite the commit with the email of a GitHub account."
        )
        states.add(DecisionState.BLOCKED)
    if tally.winner_conflict and DecisionState.APPROVED in states:
        states.add(DecisionState.BLOCKED)
    return next((s for s in _PRECEDENCE if s in states), DecisionState.NO_APPROVAL_NEEDED)


def _shas(shas: Sequence[str]) -> str:
    words = ", ".join(_short(s) for s in shas)
    return f"commit{'s' if len(shas) > 1 else ''} {words}"


def _unknown_pushes_message(shas: Sequence[str]) -> str:
    return (
        f"Who pushed {_shas(shas)} to this pull request is unknown: approvalbot received no webhook "
        "naming the pusher, and GitHub's API does not say. An approver may have pushed it, so no "
        "approval counts. Redeliver that push's pull_request webhook (the App's settings, Advanced, "
        "Recent deliveries), or rewrite the branch so every commit is new "
        "(git rebase --force-rebase, then force-push)."
    )


def _finish(
    state: DecisionState,
    accounts: tuple[AccountDecision, ...],
    config: RepoConfig,
    plan: Plan,
    facts: PullRequestFacts,
    scope: _Scope,
    directory: _Directory,
    creator_of: Mapping[str, str],
    tally: _Tally,
    notes: _Notes,
) -> Decision:
    labels = _labels(state, accounts, plan, facts)
    winner = None if tally.winner_conflict else next(iter(sorted(set(tally.winners.values()))), None)
    feedback = tuple(Feedback(v.user, v.feedback) for _, v in sorted(tally.rejections.items()))
    request: tuple[str, ...] = ()
    notify: tuple[Recipients, ...] = ()
    if not facts.draft:
        needing = [
            config.account(a.account) for a in accounts if a.state is not DecisionState.NO_APPROVAL_NEEDED
        ]
        touched = [acc for acc in needing if acc is not None]
        if state is DecisionState.PENDING:
            waiting = {u for a in accounts if a.state is DecisionState.PENDING for u in a.eligible}
            request = tuple(sorted(waiting))
        notify = _notifications(state, touched, directory, creator_of, facts, feedback)
    return Decision(
        state=state,
        accounts=accounts,
        labels=labels,
        winner=winner,
        request=request,
        notify=notify,
        # Top-level reasons tell the whole story: who counted or not, then what each account still needs.
        reasons=tuple(dict.fromkeys([*notes.reasons, *(r for a in accounts for r in a.reasons)])),
        feedback=feedback,
        replies=tuple(notes.replies),
    )


def _labels(
    state: DecisionState, accounts: Sequence[AccountDecision], plan: Plan, facts: PullRequestFacts
) -> tuple[str, ...]:
    labels: list[str] = []
    if not facts.draft and state in (DecisionState.PENDING, DecisionState.APPROVED):
        waiting = {a.account for a in accounts if a.state in (DecisionState.PENDING, DecisionState.APPROVED)}
        pending = {a.pending_state for a in plan.actions if a.key.account in waiting and a.pending_state}
        labels += [PENDING_LABEL_PREFIX + p.value for p in PendingState if p in pending]
    if state in STATE_LABELS:
        labels.append(STATE_LABELS[state])
    return tuple(labels)


def _notifications(
    state: DecisionState,
    accounts: Sequence[Account],
    directory: _Directory,
    creator_of: Mapping[str, str],
    facts: PullRequestFacts,
    feedback: Sequence[Feedback],
) -> tuple[Recipients, ...]:
    names = directory.display()
    names.update({_fold(facts.author): facts.author})

    def people(folded: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted({names.get(u, u) for u in folded if not _is_bot(u)}))

    admins = set().union(*(directory.admins(a) for a in accounts)) if accounts else set()
    if state is DecisionState.PENDING:
        approvers = set().union(*(directory.approvers(a) for a in accounts)) if accounts else set()
        return (Recipients(NotifyEvent.SUBMITTED, people(approvers - set(creator_of))),)
    if state is DecisionState.APPROVED:
        return (Recipients(NotifyEvent.APPROVED, people(set(creator_of) | admins)),)
    if state is DecisionState.REJECTED:
        text = "\n\n".join(f"{f.user}: {f.said}" for f in feedback)
        return (Recipients(NotifyEvent.REJECTED, people(set(creator_of) | admins), text),)
    return ()


def _without_config(problems: Sequence[Problem], plan: Plan, facts: PullRequestFacts) -> Decision:
    """Fail closed: with no rules to read, no change to a resource can be approved."""
    listed = list(problems) or [missing_config_problem()]
    # Callers may also report the base config's problems as plan errors; those are not the PR's fault.
    own_errors = [p for p in plan.errors if p not in listed]
    if not plan.actions and (plan.config_changed or not plan.errors):
        # Only a change that adds or repairs the config itself can get out of this state.
        reason = (
            f"This PR touches no resource; the base branch has no valid {CONFIG_PATH}, so there are no "
            "rules to apply to it yet."
        )
        state = DecisionState.INVALID if own_errors else DecisionState.NO_APPROVAL_NEEDED
        return Decision(state, reasons=(reason, *(str(p) for p in own_errors)))
    message = broken_config_message(listed)
    accounts = tuple(
        AccountDecision(name, DecisionState.BLOCKED, 1, reasons=(message,)) for name in plan.accounts
    )
    return Decision(
        DecisionState.BLOCKED,
        accounts=accounts,
        labels=(STATE_LABELS[DecisionState.BLOCKED],),
        reasons=(message,),
    )


# ---------------------------------------------------------------------------------------------------
# Output.


def decision_to_json(decision: Decision) -> dict[str, Any]:
    """The `decision` object of `approvalbot check --facts` (see the README)."""
    return {
        "state": decision.state.value,
        "labels": list(decision.labels),
        "winner": decision.winner,
        "request": list(decision.request),
        "notify": [_notification_json(n) for n in decision.notify],
        "reasons": list(decision.reasons),
        "accounts": {
            a.account: {
                "state": a.state.value,
                "required": a.required,
                "approved_by": list(a.approved_by),
                "missing": a.missing,
                "reasons": list(a.reasons),
            }
            for a in decision.accounts
        },
    }


def _notification_json(notification: Recipients) -> dict[str, Any]:
    out: dict[str, Any] = {"event": notification.event.value, "logins": list(notification.logins)}
    if notification.feedback is not None:
        out["feedback"] = notification.feedback
    return out


_STATE_WORDS = {
    DecisionState.NO_APPROVAL_NEEDED: "No approval needed",
    DecisionState.PENDING: "Waiting for approval",
    DecisionState.APPROVED: "Approved",
    DecisionState.REJECTED: "Rejected",
    DecisionState.BLOCKED: "Blocked",
    DecisionState.INVALID: "Invalid change",
}


def decision_markdown(decision: Decision) -> str:
    """The approvals part of the check run's summary."""
    lines = [f"**Approval: {_STATE_WORDS[decision.state]}** (`{decision.state.value}`)", ""]
    if decision.winner:
        lines += [f"Winner chosen by the approver: `{decision.winner}`", ""]
    if decision.accounts:
        lines += ["| account | state | required | approved by | missing |", "|---|---|---|---|---|"]
        for a in decision.accounts:
            by = ", ".join(a.approved_by) or "—"
            lines.append(f"| {a.account} | {a.state.value} | {a.required} | {by} | {a.missing} |")
        lines.append("")
    lines += [f"- {_escape(r)}" for r in decision.reasons]
    if decision.feedback:
        lines += ["", "**Feedback**", ""]
        lines += [f"> **{f.user}**: {_escape(f.said)}" for f in decision.feedback]
    return "\n".join(lines).rstrip() + "\n"


def _escape(text: str) -> str:
    # Feedback and names are user text: keep them from opening tables or HTML in the summary.
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")
