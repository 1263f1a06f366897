"""`POST /webhook`: size limit, signature, headers, once per delivery, then off to the queue.

The order is the point: the size is checked before the body is read, the signature before anything
in the body is parsed, the delivery id is recorded before the job is queued. GitHub is answered at
once; the work happens on a worker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from flask import Blueprint, Response, current_app, jsonify, request

from bot.adapters.store.jobs import Accepted
from bot.adapters.targets import verify_signature
from bot.ports import DeliveryLog, Job, JobQueue

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB; anything larger is not from GitHub
SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"

TOO_LARGE = f"request body over {MAX_BODY_BYTES} bytes (25 MB): GitHub never sends more; refused unread"
MISSING_SIGNATURE = (
    f"missing {SIGNATURE_HEADER} header: set a webhook secret in the GitHub App settings so deliveries "
    "are signed"
)
BAD_SIGNATURE = f"{SIGNATURE_HEADER} does not match the body: check that the bot and GitHub share one secret"
MISSING_HEADERS = (
    f"missing {EVENT_HEADER} or {DELIVERY_HEADER} header: this does not look like a GitHub delivery"
)
NOT_JSON = "the body is not a JSON object: configure the webhook with content type application/json"
REPLAYED = "delivery already received; nothing done"
PENDING = "delivery already received; its work is queued and will run"
REQUEUED = "delivery already received; its work had been parked after failing and is queued again"
# GitHub's delivery ids are GUIDs (36 characters) and its event names short words; the store keeps
# 200 and 100 characters: a longer value is no GitHub delivery, and is refused before it reaches it.
MAX_DELIVERY_CHARS = 200
MAX_EVENT_CHARS = 100
BAD_HEADERS = (
    f"{DELIVERY_HEADER} over {MAX_DELIVERY_CHARS} or {EVENT_HEADER} over {MAX_EVENT_CHARS} characters: "
    "GitHub never sends such values"
)
QUEUE_DOWN = "the job queue is unavailable; retry the delivery later"


@dataclass(frozen=True)
class WebhookState:
    """What the webhook route needs, kept on the app (`app.extensions["approvalbot"]`)."""

    secret: str
    queue: JobQueue
    deliveries: DeliveryLog


@runtime_checkable
class DurableQueue(Protocol):
    """A queue that records the delivery with its job in one transaction (bot.workers.StoreQueue)."""

    def accept(self, job: Job) -> Accepted: ...


@runtime_checkable
class ForgettingDeliveryLog(Protocol):
    def forget_delivery(self, delivery_id: str) -> None: ...


class InMemoryDeliveryLog:
    """DeliveryLog for one process (the embedded default); remembers the latest `capacity` ids."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def record_delivery(self, delivery_id: str, event: str) -> bool:
        with self._lock:
            if delivery_id in self._seen:
                return False
            self._seen[delivery_id] = event
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)  # GitHub redelivers within days, not 100,000 deliveries later
            return True

    def forget_delivery(self, delivery_id: str) -> None:
        with self._lock:
            self._seen.pop(delivery_id, None)


def job_key(event: str, payload: Mapping[str, Any]) -> str:
    """Ordering key: "owner/repo#N" for anything about one PR, "owner/repo" for the rest of a repo.

    A push has a key of its own ("owner/repo@<after>"): pushes to the default branch are put in order
    by the branch's history (each applies every unhandled commit below it, oldest first; see
    bot.engine.merge.catch_up_chain) and applies are exactly once under concurrency (keyed by commit
    in the store), so no lane is needed, and none can be blocked by a slow job ahead in it."""
    repo = _get(payload, "repository", "full_name")
    if not isinstance(repo, str):
        installation = _get(payload, "installation", "id")
        return f"installation:{installation}" if installation is not None else f"event:{event}"
    if event == "push":
        return f"{repo}@{payload.get('after')}"
    number = _pr_number(payload)
    return f"{repo}#{number}" if number is not None else repo


def _pr_number(payload: Mapping[str, Any]) -> int | None:
    candidates = [
        _get(payload, "pull_request", "number"),
        _get(payload, "issue", "number"),  # issue_comment: PR comments arrive as issue comments
    ]
    for parent in ("check_run", "check_suite"):
        prs = _get(payload, parent, "pull_requests")
        if isinstance(prs, list) and prs and isinstance(prs[0], Mapping):
            candidates.append(prs[0].get("number"))
    return next((n for n in candidates if isinstance(n, int) and not isinstance(n, bool)), None)


def _get(payload: Mapping[str, Any], *path: str) -> Any:
    node: Any = payload
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _answer(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"message": message, **extra}), status


@bp.post("/webhook")
def receive() -> tuple[Response, int]:
    state: WebhookState = current_app.extensions["approvalbot"]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        answer = _outcome(413, TOO_LARGE, "", "", "too large")
        # Answered before the body is read, then the body is read and thrown away (a "lingering close",
        # as nginx does): closing on a client still sending makes its TCP stack reset the connection,
        # and the client never reads the 413. Bounded, so nobody can keep a server thread busy for long.
        answer[0].call_on_close(_discarder(request.environ.get("wsgi.input"), request.content_length))
        return answer
    event = request.headers.get(EVENT_HEADER, "")
    delivery = request.headers.get(DELIVERY_HEADER, "")
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        return _outcome(401, MISSING_SIGNATURE, event, delivery, "unsigned")
    # A body without Content-Length is read only up to MAX_CONTENT_LENGTH (Flask raises 413 beyond it).
    body = request.get_data(cache=True)
    if not verify_signature(state.secret, body, header):  # GitHub's format: sha256=<hex HMAC>
        return _outcome(401, BAD_SIGNATURE, event, delivery, "bad signature")
    if not event or not delivery:
        return _outcome(400, MISSING_HEADERS, event, delivery, "missing headers")
    if len(delivery) > MAX_DELIVERY_CHARS or len(event) > MAX_EVENT_CHARS:
        return _outcome(
            400, BAD_HEADERS, event[:MAX_EVENT_CHARS], delivery[:MAX_DELIVERY_CHARS], "bad headers"
        )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        return _outcome(400, NOT_JSON, event, delivery, "not json")
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    if event == "ping":
        return _outcome(200, "pong", event, delivery, "pong", action)
    job = Job(key=job_key(event, payload), event=event, delivery_id=delivery, payload=payload)
    if isinstance(state.queue, DurableQueue):
        return _accept(state.queue, job, action)
    if not state.deliveries.record_delivery(delivery, event):
        return _outcome(200, REPLAYED, event, delivery, "replay ignored", action)
    try:
        state.queue.submit(job)
    except Exception:
        log.exception("delivery %s: cannot queue the job", delivery)
        if isinstance(state.deliveries, ForgettingDeliveryLog):
            state.deliveries.forget_delivery(delivery)  # so GitHub's redelivery is not taken for a replay
        return _outcome(503, QUEUE_DOWN, event, delivery, "queue unavailable", action)
    return _outcome(202, "queued", event, delivery, f"queued as {job.key}", action, key=job.key)


MAX_DISCARD_BYTES = 4 * MAX_BODY_BYTES
MAX_DISCARD_SECONDS = 10.0


def _discarder(stream: Any, length: int) -> Callable[[], None]:
    def discard() -> None:
        if stream is None or length > MAX_DISCARD_BYTES:
            return
        left, deadline = length, time.monotonic() + MAX_DISCARD_SECONDS
        try:
            while left > 0 and time.monotonic() < deadline:
                chunk = stream.read(min(left, 1 << 20))
                if not chunk:
                    return
                left -= len(chunk)
        except OSError:
            return  # the client went away: nothing left to be polite to

    return discard


def _accept(queue: DurableQueue, job: Job, action: str | None) -> tuple[Response, int]:
    """The durable path: once `accept` returns, the job survives a crash, so 202 is a promise."""
    event, delivery = job.event, job.delivery_id
    try:
        accepted = queue.accept(job)
    except Exception:
        log.exception("delivery %s: cannot record the job", delivery)
        return _outcome(503, QUEUE_DOWN, event, delivery, "queue unavailable", action)
    if accepted is Accepted.DONE:
        return _outcome(200, REPLAYED, event, delivery, "replay ignored", action)
    message = {Accepted.PENDING: PENDING, Accepted.REQUEUED: REQUEUED}.get(accepted, "queued")
    outcome = f"{accepted.value} as {job.key}"
    return _outcome(202, message, event, delivery, outcome, action, key=job.key)


def _outcome(
    status: int,
    message: str,
    event: str,
    delivery: str,
    outcome: str,
    action: str | None = None,
    **extra: Any,
) -> tuple[Response, int]:
    # One line per delivery, so an operator can follow any delivery id through the logs.
    level = logging.INFO if status < 400 else logging.WARNING
    log.log(
        level,
        "webhook delivery=%s event=%s action=%s status=%d outcome=%s",
        delivery or "-",
        event or "-",
        action or "-",
        status,
        outcome,
    )
    return _answer(status, message, delivery=delivery or None, **extra)
