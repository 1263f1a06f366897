"""Apply what reached the default branch: exactly once, and only what an approved PR explains.

A commit on the default branch is judged on its own change (first parent → commit), with the rules of
the first parent's `.approvalbot.yml` and, when a merged PR explains it, that PR's reviews as they stood
at the merge. Approved (or needing no approval) → every action goes live in one store transaction keyed
by the commit sha, so a redelivered event, a push and a `closed` event for the same merge, or a retry
after a crash all apply it once. Anything else is drift: recorded, alerted, its check failed, and
**not** applied.

Merge methods: a merge commit or a squash is one commit. "Rebase and merge" writes one commit per PR
commit, and the PR's `merge_commit_sha` is the last: the whole run is ONE submission, judged once on
the change from the base before its first commit to its last, and applied (or recorded as drift) keyed
by that last commit. The commits before it are part of it: never judged alone, so never drift of their
own, and never applied without the PR's approval.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.adapters.github.source import CommitSnapshot, GitHubReadError, MergedPull, PullRequestSource
from bot.adapters.github.writer import CheckOutput, Conclusion
from bot.core.commands import CommandName, parse_commands
from bot.core.decision import Decision, DecisionState, decide
from bot.core.facts import PullRequestFacts, ReviewState
from bot.core.judgement import Verdict, head_history, plan_digest
from bot.core.live import (
    ApprovedConfig,
    AuditEntry,
    AuditKind,
    LiveChange,
    OwedCheck,
    PendingToggle,
    change_for,
    to_jsonable,
)
from bot.core.loading import load_resource
from bot.core.model import Plan
from bot.core.notifications import ChangeItem, NotificationEvent, NotificationRequest
from bot.core.plan import make_plan
from bot.core.repo_config import Approvals, RepoConfig, parse_repo_config
from bot.core.rules_changes import rule_changes
from bot.engine.baseline import take_baseline
from bot.engine.drift import restores_live, settle, with_drift_problems
from bot.engine.evaluate import Rules, governing_rules, with_head_history, with_queue
from bot.engine.notify import send_notifications
from bot.engine.outbox import deliver, owe
from bot.engine.services import PullRef, Services
from bot.engine.toggle import follow_up_toggles

log = logging.getLogger("approvalbot.merge")

_NO_CONFIG = RepoConfig(approvals=Approvals(), accounts=())
# One page of GitHub's commit list: how far an event walks back first. A repository whose mark lies
# further back (a push of hundreds of commits) is walked up to DEEP_WALK, 20 pages.
MAX_WALK = 100
DEEP_WALK = 2000


class Outcome(StrEnum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    NOTHING_TO_APPLY = "nothing_to_apply"
    RESTORED = "restored"  # the commit brings the branch back to the live state (see drift.py)
    DRIFT = "drift"
    # One of a rebase merge's commits before its last: judged with the last, as one submission.
    PART_OF_MERGE = "part_of_merge"
    # A PR's merge seen by a push before approvalbot caught up with the PR's own events (its head log
    # does not know the merged head yet): left unjudged, for the PR's `closed` (or reconcile) to judge.
    DEFERRED = "deferred"


@dataclass(frozen=True)
class CommitResult:
    sha: str
    outcome: Outcome
    pr_number: int | None = None
    plan: Plan | None = None
    decision: Decision | None = None
    # Set when this commit turned the approval workflow on or off: the config after it.
    toggled: RepoConfig | None = None


def apply_commit(
    services: Services,
    repo: str,
    sha: str,
    *,
    installation: int | None = None,
    pr: int | None = None,
    final: bool = True,
) -> CommitResult:
    """Judge one commit of the default branch (with the whole rebase merge it ends, if it is the last
    commit of one) and apply it or record it as drift.

    `final` False (a push event): a PR's merge is deferred while the store's log of the PR's heads
    does not know the merged head yet (the PR's own events run in their own lane, and the merge is
    judged on what they record); its `closed` event, which comes after them, judges it."""
    if services.store.is_applied(sha):
        if services.store.pending_toggle(repo, sha) is not None:
            # Applied, but the toggle's follow-up failed (or crashed) last time: finish it.
            follow_up_toggles(services, repo, installation=installation)
        _publish_owed(services, repo, sha, installation)
        return CommitResult(sha, Outcome.ALREADY_APPLIED, pr)
    if _already_drift(services, sha):
        # Judged once, on the facts as they stood: a replay must not apply it because of a review given
        # since (GitHub's timestamps have one-second resolution, so the merge-time cutoff cannot tell).
        _publish_owed(services, repo, sha, installation)
        return CommitResult(sha, Outcome.DRIFT, pr)
    source = services.source(repo, installation)
    merged = _explaining_pull(source.merged_pulls_for_commit(sha), sha, pr)
    number = merged.number if merged else None
    if merged is not None and not final:
        events = services.store.head_events(repo, merged.number)
        if not head_history(events, merged.head_sha, merged.base_ref, ()).current:
            return CommitResult(sha, Outcome.DEFERRED, number)
    commit = source.read_commit(sha)
    # A rebase merge is judged whole: from the base before its first commit to its last (this one).
    run = rebase_run(source, sha, merged, commit.parents)
    if run is not None:
        commit = source.read_commit(sha, since=run.base)
    now = services.clock()
    # The rules are the last approved ones: a drift commit before this one must not have changed them.
    rules = governing_rules(services, repo, commit.config_before)
    config, config_problems = parse_repo_config(rules.content)
    plan = make_plan(commit.base, commit.head, commit.changes, config or _NO_CONFIG, now)
    if not plan.actions and not plan.config_changed:
        services.store.apply_merge(sha, number, [], [])
        return CommitResult(sha, Outcome.NOTHING_TO_APPLY, number, plan)
    ref = PullRef(repo, number or 0, installation)
    if restores_live(services.store, commit, plan, rules.content, now):
        return _restore(services, ref, commit, plan, rules)
    plan = with_drift_problems(services.store, repo, plan, commit.base, commit.head, now)
    verdict = services.store.verdict(repo, merged.number, merged.head_sha) if merged else None
    facts = _facts_at_merge(services, repo, installation, merged, commit, verdict)
    decision = decide(config, config_problems, plan, facts, now)
    if plan.valid and decision.state in (DecisionState.APPROVED, DecisionState.NO_APPROVAL_NEEDED):
        mismatch = _unlike_the_pr(merged, verdict, plan) if merged else None
        if mismatch is None:
            return _apply(services, ref, commit, plan, decision, rules, merged)
        decision = replace(decision, state=DecisionState.BLOCKED, reasons=(*decision.reasons, mismatch))
    if merged is not None and facts.unknown_pushes and _redeliverable(merged, now):
        # Who pushed is unknown only because a webhook was lost, and GitHub still has it to redeliver
        # (the heal asks for it, bot.server.redeliver_failed): judged when it arrives (the PR's event
        # applies its merge then, see handlers.on_pull_request), not recorded as drift for good now.
        log.warning(
            "%s: the merge of #%d waits: who pushed %s is unknown until GitHub redelivers its webhook",
            repo,
            merged.number,
            ", ".join(sha[:7] for sha in facts.unknown_pushes),
        )
        return CommitResult(sha, Outcome.DEFERRED, number)
    return _drift(services, ref, commit, plan, decision, config or _config_after(commit), merged)


# GitHub keeps an App's webhook deliveries for 3 days ("List deliveries for an app webhook"); a merge
# whose pusher is unknown waits for a redelivery at most this long, then is drift.
REDELIVERY_WAIT = timedelta(days=3)


def _redeliverable(merged: MergedPull, now: datetime) -> bool:
    return merged.merged_at is not None and now - merged.merged_at < REDELIVERY_WAIT


def apply_push(
    services: Services, repo: str, before: str, after: str, *, installation: int | None = None
) -> list[CommitResult]:
    """The pushed commits (`before..after`) and every earlier first-parent commit the store has not
    handled yet, oldest first (see `catch_up_chain`)."""
    source = services.source(repo, installation)
    chain = catch_up_chain(services, source, repo, after, own_stop=before)
    return walk_and_mark(services, repo, chain, installation=installation, final=False)


def apply_merged(
    services: Services, repo: str, sha: str, *, installation: int | None = None, pr: int | None = None
) -> list[CommitResult]:
    """The merge commit `sha` of PR `pr` (its `closed` event), after every earlier first-parent commit
    the store has not handled yet, and then what came after it on the branch.

    Only `sha` is judged for good here: another PR's merge waits (DEFERRED, and the walk with it)
    while that PR's own events, which run in its own lane, have not reached the store's log of its
    heads. What came after `sha` is walked too because a later merge's `closed` may have deferred on
    this one: its walk stopped below it, and nothing else would pick it up until the next event."""
    source = services.source(repo, installation)
    head = source.default_branch_head()
    above = source.first_parent_chain(head, stop=None, limit=MAX_WALK)
    own = above.index(sha) + 1 if sha in above else None
    if own is None:  # not on the branch's first-parent line within reach: as the event names it
        chain = catch_up_chain(services, source, repo, sha, own_length=1)
    else:
        chain = catch_up_chain(services, source, repo, head, own_length=own)
    pr_of = {sha: pr} if pr is not None else {}
    return walk_and_mark(services, repo, chain, installation=installation, pr_of=pr_of, final=False)


def walk_and_mark(
    services: Services,
    repo: str,
    chain: CatchUp,
    *,
    installation: int | None = None,
    pr_of: Mapping[str, int] | None = None,
    final: bool = True,
) -> list[CommitResult]:
    """Judge the chain oldest first (see `apply_walk`); when it reached down to what was handled
    before, the newest commit of it handled in order (before any deferred one, and not a rebase
    commit left to a later one) is the branch's new mark (reconcile starts there)."""
    results = apply_walk(
        services, repo, list(reversed(chain.commits)), installation=installation, pr_of=pr_of, final=final
    )
    handled: list[CommitResult] = []
    for result in results:
        if result.outcome is Outcome.DEFERRED:
            break
        handled.append(result)
    newest = next((r.sha for r in reversed(handled) if r.outcome is not Outcome.PART_OF_MERGE), None)
    if newest is not None and newest in chain.markable:
        services.store.set_branch_mark(repo, newest)
    return results


@dataclass(frozen=True)
class CatchUp:
    commits: list[str]  # newest first
    # Those of `commits` that may become the mark once handled in order: the ones above where the
    # handled history was known to end (the mark, a baseline just taken, or for a store without a
    # mark the newest handled commit). Empty when the walk could not reach it.
    markable: frozenset[str] = frozenset()


def catch_up_chain(
    services: Services,
    source: PullRequestSource,
    repo: str,
    head: str,
    *,
    own_stop: str | None = None,
    own_length: int | None = None,
) -> CatchUp:
    """First-parent commits from `head`, newest first: what the event names (down to `own_stop`, or
    `own_length` commits), and beyond it back to the branch mark (every commit up to it handled) or,
    for a store that has none, the newest commit the store has handled (applied, or drift).

    Not just what the event names: a merge whose `closed` and `push` deliveries were both lost (GitHub
    does not redeliver by itself) sits below the next push's `before`, and the next event is the first
    chance to apply it, in order, before what came after it. Commits the event names are walked even
    when handled (an applied commit finishes a toggle whose follow-up failed). When the store has
    handled nothing of the repository (a new installation), only what the event names is walked:
    older commits predate the bot, nobody approved them through it, and the commit below is taken as
    the baseline (bot.engine.baseline). A known repository whose mark lies further back than one
    page of commits is walked further (up to DEEP_WALK); beyond that, or when the mark is no longer
    on the branch (history rewritten), only what the event names is judged and the log says why. A
    late event about a commit below the baseline judges nothing: the baseline holds it. Only a walk
    that reached the mark moves it (to its newest commit), so a late event never moves it back."""
    mark = services.store.branch_mark(repo)
    chain = source.first_parent_chain(head, stop=None, limit=MAX_WALK)
    newest_handled = _newest_handled(services, chain)
    if mark is not None and mark not in chain and newest_handled is None and len(chain) == MAX_WALK:
        chain = source.first_parent_chain(head, stop=None, limit=DEEP_WALK)
        newest_handled = _newest_handled(services, chain)
    if own_length is not None:
        own = min(own_length, len(chain))
    else:
        own = chain.index(own_stop) if own_stop in chain else len(chain)
    if mark in chain:
        top = chain.index(mark)
        # What the event names at or below the mark is walked only where handled (a toggle or check
        # to finish); unhandled there means older than the baseline, which holds it as it was.
        done = handled(services, chain[top:own])
        below = [sha for sha in chain[top:own] if sha in done]
        return CatchUp(chain[:top] + below, frozenset(chain[:top]))
    if newest_handled is not None:
        # No mark yet (a store from before marks: this walk sets it), or `head` is below the mark (a
        # late event; the mark stays where it is), or the mark lies further back than the deep walk.
        above = chain[: max(own, newest_handled)]
        return CatchUp(above, frozenset(above) if mark is None else frozenset())
    if mark is not None and head in source.first_parent_chain(mark, stop=None, limit=DEEP_WALK):
        # A late event about a commit below where the bot started (the baseline took it as it was):
        # nothing of it is judged, or a merge the baseline already holds would be applied again.
        return CatchUp([])
    if mark is None and own < len(chain):
        # The first event of a repository the store never handled: the commit below what it names is
        # where the bot starts, taken as live as it is, before the event's commits are judged (or the
        # resources no merge touches would never be live, and a later reconcile would find the history
        # already started).
        start = chain[own]
        take_baseline(services, repo, start, source.tree(start))
        return CatchUp(chain[:own], frozenset(chain[:own]))
    if mark is not None:
        log.error(
            "%s: the commits handled last (up to %s) are not among the %d first-parent commits below %s: "
            "the default branch was rewritten, or far more was pushed at once; judging only what this "
            "event names",
            repo,
            mark[:12],
            len(chain),
            head[:12],
        )
    return CatchUp(chain[:own])


def handled(services: Services, shas: list[str]) -> set[str]:
    """Those of `shas` the store has handled: applied, or recorded as drift."""
    return services.store.applied(shas) | ({d.commit_sha for d in services.store.drift()} & set(shas))


def _newest_handled(services: Services, chain: list[str]) -> int | None:
    """Where in `chain` (newest first) the newest handled commit is."""
    done = handled(services, chain)
    return next((i for i, sha in enumerate(chain) if sha in done), None)


def apply_walk(
    services: Services,
    repo: str,
    oldest_first: list[str],
    *,
    installation: int | None = None,
    pr_of: Mapping[str, int] | None = None,
    final: bool = True,
) -> list[CommitResult]:
    """Judge each of these first-parent commits in order. The commits a rebase merge wrote before its
    last are left to that last one when it comes later in the walk: it judges the whole run at once.
    `pr_of`: the PR an event says merged a commit (a hint; GitHub's list is asked otherwise)."""
    source = services.source(repo, installation)
    covered: dict[str, int] = {}  # commit → the PR whose rebase merge it is part of
    results = []
    for index, sha in enumerate(oldest_first):
        later = oldest_first[index + 1 :]
        if sha not in covered and later and not services.store.is_applied(sha):
            covered.update(_covered_by_later(source, sha, later))
        if sha in covered:
            results.append(CommitResult(sha, Outcome.PART_OF_MERGE, covered[sha]))
        else:
            hint = (pr_of or {}).get(sha)
            # The event's own PR merge is judged for good: its lane has run every event before it.
            result = apply_commit(
                services, repo, sha, installation=installation, pr=hint, final=final or hint is not None
            )
            results.append(result)
            if result.outcome is Outcome.DEFERRED:
                break  # in order: what came after it waits with it
    return results


@dataclass(frozen=True)
class RebaseRun:
    """What a rebase merge wrote: the commits before its last, oldest first, and the base under them."""

    earlier: tuple[str, ...]
    base: str


def rebase_run(
    source: PullRequestSource, sha: str, merged: MergedPull | None, parents: tuple[str, ...]
) -> RebaseRun | None:
    """When `sha` is the last commit of `merged`'s rebase merge, the commits it wrote before it; None
    when `sha` is a commit of its own (a merge commit, a squash, a direct push), judged against its
    first parent.

    The rebase's commits are the unbroken run of first parents before `sha` that GitHub lists `merged`
    for with `sha` as its merge commit ("List pull requests associated with a commit" lists "the
    merged pull request that introduced the commit to the repository"). Costs nothing for a merge
    commit (two parents), one call for a squash, one per PR commit plus one for a rebase."""
    if merged is None or merged.merge_commit_sha != sha or len(parents) != 1:
        return None
    if not _wrote(source, parents[0], merged):
        return None
    chain = source.first_parent_chain(parents[0], stop=None, limit=MAX_WALK)  # newest first
    for index, earlier in enumerate(chain[1:], start=1):
        if not _wrote(source, earlier, merged):
            return RebaseRun(tuple(reversed(chain[:index])), earlier)
    raise GitHubReadError(
        f"{source.full_name}: the rebase merge of #{merged.number} ending at {sha[:12]} reaches back "
        f"more than {MAX_WALK} commits or to the root commit; approvalbot cannot tell where it began, "
        "so it applies nothing. Revert it on the default branch and merge it another way."
    )


def _covered_by_later(source: PullRequestSource, sha: str, later: Collection[str]) -> dict[str, int]:
    """When `sha` is one of the earlier commits of a rebase merge whose last commit comes `later` in
    this walk: every earlier commit of that merge → its PR (the last one judges them all). Checked on
    the run itself, so a PR's own commit that merely sits on the branch is never excused."""
    for pull in source.merged_pulls_for_commit(sha):
        last = pull.merge_commit_sha
        if not pull.merged or last is None or last == sha or last not in later:
            continue
        run = rebase_run(source, last, pull, source.parents(last))
        if run is not None and sha in run.earlier:
            return dict.fromkeys(run.earlier, pull.number)
    return {}


# --- the two outcomes ----------------------------------------------------------------------------------


def _apply(
    services: Services,
    ref: PullRef,
    commit: CommitSnapshot,
    plan: Plan,
    decision: Decision,
    rules: Rules,
    merged: MergedPull | None,
) -> CommitResult:
    changes = [
        change_for(a, _head_document(commit, a.file, a.key.account), winner=_winner(a, decision))
        for a in plan.actions
    ]
    actor = merged.merged_by if merged else commit.author
    audit = [
        AuditEntry(
            AuditKind.APPLY,
            resource=c.key,
            actor=actor,
            action=c.action,
            winner=c.winner,
            detail={"repository": ref.repo, "status": c.status.value if c.status else "deleted"},
        )
        for c in changes
    ]
    if commit.config_after != commit.config_before:
        audit += _rules_audit(ref, commit, decision, actor)
    toggled = _toggle(rules.content, commit.config_after)
    owed = owe(services.targets, _target_change(ref, commit.sha, changes), commit.sha, services.clock())
    check = OwedCheck(
        ref.repo,
        commit.sha,
        Conclusion.SUCCESS.value,
        f"Applied {len(changes)} change{'s' if len(changes) != 1 else ''}",
        "\n".join(f"- `{c.key}`: {c.action.label}" for c in changes) or "Nothing to apply.",
    )
    applied = services.store.apply_merge(
        commit.sha,
        merged.number if merged else None,
        changes,
        audit,
        check=check,
        approved_config=(
            ApprovedConfig(ref.repo, commit.sha, commit.config_after)
            if commit.config_after != commit.config_before
            else None
        ),
        toggle=(
            PendingToggle(
                ref.repo,
                commit.sha,
                toggled.approvals.enabled,
                commit.config_after or b"",
                rules.content,
                actor=_actor(commit, merged),
            )
            if toggled is not None
            else None
        ),
        owed=owed,
    )
    if not applied:
        return CommitResult(commit.sha, Outcome.ALREADY_APPLIED, ref.number or None, plan, decision)
    deliver(services.store, services.targets, owed, services.clock())
    # The approved rules are now this commit's if it changed them, else still the ones that governed.
    approved_now = commit.config_after if commit.config_after != commit.config_before else rules.content
    synced = {str(c.key) for c in changes}
    settle(services.store, ref.repo, commit, synced, commit.config_after == approved_now, services.clock())
    publish_check(services, ref.installation, check)
    return CommitResult(commit.sha, Outcome.APPLIED, ref.number or None, plan, decision, toggled)


def _rules_audit(
    ref: PullRef, commit: CommitSnapshot, decision: Decision, actor: str | None
) -> list[AuditEntry]:
    """One entry per grant, revocation and policy edit the merge makes to `.approvalbot.yml`."""
    old, _ = parse_repo_config(commit.config_before)
    new, _ = parse_repo_config(commit.config_after)
    approved_by = sorted({login for a in decision.accounts for login in a.approved_by})
    return [
        AuditEntry(
            AuditKind.RULES_CHANGE,
            account=change.account,
            actor=actor,
            detail={"repository": ref.repo, **change.detail(), "approved_by": approved_by},
        )
        for change in rule_changes(old, new)
    ]


def _restore(
    services: Services, ref: PullRef, commit: CommitSnapshot, plan: Plan, rules: Rules
) -> CommitResult:
    """A commit that puts back what is live: nothing to apply, and the drift it undoes is resolved."""
    # Its rules, when it touches them, are the approved ones again: it becomes their approved commit.
    approved = ApprovedConfig(ref.repo, commit.sha, commit.config_after) if plan.config_changed else None
    lines = [f"- `{a.key}`: as it is live" for a in plan.actions]
    check = _restored_check(ref.repo, commit.sha, lines)
    if not services.store.apply_merge(
        commit.sha, ref.number or None, [], [], approved_config=approved, check=check
    ):
        # Applied a moment ago by the other event of the same merge (`closed` and `push` run in
        # parallel): what is live is that apply, whose check must stand, not a "back in step".
        return CommitResult(commit.sha, Outcome.ALREADY_APPLIED, ref.number or None, plan)
    synced = {str(a.key) for a in plan.actions}
    in_step = commit.config_after == rules.content
    resolved = settle(services.store, ref.repo, commit, synced, in_step, services.clock())
    if resolved:
        # Owed as "back in step" until now; published with the drift it turned out to resolve.
        lines += ["", *(f"Resolves the drift of commit {sha[:12]}." for sha in resolved)]
        check = _restored_check(ref.repo, commit.sha, lines)
    publish_check(services, ref.installation, check)
    return CommitResult(commit.sha, Outcome.RESTORED, ref.number or None, plan)


def _restored_check(repo: str, sha: str, lines: list[str]) -> OwedCheck:
    summary = "This commit brings the default branch back to the live state, so there is nothing to apply."
    return OwedCheck(
        repo,
        sha,
        Conclusion.SUCCESS.value,
        "Back in step with the live state",
        summary + "\n\n" + "\n".join(lines),
    )


def publish_check(services: Services, installation: int | None, check: OwedCheck) -> None:
    """Publish a check the store owes GitHub, then strike it off (reconcile publishes what a crash left)."""
    output = CheckOutput(conclusion=Conclusion(check.conclusion), title=check.title, summary=check.summary)
    services.writer(check.repository, installation).publish_check(check.commit_sha, output)
    services.store.check_published(check)


def _publish_owed(services: Services, repo: str, sha: str, installation: int | None) -> None:
    """A retry of a job that applied `sha` (or recorded it as drift) and then failed to tell GitHub."""
    for check in services.store.owed_checks(repo):
        if check.commit_sha == sha:
            publish_check(services, installation, check)


def _drift(
    services: Services,
    ref: PullRef,
    commit: CommitSnapshot,
    plan: Plan,
    decision: Decision,
    config: RepoConfig | None,
    merged: MergedPull | None,
) -> CommitResult:
    why = list(decision.reasons) or ["no approved pull request explains this commit"]
    detail = {
        "repository": ref.repo,
        "accounts": list(plan.accounts),  # the read API shows drift to these accounts' tokens
        "pull_request": merged.number if merged else None,
        "state": decision.state.value,
        "reasons": why,
        "resources": [str(a.key) for a in plan.actions],
        "files": {str(a.key): a.file for a in plan.actions},  # to tell when each is back in step
        # Evaluations name this commit when they keep the last approved rules instead of its own.
        "config_changed": commit.config_after != commit.config_before,
    }
    number = merged.number if merged else None
    text = (
        f"**Not applied.** Commit {commit.sha[:12]} reached the default branch without the approvals "
        "it needs, so approvalbot did not apply it to the live state; it is recorded as drift.\n\n"
        + "\n".join(f"- {r}" for r in why)
        + "\n\nTo resolve it, revert the commit on the default branch: a revert that brings the "
        "resources back to their live state needs no approval. Then propose the change again in a "
        "pull request and have it approved. Until then, changes to these resources are refused."
    )
    check = OwedCheck(ref.repo, commit.sha, Conclusion.FAILURE.value, "Not applied: unapproved change", text)
    if services.store.record_drift(commit.sha, detail, check=check):
        services.store.audit(
            AuditEntry(
                AuditKind.DRIFT,
                actor=_actor(commit, merged),
                pr_number=number,
                commit_sha=commit.sha,
                detail=detail,
            )
        )
        if merged is not None:
            services.writer(ref.repo, ref.installation).comment(merged.number, text)
        publish_check(services, ref.installation, check)
        if config is not None:
            send_notifications(
                services,
                config,
                NotificationRequest(
                    event=NotificationEvent.BYPASS,
                    accounts=plan.accounts,
                    repository=ref.repo,
                    actor=_actor(commit, merged),
                    items=tuple(ChangeItem(a.key, a.action, a.pending_state) for a in plan.actions),
                    pr_number=number,
                    pr_url=services.pr_url(ref.repo, number) if number else None,
                    pr_title=merged.title if merged else None,
                    head_sha=commit.sha,
                ),
            )
    return CommitResult(commit.sha, Outcome.DRIFT, number, plan, decision)


# --- helpers --------------------------------------------------------------------------------------------


def _already_drift(services: Services, sha: str) -> bool:
    return any(record.commit_sha == sha for record in services.store.drift())


def _wrote(source: PullRequestSource, sha: str, merged: MergedPull) -> bool:
    """Whether GitHub lists `merged` for `sha` as the PR whose merge (ending at its merge commit) wrote it."""
    return any(
        p.number == merged.number and p.merged and p.merge_commit_sha == merged.merge_commit_sha
        for p in source.merged_pulls_for_commit(sha)
    )


def _explaining_pull(pulls: list[MergedPull], sha: str, hint: int | None) -> MergedPull | None:
    """The merged PR whose merge produced exactly this commit (a PR's own commits explain nothing)."""
    candidates = [p for p in pulls if p.merged and p.merge_commit_sha == sha]
    if hint is not None:
        candidates = [p for p in candidates if p.number == hint] or candidates
    return candidates[0] if candidates else None


def _facts_at_merge(
    services: Services,
    repo: str,
    installation: int | None,
    merged: MergedPull | None,
    commit: CommitSnapshot,
    verdict: Verdict | None,
) -> PullRequestFacts:
    """The PR's facts as the PR saw them: only the reviews and commands given before it merged, and
    the pushers and head times of the store's log of its heads (GitHub cannot give them later); for a
    direct push, a PR of nobody's with no reviews (so only changes needing no approval pass).

    GitHub stamps to the second: a vote in the merge's own second may have come after it. It counts
    only when the PR-time verdict of this head already counted its author (the bot merging what it
    just approved); a rejection in that second counts (the safe side)."""
    if merged is None:
        return PullRequestFacts(
            number=0, author=commit.author or "(direct push)", head_sha=commit.sha, pusher=commit.author
        )
    facts = services.source(repo, installation).read(merged.number).facts
    counted = {u.casefold() for u in verdict.approved_by} if verdict is not None else set()
    cutoff = merged.merged_at

    def before(at: datetime | None, user: str, approves: bool) -> bool:
        if cutoff is None or at is None or at < cutoff:
            return True
        return at == cutoff and (not approves or user.casefold() in counted)

    if cutoff is not None:
        facts = replace(
            facts,
            reviews=tuple(
                r for r in facts.reviews if before(r.submitted_at, r.user, r.state is ReviewState.APPROVED)
            ),
            comments=tuple(c for c in facts.comments if before(c.created_at, c.user, _approves(c.body))),
        )
    facts = replace(facts, draft=False, open_prs=(), head_sha=merged.head_sha)
    facts = with_head_history(facts, services.store.head_events(repo, merged.number), merged.base_ref)
    # The locks as the PR saw them: its own are released only after its merge is judged (handlers).
    return with_queue(services, PullRef(repo, merged.number, installation), facts, services.clock())


def _approves(body: str) -> bool:
    return any(c.name is CommandName.APPROVE for c in parse_commands(body))


def _unlike_the_pr(merged: MergedPull, verdict: Verdict | None, plan: Plan) -> str | None:
    """Why the merge is not what the PR's own check judged, or None. The merge-time judgement (same
    `decide`, on the PR's facts: votes before the merge, the head log, the locks as they stood) has
    approved it; the PR-time verdict of the merged head must not have rejected it or found it invalid,
    and must be about the base merged into and the same change (digest). A check that lagged behind
    the facts (pending while an approval was already given, blocked until a lost webhook arrived) does
    not object: the merge-time judgement weighed the same facts in full."""
    head = merged.head_sha[:12]
    if verdict is None:
        return None  # not judged yet (a backlog): the merge-time judgement, on the same facts, stands
    if verdict.state in (DecisionState.REJECTED.value, DecisionState.INVALID.value):
        said = _STATE_WORDS.get(verdict.state, verdict.state)
        return (
            f"The check of #{merged.number} on head {head} said {said} when it merged; merging past the "
            "check applies nothing."
        )
    if verdict.base_ref != merged.base_ref:
        return (
            f"#{merged.number} was judged against {verdict.base_ref}, but merged into {merged.base_ref}: "
            "the change the approvers saw is not the one merged."
        )
    if verdict.plan_digest and verdict.plan_digest != plan_digest(plan):
        return (
            f"The change #{merged.number} merged differs from the one its check judged on head {head} "
            "(the base moved, and the check had not caught up): what was approved is not what merged."
        )
    return None


_STATE_WORDS = {
    DecisionState.PENDING.value: "waiting for approval",
    DecisionState.BLOCKED.value: "blocked",
    DecisionState.REJECTED.value: "rejected",
    DecisionState.INVALID.value: "invalid",
}


def _head_document(commit: CommitSnapshot, path: str, account: str) -> dict[str, Any] | None:
    raw = commit.head.read(path)
    if raw is None:
        return None
    loaded = load_resource(path, raw, account)
    return dict(loaded.resource.data) if loaded.resource is not None else None


def _winner(action: Any, decision: Decision) -> str | None:
    return decision.winner if action.action is not None and action.action.value == "finish" else None


def _target_change(ref: PullRef, sha: str, changes: list[LiveChange]) -> dict[str, Any]:
    """What outbound targets are told of an applied merge (README: "Outbound targets")."""
    return {
        "repository": ref.repo,
        "commit": sha,
        "pull_request": ref.number or None,
        "changes": [
            {
                "resource": str(c.key),
                "account": c.key.account,
                "kind": c.key.kind.value,
                "id": c.key.id,
                "action": c.action.value,
                "status": c.status.value if c.status else None,
                "document": to_jsonable(c.document) if c.document is not None else None,
            }
            for c in changes
        ],
    }


def _toggle(governing: bytes | None, config_after: bytes | None) -> RepoConfig | None:
    """The config after this commit, when it turned approvals.enabled on or off compared with the
    rules that governed before it (the approved ones, not a drifted file)."""
    before, _ = parse_repo_config(governing)
    after, _ = parse_repo_config(config_after)
    if before is None or after is None or before.approvals.enabled == after.approvals.enabled:
        return None
    return after


def _config_after(commit: CommitSnapshot) -> RepoConfig | None:
    return parse_repo_config(commit.config_after)[0]


def _actor(commit: CommitSnapshot, merged: MergedPull | None) -> str | None:
    return merged.merged_by if merged and merged.merged_by else commit.author
