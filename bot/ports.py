"""Interfaces the application layer depends on; adapters implement them.

Kept to what more than one adapter or caller shares, so that an in-memory default (tests, the demo,
a single process) and a production implementation (SQL store, Redis queue) are interchangeable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class DeliveryLog(Protocol):
    def record_delivery(self, delivery_id: str, event: str) -> bool:
        """Remember a webhook delivery; True the first time an id is seen, False on every replay."""
        ...


@dataclass(frozen=True)
class Job:
    """One unit of webhook work. Plain data (JSON-able) so a Redis queue can carry it between processes."""

    key: str  # ordering key: jobs with one key run one at a time, in order (e.g. "owner/repo#12")
    event: str  # X-GitHub-Event
    delivery_id: str
    payload: Mapping[str, Any] = field(default_factory=dict)


# What a worker runs for each job. Built once per process from the settings.
JobHandler = Callable[[Job], None]


class JobQueue(Protocol):
    def submit(self, job: Job) -> None:
        """Hand `job` to a worker and return at once."""
        ...

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has run; False if the timeout passed first."""
        ...
