"""Loopback SMTP server (aiosmtpd on port 0), its inbox, and the team map and sample request the
notification tests share."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from bot.core.model import Action, Kind, PendingState, ResourceKey
from bot.core.notifications import ChangeItem, NotificationEvent, NotificationRequest


class LoopbackController(Controller):
    """aiosmtpd on port 0: learn the port the OS picked before the controller's self-check connects."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Received:
    sender: str
    rcpt: list[str]
    message: EmailMessage


class Inbox:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


TEAMS = {"acme/reviewers": ("tess",)}

CHECKOUT = ResourceKey("growth", Kind.EXPERIMENT, "checkout-button")
FEE = ResourceKey("payments", Kind.REMOTE_CONFIG, "fee_rate")


def request(
    event: NotificationEvent, accounts: tuple[str, ...] = ("growth",), **fields: Any
) -> NotificationRequest:
    """PR #12 of acme/experiments: bob pauses carol's checkout test (growth) and publishes the fee rate
    (payments). `fields` replace any other part of the request."""
    defaults: dict[str, Any] = {
        "repository": "acme/experiments",
        "actor": "bob",
        "creators": ("carol",),
        "items": (
            ChangeItem(CHECKOUT, Action.PAUSE, PendingState.PAUSE_PENDING),
            ChangeItem(FEE, Action.PUBLISH),
        ),
        "pr_number": 12,
        "pr_url": "https://github.com/acme/experiments/pull/12",
        "pr_title": "Pause the checkout test",
        "head_sha": "0123456789abcdef0123",
    }
    return NotificationRequest(event=event, accounts=accounts, **{**defaults, **fields})


class Receiver(ThreadingHTTPServer):
    """Answers with the next status of `script` (the last one repeats) and keeps every request."""

    def __init__(self, script: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.script = script
        self.requests: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((dict(self.headers), body))
        status = self.server.script.pop(0) if len(self.server.script) > 1 else self.server.script[0]
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Start loopback receivers with `start(*statuses)`; all are stopped on exit."""
    servers: list[Receiver] = []

    def start(*script: int) -> Receiver:
        server = Receiver(list(script))
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
