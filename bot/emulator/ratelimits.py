"""GraphQL's primary rate limit: each query's point cost, computed as GitHub computes it, charged to a
budget per token holder; a query the budget cannot pay is refused as GitHub refuses it.

Source: docs.github.com, "Rate limits and query limits for the GraphQL API" (github/docs,
content/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api.md):
- "Add up the number of requests needed to fulfill each unique connection in the call. Assume every
  request will reach the `first` or `last` argument limits." A connection nested in others needs one
  request per node its parents can hold (the product of their `first`/`last`); a top-level one needs 1.
- "Divide the number by 100 and round the result to the nearest whole number"; "The minimum point value
  of a call to the GraphQL API is 1."
- "Individual calls cannot request more than 500,000 total nodes" (the node limit: the product of the
  `first`/`last` down to each connection, summed).
- 5,000 points per hour per installation (per user for user tokens), headers `x-ratelimit-limit`,
  `-remaining`, `-used`, `-reset` and `x-ratelimit-resource: graphql`.
- "If you exceed your primary rate limit, the response status will still be `200`, but you will receive
  an error message, and the value of the `x-ratelimit-remaining` header will be `0`. You should not retry
  your request until after the time specified by the `x-ratelimit-reset` header." The error's `type` is
  `RATE_LIMITED` (octokit/plugin-throttling.js matches it; githubkit issue #271 reports that newer
  answers may say `RATE_LIMIT` with `code: graphql_rate_limit`, which the bot also accepts).

The reset is real epoch time, not the world's clock: clients compare it with their own clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.emulator.graphql import Fragment, Selection

HOURLY_POINTS = 5000
WINDOW_SECONDS = 3600.0
NODE_LIMIT = 500_000


@dataclass(frozen=True)
class Cost:
    requests: int  # connection requests GitHub assumes the call needs
    nodes: int  # nodes the call may return at most

    @property
    def points(self) -> int:
        # "round to the nearest whole number": halves round up, as people round (not Python's round).
        return max(1, math.floor(self.requests / 100 + 0.5))


def cost(selections: Sequence[Selection | Fragment], variables: Mapping[str, Any]) -> Cost:
    """The cost of one operation's selections, before it runs (its arguments with variables put in)."""
    requests, nodes = _walk(selections, variables, 1)
    return Cost(requests, nodes)


def _walk(
    selections: Sequence[Selection | Fragment], variables: Mapping[str, Any], parents: int
) -> tuple[int, int]:
    from bot.emulator.graphql import Fragment, Variable

    requests = nodes = 0
    for selection in selections:
        if isinstance(selection, Fragment):
            more = _walk(selection.children, variables, parents)
        else:
            size = None
            for name in ("first", "last"):
                value = selection.arguments.get(name)
                value = variables.get(value.name) if isinstance(value, Variable) else value
                if isinstance(value, int):
                    size = value
            if size is None:
                more = _walk(selection.children, variables, parents)
            else:
                inner = _walk(selection.children, variables, parents * size)
                more = (parents + inner[0], parents * size + inner[1])
        requests, nodes = requests + more[0], nodes + more[1]
    return requests, nodes


@dataclass
class _Window:
    limit: int
    used: int
    reset_at: float


@dataclass
class GraphQLBudget:
    """Points per token holder (an installation, or a user for user tokens), in hourly windows."""

    limit: int = HOURLY_POINTS
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.time
    charged: list[tuple[str, int]] = field(default_factory=list)  # (holder, points) of each call paid
    _windows: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_limit(self, limit: int, *, reset_in: float | None = None) -> None:
        """Give every holder `limit` points from now (a test's small budget), resetting in `reset_in`."""
        with self._lock:
            self.limit = limit
            if reset_in is not None:
                self.window = reset_in
            self._windows.clear()

    def charge(self, holder: str, points: int) -> tuple[bool, dict[str, str]]:
        """Pay `points` for `holder`'s call: (paid, the rate-limit headers of the answer)."""
        with self._lock:
            now = self.clock()
            found = self._windows.get(holder)
            if found is None or found.reset_at <= now:
                found = self._windows[holder] = _Window(self.limit, 0, now + self.window)
            paid = found.used + points <= found.limit
            if paid:
                found.used += points
                self.charged.append((holder, points))
            remaining = found.limit - found.used if paid else 0
            return paid, {
                "X-RateLimit-Limit": str(found.limit),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Used": str(found.used),
                "X-RateLimit-Reset": str(math.ceil(found.reset_at)),
                "X-RateLimit-Resource": "graphql",
            }

    def status(self, holder: str) -> _Window:
        with self._lock:
            found = self._windows.get(holder)
            return found or _Window(self.limit, 0, self.clock() + self.window)

    def points(self, holder: str | None = None) -> int:
        """Points charged so far (to `holder`, or to anyone)."""
        with self._lock:
            return sum(p for h, p in self.charged if holder is None or h == holder)

    def reset_log(self) -> None:
        with self._lock:
            self.charged.clear()


def rate_limited(holder: str) -> dict[str, Any]:
    """GitHub's answer to a call the budget cannot pay (HTTP 200, no data)."""
    return {
        "errors": [
            {
                "type": "RATE_LIMITED",
                "code": "graphql_rate_limit",
                "message": f"API rate limit exceeded for {holder}.",
            }
        ]
    }
