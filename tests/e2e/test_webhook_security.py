"""The webhook route over real HTTP, with the emulator's signed deliveries and forged ones (SPEC §8)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping

from harness import BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"


def _post(world: BotWorld, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, object]]:
    assert world.webhook_url is not None
    request = urllib.request.Request(world.webhook_url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"{}")


def _open(world: BotWorld) -> int:
    pr = world.open_pr(
        "carol-contrib", {CHECKOUT: world.edited(CHECKOUT, ("status: running", "status: paused"))}
    )
    world.drain()
    return pr


def _forged(world: BotWorld, event: str = "pull_request") -> tuple[bytes, dict[str, str]]:
    """The last real `pull_request` delivery, sent again under a fresh id (so only the signature stops it)."""
    original = world.emulator.webhooks.of("pull_request")[-1]
    headers = {**original.headers, "X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4())}
    return original.body, headers


def test_signed_deliveries_over_http_are_accepted_and_processed(http_world: BotWorld) -> None:
    pr = _open(http_world)
    deliveries = http_world.emulator.webhooks.deliveries
    assert {(d.event, d.action) for d in deliveries} >= {("push", None), ("pull_request", "opened")}
    assert {d.status for d in deliveries} == {202}
    assert http_world.check(pr) is not None


def test_a_bad_signature_is_refused_and_nothing_runs(http_world: BotWorld) -> None:
    pr = _open(http_world)
    body, headers = _forged(http_world)
    http_world.emulator.calls.reset()
    tampered = body.replace(b'"draft":false', b'"draft":true ')
    status, answer = _post(http_world, tampered, headers)
    http_world.drain()
    assert status == 401 and "does not match" in str(answer["message"])
    assert http_world.emulator.calls.calls == []  # not one call to GitHub: nothing was processed
    assert http_world.check(pr) is not None

    status, _ = _post(
        http_world, body, {**headers, "X-Hub-Signature-256": BotWorld.sign(body, "other-secret")}
    )
    assert status == 401


def test_a_missing_signature_is_refused(http_world: BotWorld) -> None:
    _open(http_world)
    body, headers = _forged(http_world)
    del headers["X-Hub-Signature-256"]
    http_world.emulator.calls.reset()
    status, answer = _post(http_world, body, headers)
    http_world.drain()
    assert status == 401 and "missing X-Hub-Signature-256" in str(answer["message"])
    assert http_world.emulator.calls.calls == []


def test_an_oversize_body_is_refused_unread(http_world: BotWorld) -> None:
    body = b"{" + b" " * (25 * 1024 * 1024) + b"}"
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": BotWorld.sign(body),
    }
    status, answer = _post(http_world, body, headers)
    assert status == 413 and "25 MB" in str(answer["message"])


def test_a_replayed_delivery_is_answered_and_does_nothing(http_world: BotWorld) -> None:
    pr = _open(http_world)
    opened = http_world.emulator.webhooks.of("pull_request", "opened")[-1]
    http_world.emulator.calls.reset()
    again = http_world.emulator.webhooks.redeliver(opened.id)
    http_world.drain()
    assert again.status == 200
    assert http_world.emulator.calls.calls == []
    assert len(http_world.checks(pr)) == 1


def test_an_unknown_event_is_acknowledged_and_ignored(http_world: BotWorld) -> None:
    _open(http_world)
    body = json.dumps({"action": "created", "repository": {"full_name": http_world.repo}}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "gollum",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": BotWorld.sign(body),
    }
    http_world.emulator.calls.reset()
    status, _ = _post(http_world, body, headers)
    http_world.drain()
    assert status == 202
    assert http_world.emulator.calls.calls == []
