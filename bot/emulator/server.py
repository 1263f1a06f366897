"""The emulator served over real HTTP on loopback, for PyGithub (or curl) to talk to.

    with GitHubEmulator() as gh:
        gh.driver.create_repo("acme/config", {"README.md": "hi"})
        token = gh.token_for("alice")
        Github(base_url=gh.base_url, auth=Auth.Token(token))

`prefix=""` serves github.com-style paths (GraphQL at `/graphql`); `prefix="/api/v3"` serves GitHub
Enterprise-style paths (REST under `/api/v3`, GraphQL at `/api/graphql`), which is where PyGithub sends
them for each kind of base URL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response

from bot.emulator import events, graphql, permissions, ratelimits, render
from bot.emulator.faults import WRITE_METHODS, Call, CallLog, Faults
from bot.emulator.permissions import Grant, workflow_grant
from bot.emulator.routes import ROUTES, ApiError, Principal, Request, compile_template
from bot.emulator.scenario import Driver
from bot.emulator.state import DEFAULT_APP_PERMISSIONS, Installation, PullRequest, Repo, World
from bot.emulator.webhooks import WebhookSender

_COMPILED = [(method, template, compile_template(template)) for (method, template) in ROUTES]

# (query, variables) → the `errors` GitHub would answer for a document that does not validate against
# its schema ([] when valid). The emulator's own executor knows only the fields it serves; a validator
# holds every document to GitHub's whole schema (the tests give one built from @octokit/graphql-schema,
# tests/contract/github_contract.py; the package does not depend on a GraphQL library).
GraphQLValidator = Callable[[str, Mapping[str, Any] | None], list[dict[str, Any]]]
_default_validator: GraphQLValidator | None = None


def validate_graphql_with(validator: GraphQLValidator | None) -> GraphQLValidator | None:
    """Give every emulator constructed from now on this validator (None: none); returns the previous one,
    to restore. A test suite sets it once so every document any test sends is validated."""
    global _default_validator
    previous, _default_validator = _default_validator, validator
    return previous


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # the call log keeps every request; stderr noise would drown test output


@dataclass(frozen=True)
class _Token:
    principal: Principal
    expires_at: datetime | None


def _check_permission(method: str, template: str, principal: Principal | None) -> None:
    """Refuse a call the token's permissions do not cover, as GitHub does: 403 "Resource not accessible
    by integration", with `X-Accepted-GitHub-Permissions` naming what would serve ("Permissions required
    for GitHub Apps"; "Troubleshooting the REST API": the header lists the permissions an endpoint
    accepts). JWT calls (no principal) and personal tokens (no grant) are not limited here."""
    if principal is None or principal.grant is None or (method, template) in permissions.APP_ROUTES:
        return
    if (method, template) in permissions.USER_ROUTES:
        raise ApiError(403, permissions.FORBIDDEN_MESSAGE)
    needed = permissions.REST.get((method, template))
    if needed is None:
        raise AssertionError(
            f"{method} {template} has no entry in bot/emulator/permissions.py REST: add the permission "
            "GitHub's 'Permissions required for GitHub Apps' lists for it"
        )
    if not principal.grant.allows(needed):
        raise ApiError(
            403,
            permissions.FORBIDDEN_MESSAGE,
            headers={permissions.ACCEPTED_HEADER: needed.header()},
        )


class GitHubEmulator:
    def __init__(
        self,
        *,
        prefix: str = "",
        webhook_secret: str = "emulator-secret",
        webhook_url: str | None = None,
        token_lifetime: int = 3600,
        world: World | None = None,
        graphql_validator: GraphQLValidator | None = None,
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self.graphql_validator = graphql_validator or _default_validator
        self.world = world or World()
        self.faults = Faults()
        self.calls = CallLog()
        self.webhooks = WebhookSender(secret=webhook_secret, url=webhook_url)
        self.token_lifetime = token_lifetime  # seconds an installation token lives
        self.graphql_budget = ratelimits.GraphQLBudget()  # GraphQL points per installation or user
        self.driver = Driver(self)
        self.urls = render.Urls("http://127.0.0.1:0", "http://127.0.0.1:0")
        self._tokens: dict[str, _Token] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = threading.local()

    def serving_request(self) -> bool:
        """True on a server thread while it handles a call (webhooks wait until the call is done)."""
        return bool(getattr(self._serving, "active", False))

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> GitHubEmulator:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        root = f"http://127.0.0.1:{self._server.server_port}"
        self.urls = render.Urls(root + self.prefix, root)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="github-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What to give PyGithub as `base_url`."""
        return self.urls.api

    @property
    def graphql_path(self) -> str:
        return "/api/graphql" if self.prefix.endswith("/api/v3") else f"{self.prefix}/graphql"

    # --- auth ------------------------------------------------------------------------------------

    def register_token(
        self,
        token: str,
        login: str,
        app_id: int | None = None,
        installation_id: int | None = None,
        expires_at: datetime | None = None,
        *,
        permissions: Grant | None = None,
    ) -> None:
        """Accept `token` as `login`. With `app_id` it is an App's token and carries `permissions` (by
        default the App's registration, or the README's list for an App the world does not know);
        without, it is a personal token, unrestricted by App permissions."""
        kind = "Bot" if app_id is not None else "User"
        self.world.user(login, kind)
        grant: Grant | None = None
        if app_id is not None:
            app = self.world.apps.get(app_id)
            grant = permissions or (app.permissions if app else DEFAULT_APP_PERMISSIONS)
        principal = Principal(login, app_id, installation_id, grant)
        self._tokens[token] = _Token(principal, expires_at)

    def register_workflow_token(
        self, token: str, block: Mapping[str, str], *, app_id: int, installation_id: int | None = None
    ) -> None:
        """A workflow job's GITHUB_TOKEN: it acts as `github-actions[bot]` (the App `app_id`) with the
        job's `permissions:` block, which can never include organization Members."""
        grant = workflow_grant(block)
        self.register_token(token, "github-actions[bot]", app_id, installation_id, permissions=grant)

    def token_for(self, login: str, app_id: int | None = None) -> str:
        """A personal (or, with app_id, an Actions-style app) token acting as `login`."""
        token = f"ghp_{login}_{len(self._tokens)}"
        self.register_token(token, login, app_id)
        return token

    def _authenticate(self, header: str) -> tuple[Principal | None, int | None]:
        scheme, _, credential = header.partition(" ")
        if not credential:
            return None, None
        if scheme.lower() == "bearer" and credential.count(".") == 2:
            return None, self._verify_jwt(credential)
        found = self._tokens.get(credential)
        if found is None:
            raise ApiError(401, "Bad credentials")
        if found.expires_at is not None and found.expires_at <= self.world.now():
            raise ApiError(401, "Bad credentials")
        return found.principal, None

    def _verify_jwt(self, token: str) -> int:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            app = self.world.apps.get(int(claims["iss"]))
            if app is None:
                raise ApiError(401, f"Integration not found: {claims['iss']}")
            if app.public_key_pem:
                jwt.decode(
                    token, app.public_key_pem, algorithms=["RS256"], options={"require": ["exp", "iat"]}
                )
            return app.id
        except (jwt.PyJWTError, KeyError, ValueError) as error:
            raise ApiError(401, f"A JSON web token could not be decoded: {error}") from error

    # --- HTTP ------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = WsgiRequest(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _match(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        if method == "POST" and path == self.graphql_path:
            return "/graphql", {}
        if not path.startswith(self.prefix):
            return None
        local = path[len(self.prefix) :] or "/"
        for wanted, template, pattern in _COMPILED:
            found = pattern.match(local)
            if found and wanted == method:
                return template, found.groupdict()
        return None

    def _handle(self, http: WsgiRequest) -> Response:
        method = http.method.upper()
        matched = self._match(method, http.path)
        template = matched[0] if matched else http.path
        route = f"{method} {template}"
        query = dict(http.args.items())
        full_path = http.full_path.rstrip("?")
        headers = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Resource": "core",
        }
        status: int
        body: Any
        write = method in WRITE_METHODS
        try:
            payload = http.get_json(silent=True) if http.data else None
            if template == "/graphql":
                write = graphql.is_mutation((payload or {}).get("query", ""))
            armed = self.faults.take_error(route)
            if armed is not None:
                status, body = armed.status, armed.body
                headers.update(armed.headers)
            elif matched is None:
                raise ApiError(404, "Not Found")
            else:
                principal, jwt_app = self._authenticate(http.headers.get("Authorization", ""))
                req = Request(matched[1], query, payload, principal, jwt_app)
                invalid = self._invalid_graphql(template, req)  # outside the lock: it reads no state
                if invalid:
                    status, body = 200, {"errors": invalid}
                else:
                    self._serving.active = True
                    try:
                        with self.world.lock:
                            status, body = self._dispatch(method, template, req)
                    finally:
                        self._serving.active = False
                        self.driver.flush()  # webhooks caused by this call, sent once the world is unlocked
                if req.link:
                    headers["Link"] = ", ".join(req.link)
                headers.update(req.headers)
        except ApiError as error:
            status, body = error.status, error.body
            headers.update(error.headers)
        self.calls.record(Call(route, write, status, body, full_path))
        text = b"" if body is None else json.dumps(body).encode()
        return Response(text, status=status, headers=headers, content_type="application/json; charset=utf-8")

    def _dispatch(self, method: str, template: str, req: Request) -> tuple[int, Any]:
        if template == "/graphql":
            if req.principal is None:
                raise ApiError(401, "This endpoint requires you to be authenticated.")
            body = req.body or {}
            ctx = graphql.Context(
                self.world,
                self.urls,
                req.principal.login,
                self._graphql_truncation,
                req.principal.grant,
                budget=self.graphql_budget,
                holder=_holder(self.world, req.principal),
            )
            result = graphql.execute(ctx, body.get("query", ""), body.get("variables"))
            req.headers.update(ctx.headers)
            for change in ctx.mutated:
                self.driver.after_draft_mutation(change, req.principal.login)
            return 200, result
        if req.principal is None and req.jwt_app_id is None:
            raise ApiError(401, "Requires authentication")
        _check_permission(method, template, req.principal)
        return ROUTES[(method, template)](self, req)

    def _invalid_graphql(self, template: str, req: Request) -> list[dict[str, Any]]:
        """The errors of a GraphQL document that does not validate against GitHub's schema ([] when it
        does, or when no validator was given). A server validates the whole document before running any
        of it, and answers an invalid one with only `errors` (the GraphQL spec, "Validation" and
        "Response"); GitHub answers it with HTTP 200, each error naming the problem and where, as
        "Field 'nope' doesn't exist on type 'Repository'"."""
        if template != "/graphql" or req.principal is None or self.graphql_validator is None:
            return []  # unauthenticated: 401 first, as GitHub does
        body = req.body or {}
        return self.graphql_validator(str(body.get("query", "")), body.get("variables"))

    def _graphql_truncation(self, connection: str) -> int | None:
        return self.faults.take_truncation(f"graphql {connection}")

    # --- webhooks --------------------------------------------------------------------------------

    def installation_for(self, repo: Repo) -> Installation | None:
        return next((i for i in self.world.installations.values() if i.account == repo.owner), None)

    def emit_pull_request(self, repo: Repo, pr: PullRequest, action: str, sender: str, **extra: Any) -> None:
        payload = events.pull_request(
            self.world, self.urls, repo, pr, action, sender, self.installation_for(repo), **extra
        )
        self.webhooks.send("pull_request", payload)


def _holder(world: World, principal: Principal) -> str:
    """Whose GraphQL points a call spends: an installation's, or the user's (docs.github.com, "Rate
    limits and query limits for the GraphQL API": per installation, per user for user tokens)."""
    if principal.installation_id is not None:
        return f"installation ID {principal.installation_id}"
    return f"user ID {world.user(principal.login).id}"
