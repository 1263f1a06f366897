"""Events GitHub could not deliver are asked for again (issue 13): the App reads its webhook delivery log
through the emulator (GET /app/hook/deliveries, JWT) and redelivers each event that has no "OK"
attempt and that the store never received; GitHub sends it again with the same delivery id and body."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.store import Store
from bot.emulator import GitHubEmulator
from bot.emulator.keys import app_key_pair
from bot.engine.services import AppAccess, Services
from bot.server import redeliver_failed


class Receiver:
    """The webhook endpoint: answers `answers` in turn (None: the connection breaks), then 202."""

    def __init__(self, *answers: int | None) -> None:
        self.answers = list(answers)
        self.got: list[str] = []

    def __call__(self, headers: Mapping[str, str], body: bytes) -> Any:
        self.got.append(headers["X-GitHub-Delivery"])
        return self.answers.pop(0) if self.answers else 202


def test_failed_deliveries_are_redelivered_once_and_what_arrived_is_not(
    github_settings: Any, tmp_path: Path
) -> None:
    with GitHubEmulator() as emu:
        private, public = app_key_pair()
        emu.driver.install_app(7, 70, "acme", slug="approvalbot", public_key_pem=public)
        store = Store.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
        services = Services(github=AppAccess("7", private, github_settings(emu.base_url)), store=store)
        receiver = Receiver(None, 503, 202)
        emu.webhooks.sink = receiver
        payload = {"installation": {"id": 70}, "repository": {"id": 1, "full_name": "acme/config"}}
        broken = emu.webhooks.send("push", payload)  # the connection broke
        refused = emu.webhooks.send("pull_request", {**payload, "action": "opened"})  # answered 503
        fine = emu.webhooks.send("issue_comment", {**payload, "action": "created"})  # answered 202
        emu.webhooks.drop_next(1)
        recorded = emu.webhooks.send("pull_request_review", {**payload, "action": "submitted"})
        store.record_delivery(recorded.id, "pull_request_review")  # lost for GitHub, yet ours

        since = datetime.now(UTC) - timedelta(minutes=1)
        assert redeliver_failed(services, since) == 2  # oldest first

        assert receiver.got[-2:] == [broken.id, refused.id]  # same ids, sent again
        again = emu.webhooks.deliveries[-2:]
        assert [d.body for d in again] == [broken.body, refused.body] and all(d.redelivery for d in again)
        assert fine.id not in receiver.got[3:]
        # Delivered now: the next pass asks for nothing more.
        assert redeliver_failed(services, since) == 0
        store.close()
