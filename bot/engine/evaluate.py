"""Evaluate one pull request from GitHub's current state, and show the verdict on it.

Every webhook about a PR ends here, so lost, repeated or reordered events heal themselves: nothing is
carried from one event to the next except what GitHub and the store hold. The steps:

1. read the PR (constant number of API calls), the base branch's `.approvalbot.yml` and the touched files;
2. plan the change (pure), weigh reviews and commands against the rules (pure);
3. take or release the PR's locks in the store, and re-check PRs that waited on a released lock;
4. write the check run, the diff comment, labels and review requests (each skipped when unchanged);
5. act on the verdict: close on rejection, merge on approval when asked, notify and audit once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from bot.adapters.github.source import GitHubReadError, PullRequestSnapshot, PullState
from bot.adapters.github.writer import (
    GitHubWriteError,
    MergeMethodRefused,
    PullRequestWriter,
    ReviewRequests,
    is_managed_label,
)
from bot.core.decision import PENDING_LABEL_PREFIX, STATE_LABELS, Decision, DecisionState, NotifyEvent, decide
from bot.core.facts import OpenPullRequest, PullRequestFacts
from bot.core.judgement import HeadEvent, HeadEventKind, Verdict, head_history, latest, plan_digest
from bot.core.live import AuditEntry, AuditKind, Lock
from bot.core.model import Kind, PendingState, Plan, ResourceKey
from bot.core.notifications import ChangeItem, NotificationEvent, NotificationRequest
from bot.core.plan import make_plan
from bot.core.repo_config import Approvals, OnReject, RepoConfig, parse_repo_config
from bot.engine.drift import with_drift_problems
from bot.engine.notify import send_notifications
from bot.engine.report import check_output, comment_body, failure_output, files_at
from bot.engine.services import PullRef, Services

log = logging.getLogger("approvalbot.evaluate")

# An empty config lets the planner run when the base has none (the decision then blocks, fail closed).
_NO_CONFIG = RepoConfig(approvals=Approvals(), accounts=())


@dataclass(frozen=True)
class Evaluation:
    ref: PullRef
    head_sha: str
    plan: Plan
    decision: Decision
    config: RepoConfig | None
    audited: tuple[AuditKind, ...] = ()  # what this evaluation wrote to the audit log


def evaluate_pull(services: Services, ref: PullRef, *, pusher: str | None = None) -> Evaluation | None:
    """Re-evaluate `ref` and publish the verdict; None when the PR is closed (its locks are released)."""
    source = services.source(ref)
    writer = services.writer(ref)
    try:
        # What the PR would merge, not its head: a PR behind the base would seem to revert the base's news.
        snapshot = source.read(ref.number, pusher=pusher, merged=True)
    except GitHubReadError as error:
        # The verdict cannot be refreshed: the last head approvalbot knows stops saying approved, if
        # GitHub still takes writes (the job is retried with the next event or reconcile).
        log.error("%s: cannot read the pull request: %s", ref, error)
        _withdraw_verdict(services, ref, writer, str(error))
        raise
    pull = snapshot.pull
    if pull.state != "open":
        release(services, ref)
        clear_waiting_labels(services, ref, pull.labels)
        return None
    now = services.clock()
    rules = governing_rules(services, ref.repo, snapshot.config)
    config, config_problems = parse_repo_config(rules.content)
    if snapshot.incomplete:
        output = failure_output(
            "GitHub could not be read in full",
            f"approvalbot could not read everything it needs, so it cannot approve: "
            f"{snapshot.incomplete}. Re-run the check once the cause is gone.",
        )
        log.error("%s: cannot judge the pull request: %s", ref, snapshot.incomplete)
        _record_verdict(services, ref, pull, "", DecisionState.BLOCKED, (), now)
        _Writes(f"{ref}").attempt(lambda: writer.publish_check(pull.head_sha, output))
        return None
    plan = make_plan(snapshot.base, snapshot.head, snapshot.changes, config or _NO_CONFIG, now)
    plan = with_drift_problems(services.store, ref.repo, plan, snapshot.base, snapshot.head, now)
    facts = with_queue(services, ref, _with_head(services, ref, snapshot, now), now)
    decision = decide(config, config_problems, plan, facts, now)
    # What this judgement rested on, for the merge to be judged the same (bot.engine.merge).
    approved_by = tuple(sorted({login for a in decision.accounts for login in a.approved_by}))
    _record_verdict(services, ref, pull, plan_digest(plan), decision.state, approved_by, now)
    _update_locks(services, ref, plan, decision, facts)
    failed = _publish(writer, snapshot, plan, decision, config, rules.note)
    audited: list[AuditKind] = []
    failed += _act(services, writer, ref, snapshot, plan, decision, config, audited)
    if failed:
        # The audit and the notifications are done (each once); the job fails so that it is retried.
        raise GitHubWriteError("; ".join(str(error) for error in failed))
    return Evaluation(ref, pull.head_sha, plan, decision, config, tuple(audited))


def release(services: Services, ref: PullRef) -> None:
    """Drop the PR's locks; PRs that may have waited on them are re-checked."""
    if services.store.release_locks(ref.repo, ref.number):
        _reevaluate_others(services, ref)


# Labels that say what a PR is waiting for; once it is merged or closed it waits for nothing. `approved`
# and `rejected` stay: they record how it ended.
_WAITING_LABELS = frozenset({STATE_LABELS[DecisionState.BLOCKED]})


def clear_waiting_labels(services: Services, ref: PullRef, labels: Iterable[str]) -> None:
    """Remove the pending and `blocked` labels of a merged or closed PR (`labels`: those it has now)."""
    current = tuple(labels)
    kept = [n for n in current if is_managed_label(n) and not _waiting(n)]
    services.writer(ref).set_labels(ref.number, kept, current)


def _waiting(label: str) -> bool:
    return label.startswith(PENDING_LABEL_PREFIX) or label in _WAITING_LABELS


def _with_head(
    services: Services, ref: PullRef, snapshot: PullRequestSnapshot, now: datetime
) -> PullRequestFacts:
    """The facts, with everyone who pushed a head of the PR and since when this head is the head on
    this base, from the store's log of the PR's heads (bot.core.judgement).

    A head (or base) no webhook named is logged now, as a sighting stamped with the PR's `updated_at`:
    GitHub's clock, as the comments it is compared with, and at or after the push, so the rule errs
    towards refusing a command, never towards counting one made for older code; its pusher is unknown.
    Never the commit's own date: a committer sets that freely.
    """
    pull = snapshot.pull
    events = services.store.head_events(ref.repo, ref.number)
    last = latest(events)
    if last is None or (last.sha, last.base_ref) != (pull.head_sha, pull.base_ref):
        at = pull.updated_at or now
        if last is not None and at < last.at:
            at = last.at  # what is the head now came last, whatever the stamps say
        sighting = HeadEvent(pull.head_sha, pull.base_ref, at, HeadEventKind.SEEN)
        services.store.record_head_event(ref.repo, ref.number, sighting)
        events = services.store.head_events(ref.repo, ref.number)
    return with_head_history(snapshot.facts, events, pull.base_ref)


def with_head_history(facts: PullRequestFacts, events: list[HeadEvent], base_ref: str) -> PullRequestFacts:
    """`facts` completed from the PR's head log (as the PR saw it, or as the merge finds it)."""
    history = head_history(events, facts.head_sha, base_ref, {c.sha for c in facts.commits})
    return replace(
        facts,
        pushers=history.pushers,
        unknown_pushes=history.unknown,
        head_pushed_at=history.since,
        base_changed_at=history.base_changed_at,
    )


def _record_verdict(
    services: Services,
    ref: PullRef,
    pull: PullState,
    digest: str,
    state: DecisionState,
    approved_by: tuple[str, ...],
    now: datetime,
) -> None:
    services.store.record_verdict(
        Verdict(
            ref.repo,
            ref.number,
            pull.head_sha,
            pull.base_ref,
            pull.base_sha,
            digest,
            state.value,
            approved_by,
            now,
        )
    )


def _withdraw_verdict(services: Services, ref: PullRef, writer: PullRequestWriter, why: str) -> None:
    """GitHub could not be read: the latest head approvalbot logged stops counting as approved, for the
    merge and on its check (when GitHub takes the write), so a verdict made before the outage (a review
    dismissed meanwhile) is not left standing."""
    last = latest(services.store.head_events(ref.repo, ref.number))
    if last is None:
        return
    old = services.store.verdict(ref.repo, ref.number, last.sha)
    if old is not None:
        services.store.record_verdict(
            replace(old, state=DecisionState.BLOCKED.value, approved_by=(), decided_at=services.clock())
        )
    output = failure_output(
        "Not judged: GitHub could not be read",
        f"approvalbot could not read this pull request from GitHub ({why}), so it cannot say whether it "
        "is approved, and an earlier verdict no longer stands. It is judged again with the next event "
        "or reconcile; re-run this check once GitHub answers.",
    )
    try:
        writer.publish_check(last.sha, output)
    except (GitHubWriteError, GitHubReadError) as error:
        log.error("%s: cannot withdraw the check either: %s", ref, error)


# --- which rules govern ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """The `.approvalbot.yml` that governs, and why it is not the default branch's when it is not."""

    content: bytes | None
    note: str | None = None  # set when the default branch's file is not the approved one


def governing_rules(services: Services, repo: str, on_branch: bytes | None) -> Rules:
    """The last approved rules when the default branch's `.approvalbot.yml` (`on_branch`) differs from
    them: a push nobody approved (drift) must not change who approves what, nor turn approvals off.

    With no approved rules in the store yet (no baseline taken), the default branch's file governs.
    """
    approved = services.store.approved_config(repo)
    # No approved file (none at the baseline, or an approved PR removed it): nothing to protect, and the
    # first rules must be able to arrive somehow, so the default branch's govern, as before approvalbot.
    if approved is None or approved.content is None or approved.content == on_branch:
        return Rules(on_branch)
    drift = _config_drift(services, repo)
    why = f"drift, commit {drift[:12]}" if drift else "not applied yet"
    return Rules(
        approved.content,
        f"the rules on the default branch have unapproved changes ({why}); the last approved rules "
        f"apply (commit {approved.commit_sha[:12]}). Revert the change, or approve it in a pull request.",
    )


def _config_drift(services: Services, repo: str) -> str | None:
    """The newest drift commit of `repo` that changed `.approvalbot.yml`, if any was recorded."""
    found = [
        record.commit_sha
        for record in services.store.drift()
        if record.detail.get("repository") == repo and record.detail.get("config_changed")
    ]
    return found[-1] if found else None


# --- the lock queue -----------------------------------------------------------------------------------


def with_queue(services: Services, ref: PullRef, facts: PullRequestFacts, now: datetime) -> PullRequestFacts:
    """The facts, completed with who holds what: the locks of `ref`'s repository are the queue of its ready
    PRs (another repository's PR #n is not this one's, even for an account of the same name).

    A PR's place in the queue is when it first took a lock, so re-evaluating never reorders it. The
    merge-time judgement asks the same (before the merged PR's locks are released), so a PR merged
    while another held its resources is judged blocked at the merge as it was on its check.
    """
    held: dict[int, list[Lock]] = defaultdict(list)
    for lock in services.store.locks(ref.repo):
        held[lock.pr_number].append(lock)
    mine = held.pop(facts.number, [])
    others = tuple(
        OpenPullRequest(
            number=number,
            ready_at=min(lock.since for lock in locks),
            resources=tuple(lock.key for lock in locks),
            pending={lock.key: lock.pending_state for lock in locks if lock.pending_state is not None},
            publishes=tuple(lock.key for lock in locks if lock.key.kind is Kind.REMOTE_CONFIG),
        )
        for number, locks in sorted(held.items())
    )
    ready_at = min((lock.since for lock in mine), default=now)
    return replace(facts, open_prs=others, ready_at=None if facts.draft else ready_at)


def _update_locks(
    services: Services, ref: PullRef, plan: Plan, decision: Decision, facts: PullRequestFacts
) -> None:
    """A ready PR submitting actions that need approval holds their resources; anything else holds none."""
    wanted: dict[ResourceKey, PendingState | None] = {}
    holds = not facts.draft and decision.state not in (
        DecisionState.INVALID,
        DecisionState.NO_APPROVAL_NEEDED,
    )
    if holds:
        wanted = {a.key: a.pending_state for a in plan.actions if a.valid and a.requires_approval}
    if wanted:
        services.store.set_locks(ref.repo, ref.number, wanted)
    else:
        release(services, ref)


def _reevaluate_others(services: Services, ref: PullRef) -> None:
    try:
        numbers = services.source(ref).open_pull_numbers()
    except GitHubReadError as error:
        log.warning("%s: released locks, but cannot list open PRs to re-check them: %s", ref, error)
        return
    for number in numbers:
        if number != ref.number:
            services.reevaluate(PullRef(ref.repo, number, ref.installation))


# --- what the PR shows ------------------------------------------------------------------------------------


def _publish(
    writer: PullRequestWriter,
    snapshot: PullRequestSnapshot,
    plan: Plan,
    decision: Decision,
    config: RepoConfig | None,
    rules_note: str | None = None,
) -> list[GitHubWriteError]:
    """Show the verdict on the PR. Each write is tried even when another failed, and none stops the
    audit or the notifications: the failures are returned for the caller to raise once those are done."""
    pull = snapshot.pull
    writes = _Writes(f"{writer.full_name}#{pull.number}")
    attempt = writes.attempt
    notes = [f"> **Note:** {snapshot.note}"] if snapshot.note else []
    if rules_note:
        notes.append(f"> **Rules:** {rules_note}")
    notes += [f"> **Warning:** {warning}" for warning in snapshot.warnings]
    # Review requests go first, so that the check can say whom GitHub would not let us ask.
    if decision.request:
        asked = attempt(lambda: writer.request_reviewers(pull, decision.request))
        note = asked.note() if isinstance(asked, ReviewRequests) else None
        if note:
            notes.append(f"> **Reviewers:** {note}")
    elif pull.draft and pull.requested_reviewers:
        # Converting to draft withdraws the request (SPEC §1): the approvers are no longer asked.
        attempt(lambda: writer.withdraw_review_requests(pull))
    output = check_output(plan, decision)
    if notes:
        # A conflicted PR is still judged (GitHub itself blocks its merge), but the reviewer should know
        # the diff is the PR's own files, not GitHub's test merge; the other notes are as plain.
        output = replace(output, summary="\n\n".join([output.summary, *notes]))
    attempt(lambda: writer.publish_check(pull.head_sha, output, snapshot.check_runs))
    links = files_at(pull.repo_url, pull.head_sha)
    attempt(
        lambda: writer.upsert_comment(pull.number, comment_body(plan, config, links), read=snapshot.comments)
    )
    attempt(lambda: writer.set_labels(pull.number, decision.labels, pull.labels))
    return writes.failed


def _quoted(text: str) -> str:
    """Markdown quote of every line, so feedback over several lines stays one quote."""
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


class _Writes:
    """Runs writes one by one: a refusal is logged as one plain line (what, and which permission GitHub
    says it needs), never a traceback, and kept, so the other writes, the audit and the notifications
    still happen and the caller can fail the job afterwards for a retry."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.failed: list[GitHubWriteError] = []

    def attempt(self, write: Callable[[], object]) -> object:
        try:
            return write()
        except GitHubWriteError as error:
            self.refused(error)
            return None

    def refused(self, error: GitHubWriteError) -> None:
        log.error("%s: %s", self.where, error)
        self.failed.append(error)


# --- what the verdict sets off -----------------------------------------------------------------------------


def _act(
    services: Services,
    writer: PullRequestWriter,
    ref: PullRef,
    snapshot: PullRequestSnapshot,
    plan: Plan,
    decision: Decision,
    config: RepoConfig | None,
    audited: list[AuditKind],
) -> list[GitHubWriteError]:
    """Act on the verdict (`audited` collects the audit kinds written); a refused write (a comment,
    the close, the merge) is returned, not raised, so that the audit and the notifications happen
    whatever GitHub answered."""
    pull = snapshot.pull
    once = _Once(services, f"{ref}@{pull.head_sha}")
    writes = _Writes(f"{ref}")
    attempt = writes.attempt

    for reply in decision.replies:
        if once.claim(f"reply:{reply.comment_id}:{reply.user}:{reply.text}"):
            attempt(partial(writer.comment, pull.number, f"@{reply.user} {reply.text}"))
    if config is None or pull.draft:
        return writes.failed
    if decision.state is DecisionState.REJECTED:
        feedback = "\n>\n".join(_quoted(f"**{f.user}**: {f.said}") for f in decision.feedback)
        if once.claim("rejected"):
            _audit(services, ref, pull.head_sha, plan, AuditKind.REJECTION, decision)
            keep = config.approvals.on_reject is OnReject.KEEP_OPEN
            after = "It stays open (`on_reject: keep_open`)." if keep else "The pull request is closed."
            text = f"**Rejected.** Nothing changes in the live state.\n\n{feedback}\n\n{after}"
            attempt(lambda: writer.comment(pull.number, text))
        if config.approvals.on_reject is OnReject.CLOSE:
            attempt(lambda: writer.close(pull))
    elif decision.state is DecisionState.APPROVED:
        if once.claim("approved"):
            _audit(services, ref, pull.head_sha, plan, AuditKind.APPROVAL, decision)
        if config.approvals.merge_on_approval:
            try:
                merge_sha = writer.merge(pull, pull.head_sha, config.approvals.merge_method)
                if services.merged is not None:
                    services.merged(ref, merge_sha)
            except MergeMethodRefused as refused:
                # Not the bot's failure and not the PR's: the repository's settings and
                # `.approvalbot.yml` disagree. Said once per head, plainly; the PR stays approved.
                if once.claim(f"merge-refused:{refused.method}"):
                    text = (
                        f"**Approved, but not merged.** {refused} The pull request stays approved: "
                        "anyone allowed to may merge it by hand, and approvalbot applies it then."
                    )
                    attempt(lambda: writer.comment(pull.number, text))
            except GitHubWriteError as error:
                writes.refused(error)
    elif decision.state is DecisionState.PENDING and once.claim("submitted"):
        _audit(services, ref, pull.head_sha, plan, AuditKind.SUBMISSION, decision)
        audited.append(AuditKind.SUBMISSION)
    _notify(services, ref, snapshot, plan, decision, config)
    return writes.failed


def _notify(
    services: Services,
    ref: PullRef,
    snapshot: PullRequestSnapshot,
    plan: Plan,
    decision: Decision,
    config: RepoConfig,
) -> None:
    pull = snapshot.pull
    items = tuple(ChangeItem(a.key, a.action, a.pending_state) for a in plan.actions if a.requires_approval)
    for recipients in decision.notify:
        request = NotificationRequest(
            event=NotificationEvent(recipients.event.value),
            accounts=plan.accounts,
            repository=ref.repo,
            actor=_actor(decision, recipients.event, pull.author),
            creators=tuple(sorted(_creators(snapshot.facts))),
            items=items,
            pr_number=pull.number,
            pr_url=services.pr_url(ref.repo, ref.number),
            pr_title=pull.title,
            head_sha=pull.head_sha,
            feedback=recipients.feedback,
        )
        send_notifications(services, config, request, snapshot.facts.teams)


def _actor(decision: Decision, event: NotifyEvent, author: str) -> str:
    if event is NotifyEvent.APPROVED:
        return ", ".join(sorted({login for a in decision.accounts for login in a.approved_by})) or author
    if event is NotifyEvent.REJECTED:
        return ", ".join(f.user for f in decision.feedback) or author
    return author


def _creators(facts: PullRequestFacts) -> set[str]:
    found = {facts.author}
    for commit in facts.commits:
        found.update(login for login in (commit.author, commit.committer, *commit.co_authors) if login)
    return {login for login in found if not login.endswith("[bot]")}


def _audit(
    services: Services, ref: PullRef, sha: str, plan: Plan, kind: AuditKind, decision: Decision
) -> None:
    actors = sorted({login for a in decision.accounts for login in a.approved_by})
    if kind is AuditKind.REJECTION:
        actors = [f.user for f in decision.feedback]
    feedback = "\n".join(f.text for f in decision.feedback) or None
    for action in plan.actions:
        if not action.requires_approval:
            continue
        services.store.audit(
            AuditEntry(
                kind,
                resource=action.key,
                actor=", ".join(actors) or None,
                pr_number=ref.number,
                commit_sha=sha,
                action=action.action,
                feedback=feedback if kind is AuditKind.REJECTION else None,
                winner=decision.winner,
                detail={
                    "repository": ref.repo,
                    "pending": action.pending_state.value if action.pending_state else None,
                },
            )
        )


def audit_resubmission(services: Services, evaluation: Evaluation, pull: Mapping[str, Any]) -> None:
    """A PR made ready again on a head already submitted once (the request had been withdrawn): a new
    submission, though the evaluation's once-per-head record had it already. Once per event."""
    if evaluation.decision.state is not DecisionState.PENDING or AuditKind.SUBMISSION in evaluation.audited:
        return
    ref = evaluation.ref
    if services.store.claim_notification(f"{ref}:ready:{pull.get('updated_at')}"):
        _audit(services, ref, evaluation.head_sha, evaluation.plan, AuditKind.SUBMISSION, evaluation.decision)


def audit_withdrawal(
    services: Services, evaluation: Evaluation, pull: Mapping[str, Any], actor: str | None
) -> None:
    """A ready PR converted back to draft: its request for approval is withdrawn (SPEC §1), once per event."""
    ref = evaluation.ref
    asked = [a for a in evaluation.plan.actions if a.requires_approval]
    if not asked or not services.store.claim_notification(f"{ref}:withdrawn:{pull.get('updated_at')}"):
        return
    for action in asked:
        services.store.audit(
            AuditEntry(
                AuditKind.WITHDRAWAL,
                resource=action.key,
                actor=actor,
                pr_number=ref.number,
                commit_sha=evaluation.head_sha,
                action=action.action,
                detail={
                    "repository": ref.repo,
                    "pending": action.pending_state.value if action.pending_state else None,
                },
            )
        )


def audit_closed(
    services: Services, ref: PullRef, pull: Mapping[str, Any], actor: str | None, held: Iterable[Lock] = ()
) -> None:
    """A PR closed without a merge (by a person, or by approvalbot on a rejection), once per closing: one
    entry per resource it held locked (a ready PR's), else one for the PR (a draft holds nothing)."""
    closed_at = pull.get("closed_at")
    if not services.store.claim_notification(f"{ref}:closed:{closed_at}"):
        return
    head = (pull.get("head") or {}).get("sha")
    detail = {
        "repository": ref.repo,
        "merged": False,
        "closed_at": closed_at,
        "draft": bool(pull.get("draft")),
    }
    locks: list[Lock | None] = list(held)
    for lock in locks or [None]:
        pending = lock.pending_state.value if lock is not None and lock.pending_state else None
        services.store.audit(
            AuditEntry(
                AuditKind.CLOSED,
                resource=lock.key if lock is not None else None,
                actor=actor,
                pr_number=ref.number,
                commit_sha=str(head) if head else None,
                detail={**detail, "pending": pending} if lock is not None else detail,
            )
        )


class _Once:
    """Side effects that must happen once per PR head, however often the PR is re-evaluated."""

    def __init__(self, services: Services, scope: str) -> None:
        self._services = services
        self._scope = scope

    def claim(self, what: str) -> bool:
        return self._services.store.claim_notification(f"{self._scope}:{what}")
