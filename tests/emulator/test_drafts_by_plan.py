"""Rule 11: draft PRs exist in public repositories on every plan and in private ones only on GitHub Team
and Enterprise; elsewhere GitHub refuses to make one (bot/emulator/drafts.py has the sources)."""

from __future__ import annotations

import pytest
import requests

from bot.emulator.drafts import NOT_SUPPORTED, DraftRefused
from bot.emulator.state import node_id

REPO = "acme/config"
MUTATION = (
    "mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) "
    "{ pullRequest { isDraft } } }"
)


def _convert(emulator, number: int) -> requests.Response:  # type: ignore[no-untyped-def]
    pr = emulator.world.repo(REPO).pulls[number]
    return requests.post(
        emulator.base_url + "/graphql",
        json={"query": MUTATION, "variables": {"id": node_id("PR_", pr.id)}},
        headers={"Authorization": f"bearer {emulator.token_for('alice')}"},
        timeout=5,
    )


@pytest.mark.parametrize(("private", "plan"), [(True, "team"), (True, "enterprise"), (False, "free")])
def test_drafts_where_the_plan_has_them(emulator, private, plan):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"}, private=private)
    emulator.driver.set_plan("acme", plan)
    number = emulator.driver.open_pr(REPO, "alice", "b", {"a": "2"})
    answer = _convert(emulator, number)
    assert answer.json() == {"data": {"convertPullRequestToDraft": {"pullRequest": {"isDraft": True}}}}
    assert emulator.webhooks.of("pull_request", "converted_to_draft")
    assert emulator.driver.open_pr(REPO, "alice", "c", {"a": "3"}, draft=True)


@pytest.mark.parametrize("plan", ["free", "pro"])
def test_a_private_repository_on_free_or_pro_has_no_drafts(emulator, plan):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})  # private, as the emulator's repositories are
    emulator.driver.set_plan("acme", plan)
    number = emulator.driver.open_pr(REPO, "alice", "b", {"a": "2"})

    answer = _convert(emulator, number)

    assert answer.status_code == 200  # GraphQL refuses inside the answer
    body = answer.json()
    assert body["data"] == {"convertPullRequestToDraft": None}
    pr_id = node_id("PR_", emulator.world.repo(REPO).pulls[number].id)
    assert (
        body["errors"][0]["message"]
        == f"alice does not have permission to convert the pull request {pr_id} to draft."
    )
    assert body["errors"][0]["path"] == ["convertPullRequestToDraft"]
    assert emulator.world.repo(REPO).pulls[number].draft is False
    assert not emulator.webhooks.of("pull_request", "converted_to_draft")
    with pytest.raises(DraftRefused) as refused:
        emulator.driver.open_pr(REPO, "alice", "c", {"a": "3"}, draft=True)
    assert (refused.value.status, refused.value.message) == (422, NOT_SUPPORTED)
    with pytest.raises(DraftRefused):
        emulator.driver.convert_to_draft(REPO, number, "alice")
    # Marking ready is never refused: a draft made before a downgrade can always leave draft.


def test_the_repository_says_whether_it_is_private(emulator):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"}, private=False)
    number = emulator.driver.open_pr(REPO, "alice", "b", {"a": "2"})
    answer = requests.get(
        f"{emulator.base_url}/repos/{REPO}/pulls/{number}",
        headers={"Authorization": f"bearer {emulator.token_for('alice')}"},
        timeout=5,
    )
    repo = answer.json()["base"]["repo"]
    assert (repo["private"], repo["visibility"]) == (False, "public")
