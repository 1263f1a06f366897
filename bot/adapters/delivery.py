"""What the outbound channels share: exponential `Backoff` between retries, and `ClaimOnce`, the claim on an
idempotency key that lets one notification go out once and frees the key again when its send failed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.core.notifications import Claim, InMemoryClaims

Release = Callable[[str], object]  # what it answers is not used


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: `attempts` tries in all, waiting base, 2×base, 4×base… (capped) between."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delays(self) -> Iterator[float]:
        """The waits before the 2nd, 3rd… attempt."""
        for retry in range(max(self.attempts, 1) - 1):
            yield min(self.base_delay * (2**retry), self.max_delay)


@dataclass(frozen=True)
class ClaimOnce:
    claim: Claim
    release: Release | None = None

    @classmethod
    def given(cls, claim: Claim | None, release: Release | None) -> ClaimOnce:
        """The caller's claim and release; without a claim, one process's in-memory claims (both halves, so
        a failed send can be retried)."""
        if claim is None:
            claims = InMemoryClaims()
            return cls(claims.claim, claims.release)
        return cls(claim, release)

    def give_back(self, key: str) -> None:
        """After a failed send: a later redelivery of the same event may try again."""
        if self.release is not None:
            self.release(key)
