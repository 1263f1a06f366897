"""The workflow toggle (SPEC §1, §5; CleverTap's FAQ): `approvals.enabled` changed on the default branch.

Disabling reverts every pending request, "nothing transitions silently": each open ready PR goes back to
draft with a comment, loses its approvalbot labels, review requests and locks, and its resources stay as
they are. Enabling re-evaluates the open PRs. Both email the admins and approvers of every account.
"""

from __future__ import annotations

import pytest
from notify_e2e_support import (
    EMAIL,
    MOBILE_ADMINS_AND_APPROVERS,
    MOBILE_TEST,
    TEAM_MEMBER_EMAIL,
    WEB_ADMINS_AND_APPROVERS,
    WEB_TEST,
    MailWorld,
    mail_sandbox,
    with_team_email,
)

import bot.engine.toggle as toggle_module
from bot.core.live import AuditKind
from bot.core.model import Kind, ResourceKey, Status
from bot.engine.merge import Outcome, apply_commit
from bot.engine.reconcile import reconcile
from bot.engine.toggle import REVERTED
from bot.sandbox import SANDBOX_JOBS, sample_files

ADMIN = "alice-admin"  # admin of both accounts: a config change needs her
CONFIG_AUTHOR = "grace-mobile-lead"
REVERT_HEADLINE = REVERTED.split("**")[1]


def _merge_toggle(world: MailWorld, enabled: bool) -> tuple[int, str]:
    """An admin-approved PR setting approvals.enabled, merged; returns its number and merge sha."""
    box = world.box
    number = world.open_pr(
        CONFIG_AUTHOR, world.toggle_config(enabled), title=f"{'Enable' if enabled else 'Disable'} approvals"
    )
    box.drain()
    box.driver.review(box.repo, number, ADMIN, "APPROVE")
    box.drain()
    assert box.check(number).conclusion == "success", box.check(number)
    sha: str = box.driver.merge(box.repo, number, ADMIN)
    box.drain()
    return number, sha


def _pending_pair(world: MailWorld) -> tuple[int, int]:
    web, mobile = world.pause_web(), world.pause_mobile()
    world.box.drain()
    for number in (web, mobile):
        pull = world.box.pull(number)
        assert not pull.draft and "pending: PAUSE PENDING" in pull.labels and pull.requested_reviewers
    assert {lock.pr_number for lock in world.box.store.locks()} == {web, mobile}
    return web, mobile


def test_disabling_reverts_every_pending_request(world: MailWorld) -> None:
    box = world.box
    web, mobile = _pending_pair(world)

    _, sha = _merge_toggle(world, enabled=False)

    for number in (web, mobile):
        pull = box.pull(number)
        assert pull.state == "open" and pull.draft, f"#{number} was not converted to draft"
        assert not [label for label in pull.labels if label.startswith("pending:") or label == "approved"]
        assert pull.requested_reviewers == [] and pull.requested_teams == []
        reverts = [c.body for c in box.comments(number) if REVERT_HEADLINE in c.body]
        assert len(reverts) == 1, box.comments(number)
        assert sha[:12] in reverts[0] and "approvals.enabled: false" in reverts[0]
    assert box.store.locks() == []
    # Nothing transitioned: the resources stay as they were.
    assert box.live(WEB_TEST).status is Status.RUNNING
    assert box.live(MOBILE_TEST).status is Status.RUNNING


def test_disabling_emails_the_admins_and_approvers_of_every_account(world: MailWorld) -> None:
    _pending_pair(world)
    number, sha = _merge_toggle(world, enabled=False)

    assert world.recipients("workflow_disabled") == sorted(
        [frozenset(WEB_ADMINS_AND_APPROVERS), frozenset(MOBILE_ADMINS_AND_APPROVERS)], key=sorted
    )
    for account in ("web", "mobile"):
        mail = world.one("workflow_disabled", account)
        assert (
            mail.subject
            == f"[approvalbot] {account}: approval workflow disabled — PR #{number}: Disable approvals"
        )
        assert f"Account: {account}" in mail.text
        assert f"By: {ADMIN}" in mail.text
        assert f"Commit: {sha[:12]}" in mail.text
        assert "Every pending approval request was reverted" in mail.text
        assert f"Pull request: #{number} Disable approvals" in mail.text
        assert world.pr_url(number) in mail.text and f'href="{world.pr_url(number)}"' in mail.html
    # Creators are not on the list (as in CleverTap): the revert comment on their PR tells them.
    assert all(EMAIL["carol-contrib"] not in m.rcpt for m in world.mails("workflow_disabled"))


def test_disabling_is_in_the_audit_log(world: MailWorld) -> None:
    web, mobile = _pending_pair(world)
    _, sha = _merge_toggle(world, enabled=False)

    toggles = [e for e in world.box.store.audit_log() if e.kind is AuditKind.TOGGLE]
    assert len(toggles) == 1
    assert toggles[0].commit_sha == sha
    assert toggles[0].actor == ADMIN
    assert toggles[0].detail["enabled"] is False
    assert toggles[0].detail["reverted"] == sorted([web, mobile])


def test_while_disabled_prs_need_no_approval_and_nobody_is_asked(world: MailWorld) -> None:
    _merge_toggle(world, enabled=False)
    before = len(world.mails())
    number = world.pause_web()
    world.box.drain()

    assert world.box.check(number).conclusion == "success"
    assert world.box.pull(number).requested_reviewers == []
    assert len(world.mails()) == before


def test_enabling_re_evaluates_open_prs_and_emails_every_account(world: MailWorld) -> None:
    box = world.box
    web, mobile = _pending_pair(world)
    _merge_toggle(world, enabled=False)
    disabled_checks = {n: box.check(n) for n in (web, mobile)}
    assert all("Approvals are disabled" in (run.summary or "") for run in disabled_checks.values())
    # One of them is submitted again while approvals are off: it needs none, so it would go through.
    box.driver.ready_for_review(box.repo, web, "carol-contrib")
    box.drain()
    assert box.check(web).conclusion == "success"

    _, sha = _merge_toggle(world, enabled=True)

    # The ready one waits for approval again; the draft one is evaluated, with no request.
    assert box.check(web).conclusion == "action_required"
    assert "pending: PAUSE PENDING" in box.pull(web).labels
    assert {"bob-approver", "erin-reviewer"} <= set(box.pull(web).requested_reviewers)
    assert "Approvals are disabled" not in (box.check(mobile).summary or "")
    assert box.pull(mobile).draft and box.pull(mobile).requested_reviewers == []
    assert {lock.pr_number for lock in box.store.locks()} == {web}

    assert world.recipients("workflow_enabled") == sorted(
        [frozenset(WEB_ADMINS_AND_APPROVERS), frozenset(MOBILE_ADMINS_AND_APPROVERS)], key=sorted
    )
    assert f"Commit: {sha[:12]}" in world.one("workflow_enabled", "web").text
    assert "approval workflow enabled" in world.one("workflow_enabled", "mobile").subject


def test_a_redelivered_toggle_merge_reverts_and_emails_once(world: MailWorld) -> None:
    box = world.box
    web, mobile = _pending_pair(world)
    _merge_toggle(world, enabled=False)
    hooks = box.emulator.webhooks
    for delivery in (hooks.of("pull_request", "closed")[-1], hooks.of("push")[-1]):
        hooks.redeliver(delivery.id)
        hooks.send(delivery.event, delivery.payload)  # and as a new delivery
    box.drain()

    assert len(world.mails("workflow_disabled")) == 2
    for number in (web, mobile):
        assert len([c for c in box.comments(number) if REVERT_HEADLINE in c.body]) == 1


def test_a_pr_whose_locks_were_already_released_is_reverted_all_the_same(world: MailWorld) -> None:
    # The merge also re-plans every open PR under the new rules, which releases their locks: that may
    # run before the toggle does. Simulated here by releasing them up front.
    web, mobile = _pending_pair(world)
    for number in (web, mobile):
        world.box.store.release_locks(world.box.repo, number)

    _merge_toggle(world, enabled=False)

    for number in (web, mobile):
        assert world.box.pull(number).draft
        assert [c for c in world.box.comments(number) if REVERT_HEADLINE in c.body]


def test_prs_without_a_pending_request_are_left_alone(world: MailWorld) -> None:
    box = world.box
    draft_pr = world.pause_web(draft=True)
    draft_test = ResourceKey(
        "mobile", Kind.EXPERIMENT, "paywall_copy_test"
    )  # a draft: edits need no approval
    no_approval = world.open_pr(
        "ivan-contrib",
        world.edit(draft_test, "status: draft", "status: draft\n# copy reviewed"),
        title="Edit a draft test",
    )
    box.drain()
    assert box.store.locks() == []

    _merge_toggle(world, enabled=False)

    assert box.pull(no_approval).draft is False
    for number in (draft_pr, no_approval):
        assert not [c for c in box.comments(number) if REVERT_HEADLINE in c.body]
    toggles = [e for e in box.store.audit_log() if e.kind is AuditKind.TOGGLE]
    assert toggles[0].detail["reverted"] == []


def test_team_members_with_an_email_are_told_of_the_toggle() -> None:
    with mail_sandbox(with_team_email(sample_files())) as world:
        _merge_toggle(world, enabled=False)
        web = world.one("workflow_disabled", "web")
        assert web.rcpt == frozenset(WEB_ADMINS_AND_APPROVERS | {TEAM_MEMBER_EMAIL})


def test_a_toggle_pushed_directly_is_drift_and_approvals_stay_on(world: MailWorld) -> None:
    box = world.box
    number = world.pause_web()
    box.drain()
    sha = box.driver.push(
        box.repo, box.github.default_branch, world.toggle_config(False), author="carol-contrib"
    )
    box.drain()

    assert box.check(sha).conclusion == "failure"  # drift, admins alerted
    assert {m.event for m in world.mails()} == {"submitted", "bypass"}
    # The unapproved toggle must not take effect: the pending PR still waits, and cannot go live unapproved.
    assert box.check(number).conclusion == "action_required"
    box.driver.merge(box.repo, number, "carol-contrib")
    box.drain()
    assert box.live(WEB_TEST).status is Status.RUNNING


def test_the_direct_push_is_named_in_the_check_and_an_approved_fix_restores_the_rules(
    world: MailWorld,
) -> None:
    box = world.box
    number = world.pause_web()
    box.drain()
    sha = box.driver.push(
        box.repo, box.github.default_branch, world.toggle_config(False), author="carol-contrib"
    )
    box.drain()

    summary = box.check(number).summary or ""
    assert "the rules on the default branch have unapproved changes" in summary
    assert f"drift, commit {sha[:12]}" in summary and "the last approved rules apply" in summary
    approved = box.store.approved_config(box.repo)
    assert approved is not None and approved.commit_sha != sha
    assert approved.content != box.file(".approvalbot.yml").encode()

    # An admin-approved PR reverting the push restores the rules: it is the approved commit now, and it
    # is no toggle (approvals were never off), though its first parent said `enabled: false`.
    _, merged = _merge_toggle(world, enabled=True)
    approved = box.store.approved_config(box.repo)
    assert approved is not None and approved.commit_sha == merged
    assert approved.content == box.file(".approvalbot.yml").encode()
    assert [d.resolved_by for d in box.store.drift() if d.commit_sha == sha] == [merged]  # back in step
    assert "unapproved changes" not in (box.check(number).summary or "")
    assert box.check(number).conclusion == "action_required"
    assert not [e for e in box.store.audit_log() if e.kind is AuditKind.TOGGLE]
    assert world.mails("workflow_enabled") == []


def test_a_toggle_whose_follow_up_failed_once_is_finished_by_the_queues_retry(
    world: MailWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = world.box
    web, mobile = _pending_pair(world)
    real = toggle_module._revert_requests
    failures: list[str] = []

    def fail_once(*args: object, **kwargs: object) -> list[int]:
        if not failures:
            failures.append("failed")
            raise RuntimeError("GitHub went away mid-toggle")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(toggle_module, "_revert_requests", fail_once)
    _merge_toggle(world, enabled=False)

    assert failures == ["failed"]
    assert box.store.pending_toggles(box.repo) == []
    for number in (web, mobile):
        assert box.pull(number).draft
        assert len([c for c in box.comments(number) if REVERT_HEADLINE in c.body]) == 1
    assert len(world.recipients("workflow_disabled")) == 2


def test_a_toggle_whose_follow_up_failed_is_finished_by_reconcile(
    world: MailWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = world.box
    web, mobile = _pending_pair(world)
    real = toggle_module._revert_requests
    failures: list[str] = []
    broken = [True]

    def fail_while_broken(*args: object, **kwargs: object) -> list[int]:
        if broken[0]:
            failures.append("failed")
            raise RuntimeError("GitHub went away mid-toggle")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(toggle_module, "_revert_requests", fail_while_broken)
    _, sha = _merge_toggle(world, enabled=False)

    # The queue ran the job as often as it runs a failing one, then parked it.
    assert len(failures) >= SANDBOX_JOBS.attempts and box.store.jobs().counts().parked >= 1
    assert [p.commit_sha for p in box.store.pending_toggles(box.repo)] == [sha]
    assert not box.pull(web).draft and world.mails("workflow_disabled") == []
    broken[0] = False

    result = reconcile(box.services, box.repo)

    assert result.toggles == (sha,)
    assert box.store.pending_toggles(box.repo) == []
    for number in (web, mobile):
        assert box.pull(number).draft
        assert len([c for c in box.comments(number) if REVERT_HEADLINE in c.body]) == 1
    assert len(world.recipients("workflow_disabled")) == 2
    # Finished once: a second reconcile (or a replayed apply) repeats nothing.
    assert reconcile(box.services, box.repo).toggles == ()
    assert apply_commit(box.services, box.repo, sha).outcome is Outcome.ALREADY_APPLIED
    assert len(world.mails("workflow_disabled")) == 2
    assert len([e for e in box.store.audit_log() if e.kind is AuditKind.TOGGLE]) == 1


def test_a_replayed_apply_finishes_a_toggle_whose_emails_failed(
    world: MailWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = world.box
    web, _ = _pending_pair(world)
    real = toggle_module.send_notifications
    failures: list[str] = []
    broken = [True]

    def fail_while_broken(*args: object, **kwargs: object) -> None:
        if broken[0]:
            failures.append("failed")
            raise ConnectionError("SMTP server unreachable")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(toggle_module, "send_notifications", fail_while_broken)
    _, sha = _merge_toggle(world, enabled=False)
    # The queue's retries met the same outage; the job is parked.
    assert failures and world.mails("workflow_disabled") == []
    assert box.pull(web).draft  # the reverts went through before the emails failed
    broken[0] = False

    result = apply_commit(box.services, box.repo, sha)
    box.drain()  # the follow-up it asks for is a job of the repository's lane

    assert result.outcome is Outcome.ALREADY_APPLIED and result.toggled is None
    assert box.store.pending_toggles(box.repo) == []
    assert len(world.recipients("workflow_disabled")) == 2
    assert len([c for c in box.comments(web) if REVERT_HEADLINE in c.body]) == 1  # not reverted twice


def test_a_stale_branch_is_judged_on_its_own_change_not_on_what_reached_the_base_since(
    world: MailWorld,
) -> None:
    box = world.box
    draft_test = ResourceKey("mobile", Kind.EXPERIMENT, "paywall_copy_test")
    stale = world.open_pr(
        "ivan-contrib",
        world.edit(draft_test, "status: draft", "status: draft\n# copy reviewed"),
        title="Edit a draft test",
    )
    box.drain()
    # Since the branch was cut, an approved PR paused the web test: the stale branch still says running,
    # which its own head tree would show as a resume needing approval, though the PR never asked for one.
    paused = world.pause_web()
    box.drain()
    box.driver.review(box.repo, paused, "bob-approver", "APPROVE")
    box.drain()
    box.driver.merge(box.repo, paused, ADMIN)
    box.drain()
    assert box.live(WEB_TEST).status is Status.PAUSED
    assert box.check(stale).conclusion == "success"

    _merge_toggle(world, enabled=False)

    assert box.pull(stale).draft is False
    assert not [c for c in box.comments(stale) if REVERT_HEADLINE in c.body]
    toggles = [e for e in box.store.audit_log() if e.kind is AuditKind.TOGGLE]
    assert toggles[0].detail["reverted"] == []


def test_where_github_has_no_drafts_the_revert_does_everything_else(world: MailWorld) -> None:
    """Rule 11: a private repository on GitHub Free has no draft PRs, and GitHub refuses
    convertPullRequestToDraft there (bot/emulator/drafts.py has the sources). The revert still withdraws
    the request: labels, review requests, locks and the comment, which says the PR stays ready; the toggle
    finishes and emails as usual, and nothing is retried against the refusal."""
    box = world.box
    web, mobile = _pending_pair(world)
    owner = box.repo.split("/")[0]
    assert box.github.private
    box.driver.set_plan(owner, "free")
    box.emulator.calls.reset()

    _, sha = _merge_toggle(world, enabled=False)

    for number in (web, mobile):
        pull = box.pull(number)
        assert pull.state == "open" and not pull.draft  # GitHub would not make it a draft
        assert not [label for label in pull.labels if label.startswith("pending:") or label == "approved"]
        assert pull.requested_reviewers == [] and pull.requested_teams == []
        reverts = [c.body for c in box.comments(number) if REVERT_HEADLINE in c.body]
        assert len(reverts) == 1, box.comments(number)
        assert sha[:12] in reverts[0] and "stays open and ready for review" in reverts[0]
        assert "draft again" not in reverts[0]
    assert box.store.locks() == []
    assert box.store.pending_toggles(box.repo) == []  # finished: not failed, not left for a retry
    toggles = [e for e in box.store.audit_log() if e.kind is AuditKind.TOGGLE]
    assert toggles[-1].detail["reverted"] == sorted([web, mobile])
    assert len(world.recipients("workflow_disabled")) == 2
    # One refused mutation per PR, answered as GitHub answers it (200, the field null, an error): the
    # merge's `closed` and `push` jobs both ask for the follow-up, and it runs once (one job in the
    # repository's lane).
    refused = [c for c in box.emulator.calls.calls if c.route == "POST /graphql" and c.write]
    assert len(refused) == 2, [c.body for c in refused]
    for call in refused:
        assert call.status == 200 and call.body["data"] == {"convertPullRequestToDraft": None}
        assert call.body["errors"][0]["message"].endswith("to draft.")
    assert box.live(WEB_TEST).status is Status.RUNNING
