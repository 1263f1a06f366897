"""What the clock alone does to an experiment: one rule for the planner, the live store and the API.

A `scheduled` experiment runs once its `start_at` has passed, and a running one finishes at its
`end_at`. Paused experiments are left alone: a person paused them and a person decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.core.model import Kind, Status


@dataclass(frozen=True)
class ClockStep:
    from_status: Status
    to_status: Status
    at: datetime  # the schedule time that made it due


def parse_time(value: Any) -> datetime | None:
    """A time as a document holds it (RFC 3339 text, or a datetime YAML already made); naive means UTC.

    Lenient on purpose: a malformed time is the schema's to report; here it simply schedules nothing.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def clock_steps(kind: Kind, status: Status, document: Mapping[str, Any], now: datetime) -> list[ClockStep]:
    """The transitions the clock has made due by `now`, in order (started, then finished)."""
    schedule = document.get("schedule")
    if kind is not Kind.EXPERIMENT or not isinstance(schedule, Mapping):
        return []
    start_at = parse_time(schedule.get("start_at"))
    end_at = parse_time(schedule.get("end_at"))
    steps: list[ClockStep] = []
    if status is Status.SCHEDULED and start_at is not None and start_at <= now:
        steps.append(ClockStep(status, Status.RUNNING, start_at))
        status = Status.RUNNING
    if status is Status.RUNNING and end_at is not None and end_at <= now:
        steps.append(ClockStep(status, Status.FINISHED, end_at))
    return steps


def effective_status(kind: Kind, status: Status, document: Mapping[str, Any], now: datetime) -> Status:
    steps = clock_steps(kind, status, document, now)
    return steps[-1].to_status if steps else status
