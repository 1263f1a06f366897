"""The read API over a real store on a SQLite file: auth, resources, pending state, ETag, audit, drift."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.adapters.store import AuditEntry, AuditKind, LiveChange, Store
from bot.core.compile import compile_remote_config, etag
from bot.core.model import Action, Kind, PendingState, ResourceKey, Status
from bot.web.api import MAX_LIMIT, STORE_DOWN, make_api_blueprint

STORED_AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2030, 1, 2, 9, 30, tzinfo=UTC)  # the API's clock: past onboarding's start_at

WEB_TOKEN, MOBILE_TOKEN, ALL_TOKEN = "web-s3cret", "mobile-s3cret", "root-s3cret"
TOKENS = {WEB_TOKEN: "web", MOBILE_TOKEN: "mobile", ALL_TOKEN: "*"}

CHECKOUT = ResourceKey("web", Kind.EXPERIMENT, "checkout")
ONBOARDING = ResourceKey("web", Kind.EXPERIMENT, "onboarding")
BANNER = ResourceKey("web", Kind.EXPERIMENT, "new-banner")  # only a PR knows it: not live yet
COLOR = ResourceKey("web", Kind.REMOTE_CONFIG, "button_color")
SPLASH = ResourceKey("mobile", Kind.EXPERIMENT, "splash")
REPO = "acme/web-config"
MOBILE_REPO = "acme/mobile-config"  # the App serves several config repositories; one store holds both


def experiment(key: ResourceKey, status: Status, **extra: Any) -> dict[str, Any]:
    variants = [
        {"id": "control", "weight": 50, "control": True, "overrides": {"button_color": "blue"}},
        {"id": "green", "weight": 50, "overrides": {"button_color": "green"}},
    ]
    return {"id": key.id, "status": status.value, "variants": variants, **extra}


def fill(store: Store) -> None:
    """Two accounts: live resources from two merges, locks from three PRs, audit entries and drift."""
    color = LiveChange(
        COLOR, Action.PUBLISH, Status.LIVE, {"id": COLOR.id, "type": "string", "default": "blue"}
    )
    checkout = LiveChange(CHECKOUT, Action.START, Status.RUNNING, experiment(CHECKOUT, Status.RUNNING))
    onboarding = LiveChange(
        ONBOARDING,
        Action.SCHEDULE,
        Status.SCHEDULED,
        experiment(ONBOARDING, Status.SCHEDULED, schedule={"start_at": "2030-01-01T18:00:00Z"}),
    )
    splash = LiveChange(SPLASH, Action.START, Status.RUNNING, {"id": SPLASH.id, "status": "running"})
    web = [color, checkout, onboarding]
    assert store.apply_merge("m1", 10, web, [apply_entry(c) for c in web])
    assert store.apply_merge("m2", 11, [splash], [apply_entry(splash)])
    store.set_locks(REPO, 21, {CHECKOUT: PendingState.PAUSE_PENDING})
    store.set_locks(REPO, 22, {BANNER: PendingState.APPROVAL_PENDING, COLOR: None})
    store.set_locks(MOBILE_REPO, 23, {SPLASH: PendingState.FINISH_PENDING})
    store.audit(AuditEntry(AuditKind.REJECTION, resource=CHECKOUT, actor="bob", pr_number=20, feedback="no"))
    store.record_drift("d1", {"reason": "direct push", "account": "web"})
    store.record_drift("d2", {"reason": "merged past the check", "accounts": ["mobile"]})
    store.record_drift("d3", {"reason": "pushed"})


def apply_entry(change: LiveChange) -> AuditEntry:
    return AuditEntry(AuditKind.APPLY, resource=change.key, actor="alice", action=change.action)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.from_url(f"sqlite:///{tmp_path / 'api.db'}", clock=lambda: STORED_AT)
    fill(opened)
    yield opened
    opened.close()


@pytest.fixture
def api_app(store: Store) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(make_api_blueprint(lambda: store, TOKENS, lambda: NOW))
    return app


@pytest.fixture
def api(api_app: Flask) -> FlaskClient:
    return api_app.test_client()


def get(api: FlaskClient, path: str, token: str | None = WEB_TOKEN, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.get(path, headers=headers)


ACCOUNT_ROUTES = [
    "/api/v1/accounts/web/resources",
    "/api/v1/accounts/web/resources/experiment/checkout",
    "/api/v1/accounts/web/remote-config",
    "/api/v1/audit?account=web",
    "/api/v1/drift?account=web",
]


# -- auth --


@pytest.mark.parametrize("path", ACCOUNT_ROUTES)
def test_no_token_is_401_with_a_bearer_challenge(api: FlaskClient, path: str) -> None:
    response = get(api, path, token=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "Authorization: Bearer" in response.get_json()["message"]


@pytest.mark.parametrize(
    "authorization", [f"Bearer {WEB_TOKEN}x", f"Bearer {WEB_TOKEN[:-1]}", "Bearer  ", WEB_TOKEN]
)
def test_a_wrong_or_malformed_token_is_401(api: FlaskClient, authorization: str) -> None:
    response = api.get(ACCOUNT_ROUTES[0], headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert response.is_json


def test_an_unknown_token_is_flagged_invalid(api: FlaskClient) -> None:
    response = get(api, ACCOUNT_ROUTES[0], token="nope")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "APPROVALBOT_API_TOKENS" in response.get_json()["message"]


@pytest.mark.parametrize("path", ACCOUNT_ROUTES)
def test_a_token_of_another_account_is_403(api: FlaskClient, path: str) -> None:
    response = get(api, path, token=MOBILE_TOKEN)
    assert response.status_code == 403
    assert response.get_json()["message"] == "this token reads account 'mobile' only, not 'web'"


@pytest.mark.parametrize("path", ACCOUNT_ROUTES)
@pytest.mark.parametrize("token", [WEB_TOKEN, ALL_TOKEN])
def test_the_accounts_token_and_a_star_token_read_it(api: FlaskClient, path: str, token: str) -> None:
    assert get(api, path, token=token).status_code == 200


def test_the_scheme_is_case_insensitive(api: FlaskClient) -> None:
    response = api.get(ACCOUNT_ROUTES[0], headers={"Authorization": f"bearer {WEB_TOKEN}"})
    assert response.status_code == 200


def test_no_configured_tokens_lets_nobody_in(store: Store) -> None:
    app = Flask(__name__)
    app.register_blueprint(make_api_blueprint(lambda: store, {}, lambda: NOW))
    assert get(app.test_client(), ACCOUNT_ROUTES[0], token="").status_code == 401
    assert get(app.test_client(), ACCOUNT_ROUTES[0], token="anything").status_code == 401


# -- resources --


def test_resources_show_live_and_pending_state(api: FlaskClient) -> None:
    body = get(api, "/api/v1/accounts/web/resources").get_json()
    assert body["account"] == "web"
    by_id = {(r["kind"], r["id"]): r for r in body["resources"]}
    assert list(by_id) == [
        ("experiment", "checkout"),
        ("experiment", "new-banner"),
        ("experiment", "onboarding"),
        ("remote_config", "button_color"),
    ]
    checkout = by_id["experiment", "checkout"]
    assert checkout["live"] == {
        "status": "running",
        "effective_status": "running",
        "revision": 1,
        "applied_commit": "m1",
        "updated_at": "2030-01-01T12:00:00Z",
    }
    assert checkout["pending"] == {
        "state": "PAUSE PENDING",
        "pr": 21,
        "since": "2030-01-01T12:00:00Z",
        "repository": REPO,
    }
    # A PR creating a resource holds it before anything is live.
    assert by_id["experiment", "new-banner"] == {
        "account": "web",
        "kind": "experiment",
        "id": "new-banner",
        "live": None,
        "pending": {
            "state": "APPROVAL PENDING",
            "pr": 22,
            "since": "2030-01-01T12:00:00Z",
            "repository": REPO,
        },
    }
    # Its start_at has passed on the API's clock: readers see it running before the scheduler ticks.
    assert by_id["experiment", "onboarding"]["live"]["status"] == "scheduled"
    assert by_id["experiment", "onboarding"]["live"]["effective_status"] == "running"
    assert by_id["experiment", "onboarding"]["pending"] is None
    assert by_id["remote_config", "button_color"]["pending"] == {
        "state": None,
        "pr": 22,
        "since": "2030-01-01T12:00:00Z",
        "repository": REPO,
    }
    assert "document" not in checkout["live"]


def test_resources_of_one_account_only(api: FlaskClient) -> None:
    body = get(api, "/api/v1/accounts/mobile/resources", token=ALL_TOKEN).get_json()
    assert [(r["id"], r["pending"]["state"]) for r in body["resources"]] == [("splash", "FINISH PENDING")]


def test_resources_follow_the_store(api: FlaskClient, store: Store) -> None:
    store.release_locks(REPO, 21)
    finish = LiveChange(
        CHECKOUT, Action.FINISH, Status.FINISHED, experiment(CHECKOUT, Status.FINISHED, winner="green")
    )
    store.apply_merge("m3", 21, [finish], [])
    body = get(api, "/api/v1/accounts/web/resources/experiment/checkout").get_json()
    assert body["pending"] is None
    assert body["live"]["status"] == "finished"
    assert body["live"]["winner"] == "green"
    assert body["live"]["revision"] == 2
    assert body["live"]["applied_commit"] == "m3"


@pytest.mark.parametrize(
    ("kind", "ids"),
    [("experiment", ["checkout", "new-banner", "onboarding"]), ("remote_config", ["button_color"])],
)
def test_resources_filtered_by_kind(api: FlaskClient, kind: str, ids: list[str]) -> None:
    body = get(api, f"/api/v1/accounts/web/resources?kind={kind}").get_json()
    assert [r["id"] for r in body["resources"]] == ids


def test_an_unknown_kind_filter_is_400(api: FlaskClient) -> None:
    response = get(api, "/api/v1/accounts/web/resources?kind=flag")
    assert response.status_code == 400
    assert response.get_json()["message"] == "unknown kind 'flag': use one of experiment, remote_config"


def test_an_account_with_nothing_has_no_resources(api: FlaskClient) -> None:
    body = get(api, "/api/v1/accounts/empty/resources", token=ALL_TOKEN).get_json()
    assert body == {"account": "empty", "resources": []}


def test_one_resource_with_its_document(api: FlaskClient) -> None:
    body = get(api, "/api/v1/accounts/web/resources/experiment/checkout").get_json()
    assert body["live"]["document"] == experiment(CHECKOUT, Status.RUNNING)
    assert body["pending"]["state"] == "PAUSE PENDING"


def test_one_resource_only_a_pr_holds(api: FlaskClient) -> None:
    body = get(api, "/api/v1/accounts/web/resources/experiment/new-banner").get_json()
    assert body["live"] is None
    assert body["pending"]["pr"] == 22
    assert body["pending"]["repository"] == REPO


def test_a_resource_locked_in_another_repository_shows_that_repository(api: FlaskClient) -> None:
    body = get(api, "/api/v1/accounts/mobile/resources/experiment/splash", token=MOBILE_TOKEN).get_json()
    assert (body["pending"]["pr"], body["pending"]["repository"]) == (23, MOBILE_REPO)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("experiment/nope", "no experiment 'nope' in account 'web': not live, no PR holds it"),
        ("remote_config/checkout", "no remote_config 'checkout' in account 'web': not live, no PR holds it"),
        ("flag/checkout", "unknown kind 'flag': use one of experiment, remote_config"),
    ],
)
def test_an_unknown_resource_is_a_json_404(api: FlaskClient, path: str, message: str) -> None:
    response = get(api, f"/api/v1/accounts/web/resources/{path}")
    assert response.status_code == 404
    assert response.get_json() == {"message": message}


# -- remote config --


def test_remote_config_is_compiled_with_a_strong_etag(api: FlaskClient, store: Store) -> None:
    response = get(api, "/api/v1/accounts/web/remote-config")
    compiled = compile_remote_config("web", store.live("web"), NOW)
    assert response.get_json() == compiled
    assert response.headers["ETag"] == f'"{etag(compiled)}"'
    assert response.headers["Cache-Control"] == "no-cache"
    # onboarding counts as running on the API's clock.
    assert [e["id"] for e in compiled["experiments"]] == ["checkout", "onboarding"]
    assert compiled["variables"]["button_color"]["default"] == "blue"


@pytest.mark.parametrize("header", ["{tag}", "W/{tag}", '"other", {tag}', "*"])
def test_a_matching_if_none_match_is_304_without_body(api: FlaskClient, header: str) -> None:
    tag = get(api, "/api/v1/accounts/web/remote-config").headers["ETag"]
    response = get(api, "/api/v1/accounts/web/remote-config", **{"If-None-Match": header.format(tag=tag)})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == tag
    assert response.headers["Cache-Control"] == "no-cache"


def test_a_change_gives_a_new_etag(api: FlaskClient, store: Store) -> None:
    old = get(api, "/api/v1/accounts/web/remote-config").headers["ETag"]
    edit = LiveChange(
        COLOR, Action.PUBLISH_EDITS, Status.LIVE, {"id": COLOR.id, "type": "string", "default": "red"}
    )
    store.apply_merge("m3", 30, [edit], [])
    response = get(api, "/api/v1/accounts/web/remote-config", **{"If-None-Match": old})
    assert response.status_code == 200
    assert response.headers["ETag"] != old
    assert response.get_json()["variables"]["button_color"]["default"] == "red"


def test_remote_config_of_another_account_differs(api: FlaskClient) -> None:
    web = get(api, "/api/v1/accounts/web/remote-config", token=ALL_TOKEN)
    mobile = get(api, "/api/v1/accounts/mobile/remote-config", token=ALL_TOKEN)
    assert mobile.get_json()["account"] == "mobile"
    assert mobile.headers["ETag"] != web.headers["ETag"]


# -- audit --


def test_audit_is_newest_first_and_of_the_account(api: FlaskClient) -> None:
    body = get(api, "/api/v1/audit?account=web").get_json()
    entries = body["entries"]
    assert [(e["kind"], e["resource"]["id"]) for e in entries] == [
        ("rejection", "checkout"),
        ("apply", "onboarding"),
        ("apply", "checkout"),
        ("apply", "button_color"),
    ]
    assert {e["account"] for e in entries} == {"web"}
    assert body["next"] is None
    assert entries[0] == {
        "id": entries[0]["id"],
        "at": "2030-01-01T12:00:00Z",
        "kind": "rejection",
        "account": "web",
        "resource": {"kind": "experiment", "id": "checkout"},
        "actor": "bob",
        "pr": 20,
        "commit": None,
        "action": None,
        "feedback": "no",
        "winner": None,
        "detail": {},
    }
    assert entries[1]["commit"] == "m1" and entries[1]["pr"] == 10 and entries[1]["action"] == "schedule"


def test_audit_pages_with_a_cursor_and_a_link(api: FlaskClient, store: Store) -> None:
    for n in range(6):
        store.audit(AuditEntry(AuditKind.SUBMISSION, resource=CHECKOUT, actor=f"dev{n}", pr_number=40 + n))
    everything = [e["id"] for e in get(api, "/api/v1/audit?account=web&limit=500").get_json()["entries"]]
    assert len(everything) == 10 and everything == sorted(everything, reverse=True)
    seen: list[int] = []
    path: str | None = "/api/v1/audit?account=web&limit=3"
    pages = 0
    while path is not None:
        response = get(api, path)
        body = response.get_json()
        assert len(body["entries"]) <= 3
        seen += [e["id"] for e in body["entries"]]
        pages += 1
        if body["next"] is None:
            assert "Link" not in response.headers
            path = None
            continue
        assert body["next"] == body["entries"][-1]["id"]
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"')
        url = link[1 : link.index(">")]
        assert f"before={body['next']}" in url and "limit=3" in url and "account=web" in url
        path = url.removeprefix("http://localhost")
    assert seen == everything
    assert pages == 4


def test_a_full_last_page_has_no_next(api: FlaskClient) -> None:
    body = get(api, "/api/v1/audit?account=web&limit=4").get_json()
    assert len(body["entries"]) == 4
    assert body["next"] is None


def test_audit_of_every_account_with_a_star_token(api: FlaskClient) -> None:
    body = get(api, "/api/v1/audit", token=ALL_TOKEN).get_json()
    assert body["account"] is None
    assert {e["account"] for e in body["entries"]} == {"web", "mobile"}


def test_audit_needs_an_account_for_an_account_token(api: FlaskClient) -> None:
    response = get(api, "/api/v1/audit")
    assert response.status_code == 400
    assert response.get_json()["message"] == "missing ?account=: this token reads account 'web' only"


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        f"limit={MAX_LIMIT + 1}",
        "limit=abc",
        "limit=-1",
        "limit=",
        "limit=²",
        "before=0",
        "before=x",
        "before=99999999999999999999",
    ],
)
def test_a_bad_limit_or_cursor_is_400(api: FlaskClient, query: str) -> None:
    response = get(api, f"/api/v1/audit?account=web&{query}")
    assert response.status_code == 400
    name, _, raw = query.partition("=")
    assert response.get_json()["message"].startswith(
        f"?{name}={raw!r} is not valid: give a whole number from 1 to "
    )


def test_the_largest_limit_is_accepted(api: FlaskClient) -> None:
    assert get(api, f"/api/v1/audit?account=web&limit={MAX_LIMIT}").status_code == 200


# -- drift --


def test_drift_of_an_account(api: FlaskClient) -> None:
    body = get(api, "/api/v1/drift?account=web").get_json()
    assert body["account"] == "web"
    assert [(d["commit"], d["detail"]["reason"], d["at"]) for d in body["drift"]] == [
        ("d1", "direct push", "2030-01-01T12:00:00Z")
    ]
    mobile = get(api, "/api/v1/drift?account=mobile", token=MOBILE_TOKEN).get_json()
    assert [d["commit"] for d in mobile["drift"]] == ["d2"]


def test_all_drift_with_a_star_token(api: FlaskClient) -> None:
    body = get(api, "/api/v1/drift", token=ALL_TOKEN).get_json()
    assert [d["commit"] for d in body["drift"]] == ["d1", "d2", "d3"]


def test_drift_needs_an_account_for_an_account_token(api: FlaskClient) -> None:
    assert get(api, "/api/v1/drift", token=MOBILE_TOKEN).status_code == 400


# -- errors --


def test_an_unknown_endpoint_is_a_json_404(api: FlaskClient) -> None:
    response = get(api, "/api/v1/accounts/web/flags")
    assert response.status_code == 404
    assert response.get_json()["message"].startswith(
        "no endpoint /api/v1/accounts/web/flags: the endpoints are"
    )


def store_down_app(provider: Callable[[], Store]) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(make_api_blueprint(provider, TOKENS, lambda: NOW))
    return app.test_client()


def test_a_store_without_tables_is_a_json_503(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    broken = Store.from_url(f"sqlite:///{tmp_path / 'empty.db'}", upgrade=False)
    response = get(store_down_app(lambda: broken), "/api/v1/accounts/web/resources")
    broken.close()
    assert response.status_code == 503
    assert response.get_json() == {"message": STORE_DOWN}


def test_a_store_that_cannot_be_opened_is_a_json_503(tmp_path: Path) -> None:
    def provider() -> Store:
        return Store.from_url(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")

    response = get(store_down_app(provider), "/api/v1/audit?account=web")
    assert response.status_code == 503
    assert response.get_json() == {"message": STORE_DOWN}
    assert str(tmp_path) not in response.get_data(as_text=True)  # paths and URLs stay in the log


def test_an_unexpected_error_is_a_json_500_without_a_trace(store: Store) -> None:
    def boom() -> Store:
        raise RuntimeError("secret detail")

    app = Flask(__name__)
    app.register_blueprint(make_api_blueprint(boom, TOKENS, lambda: NOW))
    response = get(app.test_client(), "/api/v1/accounts/web/resources")
    assert response.status_code == 500
    assert response.get_json() == {"message": "internal error; the details are in the server log"}
