"""Webhook events → use cases. One small function per event family, chosen from a table.

Handlers keep no state: each ends in a re-evaluation of the PR from GitHub's current state (or an
apply of what reached the default branch), so a lost, repeated or reordered event heals itself.
Events approvalbot does not act on (installation, labels, check suites…) are acknowledged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core.judgement import HeadEvent, HeadEventKind
from bot.core.repo_config import RepoConfig
from bot.engine.evaluate import (
    Evaluation,
    audit_closed,
    audit_resubmission,
    audit_withdrawal,
    clear_waiting_labels,
    evaluate_pull,
    release,
)
from bot.engine.merge import Outcome, apply_merged, apply_push, handled
from bot.engine.reconcile import reconcile
from bot.engine.services import PullRef, Services
from bot.engine.toggle import follow_up_toggles, resume_toggles
from bot.ports import Job

log = logging.getLogger("approvalbot.handlers")

Payload = Mapping[str, Any]

PR_ACTIONS = frozenset(
    {"opened", "reopened", "synchronize", "ready_for_review", "converted_to_draft", "edited", "closed"}
)
# Actions that (may) bring a new head commit: the head is recorded before the PR is evaluated.
HEAD_ACTIONS = frozenset({"opened", "reopened", "synchronize"})
REVIEW_ACTIONS = frozenset({"submitted", "edited", "dismissed"})
COMMENT_ACTIONS = frozenset({"created", "edited"})


def _installation(payload: Payload) -> int | None:
    installation = payload.get("installation") or {}
    value = installation.get("id")
    return int(value) if value is not None else None


def _repo(payload: Payload) -> str:
    return str(payload["repository"]["full_name"])


def _ref(payload: Payload, number: int) -> PullRef:
    return PullRef(_repo(payload), number, _installation(payload))


def on_pull_request(
    services: Services, payload: Payload, received_at: datetime | None = None
) -> Evaluation | None:
    """`received_at`: when the webhook arrived (the store's delivery log), the best "first seen" time
    of a new head; the handler's own clock stands in when it is not known (the Action)."""
    action = payload.get("action")
    if action not in PR_ACTIONS:
        return None
    pull = payload["pull_request"]
    ref = _ref(payload, int(pull["number"]))
    retarget = action == "edited" and "base" in (payload.get("changes") or {})
    if (action in HEAD_ACTIONS or retarget) and pull.get("head", {}).get("sha"):
        # GitHub's API never says who pushed a commit: only this webhook does (its sender). Logged, so
        # that every later evaluation (and the merge) knows everyone who pushed a head of the PR, and
        # since when (GitHub's clock: the PR's `updated_at`, moved by the push) this is its head.
        kind = {"opened": HeadEventKind.PUSH, "synchronize": HeadEventKind.PUSH}.get(
            str(action), HeadEventKind.BASE if retarget else HeadEventKind.SEEN
        )
        at = _stamp(pull.get("updated_at")) or received_at or services.clock()
        services.store.record_head_event(
            ref.repo,
            ref.number,
            HeadEvent(
                str(pull["head"]["sha"]),
                str((pull.get("base") or {}).get("ref") or ""),
                at,
                kind,
                _sender(payload) if kind is HeadEventKind.PUSH else None,
            ),
        )
    if action == "edited" and not retarget:
        return None  # a new title or body changes nothing approvalbot decides
    if action == "closed":
        held = [lock for lock in services.store.locks(ref.repo) if lock.pr_number == ref.number]
        default = payload["repository"].get("default_branch")
        try:
            if pull.get("merged") and pull.get("merge_commit_sha") and pull["base"]["ref"] == default:
                # Judged before the PR's locks go: the merge-time judgement weighs them as its check did.
                _apply(services, payload, str(pull["merge_commit_sha"]), ref.number)
        finally:
            release(services, ref)
        if not pull.get("merged"):
            audit_closed(services, ref, pull, _sender(payload), held)
        # After the apply: a label GitHub refuses to remove fails the job (retried), never the apply.
        clear_waiting_labels(services, ref, [str(label.get("name")) for label in pull.get("labels") or []])
        return None
    pusher = _sender(payload) if action == "synchronize" else None
    evaluation = evaluate_pull(services, ref, pusher=pusher)
    if evaluation is None and action in HEAD_ACTIONS:
        _apply_waiting_merge(services, payload, ref, str(pull["head"]["sha"]))
    if action == "converted_to_draft" and evaluation is not None:
        audit_withdrawal(services, evaluation, pull, _sender(payload))
    if action == "ready_for_review" and evaluation is not None:
        audit_resubmission(services, evaluation, pull)
    return evaluation


def _apply_waiting_merge(services: Services, payload: Payload, ref: PullRef, head: str) -> None:
    """A head event of a PR that is closed by now (a redelivery GitHub made at the heal's request): its
    merge, when it waited for who pushed this head, is judged now that the head log knows."""
    source = services.source(ref)
    default = payload["repository"].get("default_branch")
    for pull in source.merged_pulls_for_commit(head):
        sha = pull.merge_commit_sha
        if pull.number != ref.number or not pull.merged or sha is None or pull.base_ref != default:
            continue
        if not handled(services, [sha]):
            _apply(services, payload, sha, ref.number)


def _stamp(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _sender(payload: Payload) -> str | None:
    login = (payload.get("sender") or {}).get("login")
    return str(login) if login else None


def on_review(services: Services, payload: Payload) -> Evaluation | None:
    if payload.get("action") not in REVIEW_ACTIONS:
        return None
    return evaluate_pull(services, _ref(payload, int(payload["pull_request"]["number"])))


def on_comment(services: Services, payload: Payload) -> Evaluation | None:
    issue = payload.get("issue") or {}
    if payload.get("action") not in COMMENT_ACTIONS or not issue.get("pull_request"):
        return None
    if _by_a_bot((payload.get("comment") or {}).get("user") or {}):
        # approvalbot's own comments (and other bots') carry no command that counts: re-evaluating on
        # them would only cost API calls, and on ours it would loop once per comment we write.
        return None
    return evaluate_pull(services, _ref(payload, int(issue["number"])))


def _by_a_bot(user: Payload) -> bool:
    return user.get("type") == "Bot" or str(user.get("login") or "").endswith("[bot]")


def on_check_run(services: Services, payload: Payload) -> Evaluation | None:
    if payload.get("action") != "rerequested":
        return None
    check = payload["check_run"]
    numbers = [int(p["number"]) for p in check.get("pull_requests") or []]
    if not numbers and check.get("head_sha"):
        # GitHub lists no PR whose head is in a fork here ("When the check suite's head_branch is in a
        # forked repository ... the pull_requests array will be empty"): find it among the open PRs.
        source = services.source(_repo(payload), _installation(payload))
        numbers = source.open_pull_numbers_at(str(check["head_sha"]))
    results = [evaluate_pull(services, _ref(payload, number)) for number in numbers]
    return next((r for r in results if r is not None), None)


def on_push(services: Services, payload: Payload) -> None:
    repository = payload["repository"]
    if payload.get("ref") != f"refs/heads/{repository.get('default_branch')}" or payload.get("deleted"):
        return  # pushes to PR branches arrive as pull_request.synchronize
    before, after = str(payload.get("before") or ""), str(payload["after"])
    for result in apply_push(services, _repo(payload), before, after, installation=_installation(payload)):
        _after_apply(services, payload, result.sha, result.toggled)
    # The base moved: every open PR is re-planned against it.
    for number in services.source(_repo(payload), _installation(payload)).open_pull_numbers():
        services.reevaluate(_ref(payload, number))


def _apply(services: Services, payload: Payload, sha: str, number: int) -> Outcome:
    """The merge, after any earlier commit whose events were lost (merge.apply_merged); the merge's
    own outcome."""
    results = apply_merged(services, _repo(payload), sha, installation=_installation(payload), pr=number)
    for result in results:
        if result.outcome is Outcome.APPLIED:
            _after_apply(services, payload, result.sha, result.toggled)
    return next((r.outcome for r in results if r.sha == sha), Outcome.ALREADY_APPLIED)


def apply_own_merge(services: Services, ref: PullRef, sha: str, actor: str | None) -> Outcome:
    """Apply a merge approvalbot made itself, as the push it caused would have; then re-plan the other
    open PRs against the moved base. For the Action, whose merges start no workflow run of their own."""
    payload: dict[str, Any] = {"repository": {"full_name": ref.repo}, "sender": {"login": actor}}
    if ref.installation is not None:
        payload["installation"] = {"id": ref.installation}
    outcome = _apply(services, payload, sha, ref.number)
    for number in services.source(ref.repo, ref.installation).open_pull_numbers():
        services.reevaluate(PullRef(ref.repo, number, ref.installation))
    return outcome


def _after_apply(services: Services, payload: Payload, sha: str, toggled: RepoConfig | None) -> None:
    if toggled is not None:
        follow_up_toggles(services, _repo(payload), installation=_installation(payload))


# Not a GitHub event: approvalbot's own request to re-check a PR (a lock was released, the base moved).
REEVALUATE = "approvalbot.reevaluate"


def reevaluation_job(ref: PullRef) -> Job:
    payload = {"repository": {"full_name": ref.repo}, "number": ref.number}
    if ref.installation is not None:
        payload["installation"] = {"id": ref.installation}
    return Job(
        key=f"{ref.repo}#{ref.number}", event=REEVALUATE, delivery_id=f"reevaluate:{ref}", payload=payload
    )


def on_reevaluate(services: Services, payload: Payload) -> Evaluation | None:
    return evaluate_pull(services, _ref(payload, int(payload["number"])))


# Each handler returns the evaluation of the event's PR, if it made one (the Action outputs it).
RECONCILE = "approvalbot.reconcile"


def reconcile_job(repo: str, installation: int | None) -> Job:
    """Self-healing for one repository (bot.engine.reconcile), in the repository's own lane: one at a
    time however many replicas queue it, and one that waits covers the next (StoreQueue.submit). It may
    run beside a push or a merge of the same repository: applies are exactly once per commit (keyed in
    the store), and each walk judges commits oldest first."""
    payload: dict[str, Any] = {"repository": {"full_name": repo}}
    if installation is not None:
        payload["installation"] = {"id": installation}
    return Job(key=repo, event=RECONCILE, delivery_id=f"reconcile:{repo}", payload=payload)


# Not a GitHub event either: the follow-up of the toggles a merge recorded (Services.follow_up).
TOGGLES = "approvalbot.toggles"


def toggles_job(repo: str, installation: int | None) -> Job:
    """In the repository's lane, like a reconcile: one at a time, one waiting covers the next."""
    payload: dict[str, Any] = {"repository": {"full_name": repo}}
    if installation is not None:
        payload["installation"] = {"id": installation}
    return Job(key=repo, event=TOGGLES, delivery_id=f"toggles:{repo}", payload=payload)


def on_toggles(services: Services, payload: Payload) -> None:
    resume_toggles(services, _repo(payload), installation=_installation(payload))


def on_reconcile(services: Services, payload: Payload) -> None:
    # Toggles it applies are finished inside (resume_toggles), as a push's would be by _after_apply.
    result = reconcile(services, _repo(payload), installation=_installation(payload))
    if result.results or result.released or result.toggles or result.baseline or result.reevaluated:
        log.info(
            "reconcile %s: baseline %s, %d commits judged, locks of %s released, toggles %s finished, "
            "%d checks published, PRs %s re-evaluated (no verdict on their head)",
            _repo(payload),
            (result.baseline or "-")[:12],
            len(result.results),
            list(result.released) or "none",
            list(result.toggles) or "none",
            len(result.checks),
            list(result.reevaluated) or "none",
        )


HANDLERS: Mapping[str, Callable[[Services, Payload], Evaluation | None]] = {
    REEVALUATE: on_reevaluate,
    RECONCILE: on_reconcile,
    TOGGLES: on_toggles,
    "pull_request": on_pull_request,
    # The same payload as pull_request; the workflow that runs is the base branch's (the README's choice).
    "pull_request_target": on_pull_request,
    "pull_request_review": on_review,
    "issue_comment": on_comment,
    "check_run": on_check_run,
    "push": on_push,
}


def handle(services: Services, job: Job) -> Evaluation | None:
    """Run the handler of `job.event`, if approvalbot acts on it."""
    handler = HANDLERS.get(job.event)
    if handler is None:
        log.debug("delivery %s: %s ignored", job.delivery_id, job.event)
        return None
    if job.event == "pull_request" and job.payload.get("action") in HEAD_ACTIONS:
        # Only a new head needs the webhook's arrival time (when the bot first saw it): one read fewer
        # for every other pull_request delivery.
        return on_pull_request(services, job.payload, services.store.delivery_received_at(job.delivery_id))
    return handler(services, job.payload)
