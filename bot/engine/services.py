"""What the use cases need from the outside world, gathered in one object built once per process.

The engine reads and writes GitHub through `GitHubAccess` (App auth per installation for the server,
one token for the Action), keeps state in the SQL store and tells people through a notifier. Tests and
the demo build the same `Services` against the emulator, a temporary store and a loopback SMTP server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from github import Auth, Github, GithubException, GithubIntegration

from bot.adapters.github.client import (
    DEFAULT_BASE_URL,
    ClientSettings,
    app_client,
    read_private_key,
    token_client,
)
from bot.adapters.github.source import PullRequestSource
from bot.adapters.github.writer import PullRequestWriter
from bot.adapters.store import Store
from bot.adapters.targets import TargetPublisher
from bot.core.notifications import Notifier

log = logging.getLogger("approvalbot.engine")

ACTIONS_LOGIN = "github-actions[bot]"  # who a workflow's GITHUB_TOKEN acts as


@dataclass(frozen=True)
class PullRef:
    """Which pull request, of which repository, through which App installation (None: token auth)."""

    repo: str  # "owner/name"
    number: int
    installation: int | None = None

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True)
class FailedDelivery:
    """An event GitHub's delivery log shows as never delivered (no attempt answered 2xx)."""

    attempt: int  # the newest failed attempt's id, which "Redeliver" takes
    guid: str  # the event's X-GitHub-Delivery
    event: str
    at: datetime


def _next_link(headers: Mapping[str, Any]) -> str | None:
    """The rel="next" URL of a Link header (GitHub pages the delivery log by cursor)."""
    for part in str(headers.get("link") or headers.get("Link") or "").split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return url.strip().strip("<>")
    return None


class GitHubAccess(Protocol):
    def client(self, installation: int | None) -> Github: ...


class TokenAccess:
    """One token for everything: the Action's GITHUB_TOKEN, or a personal token."""

    def __init__(self, token: str, settings: ClientSettings | None = None) -> None:
        self._gh = token_client(token, settings)
        self.settings = settings or ClientSettings()
        self.base_url = self.settings.base_url

    def client(self, installation: int | None) -> Github:
        return self._gh

    def repositories(self) -> list[tuple[str, int | None]]:
        """The repositories to heal on their own: none for a token (run `approvalbot reconcile` from cron
        or in the Action, which knows its repository)."""
        return []

    def login(self, installation: int | None = None) -> str:
        """Who the token acts as: a person's token says (`GET /user`); a workflow's GITHUB_TOKEN may not
        ask (GitHub refuses `GET /user` to integrations: 403), and it always acts as
        `github-actions[bot]` ("Automatic token authentication")."""
        try:
            _, data = self._gh.requester.requestJsonAndCheck("GET", "/user")
        except GithubException as error:
            if error.status in (401, 403):
                return ACTIONS_LOGIN
            raise
        return str(data["login"])


class AppAccess:
    """GitHub App auth: one client per installation, each renewing its installation token itself."""

    def __init__(self, app_id: str, private_key: str, settings: ClientSettings | None = None) -> None:
        self.app_id = app_id
        self._key = private_key
        self._settings = settings
        self.settings = settings or ClientSettings()
        self.base_url = self.settings.base_url
        self._clients: dict[int, Github] = {}
        self._lock = threading.Lock()

    def repositories(self) -> list[tuple[str, int | None]]:
        """Every repository of every installation of the App ("List installations for the authenticated
        app" with its JWT, then "List repositories accessible to the app installation" with each token)."""
        integration = self._integration()
        found: list[tuple[str, int | None]] = []
        for installation in integration.get_installations():
            requester = self.client(installation.id).requester
            page, names = 1, []
            while True:
                _, data = requester.requestJsonAndCheck(
                    "GET", "/installation/repositories", parameters={"per_page": 100, "page": page}
                )
                names += [str(repo["full_name"]) for repo in data["repositories"]]
                if not data["repositories"] or len(names) >= int(data["total_count"]):
                    break
                page += 1
            found += [(name, int(installation.id)) for name in names]
        return found

    def failed_deliveries(self, since: datetime) -> list[FailedDelivery]:
        """Events GitHub could not deliver to the App since `since`: in its delivery log ("List
        deliveries for an app webhook", JWT auth, newest first, paged by cursor) with no attempt whose
        status is "OK". GitHub does not redeliver them by itself ("Handling failed webhook deliveries",
        docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries)."""
        requester = self._as_app().requester
        delivered: set[str] = set()
        failed: dict[str, FailedDelivery] = {}
        url: str | None = "/app/hook/deliveries"
        parameters: dict[str, Any] | None = {"per_page": 100}
        while url is not None:
            headers, page = requester.requestJsonAndCheck("GET", url, parameters=parameters)
            for item in page:
                at = datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00"))
                if at < since:
                    url = None
                    break
                guid = str(item["guid"])
                if item["status"] == "OK":
                    delivered.add(guid)
                else:
                    failed.setdefault(guid, FailedDelivery(int(item["id"]), guid, str(item["event"]), at))
            else:
                url, parameters = _next_link(headers), None
        return sorted((d for g, d in failed.items() if g not in delivered), key=lambda d: d.attempt)

    def redeliver(self, delivery: FailedDelivery) -> None:
        """ "Redeliver a delivery for an app webhook": GitHub sends the event again, same guid and body."""
        self._as_app().requester.requestJsonAndCheck(
            "POST", f"/app/hook/deliveries/{delivery.attempt}/attempts"
        )

    def _as_app(self) -> Github:
        """A client that authenticates as the App itself (its JWT), for the App's own endpoints."""
        return Github(
            auth=Auth.AppAuth(self.app_id, read_private_key(self._key)),
            base_url=self.base_url,
            retry=(self._settings or ClientSettings()).retry.build(),
        )

    def _integration(self) -> GithubIntegration:
        return GithubIntegration(
            auth=Auth.AppAuth(self.app_id, read_private_key(self._key)),
            base_url=self.base_url,
            retry=(self._settings or ClientSettings()).retry.build(),
        )

    def login(self, installation: int | None = None) -> str:
        """The App's bot login, `<slug>[bot]`, from "Get the authenticated app" (`GET /app`, JWT)."""
        return f"{self._integration().get_app().slug}[bot]"

    def client(self, installation: int | None) -> Github:
        if installation is None:
            raise ValueError("this event names no App installation; approvalbot cannot act on it")
        with self._lock:
            if installation not in self._clients:
                self._clients[installation] = app_client(self.app_id, self._key, installation, self._settings)
            return self._clients[installation]


def utcnow() -> datetime:
    return datetime.now(UTC)


def web_url(api_url: str) -> str:
    """The web address of the GitHub an API base URL belongs to, for links people open.

    api.github.com → https://github.com; GitHub Enterprise's https://HOST/api/v3 → https://HOST;
    anything else (the emulator, a proxy serving both) is taken as its own web address.
    """
    base = api_url.rstrip("/")
    scheme, sep, rest = base.partition("://")
    host, _, path = rest.partition("/")
    if sep and host.lower() == "api.github.com" and not path:
        return f"{scheme}://github.com"
    if sep and path.lower() == "api/v3":
        return f"{scheme}://{host}"
    return base


@dataclass
class Services:
    github: GitHubAccess
    store: Store
    clock: Callable[[], datetime] = utcnow
    notifier: Notifier | None = None
    targets: TargetPublisher | None = None
    app_id: int | None = None  # only this app's check runs are trusted (None: token mode)
    bot_login: str | None = None  # our own login, e.g. "approvalbot[bot]"
    # Schedules a re-evaluation of another PR (through the job queue, keeping per-PR order).
    requeue: Callable[[PullRef], None] | None = None
    # Schedules the follow-up of the toggles a repository has pending (bot.engine.toggle), as one job in
    # the repository's lane: the `closed` and `push` jobs of one merge both ask for it, and it must run
    # once, not twice at the same time. None: run inline (the Action, tests without a queue).
    follow_up: Callable[[str, int | None], None] | None = None
    # Told of each merge approvalbot makes (merge_on_approval), with the merge's commit sha. The Action sets
    # it: a merge made with a workflow's GITHUB_TOKEN starts no workflow run (GitHub's "Triggering a
    # workflow from a workflow"), so no push run would ever apply it; the Action applies it in the same run.
    merged: Callable[[PullRef, str], None] | None = None
    teams_cache: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Where people open GitHub (links in emails and comments); derived from the API base URL when None.
    web_url: str | None = None

    def __post_init__(self) -> None:
        if self.web_url is None:
            # Accesses built here know their API base URL; a test double that does not is github.com.
            self.web_url = web_url(str(getattr(self.github, "base_url", DEFAULT_BASE_URL)))

    def pr_url(self, repo: str, number: int) -> str:
        """The web page of pull request `number` of `repo`."""
        return f"{self.web_url}/{repo}/pull/{number}"

    def source(self, ref: PullRef | str, installation: int | None = None) -> PullRequestSource:
        repo, inst = (ref.repo, ref.installation) if isinstance(ref, PullRef) else (ref, installation)
        settings: ClientSettings = getattr(self.github, "settings", ClientSettings())
        return PullRequestSource(
            self.github.client(inst),
            repo,
            max_rate_limit_wait=settings.retry.max_rate_limit_wait or float("inf"),
            mergeable_waits=settings.mergeable_waits,
        )

    def writer(self, ref: PullRef | str, installation: int | None = None) -> PullRequestWriter:
        repo, inst = (ref.repo, ref.installation) if isinstance(ref, PullRef) else (ref, installation)
        client = self.github.client(inst)
        if self.app_id is not None:
            return PullRequestWriter(client, repo, app_id=self.app_id, login=self.own_login(inst))

        # Token mode: every workflow job's token is the same app, so our check runs are those we recorded.
        def key(run_id: int) -> str:
            return f"check-run:{repo}:{run_id}"

        return PullRequestWriter(
            client,
            repo,
            login=self.own_login(inst),
            owns=lambda run_id: self.store.claimed(key(run_id)),
            remember=lambda run_id: bool(self.store.claim_notification(key(run_id))),
        )

    def own_login(self, installation: int | None = None) -> str | None:
        """Our login on GitHub (only our own comments are edited), learnt once from the access (App:
        `GET /app` → `<slug>[bot]`; token: the token's user, or `github-actions[bot]`) unless set."""
        if self.bot_login is None:
            learn = getattr(self.github, "login", None)
            self.bot_login = learn(installation) if callable(learn) else None
        return self.bot_login

    def reevaluate(self, ref: PullRef) -> None:
        if self.requeue is not None:
            self.requeue(ref)
