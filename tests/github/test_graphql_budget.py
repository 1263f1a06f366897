"""GraphQL as GitHub prices and pages it (issue 12, rule 5): the emulator computes each query's point
cost with the formula of docs.github.com "Rate limits and query limits for the GraphQL API", pages
connections with `first`/`last` ≤ 100 and cursors, and answers an exhausted budget with HTTP 200 and a
RATE_LIMITED error. The adapter reads an evaluation's facts for at most 2 points, reads the newest
reviews first and pages through long lists, and waits out a rate limit."""

from __future__ import annotations

import time

import pytest
import requests

from bot.adapters.github.client import token_client
from bot.adapters.github.source import MAX_PAGES, GitHubReadError, PullRequestSource, rate_limit_wait
from bot.core.facts import ReviewState
from bot.emulator import graphql, ratelimits

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77
HOLDER = f"installation ID {INSTALLATION}"
CONFIG = (
    "approvals:\n  required: 1\naccounts:\n  - name: web\n    paths: ['experiments/**']\n"
    "    roles:\n      approver: ['@acme/approvers']\n"
)


def _setup(emulator, files: int = 1) -> int:  # type: ignore[no-untyped-def]
    d = emulator.driver
    base = {f"experiments/exp{i}.yaml": f"id: exp{i}\nstatus: draft\n" for i in range(files)}
    d.create_repo(REPO, {**base, ".approvalbot.yml": CONFIG})
    d.add_team("acme", "approvers", ["carol", "dave"])
    d.grant_team(REPO, "acme", "approvers")
    d.install_app(APP_ID, INSTALLATION, "acme")
    edits = {f"experiments/exp{i}.yaml": f"id: exp{i}\nstatus: running\n" for i in range(files)}
    return int(d.open_pr(REPO, "alice", "start", edits))


@pytest.fixture
def client(emulator, github_settings):  # type: ignore[no-untyped-def]
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    return token_client("bot-token", github_settings(emulator.base_url))


def _post(emulator, query: str, variables: dict | None = None) -> requests.Response:  # type: ignore[no-untyped-def,type-arg]
    emulator.register_token("raw-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    return requests.post(
        f"{emulator.base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": "token raw-token"},
        timeout=10,
    )


# --- the price of a query ------------------------------------------------------------------------


def test_the_docs_example_costs_what_the_docs_say() -> None:
    # docs.github.com: viewer.repositories(first: 100) > issues(first: 50) > labels(first: 60) needs
    # 1 + 100 + 5,000 = 5,101 requests: 51 points.
    query = (
        "query { viewer { login repositories(first: 100) { edges { node { id issues(first: 50) { edges {"
        " node { id labels(first: 60) { edges { node { id name } } } } } } } } } } }"
    )
    (op,) = graphql.parse(query)
    price = ratelimits.cost(op.selections, {})
    assert (price.requests, price.points) == (5101, 51)
    assert price.nodes == 100 + 100 * 50 + 100 * 50 * 60


def test_a_call_costs_at_least_one_point_and_halves_round_up() -> None:
    assert ratelimits.Cost(0, 0).points == 1
    assert ratelimits.Cost(149, 0).points == 1
    assert ratelimits.Cost(150, 0).points == 2
    assert ratelimits.Cost(250, 0).points == 3


def test_the_emulator_answers_cost_and_headers_and_refuses_an_empty_budget(emulator) -> None:  # type: ignore[no-untyped-def]
    _setup(emulator)
    emulator.graphql_budget.set_limit(3, reset_in=60)
    query = (
        'query { repository(owner: "acme", name: "config") { pullRequest(number: 1) {'
        " commits(first: 100) { nodes { commit { authors(first: 100) { nodes { name } } } } } } }"
        " rateLimit { cost limit remaining used } }"
    )
    first = _post(emulator, query)
    assert first.status_code == 200
    assert first.json()["data"]["rateLimit"] == {"cost": 1, "limit": 3, "remaining": 2, "used": 1}
    assert first.headers["X-RateLimit-Resource"] == "graphql"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    _post(emulator, query)
    _post(emulator, query)
    refused = _post(emulator, query)
    # GitHub: "the response status will still be 200 ... and the x-ratelimit-remaining header will be 0"
    assert refused.status_code == 200
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.json()["errors"][0]["type"] == "RATE_LIMITED"
    assert "data" not in refused.json()
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(time.time())


@pytest.mark.parametrize("argument", ["first", "last"])
def test_a_page_over_100_is_refused(emulator, argument) -> None:  # type: ignore[no-untyped-def]
    _setup(emulator)
    query = (
        'query { repository(owner: "acme", name: "config") { pullRequest(number: 1) {'
        f" reviews({argument}: 101) {{ totalCount }} }} }} }}"
    )
    body = _post(emulator, query).json()
    assert body["data"] is None
    assert f"exceeds the `{argument}` limit of 100 records" in body["errors"][0]["message"]


def test_a_query_over_the_node_limit_is_refused(emulator) -> None:  # type: ignore[no-untyped-def]
    _setup(emulator)
    query = (
        'query { repository(owner: "acme", name: "config") { pullRequests(first: 100) { nodes {'
        " commits(first: 100) { nodes { commit { authors(first: 100) { totalCount } } } } } } } }"
    )
    body = _post(emulator, query).json()
    assert body["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"


def test_last_and_before_page_backwards_with_cursors(emulator) -> None:  # type: ignore[no-untyped-def]
    number = _setup(emulator)
    for i in range(5):
        emulator.driver.comment(REPO, number, "carol", f"c{i}")
    page = (
        'query($c: String) { repository(owner: "acme", name: "config") { pullRequest(number: 1) {'
        " comments(last: 2, before: $c) { pageInfo { hasPreviousPage startCursor hasNextPage }"
        " nodes { body } } } } }"
    )
    seen, cursor = [], None
    while True:
        conn = _post(emulator, page, {"c": cursor}).json()["data"]["repository"]["pullRequest"]["comments"]
        seen = [n["body"] for n in conn["nodes"]] + seen
        if not conn["pageInfo"]["hasPreviousPage"]:
            break
        cursor = conn["pageInfo"]["startCursor"]
    assert seen == [f"c{i}" for i in range(5)]


# --- what an evaluation's read costs ---------------------------------------------------------------


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("files", [1, 100])
def test_reading_a_pr_costs_at_most_two_points(emulator, client, files, merged) -> None:  # type: ignore[no-untyped-def]
    number = _setup(emulator, files)
    emulator.driver.review(REPO, number, "carol", "APPROVE")
    emulator.graphql_budget.reset_log()
    snapshot = PullRequestSource(client, REPO).read(number, merged=merged)
    assert snapshot.incomplete is None
    charged = [points for _, points in emulator.graphql_budget.charged]
    # One point for the facts, one for the team and the files the planner reads next.
    assert charged == [1, 1], charged


def test_the_newest_reviews_are_read_and_older_pages_follow(emulator, client) -> None:  # type: ignore[no-untyped-def]
    number = _setup(emulator)
    d = emulator.driver
    d.review(REPO, number, "carol", "APPROVE")
    for i in range(148):
        d.review(REPO, number, f"reader{i}", "COMMENT", body=f"looked {i}")
    d.review(REPO, number, "carol", "REQUEST_CHANGES", body="on second thought, no")
    emulator.graphql_budget.reset_log()

    snapshot = PullRequestSource(client, REPO).read(number)

    reviews = snapshot.facts.reviews
    assert len(reviews) == 150 and snapshot.incomplete is None
    assert (reviews[0].user, reviews[0].state) == ("carol", ReviewState.APPROVED)  # oldest first
    assert (reviews[-1].user, reviews[-1].state) == ("carol", ReviewState.CHANGES_REQUESTED)
    assert len(emulator.graphql_budget.charged) == 3  # facts, one older page of reviews, team


def test_commits_beyond_a_page_are_all_read(emulator, client) -> None:  # type: ignore[no-untyped-def]
    number = _setup(emulator)
    series = [({f"notes/n{i}.txt": f"{i}\n"}, f"note {i}") for i in range(130)]
    emulator.driver.push_series(REPO, "start", series, author="bob")
    snapshot = PullRequestSource(client, REPO).read(number)
    assert len(snapshot.facts.commits) == 131 and snapshot.incomplete is None
    assert "bob" in {c.author for c in snapshot.facts.commits}


def test_a_list_longer_than_the_pages_read_makes_the_read_incomplete(emulator, client) -> None:  # type: ignore[no-untyped-def]
    number = _setup(emulator)
    for i in range(MAX_PAGES + 2):
        emulator.driver.comment(REPO, number, "carol", f"c{i}")
    emulator.faults.truncate("graphql comments", keep=1, times=MAX_PAGES)
    snapshot = PullRequestSource(client, REPO).read(number)
    assert snapshot.incomplete is not None and "more than 1000 comments" in snapshot.incomplete


# --- a used-up budget ------------------------------------------------------------------------------


def test_a_rate_limited_query_is_waited_out_and_asked_again(emulator, client) -> None:  # type: ignore[no-untyped-def]
    number = _setup(emulator)
    emulator.graphql_budget.set_limit(1, reset_in=1.0)  # the facts query takes it all
    started = time.monotonic()
    snapshot = PullRequestSource(client, REPO).read(number, merged=True)
    assert snapshot.incomplete is None and snapshot.facts.teams == {"acme/approvers": ("carol", "dave")}
    graphql_calls = emulator.calls.of("POST /graphql")
    assert [c.body.get("errors", [{}])[0].get("type") for c in graphql_calls] == [None, "RATE_LIMITED", None]
    assert time.monotonic() - started < 10


def test_a_limit_that_frees_up_too_late_fails_the_read_with_a_reason(emulator, client) -> None:  # type: ignore[no-untyped-def]
    number = _setup(emulator)
    emulator.graphql_budget.set_limit(1, reset_in=3600)
    with pytest.raises(
        GitHubReadError, match=r"GraphQL rate limit for acme/config is used up .* retried later"
    ):
        PullRequestSource(client, REPO, max_rate_limit_wait=5).read(number)


def test_the_wait_follows_githubs_headers() -> None:
    limited = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}
    newer = {"errors": [{"type": "RATE_LIMIT", "code": "graphql_rate_limit", "message": "already exceeded"}]}
    secondary = {"errors": [{"message": "You have exceeded a secondary rate limit."}]}
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1010"}
    assert rate_limit_wait(headers, limited, now=1000.0) == 11.0
    assert rate_limit_wait(headers, newer, now=1000.0) == 11.0
    assert rate_limit_wait({"Retry-After": "7"}, secondary, now=0.0) == 7.0
    assert rate_limit_wait({}, secondary, now=0.0) == 60.0  # "wait for at least one minute"
    assert rate_limit_wait(headers, {"data": {}}, now=1000.0) is None
