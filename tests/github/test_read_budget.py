"""The reads an evaluation saves: the head's check runs come with the facts (the writer skips its own
lookup), and a file fetched on one side of a change is fetched on the other in the same call."""

from __future__ import annotations

import pytest

from bot.adapters.github.client import token_client
from bot.adapters.github.source import PullRequestSource
from bot.adapters.github.writer import Annotation, CheckOutput, Conclusion, PullRequestWriter
from bot.emulator.state import CheckRun

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77
GRAPHQL = "POST /graphql"
LIST_RUNS = "GET /repos/{owner}/{repo}/commits/{ref}/check-runs"
EDIT_RUN = "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}"
NEW_RUN = "POST /repos/{owner}/{repo}/check-runs"
PASSING = CheckOutput(Conclusion.SUCCESS, "Approved", "all good")


@pytest.fixture
def setup(emulator, github_settings):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"experiments/a.yaml": "id: a\n", "notes/shared.yaml": "id: s\n", "README.md": "x\n"})
    d.install_app(APP_ID, INSTALLATION, "acme")
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    client = token_client("bot-token", github_settings(emulator.base_url))
    number = d.open_pr(REPO, "alice", "edit", {"experiments/a.yaml": "id: a\nname: A\n"})
    head = emulator.world.repo(REPO).pulls[number].head_sha
    return client, number, head


def test_the_snapshot_lists_our_check_run_and_an_unchanged_verdict_costs_no_call(emulator, setup):  # type: ignore[no-untyped-def]
    client, number, head = setup
    writer = PullRequestWriter(client, REPO, app_id=APP_ID)
    source = PullRequestSource(client, REPO)
    assert source.read(number).check_runs == ()
    writer.publish_check(head, PASSING)

    snapshot = source.read(number)
    assert snapshot.check_runs is not None and len(snapshot.check_runs) == 1
    run = snapshot.check_runs[0]
    assert (run.app_id, run.external_id, run.status, run.annotations) == (
        APP_ID,
        PASSING.fingerprint(),
        "completed",
        0,
    )
    emulator.calls.reset()
    assert writer.publish_check(head, PASSING, snapshot.check_runs) is False
    assert emulator.calls.calls == []

    failing = CheckOutput(Conclusion.FAILURE, "Refused", "no")
    assert writer.publish_check(head, failing, snapshot.check_runs) is True
    assert emulator.calls.of(LIST_RUNS) == [] and len(emulator.calls.of(EDIT_RUN)) == 1
    shown = emulator.world.repo(REPO).check_runs[run.id]
    assert (shown.conclusion, shown.external_id) == ("failure", failing.fingerprint())


def test_a_run_with_annotations_is_replaced_not_edited(emulator, setup):  # type: ignore[no-untyped-def]
    client, number, head = setup
    writer = PullRequestWriter(client, REPO, app_id=APP_ID)
    noted = CheckOutput(
        Conclusion.FAILURE, "Refused", "no", annotations=(Annotation("experiments/a.yaml", 1, "bad"),)
    )
    writer.publish_check(head, noted)
    snapshot = PullRequestSource(client, REPO).read(number)
    assert snapshot.check_runs is not None and snapshot.check_runs[0].annotations == 1
    emulator.calls.reset()
    assert writer.publish_check(head, PASSING, snapshot.check_runs) is True
    assert len(emulator.calls.of(NEW_RUN)) == 1 and emulator.calls.of(EDIT_RUN) == []


def test_another_apps_run_of_the_same_name_is_never_taken_for_ours(emulator, setup):  # type: ignore[no-untyped-def]
    client, number, head = setup
    repo = emulator.world.repo(REPO)
    forged = CheckRun(
        id=emulator.world.new_id(),
        name="approvalbot",
        head_sha=head,
        app_id=999,
        status="completed",
        conclusion="success",
        external_id=PASSING.fingerprint(),
        check_suite_id=emulator.world.new_id(),
    )
    repo.check_runs[forged.id] = forged
    snapshot = PullRequestSource(client, REPO).read(number)
    assert snapshot.check_runs is not None and [r.app_id for r in snapshot.check_runs] == [999]
    writer = PullRequestWriter(client, REPO, app_id=APP_ID)
    assert writer.publish_check(head, PASSING, snapshot.check_runs) is True
    assert [r.app_id for r in repo.check_runs.values() if r.id != forged.id] == [APP_ID]


@pytest.mark.parametrize("connection", ["checkSuites", "checkRuns"])
def test_a_truncated_check_list_leaves_the_lookup_to_the_writer(emulator, setup, connection):  # type: ignore[no-untyped-def]
    client, number, head = setup
    writer = PullRequestWriter(client, REPO, app_id=APP_ID)
    writer.publish_check(head, PASSING)
    emulator.faults.truncate(f"graphql {connection}", keep=0)
    snapshot = PullRequestSource(client, REPO).read(number)
    assert snapshot.check_runs is None
    assert snapshot.incomplete is None  # nothing the verdict depends on is missing
    emulator.calls.reset()
    # Told nothing, the writer looks itself and still sees the verdict is already shown.
    assert writer.publish_check(head, PASSING, snapshot.check_runs) is False
    assert len(emulator.calls.of(LIST_RUNS)) == 1 and emulator.calls.writes == 0


def test_a_file_read_on_one_side_is_read_on_the_other_in_the_same_call(emulator, setup):  # type: ignore[no-untyped-def]
    client, number, _ = setup
    snapshot = PullRequestSource(client, REPO).read(number, merged=True)
    emulator.calls.reset()
    assert snapshot.head.read("notes/shared.yaml") == b"id: s\n"
    assert snapshot.base.read("notes/shared.yaml") == b"id: s\n"
    assert len(emulator.calls.of(GRAPHQL)) == 1
    snapshot.base.prefetch(["notes/shared.yaml", "README.md"])
    assert snapshot.head.read("README.md") == b"x\n"
    assert len(emulator.calls.of(GRAPHQL)) == 2, emulator.calls.counts()
