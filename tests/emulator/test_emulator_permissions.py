"""The emulator's permission rules (bot/emulator/permissions.py), call by call."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from bot.emulator import GitHubEmulator
from bot.emulator.keys import app_key_pair
from bot.emulator.permissions import APP_ROUTES, GRAPHQL, REST, USER_ROUTES, Grant, Permission
from bot.emulator.routes import ROUTES
from bot.emulator.state import DEFAULT_APP_PERMISSIONS
from bot.engine.services import ACTIONS_LOGIN, AppAccess, TokenAccess

REPO = "acme/config"


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def _setup(emu: Any, grant: Grant) -> str:
    emu.driver.create_repo(REPO, {"a.yaml": "x: 1\n"})
    emu.driver.install_app(1, 2, "acme", permissions=grant)
    token = "ghs_test"
    emu.register_token(token, "approvalbot[bot]", 1, 2)
    return token


def test_every_emulated_route_has_its_permission() -> None:
    missing = [r for r in ROUTES if r not in REST and r not in APP_ROUTES and r not in USER_ROUTES]
    assert missing == []


def test_a_call_outside_the_token_s_permissions_is_refused_as_github_does(emulator: Any) -> None:
    token = _setup(emulator, DEFAULT_APP_PERMISSIONS.without(Permission.CHECKS))
    answer = requests.get(
        f"{emulator.base_url}/repos/{REPO}/commits/main/check-runs", headers=_headers(token), timeout=10
    )
    assert answer.status_code == 403
    assert answer.json()["message"] == "Resource not accessible by integration"
    assert answer.headers["X-Accepted-GitHub-Permissions"] == "checks=read"
    # A person's token is limited by the person's access, not by App permissions.
    person = requests.get(
        f"{emulator.base_url}/repos/{REPO}/commits/main/check-runs",
        headers=_headers(emulator.token_for("alice")),
        timeout=10,
    )
    assert person.status_code == 200


def test_graphql_nulls_a_refused_field_and_says_forbidden(emulator: Any) -> None:
    token = _setup(emulator, DEFAULT_APP_PERMISSIONS.without(Permission.MEMBERS))
    emulator.driver.add_team("acme", "leads", ["tina"])
    query = '{ organization(login: "acme") { login team(slug: "leads") { slug } } }'
    answer = requests.post(
        f"{emulator.base_url}/graphql", json={"query": query}, headers=_headers(token), timeout=10
    ).json()
    assert answer["data"] == {"organization": {"login": "acme", "team": None}}
    assert answer["errors"] == [
        {
            "type": "FORBIDDEN",
            "path": ["organization", "team"],
            "message": "Resource not accessible by integration",
        }
    ]
    assert ("Organization", "team") in GRAPHQL


def test_graphql_shows_a_bot_login_without_the_suffix(emulator: Any) -> None:
    token = _setup(emulator, DEFAULT_APP_PERMISSIONS)
    emulator.driver.open_pr(REPO, "carol", "b", {"a.yaml": "x: 2\n"}, title="t")
    emulator.driver.comment(REPO, 1, "approvalbot[bot]", "hello")
    query = (
        '{ repository(owner: "acme", name: "config") { pullRequest(number: 1) '
        "{ comments(first: 5) { nodes { author { __typename login } } } } } }"
    )
    data = requests.post(
        f"{emulator.base_url}/graphql", json={"query": query}, headers=_headers(token), timeout=10
    ).json()["data"]
    (node,) = data["repository"]["pullRequest"]["comments"]["nodes"]
    assert node["author"] == {"__typename": "Bot", "login": "approvalbot"}


def _jwt(private: str, app_id: int) -> str:
    import time

    now = int(time.time())
    return jwt.encode({"iat": now - 30, "exp": now + 300, "iss": str(app_id)}, private, algorithm="RS256")


def test_an_installation_token_may_narrow_but_not_widen() -> None:
    # A bare emulator: GET /app and /user are not in the trimmed OpenAPI copy the fixture checks.
    with GitHubEmulator() as emu:
        private, public = app_key_pair()
        emu.driver.install_app(1, 2, "acme", public_key_pem=public)
        url = f"{emu.base_url}/app/installations/2/access_tokens"
        auth = {"Authorization": f"Bearer {_jwt(private, 1)}"}
        narrow = requests.post(url, json={"permissions": {"checks": "read"}}, headers=auth, timeout=10)
        assert narrow.status_code == 201 and narrow.json()["permissions"] == {"checks": "read"}
        wide = requests.post(url, json={"permissions": {"issues": "write"}}, headers=auth, timeout=10)
        assert wide.status_code == 422
        full = requests.post(url, json={"permissions": {}}, headers=auth, timeout=10)
        assert full.json()["permissions"] == DEFAULT_APP_PERMISSIONS.as_json()


def test_a_workflow_token_carries_its_block_and_never_members() -> None:
    with GitHubEmulator() as emu:
        emu.register_workflow_token("wf", {"checks": "write"}, app_id=15368)
        principal = emu._tokens["wf"].principal
        assert principal.grant is not None
        assert principal.grant.level(Permission.MEMBERS) == 0
        assert principal.grant.level(Permission.METADATA) == 1
        with pytest.raises(ValueError, match="members"):
            emu.register_workflow_token("bad", {"members": "read"}, app_id=15368)


def test_the_bot_learns_its_login_in_both_modes(github_settings: Any) -> None:
    with GitHubEmulator() as emu:
        private, public = app_key_pair()
        emu.driver.install_app(1, 2, "acme", slug="approvalbot", public_key_pem=public)
        settings = github_settings(emu.base_url)
        assert AppAccess("1", private, settings).login() == "approvalbot[bot]"
        emu.register_workflow_token("wf", {"checks": "write"}, app_id=15368)
        assert TokenAccess("wf", settings).login() == ACTIONS_LOGIN
        assert TokenAccess(emu.token_for("alice"), settings).login() == "alice"
