"""`BotWorld`: the GitHub App end to end — the emulator, the real Flask server and a store — for tests.

    world = BotWorld.start(emulator, github_settings, tmp_path)          # or the `world` fixture
    pr = world.open_pr("bob-approver", {PATH: edit}, author="carol-contrib")
    world.drain()                                                        # every webhook job has run
    assert world.check(pr).conclusion == "action_required"
    world.review(pr, "alice-admin", "APPROVE"); world.drain()
    assert world.check(pr).conclusion == "success"

What it builds (one per test; the emulator fixture validates every answer and webhook at teardown):

- the repository `acme/experiments` seeded with the sample config repo (`bot/data/experiments.example`),
  the team `@acme/growth-leads`, and the App (`APP_ID`, `INSTALLATION`) installed on `acme`, registered
  with `permissions` (by default the README's list: its tokens can do exactly that);
- a `Store` on a temporary SQLite file, and `Services` reaching the emulator with `AppAccess` (a real
  RSA key: the emulator verifies the App's JWTs) or `TokenAccess` (`auth="token"`), throttles at 0 and
  small quick retries;
- the Flask app from `create_server_app(settings, services=..., scheduler=False)` with a real webhook
  secret shared with the emulator, which signs every delivery;
- delivery: `transport="client"` (default) posts each signed webhook through Flask's test client (the
  full route: size, signature, dedupe, queue); `transport="http"` serves the app with werkzeug on a
  loopback port and points `emulator.webhooks.url` at it, so deliveries travel over real HTTP.

API (PR numbers are ints; the repository is `world.repo`):

- people: `driver` (the emulator's scenario driver), `open_pr(author, edits, *, branch, draft, title)`,
  `later(seconds)` (GitHub's clock jumps on: the next comment is stamped after the push before it),
  `push(pr, edits, author=..., co_authors=..., pusher=...)`, `review(pr, user, event, body)`,
  `comment_as(pr, user, body)`, `merge(pr, actor)`, `close(pr, actor)`, `set_base(edits, author)` (a
  direct push to the default branch);
- content: `seed(path)` the sample file's text, `edited(path, old, new, ...)` it with replacements;
- the bot: `drain(timeout)` waits until every job (webhooks and the re-evaluations they set off) ran;
  `post(headers, body)` posts raw bytes to `/webhook` and returns the status; `sign(body)`;
- what the PR shows: `pull(pr)` (emulator record), `check(pr)` (latest `approvalbot` check run on its
  head, or None), `checks(pr)`, `labels(pr)`, `comment(pr)` (the one diff comment; asserts there is
  exactly one), `comments(pr)` (all comment bodies), `requested(pr)` (logins asked to review),
  `state(pr)`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bot.adapters.github.writer import CHECK_NAME, DIFF_MARKER
from bot.adapters.store import Store
from bot.core.decision import PENDING_LABEL_PREFIX, STATE_LABELS
from bot.core.model import PendingState
from bot.emulator import GitHubEmulator, sign
from bot.emulator.keys import app_key_pair
from bot.emulator.permissions import Grant
from bot.emulator.scenario import FileEdits, Person
from bot.emulator.state import DEFAULT_APP_PERMISSIONS, CheckRun, Label, PullRequest
from bot.engine.services import AppAccess, Services, TokenAccess
from bot.sandbox import SANDBOX_JOBS, people_of, sample_files
from bot.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "experiments.example"
REPO = "acme/experiments"
ORG = "acme"
APP_ID, INSTALLATION = 4242, 77
BOT_LOGIN = "approvalbot[bot]"
SECRET = "e2e-webhook-secret"
TEAM_MEMBERS = ["team-lead-tina", "team-lead-tom"]  # @acme/growth-leads: approvers of the web account


def _create_labels(emulator: GitHubEmulator) -> None:
    """The repository's labels exist up front, with descriptions, as a maintained repo's do."""
    repo = emulator.world.repo(REPO)
    names = [PENDING_LABEL_PREFIX + p.value for p in PendingState] + list(STATE_LABELS.values())
    with emulator.world.lock:
        for name in names:
            repo.labels[name] = Label(emulator.world.new_id(), name, "ededed", f"approvalbot: {name}")


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class BotWorld:
    emulator: GitHubEmulator
    services: Services
    app: Flask
    store: Store
    repo: str = REPO
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    # --- setup -----------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        emulator: GitHubEmulator,
        github_settings: Any,
        tmp_path: Path,
        *,
        auth: str = "app",
        transport: str = "client",
        files: Mapping[str, bytes | str] | None = None,
        workers: int = 2,
        permissions: Grant = DEFAULT_APP_PERMISSIONS,
    ) -> BotWorld:
        from bot.server import create_server_app  # imports the engine; kept out of collection time

        driver = emulator.driver
        content = dict(files) if files is not None else sample_files()
        driver.create_repo(REPO, content)
        driver.add_team(ORG, "growth-leads", TEAM_MEMBERS)
        # Everyone the rules name is in the organization, so GitHub lets them be asked to review.
        driver.add_members(ORG, *sorted(people_of(content)))
        private, public = app_key_pair()
        driver.install_app(APP_ID, INSTALLATION, ORG, public_key_pem=public, permissions=permissions)
        _create_labels(emulator)
        client = github_settings(emulator.base_url)
        if auth == "app":
            github: AppAccess | TokenAccess = AppAccess(str(APP_ID), private, client)
        elif auth == "token":
            emulator.register_token("e2e-bot-token", BOT_LOGIN, APP_ID, INSTALLATION)
            github = TokenAccess("e2e-bot-token", client)
        else:
            raise ValueError(f"auth must be 'app' or 'token', not {auth!r}")
        database = f"sqlite:///{tmp_path / 'approvalbot.db'}"
        store = Store.from_url(database)
        services = Services(github=github, store=store, app_id=APP_ID, bot_login=BOT_LOGIN)
        settings = Settings(webhook_secret=SECRET, database_url=database, workers=workers, jobs=SANDBOX_JOBS)
        app = create_server_app(settings, services=services, scheduler=False)
        world = cls(emulator, services, app, store)
        emulator.webhooks.secret = SECRET
        if transport == "http":
            world._serve()
        elif transport == "client":
            emulator.webhooks.sink = world.post
        else:
            raise ValueError(f"transport must be 'client' or 'http', not {transport!r}")
        return world

    def _serve(self) -> None:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, name="e2e-bot", daemon=True)
        self._thread.start()
        self.emulator.webhooks.url = f"http://127.0.0.1:{self._server.server_port}/webhook"

    @property
    def webhook_url(self) -> str | None:
        return self.emulator.webhooks.url

    def stop(self) -> None:
        from bot.web import app_state

        app_state(self.app).queue.close(timeout=10)  # type: ignore[attr-defined]
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()

    # --- the bot ---------------------------------------------------------------------------------

    def post(self, headers: Mapping[str, str], body: bytes) -> int:
        """POST raw bytes to the app's `/webhook` (through the test client) and return the status."""
        response = self.app.test_client().post("/webhook", data=body, headers=dict(headers))
        return response.status_code

    @staticmethod
    def sign(body: bytes, secret: str = SECRET) -> str:
        return sign(secret, body)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued job ran, including re-evaluations and webhooks the bot's writes caused."""
        from bot.web import app_state

        assert app_state(self.app).queue.drain(timeout), f"jobs still running after {timeout} s"

    # --- what people do --------------------------------------------------------------------------

    @property
    def driver(self) -> Any:
        return self.emulator.driver

    def seed(self, path: str) -> str:
        return (SAMPLE / path).read_text()

    def edited(self, path: str, *replacements: tuple[str, str]) -> str:
        """The sample file at `path` with each (old, new) replaced once; fails when `old` is absent."""
        text = self.seed(path)
        for old, new in replacements:
            assert old in text, f"{path} has no {old!r}"
            text = text.replace(old, new, 1)
        return text

    def open_pr(
        self,
        author: str,
        edits: FileEdits,
        *,
        branch: str | None = None,
        draft: bool = False,
        title: str = "",
    ) -> int:
        name = branch or f"change-{len(self.emulator.world.repo(REPO).pulls) + 1}"
        return int(
            self.driver.open_pr(REPO, author, name, edits, title=title or f"Change by {author}", draft=draft)
        )

    def push(
        self,
        pr: int,
        edits: FileEdits,
        *,
        author: Person,
        co_authors: tuple[Person, ...] = (),
        pusher: str | None = None,
    ) -> str:
        branch = self.pull(pr).head_ref
        return str(self.driver.push(REPO, branch, edits, author=author, co_authors=co_authors, pusher=pusher))

    def set_base(self, edits: FileEdits, author: str = "alice-admin") -> str:
        """A direct push to the default branch (e.g. to change `.approvalbot.yml` for a test)."""
        repo = self.emulator.world.repo(REPO)
        return str(self.driver.push(REPO, repo.default_branch, edits, author=author))

    def later(self, seconds: int = 1) -> None:
        """Move GitHub's clock on: what happens next is stamped `seconds` later than it would be.

        GitHub stamps comments to the second, so a command made within the second of a push can never
        be shown to follow it (approvalbot refuses it, rightly); tests that mean "afterwards" say so."""
        world = self.emulator.world
        with world.lock:
            before = world.clock
            world.clock = lambda: before() + timedelta(seconds=seconds)

    def review(self, pr: int, user: str, event: str, body: str = "") -> int:
        return int(self.driver.review(REPO, pr, user, event, body))

    def comment_as(self, pr: int, user: str, body: str) -> int:
        return int(self.driver.comment(REPO, pr, user, body))

    def merge(self, pr: int, actor: str = "alice-admin") -> str:
        return str(self.driver.merge(REPO, pr, actor))

    def close(self, pr: int, actor: str) -> None:
        self.driver.close(REPO, pr, actor)

    # --- what the PR shows -----------------------------------------------------------------------

    def pull(self, pr: int) -> PullRequest:
        return self.emulator.world.repo(REPO).pulls[pr]

    def state(self, pr: int) -> str:
        return self.pull(pr).state

    def checks(self, pr: int) -> list[CheckRun]:
        """`approvalbot` check runs on the PR's current head, oldest first."""
        head = self.pull(pr).head_sha
        runs = self.emulator.world.repo(REPO).check_runs.values()
        return sorted((r for r in runs if r.head_sha == head and r.name == CHECK_NAME), key=lambda r: r.id)

    def check(self, pr: int) -> CheckRun | None:
        """The check GitHub shows (and branch protection reads): the newest run of the name on the head."""
        runs = self.checks(pr)
        return runs[-1] if runs else None

    def labels(self, pr: int) -> set[str]:
        return set(self.pull(pr).labels)

    def comments(self, pr: int) -> list[str]:
        repo = self.emulator.world.repo(REPO)
        return [c.body for c in sorted(repo.comments.values(), key=lambda c: c.id) if c.number == pr]

    def bot_comments(self, pr: int) -> list[str]:
        repo = self.emulator.world.repo(REPO)
        found = sorted(repo.comments.values(), key=lambda c: c.id)
        return [c.body for c in found if c.number == pr and c.user == BOT_LOGIN]

    def comment(self, pr: int) -> str:
        """The diff comment; fails unless there is exactly one."""
        found = [body for body in self.comments(pr) if DIFF_MARKER in body]
        assert len(found) == 1, f"expected one approvalbot diff comment on #{pr}, found {len(found)}"
        return found[0]

    def requested(self, pr: int) -> set[str]:
        return set(self.pull(pr).requested_reviewers)

    def refusals(self) -> list[str]:
        """Every call the emulator refused for a permission: REST 403s and GraphQL FORBIDDEN errors."""
        out = []
        for call in self.emulator.calls.calls:
            body = call.body if isinstance(call.body, dict) else {}
            if call.status == 403 and body.get("message") == "Resource not accessible by integration":
                out.append(call.route)
            for error in body.get("errors") or ():
                if isinstance(error, dict) and error.get("type") == "FORBIDDEN":
                    out.append(f"{call.route} {'.'.join(map(str, error.get('path', ())))}")
        return out


def world_fixture(
    emulator: GitHubEmulator, github_settings: Any, tmp_path: Path, **options: Any
) -> Iterator[BotWorld]:
    world = BotWorld.start(emulator, github_settings, tmp_path, **options)
    try:
        yield world
    finally:
        world.stop()
