"""`GET /healthz`: for load balancers and orchestrators; 503 when a dependency (the store) is down."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

UNAVAILABLE = "a dependency (the store) cannot be reached; see the server log"

# Raises, or returns False, when a dependency cannot be reached.
HealthCheck = Callable[[], bool | None]


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    check: HealthCheck | None = current_app.extensions.get("approvalbot.health")
    if check is not None:
        try:
            healthy = check() is not False
        except Exception:
            # Details go to the log only: an exception's text may hold a connection string.
            log.exception("health check failed")
            healthy = False
        if not healthy:
            return jsonify({"status": "unavailable", "message": UNAVAILABLE}), 503
    return jsonify({"status": "ok"}), 200
