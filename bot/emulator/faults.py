"""Call accounting and fault injection for the emulator's HTTP API.

Routes are named by method and OpenAPI path template, e.g. `GET /repos/{owner}/{repo}/pulls/{pull_number}`;
GraphQL is `POST /graphql` (a read, or a write when the document is a mutation). Faults are armed for the
next N calls of one route and consumed as calls arrive.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
GRAPHQL = "POST /graphql"


@dataclass(frozen=True)
class Call:
    route: str  # "METHOD /template"
    write: bool
    status: int
    body: Any  # the JSON body sent back (None for an empty body)
    path: str  # the concrete path asked for, with its query string


@dataclass
class _Armed:
    remaining: int
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Faults:
    """What to break next. Thread-safe: the server thread consumes, the test thread arms."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _errors: dict[str, list[_Armed]] = field(default_factory=dict)
    _truncations: dict[str, list[int]] = field(default_factory=dict)
    _merging: int = 0

    def fail(self, route: str, times: int = 1, status: int = 500, message: str = "Server Error") -> None:
        """Answer the next `times` calls of `route` with `status`."""
        self._arm(route, _Armed(times, status, {}, {"message": message}))

    def rate_limit(
        self,
        route: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
        reset_at: int | None = None,
        status: int = 403,
    ) -> None:
        """Rate limiting: secondary (with Retry-After) or primary (remaining 0, X-RateLimit-Reset).

        GitHub answers either 403 or 429 for both ("you will receive a 403 or 429 response", the page
        "Rate limits for the REST API",
        docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api); pass `status=429`."""
        if status not in (403, 429):
            raise ValueError(f"GitHub rate limits with 403 or 429, not {status}")
        headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Resource": "core"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            )
        else:
            message = "API rate limit exceeded for installation."
        if reset_at is not None:
            headers["X-RateLimit-Reset"] = str(reset_at)
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Used"] = "5000"
        body = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        }
        self._arm(route, _Armed(times, status, headers, body))

    def truncate(self, key: str, keep: int, times: int = 1) -> None:
        """Cut the next `times` lists for `key` to `keep` items: a REST route (trees set `truncated`)
        or a GraphQL connection as `graphql NAME` (`graphql reviews`, `graphql commits`,
        `graphql comments`, `graphql members`)."""
        with self._lock:
            self._truncations.setdefault(key, []).extend([keep] * times)

    def still_merging(self, times: int = 1) -> None:
        """The next `times` reads of one pull request answer as GitHub does while it computes the test
        merge: `mergeable` null, `mergeable_state` "unknown", no `merge_commit_sha`."""
        with self._lock:
            self._merging += times

    def take_still_merging(self) -> bool:
        with self._lock:
            if self._merging <= 0:
                return False
            self._merging -= 1
            return True

    def _arm(self, route: str, armed: _Armed) -> None:
        with self._lock:
            self._errors.setdefault(route, []).append(armed)

    def take_error(self, route: str) -> _Armed | None:
        with self._lock:
            queue = self._errors.get(route)
            if not queue:
                return None
            armed = queue[0]
            armed.remaining -= 1
            if armed.remaining <= 0:
                queue.pop(0)
            return armed

    def take_truncation(self, key: str) -> int | None:
        with self._lock:
            queue = self._truncations.get(key)
            return queue.pop(0) if queue else None

    def clear(self) -> None:
        with self._lock:
            self._errors.clear()
            self._truncations.clear()
            self._merging = 0


@dataclass
class CallLog:
    """Every API call the emulator answered, in order."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(c.route for c in self.calls)

    @property
    def reads(self) -> int:
        with self._lock:
            return sum(1 for c in self.calls if not c.write)

    @property
    def writes(self) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.write)

    def of(self, route: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.route == route]
