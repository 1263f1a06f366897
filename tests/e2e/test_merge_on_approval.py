"""`merge_on_approval` merges by a method the repository allows (`approvals.merge_method`, or the first
allowed of merge, squash, rebase), and says so plainly when the configured one is not allowed. Over
real HTTP: the emulator posts its signed webhooks to the served App."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import BotWorld, world_fixture

from bot.core.live import AuditKind
from bot.core.model import Kind, ResourceKey
from bot.sandbox import sample_files

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
CHECKOUT_KEY = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")
CONFIG = ".approvalbot.yml"


def _files(merge_method: str | None) -> dict[str, bytes]:
    files = sample_files()
    text = files[CONFIG].decode()
    assert "merge_on_approval: false" in text
    line = "merge_on_approval: true" + (f"\n  merge_method: {merge_method}" if merge_method else "")
    files[CONFIG] = text.replace("merge_on_approval: false", line).encode()
    return files


@pytest.fixture(params=[None])
def merging(request: Any, emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    """The App with merge_on_approval on (and `merge_method` as the test's parameter says)."""
    files = _files(request.param)
    yield from world_fixture(emulator, github_settings, tmp_path, transport="http", files=files)


def _approve_a_pause(world: BotWorld) -> int:
    pr = world.open_pr(
        "carol-contrib", {CHECKOUT: world.edited(CHECKOUT, ("status: running", "status: paused"))}
    )
    world.drain()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    return pr


def _applied_once(world: BotWorld, sha: str) -> None:
    entries = [
        e for e in world.store.audit_log(limit=1000) if e.kind is AuditKind.APPLY and e.commit_sha == sha
    ]
    assert [e.resource for e in entries] == [CHECKOUT_KEY]
    assert world.store.is_applied(sha) and not world.store.drift()


def test_with_only_squash_allowed_the_bot_squashes(merging: BotWorld) -> None:
    world = merging
    world.driver.set_merge_methods(world.repo, merge_commit=False, rebase=False)
    pr = _approve_a_pause(world)

    pull = world.pull(pr)
    assert pull.merged and len(pull.merged_commits) == 1
    squash = world.emulator.world.repo(world.repo).commits[pull.merge_commit_sha]  # type: ignore[index]
    assert len(squash.parents) == 1  # a squash, not a merge commit
    calls = [c for c in world.emulator.calls.calls if c.route.endswith("/pulls/{pull_number}/merge")]
    assert [c.status for c in calls] == [200]  # no refused try first
    _applied_once(world, str(pull.merge_commit_sha))


@pytest.mark.parametrize("merging", ["rebase"], indirect=True)
def test_a_configured_method_the_repository_allows_is_used(merging: BotWorld) -> None:
    world = merging
    pr = _approve_a_pause(world)
    pull = world.pull(pr)
    assert pull.merged and len(pull.merged_commits) == 1  # one PR commit, rebased
    assert world.emulator.world.repo(world.repo).commits[pull.merged_commits[0]].committer.name == "GitHub"
    _applied_once(world, str(pull.merge_commit_sha))


@pytest.mark.parametrize("merging", ["rebase"], indirect=True)
def test_a_configured_method_the_repository_forbids_is_reported_not_crashed_on(merging: BotWorld) -> None:
    world = merging
    world.driver.set_merge_methods(world.repo, rebase=False)
    pr = _approve_a_pause(world)

    assert world.state(pr) == "open" and not world.pull(pr).merged
    run = world.check(pr)
    assert run is not None and (run.conclusion, run.title) == ("success", "Approved")  # still approved
    [said] = [c for c in world.bot_comments(pr) if "not merged" in c]
    assert "does not allow rebase merges" in said and "approvals.merge_method: rebase" in said
    assert "Settings → General → Pull Requests" in said and "`merge`, `squash`" in said
    assert not [c for c in world.emulator.calls.calls if c.route.endswith("/pulls/{pull_number}/merge")]

    # Another look at the PR (a comment, a re-check) says nothing twice.
    world.comment_as(pr, "dave-dev", "any news?")
    world.drain()
    assert len([c for c in world.bot_comments(pr) if "not merged" in c]) == 1

    # A person merges it as the repository allows: applied once, like any approved merge.
    sha = world.merge(pr)
    world.drain()
    _applied_once(world, sha)
