"""The GitHub App server as one process runs it: webhook route, read API, job queue, scheduler.

`approvalbot serve` and gunicorn (`bot.server:create_server_app()`) both build it here, so the Docker
image runs exactly what the tests start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from bot.engine.outbox import tick
from bot.engine.services import Services
from bot.engine.wiring import build_services
from bot.handlers import handle, reconcile_job, reevaluation_job, toggles_job
from bot.ports import Job, JobQueue
from bot.queue import make_queue
from bot.settings import Settings
from bot.web import create_app
from bot.web.api import make_api_blueprint

log = logging.getLogger("approvalbot.server")

TICK_SECONDS = 30.0
HEAL_SECONDS = 300.0


@dataclass
class Scheduler:
    """Every `interval` seconds: scheduled experiments start and end on time, and owed target POSTs
    are retried (see bot.engine.outbox). At start and every `heal_interval` seconds, when it has a queue:
    a reconcile job for every repository the App is installed on (self-healing, SPEC §6)."""

    services: Services
    interval: float = TICK_SECONDS
    queue: JobQueue | None = None
    heal_interval: float = HEAL_SECONDS
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def tick(self) -> int:
        """One scheduler pass (bot.engine.outbox.tick); returns the number of transitions applied."""
        services = self.services
        try:
            return len(tick(services.store, services.targets, services.clock()).transitions)
        except Exception:  # the loop must outlive a database hiccup; the next tick retries
            log.exception("scheduler tick failed")
            return 0

    def heal(self) -> int:
        """Queue a reconcile of every repository; returns how many (0 when GitHub cannot say)."""
        if self.queue is None:
            return 0
        try:
            return heal(self.services, self.queue)
        except Exception as error:  # GitHub unreachable: the next pass tries again
            log.warning("cannot list the App's repositories to reconcile them: %s", error)
            return 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="approvalbot-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        healed = time.monotonic()
        self.heal()
        while not self._stop.wait(self.interval):
            self.tick()
            if time.monotonic() - healed >= self.heal_interval:
                healed = time.monotonic()
                self.heal()


def heal(services: Services, queue: JobQueue) -> int:
    """A reconcile job for every repository the App is installed on: merges whose every event was
    lost are applied, locks of closed PRs released, unfinished toggles finished. Replicas sharing a
    store each queue them; a reconcile that waits covers the next (StoreQueue.submit), and the job runs
    in its repository's lane, never beside one of its applies."""
    listing: Callable[[], list[tuple[str, int | None]]] = getattr(services.github, "repositories", list)
    repositories = listing()
    for repo, installation in repositories:
        queue.submit(reconcile_job(repo, installation))
    return len(repositories)


def wire_queue(services: Services, settings: Settings) -> JobQueue:
    """The durable job queue running the handlers (in this process, or with `REDIS_URL` in `approvalbot
    worker` processes); re-evaluations and toggle follow-ups the engine asks for go through it too."""

    def run(job: Job) -> None:
        handle(services, job)

    queue = make_queue(settings, run, services.store)
    services.requeue = lambda ref: queue.submit(reevaluation_job(ref))
    services.follow_up = lambda repo, installation: queue.submit(toggles_job(repo, installation))
    return queue


def create_server_app(
    settings: Settings | None = None, *, services: Services | None = None, scheduler: bool = True
) -> Flask:
    settings = settings or Settings.from_env()
    settings.require_webhook_secret()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    services = services or build_services(settings)
    queue = wire_queue(services, settings)
    store = services.store
    api = make_api_blueprint(lambda: store, settings.api_tokens, services.clock)
    app = create_app(settings, queue=queue, deliveries=store, health_check=store.ping, blueprints=[api])
    app.extensions["approvalbot.services"] = services
    if scheduler:
        loop = Scheduler(services, queue=queue)
        loop.start()
        app.extensions["approvalbot.scheduler"] = loop
    return app
