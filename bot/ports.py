"""Interfaces the application layer depends on; adapters implement them.

Kept to what more than one adapter or caller shares, so that an in-memory default (tests, the demo,
a single process) and a production implementation (SQL store, Redis queue) are interchangeable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class DeliveryLog(Protocol):
    def record_delivery(self, delivery_id: str, event: str) -> bool:
        """Remember a webhook delivery; True the first time an id is seen, False on every replay."""
        ...


class JobQueue(Protocol):
    def submit(self, key: str, job: Callable[[], None]) -> None:
        """Run `job` off the caller's thread; jobs of one key run one at a time, in submission order."""
        ...

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has run; False if the timeout passed first."""
        ...
