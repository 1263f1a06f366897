"""The burst the scale-out test sends: 20 PRs on 20 resources of their own, each with a planned fate.

Kept apart from the process plumbing so the same burst can run against one in-process sandbox (quick
to debug) and against two servers + two RQ workers (the scale-out test).

Every PR touches one resource `web/experiments/scale_NN.yaml` (added to the sample repository before
the repository is created) and submits one action, by `index % 3`: pause a running test, publish an
edit of a running test (traffic 50 → 60), or start a draft. Its fate, by `index % 5`:

- MERGED: approved, merged;
- STALE_THEN_MERGED: approved, pushed (the approval goes stale), approved again, merged;
- REJECTED: changes requested with feedback: the bot closes it (`on_reject: close`);
- STALE_PENDING: approved, pushed, never approved again: stays open, waiting;
- TEAM_MERGED: approved by a member of the approver team @acme/growth-leads, merged.

Pushes only add a YAML comment, so the submitted action is the same before and after (an extra edit
would mix a status change with other edits, which the bot rightly refuses).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.core.model import Kind, ResourceKey, Status

REPO = "acme/config"
COUNT = 20
CREATORS = ("carol-contrib", "ivan-contrib")  # ivan is a draft contributor of mobile only: still a creator
APPROVER = "bob-approver"
TEAM_APPROVER = "lena-growth"
MERGER = "alice-admin"
TEMPLATE = "web/experiments/checkout_button_color_test.yaml"
FEEDBACK = "Not now: the sales event starts on Monday."


class Act(StrEnum):
    PAUSE = "pause"
    EDIT = "edit"
    START = "start"


class Fate(StrEnum):
    MERGED = "merged"
    STALE_THEN_MERGED = "stale then merged"
    REJECTED = "rejected"
    STALE_PENDING = "stale, pending"
    TEAM_MERGED = "team merged"


MERGING = frozenset({Fate.MERGED, Fate.STALE_THEN_MERGED, Fate.TEAM_MERGED})
PENDING_LABEL = {Act.PAUSE: "pending: PAUSE PENDING", Act.EDIT: "pending: APPROVAL PENDING"}
PENDING_LABEL[Act.START] = "pending: APPROVAL PENDING"


@dataclass
class PlannedPr:
    index: int
    act: Act
    fate: Fate
    number: int = 0
    merge_sha: str | None = None
    delivery_ids: list[str] = field(default_factory=list)

    @property
    def resource(self) -> str:
        return f"scale_{self.index:02d}"

    @property
    def key(self) -> ResourceKey:
        return ResourceKey("web", Kind.EXPERIMENT, self.resource)

    @property
    def path(self) -> str:
        return f"web/experiments/{self.resource}.yaml"

    @property
    def creator(self) -> str:
        return CREATORS[self.index % 2]

    @property
    def merges(self) -> bool:
        return self.fate in MERGING

    def base_status(self) -> Status:
        return Status.DRAFT if self.act is Act.START else Status.RUNNING

    def expected_live_status(self) -> Status:
        if not self.merges:
            return self.base_status()
        return Status.PAUSED if self.act is Act.PAUSE else Status.RUNNING

    def expected_traffic(self) -> int:
        return 60 if self.act is Act.EDIT and self.merges else 50


def plan(count: int = COUNT) -> list[PlannedPr]:
    acts, fates = list(Act), list(Fate)
    return [PlannedPr(i, acts[i % len(acts)], fates[i % len(fates)]) for i in range(count)]


def resource_text(template: str, resource: str, status: Status) -> str:
    text = template.replace("id: checkout_button_color_test", f"id: {resource}", 1)
    text = text.replace("name: Checkout button color", f"name: Scale test {resource}", 1)
    text = text.replace("status: running", f"status: {status.value}", 1)
    if f"id: {resource}" not in text or f"status: {status.value}" not in text:
        raise RuntimeError(f"{TEMPLATE}: the template changed; cannot derive {resource} from it")
    return text


def repository_files(sample: Mapping[str, bytes], prs: list[PlannedPr]) -> dict[str, bytes]:
    """The sample repository plus one experiment per planned PR, in the state its action starts from."""
    template = sample[TEMPLATE].decode()
    files = dict(sample)
    for pr in prs:
        files[pr.path] = resource_text(template, pr.resource, pr.base_status()).encode()
    return files


def head_text(base: str, pr: PlannedPr) -> str:
    if pr.act is Act.PAUSE:
        return base.replace("status: running", "status: paused", 1)
    if pr.act is Act.EDIT:
        return base.replace("traffic_allocation: 50", "traffic_allocation: 60", 1)
    return base.replace("status: draft", "status: running", 1)


@dataclass
class Burst:
    """Sends the interleaved events through the emulator's driver; nothing waits for the bot."""

    driver: Any
    webhooks: Any  # the emulator's WebhookSender
    file: Callable[[str], str]  # a file's text on the default branch
    prs: list[PlannedPr]
    seed: int = 5

    def run(self) -> None:
        rng = random.Random(self.seed)
        self._round(rng, self._open)
        self._round(rng, self._first_review)
        self._redeliver_some(rng, "pull_request", "opened", 5)
        self._round(rng, self._push)
        self._round(rng, self._second_review)
        self._redeliver_some(rng, "pull_request_review", "submitted", 6)
        self._later()
        self._round(rng, self._merge)
        self._redeliver_merges()

    def _later(self) -> None:
        """GitHub's clock moves on a second: GitHub stamps to the second, and an approval in the merge's
        own second cannot be shown to precede it, so it does not count (issue 14); people approve, then
        merge."""
        world = self.driver.world
        with world.lock:
            before = world.clock
            world.clock = lambda: before() + timedelta(seconds=1)

    def _round(self, rng: random.Random, step: Callable[[PlannedPr], None]) -> None:
        order = list(self.prs)
        rng.shuffle(order)
        for pr in order:
            step(pr)

    def _open(self, pr: PlannedPr) -> None:
        edits = {pr.path: head_text(self.file(pr.path), pr)}
        pr.number = self.driver.open_pr(
            REPO, pr.creator, f"scale-{pr.index:02d}", edits, title=f"{pr.act.value} {pr.resource}"
        )

    def _first_review(self, pr: PlannedPr) -> None:
        if pr.fate is Fate.REJECTED:
            self.driver.review(REPO, pr.number, APPROVER, "REQUEST_CHANGES", FEEDBACK)
        elif pr.fate is Fate.TEAM_MERGED:
            self.driver.review(REPO, pr.number, TEAM_APPROVER, "APPROVE", "Fine by the growth team.")
        else:
            self.driver.review(REPO, pr.number, APPROVER, "APPROVE", "Looks good.")

    def _push(self, pr: PlannedPr) -> None:
        if pr.fate in (Fate.STALE_THEN_MERGED, Fate.STALE_PENDING):
            text = head_text(self.file(pr.path), pr) + f"# revised after review ({pr.resource})\n"
            self.driver.push(REPO, f"scale-{pr.index:02d}", {pr.path: text}, author=pr.creator)

    def _second_review(self, pr: PlannedPr) -> None:
        if pr.fate is Fate.STALE_THEN_MERGED:
            self.driver.review(REPO, pr.number, APPROVER, "APPROVE", "Still good after the push.")

    def _merge(self, pr: PlannedPr) -> None:
        if pr.merges:
            pr.merge_sha = self.driver.merge(REPO, pr.number, MERGER)

    def _redeliver_some(self, rng: random.Random, event: str, action: str, count: int) -> None:
        seen = self.webhooks.of(event, action)
        for delivery in rng.sample(seen, min(count, len(seen))):
            self.webhooks.redeliver(delivery.id)

    def _redeliver_merges(self) -> None:
        """GitHub's "Redeliver" on every merge event and on the pushes the merges made."""
        for delivery in list(self.webhooks.of("pull_request", "closed")):
            if delivery.payload["pull_request"].get("merged"):
                self.webhooks.redeliver(delivery.id)
        for delivery in list(self.webhooks.of("push")):
            if delivery.payload.get("ref") == "refs/heads/main":
                self.webhooks.redeliver(delivery.id)
