"""Helpers for the webhook tests: signed deliveries, PR payloads, a recording handler."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from typing import Any

from bot.ports import Job

SECRET = "It's a Secret to Everybody"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(
    event: str, payload: dict[str, Any], delivery_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body),
    }
    return body, headers


def pr_payload(number: int, action: str = "synchronize", repo: str = "acme/experiments") -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {"number": number},
        "repository": {"full_name": repo},
    }


class Recorder:
    """A job handler that remembers what ran, on which thread."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.threads: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, job: Job) -> None:
        with self.lock:
            self.jobs.append(job)
            self.threads.append(threading.get_ident())
