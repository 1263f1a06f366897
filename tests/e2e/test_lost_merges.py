"""Issue 13: a merge whose `closed` and `push` deliveries were both lost (GitHub does not redeliver by
itself) is applied by the next event about the default branch, in order, before what came after it;
before, the next push applied only its own `before..after` and the lost merge was never applied."""

from __future__ import annotations

from harness import INSTALLATION, BotWorld

from bot.core.live import AuditKind
from bot.core.model import Kind, ResourceKey, Status
from bot.engine.reconcile import reconcile

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running
SHIPPING = "web/experiments/free_shipping_threshold_test.yaml"  # paused
CHECKOUT_KEY = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")
SHIPPING_KEY = ResourceKey("web", Kind.EXPERIMENT, "free_shipping_threshold_test")


def _approved(world: BotWorld, path: str, old: str, new: str) -> int:
    pr = world.open_pr("carol-contrib", {path: world.edited(path, (old, new))})
    world.drain()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]
    return pr


def _applies(world: BotWorld) -> list[str]:
    entries = world.store.audit_log(limit=100)
    return [str(e.commit_sha) for e in sorted(entries, key=lambda e: e.id or 0) if e.kind is AuditKind.APPLY]


def test_a_merge_whose_events_were_lost_is_applied_first_by_the_next_merge(world: BotWorld) -> None:
    reconcile(
        world.services, world.repo, installation=INSTALLATION
    )  # the bot's starting point: the branch as it is now is live
    first = _approved(world, CHECKOUT, "status: running", "status: paused")
    second = _approved(world, SHIPPING, "status: paused", "status: running")

    world.emulator.webhooks.drop_next(2)  # the first merge's pull_request.closed and push
    lost = world.merge(first)
    world.drain()
    assert not world.store.is_applied(lost)

    later = world.merge(second)
    world.drain()

    assert world.store.is_applied(lost) and world.store.is_applied(later)
    paused, running = world.store.get_live(CHECKOUT_KEY), world.store.get_live(SHIPPING_KEY)
    assert paused is not None and paused.status is Status.PAUSED and paused.applied_commit == lost
    assert running is not None and running.status is Status.RUNNING and running.applied_commit == later
    applied = _applies(world)
    assert applied.index(lost) < applied.index(later)  # in the branch's order
    assert applied.count(lost) == 1 and applied.count(later) == 1
    assert world.store.drift() == []


def test_with_no_starting_point_an_event_applies_only_what_it_names(world: BotWorld) -> None:
    # Before the first reconcile the store knows none of the history: walking back from a merge would
    # reach commits from before the bot, which nobody approved through it.
    first = _approved(world, CHECKOUT, "status: running", "status: paused")
    second = _approved(world, SHIPPING, "status: paused", "status: running")
    world.emulator.webhooks.drop_next(2)
    lost = world.merge(first)
    later = world.merge(second)
    world.drain()
    assert not world.store.is_applied(lost) and world.store.is_applied(later)
    assert [
        r.sha for r in reconcile(world.services, world.repo, installation=INSTALLATION).results
    ] == []  # below the applied one
