"""Links people open (emails, comments) point at the GitHub the bot talks to, not always github.com."""

from __future__ import annotations

import pytest

from bot.adapters.github.client import ClientSettings
from bot.adapters.store import Store
from bot.engine.services import Services, TokenAccess, web_url


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghe.acme.io/api/v3", "https://ghe.acme.io"),
        ("https://ghe.acme.io/api/v3/", "https://ghe.acme.io"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://127.0.0.1:8123/prefix", "http://127.0.0.1:8123/prefix"),
    ],
)
def test_the_web_address_follows_the_api_address(api: str, web: str) -> None:
    assert web_url(api) == web


def test_services_link_pull_requests_on_the_enterprise_host() -> None:
    store = Store.from_url("sqlite://")
    try:
        access = TokenAccess("t", ClientSettings(base_url="https://ghe.acme.io/api/v3"))
        services = Services(github=access, store=store)
        assert services.pr_url("acme/config", 12) == "https://ghe.acme.io/acme/config/pull/12"
        assert Services(github=access, store=store, web_url="https://x.test").pr_url("a/b", 1) == (
            "https://x.test/a/b/pull/1"
        )
        default = Services(github=TokenAccess("t"), store=store)
        assert default.pr_url("acme/config", 3) == "https://github.com/acme/config/pull/3"
    finally:
        store.close()
