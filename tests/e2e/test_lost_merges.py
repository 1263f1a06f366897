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


def test_the_first_event_of_a_new_repository_starts_from_the_commit_below_it(world: BotWorld) -> None:
    # The store has handled nothing of this repository: what lies below the first event it sees
    # predates the bot (nobody approved it through the bot), so it is the baseline, taken as live as it
    # is; then the event's own commit is judged. Every resource is live, not only those merges touch.
    first = _approved(world, CHECKOUT, "status: running", "status: paused")
    second = _approved(world, SHIPPING, "status: paused", "status: running")
    world.emulator.webhooks.drop_next(2)
    below = world.merge(first)  # its events lost: the bot never met the repository before
    later = world.merge(second)
    world.drain()

    assert world.store.is_applied(below) and world.store.is_applied(later)
    baseline = [e for e in world.store.audit_log(limit=200) if e.detail.get("baseline")]
    assert baseline and {e.commit_sha for e in baseline} == {below}
    paused, running = world.store.get_live(CHECKOUT_KEY), world.store.get_live(SHIPPING_KEY)
    assert paused is not None and paused.status is Status.PAUSED  # as the baseline found it
    assert running is not None and running.status is Status.RUNNING and running.applied_commit == later
    assert reconcile(world.services, world.repo, installation=INSTALLATION).baseline is None  # taken once


def test_serve_heals_a_lost_merge_with_no_other_event(world: BotWorld) -> None:
    from bot.server import heal
    from bot.web import app_state

    queue = app_state(world.app).queue
    assert heal(world.services, queue) == 1  # the App's one repository, from GitHub's installation list
    world.drain()  # the first pass takes the baseline
    pr = _approved(world, CHECKOUT, "status: running", "status: paused")
    world.emulator.webhooks.drop_next(2)
    lost = world.merge(pr)
    world.drain()
    assert not world.store.is_applied(lost)

    heal(world.services, queue)  # what serve's scheduler does at start and every few minutes
    world.drain()

    assert world.store.is_applied(lost)
    record = world.store.get_live(CHECKOUT_KEY)
    assert record is not None and record.status is Status.PAUSED
    assert world.store.locks() == []  # the lost `closed` would have released the PR's lock
