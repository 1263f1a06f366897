"""The Flask app factory: the webhook and health blueprints over a job queue and a delivery log.

`create_app()` with no arguments reads the settings from the environment (gunicorn:
`gunicorn 'bot.web:create_app(...)'` is wired by the CLI, which supplies the job handler).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Blueprint, Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from bot.ports import DeliveryLog, JobHandler, JobQueue
from bot.queue import make_queue
from bot.settings import Settings
from bot.web import health, webhook
from bot.web.health import HealthCheck
from bot.web.webhook import MAX_BODY_BYTES, InMemoryDeliveryLog, WebhookState

log = logging.getLogger(__name__)

NO_WORK = "create_app needs a job handler (the engine) or a ready job queue to hand webhook work to"


def create_app(
    settings: Settings | None = None,
    *,
    queue: JobQueue | None = None,
    deliveries: DeliveryLog | None = None,
    handler: JobHandler | None = None,
    health_check: HealthCheck | None = None,
    blueprints: Sequence[Blueprint] = (),
) -> Flask:
    """The webhook server. `blueprints` adds surfaces built elsewhere (the read API over the store)."""
    settings = settings or Settings.from_env()
    secret = settings.require_webhook_secret()  # refuse to start unsigned
    if queue is None:
        if handler is None:
            raise ValueError(NO_WORK)
        queue = make_queue(settings, handler)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["approvalbot"] = WebhookState(
        secret=secret, queue=queue, deliveries=deliveries if deliveries is not None else InMemoryDeliveryLog()
    )
    if health_check is not None:
        app.extensions["approvalbot.health"] = health_check
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    message = webhook.TOO_LARGE if status == 413 else (error.description or error.name)
    return jsonify({"message": message}), status


def _unexpected_error(error: Exception) -> tuple[Response, int]:
    # The traceback goes to the log, never to the client.
    log.exception("unexpected error while serving a request", exc_info=error)
    return jsonify({"message": "internal error; the details are in the server log"}), 500


def app_state(app: Flask) -> WebhookState:
    """The queue and delivery log the app was built with (for `serve` to close the queue on exit)."""
    state: WebhookState = app.extensions["approvalbot"]
    return state
