"""Outbound targets against a real loopback HTTP server: signed, idempotent, retried, never raising."""

from __future__ import annotations

import json
import socket

from bot.adapters.targets import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Backoff,
    Target,
    TargetPublisher,
    sign,
    verify_signature,
)

SECRET = "target-secret"
CHANGE = {"merge_sha": "m1", "actions": [{"resource": "growth/experiment/checkout", "action": "pause"}]}


def publisher(*targets: Target, attempts: int = 3, waits: list[float] | None = None) -> TargetPublisher:
    return TargetPublisher(
        targets,
        backoff=Backoff(attempts=attempts, base_delay=0.01),
        sleep=(waits.append if waits is not None else lambda _d: None),
    )


def test_delivery_is_signed_and_a_receiver_can_verify_it(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    server = receiver_factory(200)
    (result,) = publisher(Target(server.url, SECRET)).publish(CHANGE, merge_sha="m1")
    assert (result.delivered, result.status, result.attempts) == (True, 200, 1)
    ((headers, body),) = server.requests
    assert json.loads(body) == CHANGE
    assert headers["Content-Type"] == "application/json"
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify_signature("another secret", body, headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, body + b" ", headers[SIGNATURE_HEADER])
    assert headers[IDEMPOTENCY_HEADER] == result.idempotency_key and result.idempotency_key.startswith("m1.")


def test_500_then_200_is_delivered_with_one_idempotency_key(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    server = receiver_factory(500, 503, 200)
    waits: list[float] = []
    (result,) = publisher(Target(server.url, SECRET), attempts=4, waits=waits).publish(CHANGE, "m2")
    assert (result.delivered, result.attempts, result.status) == (True, 3, 200)
    assert waits == [0.01, 0.02]
    keys = {headers[IDEMPOTENCY_HEADER] for headers, _ in server.requests}
    assert len(server.requests) == 3 and len(keys) == 1


def test_target_down_is_retried_and_reported_failed(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    waits: list[float] = []
    (result,) = publisher(Target(dead, SECRET), attempts=3, waits=waits).publish(CHANGE, "m3")
    assert (result.delivered, result.attempts, result.status) == (False, 3, None)
    assert result.error and "cannot reach" in result.error
    assert waits == [0.01, 0.02]


def test_a_client_error_is_not_retried(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    server = receiver_factory(400)
    (result,) = publisher(Target(server.url, SECRET)).publish(CHANGE, "m4")
    assert (result.delivered, result.attempts, result.status) == (False, 1, 400)
    assert result.error == "HTTP 400 Bad Request"


def test_rate_limited_then_accepted(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    server = receiver_factory(429, 202)
    (result,) = publisher(Target(server.url, SECRET)).publish(CHANGE, "m5")
    assert (result.delivered, result.attempts, result.status) == (True, 2, 202)


def test_one_failing_target_does_not_stop_the_others(receiver_factory) -> None:  # type: ignore[no-untyped-def]
    broken, healthy = receiver_factory(500), receiver_factory(200)
    results = publisher(Target(broken.url, SECRET), Target(healthy.url, "other")).publish(CHANGE, "m6")
    assert [(r.url, r.delivered) for r in results] == [(broken.url, False), (healthy.url, True)]
    ((headers, body),) = healthy.requests
    assert verify_signature("other", body, headers[SIGNATURE_HEADER])
    assert results[0].idempotency_key != results[1].idempotency_key


def test_sign_and_verify() -> None:
    # RFC 4231, test case 2
    expected = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign("Jefe", b"what do ya want for nothing?") == expected
    assert verify_signature("k", b"body", sign("k", b"body"))
    assert not verify_signature("k", b"body", None)
    assert not verify_signature("k", b"body", "sha256=deadbeef")
    assert not verify_signature("", b"body", sign("", b"body"))
