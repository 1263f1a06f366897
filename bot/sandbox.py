"""A whole approvalbot installation on one machine, with no GitHub: for the demo and end-to-end tests.

It starts the GitHub emulator with a config repository, the real webhook server (the same
`create_server_app` the Docker image runs) on loopback, a store, and registers the emulator's
signed webhooks to the server. Scenario steps go through `sandbox.driver` (the emulator's driver);
`drain()` waits until the bot has handled everything those steps set off.

    with Sandbox(files) as box:
        number = box.driver.open_pr(box.repo, "carol", "pause", {path: text})
        box.drain()
        box.check(number).conclusion  # "action_required"
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bot.adapters.github.client import ClientSettings, RetryPolicy
from bot.adapters.store import Store
from bot.core.live import LiveRecord
from bot.core.model import ResourceKey
from bot.core.notifications import Notifier
from bot.core.repo_config import CONFIG_PATH, parse_repo_config
from bot.emulator import GitHubEmulator
from bot.emulator.state import CheckRun, IssueComment, PullRequest, Repo
from bot.engine.reconcile import reconcile
from bot.engine.services import Services, TokenAccess, utcnow
from bot.server import create_server_app
from bot.settings import JobSettings, Settings
from bot.web import app_state

BOT_LOGIN = "approvalbot[bot]"
APP_ID = 1
INSTALLATION = 1
WEBHOOK_SECRET = "sandbox-webhook-secret"  # the emulator and the server share it, as GitHub and an App do

# The sandbox is one process on loopback: its queue polls and retries at once and gives up soon, so a
# failing job shows in seconds, not after the production backoff of minutes.
SANDBOX_JOBS = JobSettings(lease=5.0, poll=0.05, retry_base=0.05, attempts=3)


def people_of(files: Mapping[str, bytes | str]) -> frozenset[str]:
    """The logins a config repository's `.approvalbot.yml` names (empty when it has none or is broken)."""
    raw = files.get(CONFIG_PATH)
    config, _ = parse_repo_config(raw.encode() if isinstance(raw, str) else raw)
    return config.people if config else frozenset()


def sample_files(root: Path | None = None) -> dict[str, bytes]:
    """The sample config repository shipped in the package (experiments.example/)."""
    base = root or Path(__file__).parent / "data" / "experiments.example"
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: the sample repository is missing from this installation")
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Sandbox:
    def __init__(
        self,
        files: Mapping[str, bytes | str] | None = None,
        *,
        repo: str = "acme/config",
        teams: Mapping[str, list[str]] | None = None,
        database_url: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        notifier: Notifier | None = None,
        workers: int = 4,
        log_level: str = "WARNING",
    ) -> None:
        self.repo = repo
        self._files = dict(files) if files is not None else sample_files()
        self._teams = dict(teams) if teams is not None else {"acme/growth-leads": ["lena-growth"]}
        self._tmp = tempfile.TemporaryDirectory(prefix="approvalbot-sandbox-")
        self._database_url = database_url or f"sqlite:///{self._tmp.name}/approvalbot.db"
        self._clock = clock
        self._notifier = notifier
        self._workers = workers
        self._log_level = log_level
        self.emulator = GitHubEmulator(webhook_secret=WEBHOOK_SECRET)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.emulator.start()
        owner = self.repo.split("/")[0]
        for slug, members in self._teams.items():
            org, name = slug.split("/")
            self.driver.add_team(org, name, members)
        self.driver.create_repo(self.repo, self._files)
        # The people the rules name belong to the organization (GitHub only asks readers to review).
        self.driver.add_members(owner, *sorted(people_of(self._files)))
        self.driver.install_app(APP_ID, INSTALLATION, owner)
        self.emulator.register_token("sandbox-token", BOT_LOGIN, APP_ID, INSTALLATION)
        self.store = Store.from_url(self._database_url)
        client = ClientSettings(
            base_url=self.emulator.base_url,
            retry=RetryPolicy(total=3, backoff_factor=0.01, secondary_rate_wait=0.1, max_rate_limit_wait=5),
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        self.services = Services(
            github=TokenAccess("sandbox-token", client),
            store=self.store,
            clock=self._clock,
            notifier=self._notifier,
            app_id=APP_ID,
            bot_login=BOT_LOGIN,
        )
        settings = Settings(
            webhook_secret=WEBHOOK_SECRET,
            database_url=self._database_url,
            workers=self._workers,
            jobs=SANDBOX_JOBS,
            log_level=self._log_level,  # the server's INFO lines would run through a printed story
        )
        self.app = create_server_app(settings, services=self.services, scheduler=False)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Quiet)
        # A short poll interval: shutting down waits for the next poll, and tests start many sandboxes.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-bot", daemon=True
        )
        self._thread.start()
        self.webhook_url = f"http://127.0.0.1:{self._server.server_port}/webhook"
        self.emulator.webhooks.url = self.webhook_url
        # The live state starts as the default branch is: nothing before the bot was approved through it.
        reconcile(self.services, self.repo)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            self.drain(10)
            self._server.shutdown()
            self._server = None
        queue = app_state(self.app).queue if hasattr(self, "app") else None
        close = getattr(queue, "close", None)
        if close is not None:
            close(5)
        self.emulator.stop()
        if hasattr(self, "store"):
            self.store.close()
        self._tmp.cleanup()

    # --- driving and looking ------------------------------------------------------------------------

    @property
    def driver(self) -> Any:
        return self.emulator.driver

    def drain(self, timeout: float = 30) -> None:
        """Wait until the bot has handled every webhook sent so far (and what those set off)."""
        if not app_state(self.app).queue.drain(timeout):
            raise TimeoutError(f"the bot did not finish its work within {timeout} s")

    @property
    def github(self) -> Repo:
        return self.emulator.world.repos[self.repo]

    def pull(self, number: int) -> PullRequest:
        return self.github.pulls[number]

    def check(self, number_or_sha: int | str) -> CheckRun | None:
        """The newest `approvalbot` check run on the PR's head (or on a commit sha)."""
        sha = self.pull(number_or_sha).head_sha if isinstance(number_or_sha, int) else number_or_sha
        runs = [r for r in self.github.check_runs.values() if r.head_sha == sha and r.name == "approvalbot"]
        return max(runs, key=lambda r: r.id) if runs else None

    def comments(self, number: int) -> list[IssueComment]:
        return sorted((c for c in self.github.comments.values() if c.number == number), key=lambda c: c.id)

    def live(self, key: ResourceKey) -> LiveRecord | None:
        return self.store.get_live(key)

    def path_of(self, key: ResourceKey) -> str:
        folder = "experiments" if key.kind.value == "experiment" else "remote_config"
        return f"{key.account}/{folder}/{key.id}.yaml"

    def file(self, path: str, ref: str | None = None) -> str:
        """A file's text on a branch (default branch by default)."""
        repo = self.github
        sha = repo.branches[ref or repo.default_branch]
        commit = repo.commits[sha]
        return self.emulator.world.blobs[commit.files[path]].decode()
