"""The read API under `/api/v1/`: live and pending state, the compiled remote config, the audit log, drift.

Every route needs `Authorization: Bearer <token>`; each token reads one account, or every account when
it maps to "*" (`APPROVALBOT_API_TOKENS`). Tokens are compared in constant time, over their sha256 so not
even the length leaks. Answers and errors are JSON; times are RFC 3339 in UTC.

Registration (in create_app):
    app.register_blueprint(make_api_blueprint(lambda: store, settings.api_tokens, clock))
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from bot.adapters.store import StoreError
from bot.core.compile import compile_remote_config, etag
from bot.core.live import AuditEntry, DriftRecord, LiveRecord, Lock
from bot.core.model import Kind, ResourceKey
from bot.settings import ALL_ACCOUNTS
from bot.status import ResourceView, StoreReader, drift_for, resource_view, resource_views, rfc3339

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_ID = 2**63 - 1  # audit ids are 64-bit; a larger cursor is a client bug, not a database error
REALM = 'Bearer realm="approvalbot"'

NO_TOKEN = (
    "missing bearer token: send 'Authorization: Bearer <token>' with a token from APPROVALBOT_API_TOKENS"
)
BAD_TOKEN = "unknown API token: use a token listed in the server's APPROVALBOT_API_TOKENS"
STORE_DOWN = "the live store cannot be reached; try again later (the details are in the server log)"
INTERNAL = "internal error; the details are in the server log"
KIND_NAMES = ", ".join(k.value for k in Kind)


class ApiError(Exception):
    """An answer other than 200: its status, a message saying what to do, and any extra headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Reader:
    """Who a token lets in: one account, or every account ("*")."""

    account: str

    @property
    def reads_all(self) -> bool:
        return self.account == ALL_ACCOUNTS

    def check(self, account: str) -> None:
        if not self.reads_all and account != self.account:
            raise ApiError(403, f"this token reads account {self.account!r} only, not {account!r}")


class _Api:
    """The routes, over the dependencies the factory was given."""

    def __init__(
        self, store: Callable[[], StoreReader], tokens: Mapping[str, str], clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._clock = clock
        # Digests make every comparison the same length, so timing tells nothing about the token.
        self._tokens = [(_digest(token), account) for token, account in tokens.items()]

    def reader(self) -> Reader:
        scheme, _, presented = request.headers.get("Authorization", "").strip().partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            raise ApiError(401, NO_TOKEN, {"WWW-Authenticate": REALM})
        wanted = _digest(presented)
        found: str | None = None
        for digest, account in self._tokens:  # no early exit: every token is compared
            if hmac.compare_digest(digest, wanted):
                found = account
        if found is None:
            raise ApiError(401, BAD_TOKEN, {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
        return Reader(found)

    def resources(self, account: str) -> Response:
        self.reader().check(account)
        kind = _kind_arg(request.args.get("kind"))
        store = self._store()
        views = resource_views(store.live(account), store.locks(), self._clock(), account=account)
        if kind is not None:
            views = [v for v in views if v.key.kind is kind]
        return jsonify({"account": account, "resources": [_resource_json(v, document=False) for v in views]})

    def resource(self, account: str, kind: str, resource_id: str) -> Response:
        self.reader().check(account)
        parsed = _kind_arg(kind, status=404)
        assert parsed is not None
        key = ResourceKey(account, parsed, resource_id)
        view = resource_view(self._store(), key, self._clock())
        if view is None:
            raise ApiError(
                404, f"no {parsed.value} {resource_id!r} in account {account!r}: not live, no PR holds it"
            )
        return jsonify(_resource_json(view, document=True))

    def remote_config(self, account: str) -> Response:
        self.reader().check(account)
        compiled = compile_remote_config(account, self._store().live(account), self._clock())
        tag = etag(compiled)
        # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x" too.
        response = Response(status=304) if request.if_none_match.contains_weak(tag) else jsonify(compiled)
        response.set_etag(tag)
        response.headers["Cache-Control"] = "no-cache"
        return response

    def audit(self) -> Response:
        account = self._account_arg()
        limit = _int_arg("limit", MAX_LIMIT) or DEFAULT_LIMIT
        before = _int_arg("before", MAX_ID)
        # One extra row says whether there is a next page, so the last page has no `next`.
        rows = self._store().audit_log(account, limit=limit + 1, before_id=before)
        entries, more = rows[:limit], len(rows) > limit
        cursor = entries[-1].id if more and entries else None
        response = jsonify({"account": account, "entries": [_audit_json(e) for e in entries], "next": cursor})
        if cursor is not None:
            args: dict[str, Any] = {"limit": limit, "before": cursor}
            if account is not None:
                args["account"] = account
            response.headers["Link"] = f'<{url_for(".audit", _external=True, **args)}>; rel="next"'
        return response

    def drift(self) -> Response:
        account = self._account_arg()
        state = request.args.get("state", "open")
        if state not in DRIFT_STATES:
            raise ApiError(400, f"?state={state!r} is not one of {', '.join(DRIFT_STATES)} (default: open)")
        records = drift_for(self._store().drift(open_only=state == "open"), account)
        if state == "resolved":
            records = [r for r in records if not r.open]
        return jsonify({"account": account, "state": state, "drift": [_drift_json(r) for r in records]})

    def _account_arg(self) -> str | None:
        reader = self.reader()
        account = request.args.get("account", "").strip() or None
        if account is None:
            if not reader.reads_all:
                raise ApiError(400, f"missing ?account=: this token reads account {reader.account!r} only")
            return None
        reader.check(account)
        return account


DRIFT_STATES = ("open", "resolved", "all")


def make_api_blueprint(
    store_provider: Callable[[], StoreReader], tokens: Mapping[str, str], clock: Callable[[], datetime]
) -> Blueprint:
    """The read API. `store_provider` is called per request (so the store may be opened lazily)."""
    api = _Api(store_provider, tokens, clock)
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    bp.add_url_rule("/accounts/<account>/resources", "resources", api.resources)
    bp.add_url_rule("/accounts/<account>/resources/<kind>/<resource_id>", "resource", api.resource)
    bp.add_url_rule("/accounts/<account>/remote-config", "remote_config", api.remote_config)
    bp.add_url_rule("/audit", "audit", api.audit)
    bp.add_url_rule("/drift", "drift", api.drift)
    bp.add_url_rule("/", "unknown_root", _unknown, defaults={"path": ""})
    bp.add_url_rule("/<path:path>", "unknown", _unknown)
    bp.register_error_handler(ApiError, _api_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(SQLAlchemyError, _store_error)
    bp.register_error_handler(StoreError, _store_error)
    bp.register_error_handler(Exception, _unexpected_error)
    return bp


def _unknown(path: str) -> Response:
    raise ApiError(
        404,
        f"no endpoint {PREFIX}/{path}: the endpoints are accounts/<account>/resources[/<kind>/<id>], "
        "accounts/<account>/remote-config, audit and drift",
    )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def _kind_arg(value: str | None, *, status: int = 400) -> Kind | None:
    if value is None:
        return None
    try:
        return Kind(value)
    except ValueError:
        raise ApiError(status, f"unknown kind {value!r}: use one of {KIND_NAMES}") from None


def _int_arg(name: str, high: int) -> int | None:
    """`?name=` as a whole number from 1 to `high`; None when absent."""
    raw = request.args.get(name)
    if raw is None:
        return None
    value = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 1 <= value <= high:
        raise ApiError(400, f"?{name}={raw!r} is not valid: give a whole number from 1 to {high}")
    return value


def _resource_json(view: ResourceView, *, document: bool) -> dict[str, Any]:
    return {
        "account": view.key.account,
        "kind": view.key.kind.value,
        "id": view.key.id,
        "live": None if view.live is None else _live_json(view, view.live, document=document),
        "pending": None if view.lock is None else _pending_json(view.lock),
    }


def _live_json(view: ResourceView, record: LiveRecord, *, document: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": record.status.value,
        "effective_status": (view.effective or record.status).value,
        "revision": record.revision,
        "applied_commit": record.applied_commit,
        "updated_at": None if record.updated_at is None else rfc3339(record.updated_at),
    }
    if record.winner is not None:
        out["winner"] = record.winner
    if document:
        out["document"] = record.document
    return out


def _pending_json(lock: Lock) -> dict[str, Any]:
    return {
        "state": None if lock.pending_state is None else lock.pending_state.value,
        "pr": lock.pr_number,
        "since": rfc3339(lock.since),
        # PR numbers are per repository; null for a lock taken before locks recorded theirs.
        "repository": lock.repository or None,
    }


def _audit_json(entry: AuditEntry) -> dict[str, Any]:
    resource = entry.resource
    return {
        "id": entry.id,
        "at": None if entry.at is None else rfc3339(entry.at),
        "kind": entry.kind.value,
        "account": entry.account,
        "resource": None if resource is None else {"kind": resource.kind.value, "id": resource.id},
        "actor": entry.actor,
        "pr": entry.pr_number,
        "commit": entry.commit_sha,
        "action": None if entry.action is None else entry.action.value,
        "feedback": entry.feedback,
        "winner": entry.winner,
        "detail": dict(entry.detail),
    }


def _drift_json(record: DriftRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "commit": record.commit_sha,
        "at": rfc3339(record.at),
        "detail": dict(record.detail),
        "resolved_at": rfc3339(record.resolved_at) if record.resolved_at is not None else None,
        "resolved_by": record.resolved_by,
    }


def _json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify({"message": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _api_error(error: ApiError) -> Response:
    return _json_error(error.status, error.message, error.headers)


def _http_error(error: HTTPException) -> Response:
    return _json_error(error.code or 500, error.description or error.name)


def _store_error(error: SQLAlchemyError | StoreError) -> Response:
    log.exception("read API: the store failed", exc_info=error)
    return _json_error(503, STORE_DOWN)


def _unexpected_error(error: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    log.exception("read API: unexpected error", exc_info=error)
    return _json_error(500, INTERNAL)
