"""Reconcile: merges whose webhooks were lost are found on the default branch and applied, once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from applykit import (
    ADMIN,
    CHECKOUT_TEST,
    CREATOR,
    SHIPPING_TEST,
    WEB_APPROVER,
    applies,
    edited,
    open_pr,
    review,
    revision,
    snapshot,
)

from bot.adapters.store import Store
from bot.core.model import Status
from bot.engine.merge import Outcome, apply_commit, apply_merged
from bot.engine.reconcile import reconcile
from bot.sandbox import Sandbox


def _approved(box: Sandbox, edits: dict[str, str]) -> int:
    number = open_pr(box, edits)
    review(box, number, WEB_APPROVER)
    assert box.check(number).conclusion == "success"  # type: ignore[union-attr]
    return number


def _merge_losing_its_events(box: Sandbox, number: int) -> str:
    box.emulator.webhooks.drop_next(2)  # the merge's pull_request.closed and push never arrive
    sha: str = box.driver.merge(box.repo, number, ADMIN)
    box.drain()
    lost = box.emulator.webhooks.deliveries[-2:]
    assert [(d.event, d.dropped) for d in lost] == [("pull_request", True), ("push", True)]
    return sha


def test_reconcile_applies_a_merge_whose_events_were_lost_once(box: Sandbox) -> None:
    number = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    before = snapshot(box)
    sha = _merge_losing_its_events(box, number)
    assert snapshot(box) == before and not box.store.is_applied(sha)

    result = reconcile(box.services, box.repo)
    assert result.baseline is None
    assert [(r.sha, r.outcome, r.pr_number) for r in result.results] == [(sha, Outcome.APPLIED, number)]
    record = box.live(CHECKOUT_TEST)
    assert record is not None and record.status is Status.PAUSED
    assert record.revision == before[CHECKOUT_TEST][1] + 1
    assert len(applies(box, CHECKOUT_TEST, sha)) == 1
    # The lock the lost `closed` event would have released is released too.
    assert number in result.released and box.store.lock_holder(box.repo, CHECKOUT_TEST) is None

    after = snapshot(box)
    again = reconcile(box.services, box.repo)
    assert again.results == () and again.released == ()
    assert snapshot(box) == after
    assert len(applies(box, CHECKOUT_TEST, sha)) == 1


def test_reconcile_applies_several_lost_merges_in_order(box: Sandbox) -> None:
    first = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    first_sha = _merge_losing_its_events(box, first)
    second = _approved(box, edited(box, SHIPPING_TEST, ("status: paused", "status: running")))
    second_sha = _merge_losing_its_events(box, second)
    start = revision(box, CHECKOUT_TEST), revision(box, SHIPPING_TEST)

    result = reconcile(box.services, box.repo)

    assert [r.sha for r in result.results] == [first_sha, second_sha]
    assert all(r.outcome is Outcome.APPLIED for r in result.results)
    assert (revision(box, CHECKOUT_TEST), revision(box, SHIPPING_TEST)) == (start[0] + 1, start[1] + 1)
    first_entry = applies(box, CHECKOUT_TEST, first_sha)[0]
    second_entry = applies(box, SHIPPING_TEST, second_sha)[0]
    assert first_entry.id is not None and second_entry.id is not None and first_entry.id < second_entry.id
    assert reconcile(box.services, box.repo).results == ()


def test_reconcile_records_a_lost_direct_push_as_drift_not_applied(box: Sandbox) -> None:
    before = snapshot(box)
    box.emulator.webhooks.drop_next(1)
    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: paused"))
    sha = box.driver.push(box.repo, "main", edits, author=CREATOR)
    box.drain()
    assert not box.store.drift()

    result = reconcile(box.services, box.repo)

    assert [(r.sha, r.outcome) for r in result.results] == [(sha, Outcome.DRIFT)]
    assert snapshot(box) == before
    assert [d.commit_sha for d in box.store.drift()] == [sha]
    run = box.check(sha)
    assert run is not None and run.conclusion == "failure"
    # Drift is not "applied": each reconcile looks at it again, and it stays drift, recorded once.
    reconcile(box.services, box.repo)
    assert [d.commit_sha for d in box.store.drift()] == [sha] and snapshot(box) == before


def test_reconcile_then_the_late_events_apply_nothing_more(box: Sandbox) -> None:
    number = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    sha = _merge_losing_its_events(box, number)
    reconcile(box.services, box.repo)
    after = snapshot(box)
    for lost in box.emulator.webhooks.deliveries:
        if lost.dropped:
            box.emulator.webhooks.redeliver(lost.id)  # GitHub's Redeliver, after the fact
    box.drain()
    assert snapshot(box) == after
    assert len(applies(box, CHECKOUT_TEST, sha)) == 1


def test_reconcile_finds_a_commit_left_unhandled_below_an_applied_one(box: Sandbox) -> None:
    """Never stopping at the first applied commit: from the branch head down to the mark (the commit up
    to which everything was handled), every commit that is neither applied nor drift is judged."""
    first = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    first_sha = _merge_losing_its_events(box, first)
    second = _approved(box, edited(box, SHIPPING_TEST, ("status: paused", "status: running")))
    second_sha = _merge_losing_its_events(box, second)
    # The newer merge applied on its own, as an apply that did not catch up (a store written by an
    # earlier version, an apply by hand) leaves it: the older merge is a hole below an applied commit.
    assert apply_commit(box.services, box.repo, second_sha).outcome is Outcome.APPLIED
    assert not box.store.is_applied(first_sha)

    result = reconcile(box.services, box.repo)

    assert [(r.sha, r.outcome) for r in result.results] == [(first_sha, Outcome.APPLIED)]
    record = box.live(CHECKOUT_TEST)
    assert record is not None and record.status is Status.PAUSED
    assert box.store.branch_mark(box.repo) == second_sha


def test_the_mark_bounds_what_reconcile_reads(box: Sandbox) -> None:
    """A caught-up repository costs two GitHub calls (the branch head; the open PRs, here none, whose
    heads would cost one GraphQL call per 50), and a commit since the mark one page of the commit
    list more, however long the history."""
    number = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    _merge_losing_its_events(box, number)
    reconcile(box.services, box.repo)
    before = len(box.emulator.calls.calls)
    assert reconcile(box.services, box.repo).results == ()
    assert [c.route for c in box.emulator.calls.calls[before:]] == [
        "POST /graphql",
        "GET /repos/{owner}/{repo}/pulls",
    ]

    box.emulator.webhooks.drop_next(1)
    sha = box.driver.push(box.repo, "main", {"docs/notes.md": "unmanaged\n"}, author=CREATOR)
    box.drain()
    before = len(box.emulator.calls.calls)
    assert [(r.sha, r.outcome) for r in reconcile(box.services, box.repo).results] == [
        (sha, Outcome.NOTHING_TO_APPLY)
    ]
    routes = [c.route for c in box.emulator.calls.calls[before:]]
    assert routes.count("GET /repos/{owner}/{repo}/commits") == 1, routes


CHECK_RUNS = "POST /repos/{owner}/{repo}/check-runs"
NOT_ACCESSIBLE = "Resource not accessible by integration"  # a 403 the client does not retry


def _checks_fail(box: Sandbox, times: int) -> None:
    box.emulator.faults.fail(CHECK_RUNS, times=times, status=403, message=NOT_ACCESSIBLE)


def test_an_applied_check_github_refused_is_published_by_the_jobs_retry(box: Sandbox) -> None:
    number = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    _checks_fail(box, times=1)  # the merge applies, then GitHub refuses its "Applied" check once
    sha: str = box.driver.merge(box.repo, number, ADMIN)
    box.drain()
    assert box.store.is_applied(sha)
    run = box.check(sha)
    assert run is not None and run.conclusion == "success" and run.title.startswith("Applied"), run
    assert box.store.owed_checks(box.repo) == []
    assert len(applies(box, CHECKOUT_TEST, sha)) == 1


def test_a_check_still_owed_after_every_retry_is_published_by_reconcile(box: Sandbox) -> None:
    number = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    _checks_fail(box, times=50)  # every attempt of every job that posts a check fails
    sha: str = box.driver.merge(box.repo, number, ADMIN)
    box.drain()
    box.emulator.faults.clear()
    assert box.store.is_applied(sha) and box.check(sha) is None
    assert [c.commit_sha for c in box.store.owed_checks(box.repo)] == [sha]

    result = reconcile(box.services, box.repo)

    assert result.checks == (sha,)
    run = box.check(sha)
    assert run is not None and run.conclusion == "success" and run.title.startswith("Applied"), run
    assert box.store.owed_checks(box.repo) == []
    assert len(applies(box, CHECKOUT_TEST, sha)) == 1


def test_a_push_of_more_commits_than_one_page_is_judged_whole(box: Sandbox) -> None:
    """A push of 120 commits at once: the oldest, an unapproved change, is judged too (the walk goes on
    past GitHub's first page of 100 commits, down to the mark) and recorded as drift, not skipped."""
    before = snapshot(box)
    series = [(edited(box, CHECKOUT_TEST, ("status: running", "status: paused")), "Pause checkout")]
    series += [({f"docs/note-{n}.md": f"note {n}\n"}, f"Note {n}") for n in range(119)]
    shas = box.driver.push_series(box.repo, "main", series, author=CREATOR)
    box.drain()
    assert [d.commit_sha for d in box.store.drift()] == [shas[0]]
    assert snapshot(box) == before
    assert box.store.branch_mark(box.repo) == shas[-1]
    assert all(box.store.is_applied(sha) for sha in shas[1:])  # nothing to apply, recorded as handled


def test_a_late_event_about_a_merge_below_the_baseline_applies_nothing(box: Sandbox, tmp_path: Path) -> None:
    """A store that met the repository after a merge (its baseline holds it) then gets that merge's
    delayed `closed`: nothing is judged, so the merge is not applied a second time on top."""
    number = _approved(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    merge_sha = _merge_losing_its_events(box, number)
    box.emulator.webhooks.drop_next(1)
    later = box.driver.push(box.repo, "main", {"docs/later.md": "after the merge\n"}, author=CREATOR)
    box.drain()
    fresh = Store.from_url(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        services = replace(box.services, store=fresh)
        assert reconcile(services, box.repo).baseline == later  # the store meets the repository now
        live = fresh.get_live(CHECKOUT_TEST)
        assert live is not None and live.status is Status.PAUSED and live.revision == 1

        results = apply_merged(services, box.repo, merge_sha, pr=number)
        assert merge_sha not in [r.sha for r in results]
        assert all(r.outcome is Outcome.ALREADY_APPLIED for r in results), results

        assert not fresh.is_applied(merge_sha) and fresh.branch_mark(box.repo) == later
        again = fresh.get_live(CHECKOUT_TEST)
        assert again is not None and again.revision == 1
    finally:
        fresh.close()


def test_reconcile_re_evaluates_an_open_pr_whose_head_has_no_verdict(box: Sandbox) -> None:
    """A push to a PR whose `synchronize` was lost leaves its new head with no check: reconcile sees
    that on GitHub (one GraphQL call for the open PRs' heads) and re-evaluates that PR only."""
    judged = open_pr(box, edited(box, SHIPPING_TEST, ("status: paused", "status: running")))
    number = open_pr(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    box.emulator.webhooks.drop_next(2)  # the branch's push and the PR's synchronize
    head = box.driver.push(box.repo, box.pull(number).head_ref, {"docs/why.md": "a note\n"}, author=CREATOR)
    box.drain()
    assert {d.event for d in box.emulator.webhooks.deliveries[-2:]} == {"push", "pull_request"}
    assert box.check(head) is None

    result = reconcile(box.services, box.repo)
    box.drain()

    assert result.reevaluated == (number,) and judged not in result.reevaluated
    run = box.check(head)
    assert run is not None and run.status == "completed"
    assert reconcile(box.services, box.repo).reevaluated == ()
