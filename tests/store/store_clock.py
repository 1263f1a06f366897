"""The store tests' clock, importable by any test (never import from a conftest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """An injectable clock: starts at a fixed instant, moves only when told."""

    def __init__(self, start: datetime = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
