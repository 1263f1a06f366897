"""The App's permissions, end to end: the README's list is exactly what the bot needs.

- the README's "As a GitHub App" list, `bot.adapters.github.permissions.APP_PERMISSIONS` and the
  emulator's default App registration are one list;
- with an App registered with exactly that list the whole lifecycle runs without one refusal: open,
  evaluation (check run, comment, labels, review requests, team resolution), approval by a team member,
  the bot's own merge (`merge_on_approval`), and the apply of the merge;
- without any one of them the emulator refuses a call the bot makes (the list is minimal), and the bot
  says which permission is missing instead of failing silently or crashing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import TEAM_MEMBERS, BotWorld

from bot.adapters.github.permissions import APP_PERMISSIONS, Scope
from bot.core.model import Kind, ResourceKey, Status
from bot.emulator.permissions import Grant, Permission
from bot.emulator.state import DEFAULT_APP_PERMISSIONS
from bot.sandbox import sample_files

README = Path(__file__).resolve().parents[2] / "README.md"
CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
CHECKOUT_KEY = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")


def readme_permissions() -> dict[Scope, list[str]]:
    """The README's bullets, e.g. {REPOSITORY: ["Checks — read & write", ...]} (parentheses dropped)."""
    text = README.read_text()
    section = text[text.index("### As a GitHub App") : text.index("### As a GitHub Action")]
    out: dict[Scope, list[str]] = {}
    for scope in Scope:
        found = re.search(rf"- \*\*{scope.value} permissions\*\*: (.+?)\n- ", section, re.S)
        assert found, f"README: no '{scope.value} permissions' bullet under 'As a GitHub App'"
        plain = re.sub(r"\([^()]*\)", "", " ".join(found.group(1).split()))
        out[scope] = [part.strip(" .") for part in plain.split(";") if part.strip(" .")]
    return out


def test_the_readme_list_is_the_code_s_list_and_the_emulator_s_default() -> None:
    wanted = {scope: [n.readme for n in APP_PERMISSIONS if n.scope is scope] for scope in Scope}
    assert readme_permissions() == wanted
    registered = Grant.parse({n.key: n.level for n in APP_PERMISSIONS})
    assert registered == DEFAULT_APP_PERMISSIONS


def _merging_files() -> dict[str, bytes | str]:
    files = dict(sample_files())
    config = files[".approvalbot.yml"]
    text = config.decode() if isinstance(config, bytes) else config
    assert "merge_on_approval: false" in text
    files[".approvalbot.yml"] = text.replace("merge_on_approval: false", "merge_on_approval: true")
    return files


@pytest.fixture
def merging_world(request: Any, emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    permissions = getattr(request, "param", DEFAULT_APP_PERMISSIONS)
    world = BotWorld.start(
        emulator, github_settings, tmp_path, files=_merging_files(), permissions=permissions
    )
    try:
        yield world
    finally:
        world.stop()


def _lifecycle(world: BotWorld) -> int:
    """Open a pause, let a team member approve it; the bot merges it and the push applies it."""
    pause = world.edited(CHECKOUT, ("status: running", "status: paused"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: pause})
    world.drain()
    world.review(pr, TEAM_MEMBERS[0], "APPROVE")  # counts only if @acme/growth-leads was resolved
    world.drain()
    return pr


def test_the_readme_permissions_carry_the_whole_lifecycle(merging_world: BotWorld) -> None:
    world = merging_world
    pause = world.edited(CHECKOUT, ("status: running", "status: paused"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: pause})
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run and run.summary
    assert world.labels(pr) == {"pending: PAUSE PENDING"}
    assert world.requested(pr), "nobody was asked to review"
    assert CHECKOUT in world.comment(pr)

    world.review(pr, TEAM_MEMBERS[0], "APPROVE")  # a member of @acme/growth-leads: team resolution
    world.drain()
    pull = world.pull(pr)
    assert pull.merged and pull.merged_by == "approvalbot[bot]", "merge_on_approval did not merge"
    live = world.store.get_live(CHECKOUT_KEY)
    assert live is not None and live.status is Status.PAUSED  # the merge was applied
    assert world.refusals() == []


# Metadata cannot be taken away: GitHub gives it back to any App with repository permissions (below).
DROPPABLE = [n for n in APP_PERMISSIONS if n.key != Permission.METADATA.value]


@pytest.mark.parametrize(
    "merging_world",
    [DEFAULT_APP_PERMISSIONS.without(Permission(n.key)) for n in DROPPABLE],
    ids=[f"without-{n.key}" for n in DROPPABLE],
    indirect=True,
)
def test_without_any_one_permission_github_refuses_a_call_the_bot_makes(
    merging_world: BotWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = merging_world
    missing = next(p for p, _ in DEFAULT_APP_PERMISSIONS.levels if world_lacks(world, p))
    with caplog.at_level(logging.ERROR):
        pr = _lifecycle(world)
    assert world.refusals(), f"without {missing.value} the emulator refused nothing: it is not needed"
    assert not world.pull(pr).merged  # nothing merges when a permission is missing
    said = caplog.text + "".join(run.summary or "" for run in world.checks(pr))
    assert missing.title.lower() in said.lower() or missing.value in said, said[-2000:]


def world_lacks(world: BotWorld, permission: Permission) -> bool:
    app = next(iter(world.emulator.world.apps.values()))
    return app.permissions.level(permission) < DEFAULT_APP_PERMISSIONS.level(permission)


def test_metadata_read_comes_with_any_repository_permission(emulator: Any) -> None:
    """GitHub sets Metadata back to read for an App registered with repository permissions but
    "No access" to Metadata; the README lists it because every App has it, not as a choice."""
    without = DEFAULT_APP_PERMISSIONS.without(Permission.METADATA)
    emulator.driver.install_app(9, 10, "acme", permissions=without)
    assert emulator.world.apps[9].permissions == DEFAULT_APP_PERMISSIONS
