"""Signed webhook deliveries, as GitHub sends them to an App.

Each delivery is the exact bytes signed with HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`), an
`X-GitHub-Event`, a fresh `X-GitHub-Delivery` uuid and `installation: {id, node_id}` in the payload.
The target is a URL (real HTTP POST) or a Python callable (in-process tests). Tests can drop the next
deliveries (lost events) and redeliver an earlier one (GitHub's "Redeliver" button: same id, same body).
Every attempt is logged as GitHub's App delivery log shows it (GET /app/hook/deliveries): a dropped or
unanswered delivery is a failure there, which the App may redeliver through the API.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# A sink gets the headers and the raw body and answers with an HTTP status.
Sink = Callable[[Mapping[str, str], bytes], int]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    id: str
    event: str
    action: str | None
    payload: dict[str, Any]
    body: bytes
    headers: Mapping[str, str]
    status: int | None  # what the receiver answered; None when dropped or unreachable
    dropped: bool = False
    attempt: int = 0  # the delivery's own id in GitHub's log ("id"); `id` is the event's guid
    redelivery: bool = False
    delivered_at: datetime | None = None

    @property
    def ok(self) -> bool:
        """What GitHub's delivery log calls "OK": the receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


@dataclass
class WebhookSender:
    secret: str = "emulator-secret"
    url: str | None = None
    sink: Sink | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _drop: int = 0
    _attempts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def drop_next(self, count: int = 1) -> None:
        """The next `count` deliveries are recorded but never reach the receiver (lost events)."""
        self._drop += count

    def send(self, event: str, payload: dict[str, Any]) -> Delivery:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return self._deliver(str(uuid.uuid4()), event, payload, body)

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send an earlier delivery again, byte for byte and with the same delivery id."""
        original = next((d for d in self.deliveries if d.id == delivery_id), None)
        if original is None:
            raise KeyError(f"no delivery {delivery_id!r}; known: {[d.id for d in self.deliveries]}")
        return self._deliver(original.id, original.event, original.payload, original.body, redelivery=True)

    def attempt(self, attempt_id: int) -> Delivery | None:
        return next((d for d in self.deliveries if d.attempt == attempt_id), None)

    def of(self, event: str, action: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries if d.event == event and (action is None or d.action == action)]

    def _deliver(
        self, delivery_id: str, event: str, payload: dict[str, Any], body: bytes, *, redelivery: bool = False
    ) -> Delivery:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/emulator",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": "1",
            "X-Hub-Signature-256": sign(self.secret, body),
        }
        installation = payload.get("installation") or {}
        if installation:
            headers["X-GitHub-Hook-Installation-Target-ID"] = str(installation.get("id"))
        action = payload.get("action")
        dropped = self._drop > 0
        status: int | None = None
        if dropped:
            self._drop -= 1
        else:
            status = self._post(headers, body)
        delivery = Delivery(
            delivery_id,
            event,
            action,
            payload,
            body,
            headers,
            status,
            dropped,
            attempt=next(self._attempts),
            redelivery=redelivery,
            delivered_at=datetime.now(UTC),
        )
        self.deliveries.append(delivery)
        return delivery

    def _post(self, headers: Mapping[str, str], body: bytes) -> int | None:
        if self.sink is not None:
            return self.sink(headers, body)
        if self.url is None:
            return None
        request = urllib.request.Request(self.url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return None
