"""SPEC §5 end to end: webhooks from the GitHub emulator, the real server and engine, the real SMTP mailer
and an SMTP server on loopback. Each row of the table delivers to exactly its audience, once, saying
which account, resources, action and pending state, who did it, with a link to the pull request."""

from __future__ import annotations

import logging

import pytest
from notify_e2e_support import (
    EMAIL,
    MOBILE_ADMINS,
    MOBILE_ADMINS_AND_APPROVERS,
    MOBILE_TEST,
    SENDER,
    TEAM_MEMBER,
    TEAM_MEMBER_EMAIL,
    WEB_ADMINS,
    WEB_ADMINS_AND_APPROVERS,
    WEB_TEST,
    MailWorld,
    mail_sandbox,
    with_team_email,
)

from bot.core.model import Kind, ResourceKey, Status
from bot.sandbox import sample_files


def _assert_names_the_change(world: MailWorld, mail_text: str, number: int, actor: str) -> None:
    assert f"Pull request: #{number} " in mail_text
    assert f"By: {actor}" in mail_text
    assert world.pr_url(number) in mail_text
    assert f"Repository: {world.box.repo}" in mail_text


# --- change submitted for approval -------------------------------------------------------------------------


def test_a_ready_pr_tells_the_admins_and_approvers_of_its_account(world: MailWorld) -> None:
    number = world.pause_web()
    world.box.drain()

    assert world.recipients() == [frozenset(WEB_ADMINS_AND_APPROVERS)]
    mail = world.one("submitted", "web")
    assert (
        mail.subject
        == f"[approvalbot] web: change submitted for approval — PR #{number}: Pause the checkout test"
    )
    assert mail.sender == SENDER
    assert "Account: web" in mail.text
    assert "experiment checkout_button_color_test: pause (PAUSE PENDING)" in mail.text
    _assert_names_the_change(world, mail.text, number, "carol-contrib")
    # The HTML part says the same, with a link.
    assert "checkout_button_color_test: pause (PAUSE PENDING)" in mail.html
    assert f'href="{world.pr_url(number)}"' in mail.html
    # GitHub review requests go out too (SPEC §5, first row).
    assert {"bob-approver", "erin-reviewer"} <= set(world.box.pull(number).requested_reviewers)


def test_approvers_of_another_account_are_not_told(world: MailWorld) -> None:
    world.pause_mobile()
    world.box.drain()

    assert world.recipients() == [frozenset(MOBILE_ADMINS_AND_APPROVERS)]
    mail = world.one("submitted", "mobile")
    assert "experiment onboarding_length_test: pause (PAUSE PENDING)" in mail.text
    assert "checkout_button_color_test" not in mail.text
    for web_only in ("bob-approver", "erin-reviewer"):
        assert EMAIL[web_only] not in mail.rcpt


def test_a_pr_touching_two_accounts_sends_one_email_per_account_each_naming_only_its_resources(
    world: MailWorld,
) -> None:
    edits = {
        **world.edit(WEB_TEST, "status: running", "status: paused"),
        **world.edit(MOBILE_TEST, "status: running", "status: paused"),
    }
    world.open_pr("carol-contrib", edits, title="Pause both tests")
    world.box.drain()

    # Carol is a creator: she is not asked to approve her own change.
    assert world.recipients("submitted") == sorted(
        [frozenset(WEB_ADMINS_AND_APPROVERS), frozenset(MOBILE_ADMINS_AND_APPROVERS)], key=sorted
    )
    web, mobile = world.one("submitted", "web"), world.one("submitted", "mobile")
    assert "checkout_button_color_test" in web.text and "onboarding_length_test" not in web.text
    assert "onboarding_length_test" in mobile.text and "checkout_button_color_test" not in mobile.text


def test_team_members_with_an_email_are_told() -> None:
    with mail_sandbox(with_team_email(sample_files())) as world:
        world.pause_web()
        world.box.drain()
        assert world.recipients() == [frozenset(WEB_ADMINS_AND_APPROVERS | {TEAM_MEMBER_EMAIL})]


def test_a_user_without_an_email_is_skipped_with_a_warning(
    world: MailWorld, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="approvalbot.notify"):
        world.pause_web()
        world.box.drain()

    assert world.recipients() == [frozenset(WEB_ADMINS_AND_APPROVERS)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        TEAM_MEMBER in w and "no users.lena-growth.email in .approvalbot.yml" in w and "account web" in w
        for w in warnings
    ), warnings


def test_a_draft_pr_notifies_nobody_until_it_is_marked_ready(world: MailWorld) -> None:
    number = world.pause_web(draft=True)
    world.box.drain()

    assert world.mails() == []
    assert world.box.pull(number).requested_reviewers == []
    assert world.box.check(number) is not None  # evaluated all the same

    world.box.driver.ready_for_review(world.box.repo, number, "carol-contrib")
    world.box.drain()
    assert world.recipients("submitted") == [frozenset(WEB_ADMINS_AND_APPROVERS)]


def test_a_change_that_needs_no_approval_notifies_nobody(world: MailWorld) -> None:
    draft_test = ResourceKey("web", Kind.EXPERIMENT, "homepage_modular_layout")  # a draft
    world.open_pr(
        "carol-contrib",
        world.edit(draft_test, "status: draft", "status: draft\n# edited"),
        title="Edit draft",
    )
    world.box.drain()
    assert world.mails() == []


# --- change approved / rejected ----------------------------------------------------------------------------


def test_an_approval_tells_the_creator_and_the_admins(world: MailWorld) -> None:
    number = world.pause_web()
    world.box.drain()
    world.box.driver.review(world.box.repo, number, "bob-approver", "APPROVE", "fine")
    world.box.drain()

    assert world.box.check(number).conclusion == "success"
    assert world.recipients("approved") == [frozenset(WEB_ADMINS | {EMAIL["carol-contrib"]})]
    mail = world.one("approved", "web")
    assert "change approved" in mail.subject
    assert "experiment checkout_button_color_test: pause (PAUSE PENDING)" in mail.text
    assert "Created by: carol-contrib" in mail.text
    _assert_names_the_change(world, mail.text, number, "bob-approver")
    # Approvers are not told of an approval.
    assert EMAIL["bob-approver"] not in mail.rcpt and EMAIL["erin-reviewer"] not in mail.rcpt


def test_every_creator_of_the_pr_is_told_of_the_approval(world: MailWorld) -> None:
    number = world.pause_mobile(author="ivan-contrib")
    world.box.drain()
    path = world.box.path_of(MOBILE_TEST)
    text = world.box.file(path, "pause-the-onboarding-test")
    world.box.driver.push(
        world.box.repo,
        "pause-the-onboarding-test",
        {path: text.replace("status: paused", "status: paused\n# reason: low traffic", 1)},
        author="carol-contrib",
    )
    world.box.drain()
    world.box.driver.review(world.box.repo, number, "heidi-approver", "APPROVE")
    world.box.drain()

    assert world.recipients("approved") == [
        frozenset(MOBILE_ADMINS | {EMAIL["ivan-contrib"], EMAIL["carol-contrib"]})
    ]
    assert "Created by: carol-contrib, ivan-contrib" in world.one("approved", "mobile").text


def test_a_rejection_tells_the_creator_and_the_admins_with_the_feedback(world: MailWorld) -> None:
    number = world.pause_mobile()
    world.box.drain()
    feedback = "Keep it running until the holiday release.\nThe sample is still too small."
    world.box.driver.review(world.box.repo, number, "heidi-approver", "REQUEST_CHANGES", feedback)
    world.box.drain()

    assert world.box.pull(number).state == "closed"  # on_reject: close
    assert world.recipients("rejected") == [frozenset(MOBILE_ADMINS | {EMAIL["ivan-contrib"]})]
    mail = world.one("rejected", "mobile")
    assert "change rejected" in mail.subject
    assert "Feedback:\n  heidi-approver: Keep it running until the holiday release.\n" in mail.text
    assert "  The sample is still too small." in mail.text
    assert "Keep it running until the holiday release." in mail.html
    assert "experiment onboarding_length_test: pause (PAUSE PENDING)" in mail.text
    _assert_names_the_change(world, mail.text, number, "heidi-approver")
    assert world.box.live(MOBILE_TEST).status is Status.RUNNING


# --- bypass ------------------------------------------------------------------------------------------------


def test_an_unapproved_merge_alerts_the_admins_and_is_not_applied(world: MailWorld) -> None:
    number = world.pause_web()
    world.box.drain()
    before = len(world.mails())
    world.box.driver.merge(world.box.repo, number, "carol-contrib")
    world.box.drain()

    assert world.recipients("bypass") == [frozenset(WEB_ADMINS)]
    assert len(world.mails()) == before + 1  # nothing else: no approval, no second alert
    mail = world.one("bypass", "web")
    assert "unapproved change reached the default branch (not applied)" in mail.subject
    assert "was not applied to the live store" in mail.text
    assert "experiment checkout_button_color_test: pause" in mail.text
    assert f"Pull request: #{number} " in mail.text
    assert "By: carol-contrib" in mail.text
    assert world.box.live(WEB_TEST).status is Status.RUNNING
    assert any("**Not applied.**" in c.body for c in world.box.comments(number))


def test_the_bypass_alert_links_to_the_merged_pr(world: MailWorld) -> None:
    number = world.pause_web()
    world.box.drain()
    world.box.driver.merge(world.box.repo, number, "carol-contrib")
    world.box.drain()
    assert world.pr_url(number) in world.one("bypass", "web").text


def test_a_direct_push_alerts_the_admins_of_the_account_it_touches_and_is_not_applied(
    world: MailWorld,
) -> None:
    mobile = MOBILE_TEST
    sha = world.box.driver.push(
        world.box.repo,
        world.box.github.default_branch,
        world.edit(mobile, "status: running", "status: paused"),
        author="ivan-contrib",
    )
    world.box.drain()

    assert world.recipients() == [frozenset(MOBILE_ADMINS)]
    mail = world.one("bypass", "mobile")
    assert "experiment onboarding_length_test: pause" in mail.text
    assert "By: ivan-contrib" in mail.text
    assert f"Commit: {sha[:12]}" in mail.text
    assert world.box.live(mobile).status is Status.RUNNING
    assert world.box.check(sha).conclusion == "failure"


# --- exactly once ------------------------------------------------------------------------------------------


def test_redelivered_and_repeated_webhooks_send_nothing_twice(world: MailWorld) -> None:
    number = world.pause_web()
    world.box.drain()
    world.box.driver.review(world.box.repo, number, "bob-approver", "APPROVE")
    world.box.drain()
    assert len(world.mails()) == 2

    hooks = world.box.emulator.webhooks
    opened = hooks.of("pull_request", "opened")[0]
    review = hooks.of("pull_request_review", "submitted")[0]
    hooks.redeliver(opened.id)  # same delivery id: GitHub's "Redeliver" button
    hooks.redeliver(review.id)
    hooks.send(review.event, review.payload)  # same event under a new delivery id
    world.box.driver.comment(world.box.repo, number, "dan-viewer", "looks good")  # re-evaluates the PR
    world.box.drain()

    assert len(world.mails()) == 2
    assert [m.event for m in world.mails()] == ["submitted", "approved"]


def test_a_new_head_is_a_new_submission(world: MailWorld) -> None:
    number = world.pause_web()
    world.box.drain()
    path = world.box.path_of(WEB_TEST)
    text = world.box.file(path, "pause-the-checkout-test")
    world.box.driver.push(
        world.box.repo,
        "pause-the-checkout-test",
        {path: text.replace("status: paused", "status: paused\n# why: holiday", 1)},
        author="carol-contrib",
    )
    world.box.drain()
    heads = {m.text.split("Commit: ")[1][:12] for m in world.mails("submitted")}
    assert len(world.mails("submitted")) == 2
    assert world.box.pull(number).head_sha[:12] in heads
