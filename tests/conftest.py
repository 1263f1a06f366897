# ---- emulator* / github* fixtures (GitHub emulator and PyGithub adapter) ------------------------
import importlib.util as _importlib_util
from collections.abc import Iterator as _Iterator
from pathlib import Path as _Path

import pytest as _pytest


def _load_github_contract():  # type: ignore[no-untyped-def]
    path = _Path(__file__).parent / "contract" / "github_contract.py"
    spec = _importlib_util.spec_from_file_location("github_contract", path)
    module = _importlib_util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@_pytest.fixture(scope="session")
def github_contract():  # type: ignore[no-untyped-def]
    """Validators for GitHub's published contract (tests/contract/github_contract.py)."""
    return _load_github_contract()


@_pytest.fixture(scope="session", autouse=True)
def _graphql_against_githubs_schema(github_contract) -> _Iterator[None]:  # type: ignore[no-untyped-def]
    """Every emulator of the suite (this file's fixture, the sandbox's, a test's own) validates each
    GraphQL document it is sent against GitHub's schema (@octokit/graphql-schema) and refuses an invalid
    one as GitHub does, so no document the bot sends can be wrong on GitHub and pass here. The schema
    is built on the first GraphQL call, once per process."""
    from bot.emulator import validate_graphql_with

    previous = validate_graphql_with(github_contract.graphql_errors)
    yield
    validate_graphql_with(previous)


@_pytest.fixture
def emulator(github_contract) -> _Iterator[object]:  # type: ignore[no-untyped-def]
    """A started GitHub emulator. At teardown every REST answer it gave must validate against GitHub's
    OpenAPI description and every webhook it sent against @octokit/webhooks-schemas."""
    from bot.emulator import GitHubEmulator

    with GitHubEmulator() as emu:
        yield emu
        problems = []
        for call in emu.calls.calls:
            if call.route != "POST /graphql":
                problems += github_contract.response_errors(call.route, call.status, call.body)
        for delivery in emu.webhooks.deliveries:
            problems += github_contract.webhook_errors(delivery.event, delivery.payload)
    assert not problems, "emulator broke GitHub's contract:\n" + "\n".join(problems[:20])


@_pytest.fixture
def github_settings():  # type: ignore[no-untyped-def]
    """Client settings for tests: no throttling, small and quick retries."""
    from bot.adapters.github.client import ClientSettings, RetryPolicy

    def make(base_url: str):  # type: ignore[no-untyped-def]
        retry = RetryPolicy(total=3, backoff_factor=0.01, secondary_rate_wait=0.1, max_rate_limit_wait=5)
        return ClientSettings(
            base_url=base_url,
            retry=retry,
            seconds_between_requests=0,
            seconds_between_writes=0,
            mergeable_waits=(0.02, 0.05, 0.1),
        )

    return make


# ---- end of emulator* / github* fixtures --------------------------------------------------------
