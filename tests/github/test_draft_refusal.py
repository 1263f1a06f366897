"""The writer tells "GitHub has no drafts here" (rule 11) from a write that failed."""

from __future__ import annotations

import pytest

from bot.adapters.github.client import token_client
from bot.adapters.github.source import PullRequestSource
from bot.adapters.github.writer import DraftsUnavailable, GitHubWriteError, PullRequestWriter

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77


def test_converting_where_the_plan_has_no_drafts_is_drafts_unavailable(emulator, github_settings):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a": "1"})  # private
    d.set_plan("acme", "free")
    d.install_app(APP_ID, INSTALLATION, "acme")
    number = d.open_pr(REPO, "alice", "b", {"a": "2"})
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    client = token_client("bot-token", github_settings(emulator.base_url))
    pull = PullRequestSource(client, REPO).read(number).pull

    with pytest.raises(DraftsUnavailable, match=r"#1 cannot be made a draft: .* to draft\.") as refused:
        PullRequestWriter(client, REPO).convert_to_draft(pull)
    assert isinstance(refused.value, GitHubWriteError)  # callers that catch write errors still do
    assert "GitHub Team and Enterprise" in str(refused.value)  # says what would allow it

    d.set_plan("acme", "team")
    assert PullRequestWriter(client, REPO).convert_to_draft(pull) is True
