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
from datetime import UTC, datetime, timedelta

from flask import Flask

from bot.engine.outbox import tick
from bot.engine.services import FailedDelivery, Services
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
# The delivery log is read back this far at start (GitHub keeps it for 3 days), then from the last
# pass with an overlap; at most this many redeliveries are asked for in one pass.
REDELIVERY_LOOKBACK = timedelta(hours=6)
REDELIVERY_OVERLAP = timedelta(minutes=5)
MAX_REDELIVERIES = 200


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
    _looked_until: datetime | None = None  # the delivery log is read from here on (with an overlap)

    def tick(self) -> int:
        """One scheduler pass (bot.engine.outbox.tick); returns the number of transitions applied."""
        services = self.services
        try:
            return len(tick(services.store, services.targets, services.clock()).transitions)
        except Exception:  # the loop must outlive a database hiccup; the next tick retries
            log.exception("scheduler tick failed")
            return 0

    def heal(self) -> int:
        """Ask GitHub to redeliver the events it could not deliver, then queue a reconcile of every
        repository; returns how many repositories (0 when GitHub cannot say)."""
        if self.queue is None:
            return 0
        since = self._looked_until - REDELIVERY_OVERLAP if self._looked_until else None
        started = datetime.now(UTC)  # GitHub stamps its delivery log with its own (real) clock
        try:
            redeliver_failed(self.services, since or started - REDELIVERY_LOOKBACK)
            self._looked_until = started
        except Exception as error:  # GitHub unreachable: the next pass looks back further
            log.warning("cannot read the App's webhook delivery log to redeliver what failed: %s", error)
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


def redeliver_failed(services: Services, since: datetime) -> int:
    """Have GitHub redeliver every event since `since` that its delivery log shows as failed (the
    server was down, answered 5xx, or the connection broke) and that the store never received. The
    events come back as they were (same delivery id and body), so a pusher or a review that only a
    webhook tells is not lost with it. Returns how many were asked for; none with a token."""
    failed_deliveries: Callable[[datetime], list[FailedDelivery]] | None = getattr(
        services.github, "failed_deliveries", None
    )
    if failed_deliveries is None:
        return 0
    missing = [d for d in failed_deliveries(since) if services.store.delivery_received_at(d.guid) is None]
    for delivery in missing[:MAX_REDELIVERIES]:
        services.github.redeliver(delivery)  # type: ignore[attr-defined]  # AppAccess has it with the log
    if missing:
        log.info(
            "asked GitHub to redeliver %d failed webhook deliveries", min(len(missing), MAX_REDELIVERIES)
        )
    return min(len(missing), MAX_REDELIVERIES)


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
