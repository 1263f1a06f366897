"""Reading a webhook payload into the few facts routing needs: which PR (or branch), which repository
and installation, who did it, and the bits of the event that change what happens (merged, review state,
whether a comment was edited). Everything else is re-read from GitHub (handlers hold no state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class PayloadError(ValueError):
    """A payload that lacks what its event must carry (a forged or truncated delivery)."""


@dataclass(frozen=True)
class WebhookEvent:
    event: str  # X-GitHub-Event
    action: str | None
    repository: str  # "owner/name"
    installation_id: int | None
    sender: str
    pull_number: int | None = None  # the PR this event concerns, when it concerns one
    head_sha: str | None = None
    draft: bool | None = None
    merged: bool | None = None  # pull_request closed: merged or not
    ref: str | None = None  # push: the branch pushed to ("main"), without refs/heads/
    pusher: str | None = None  # push and pull_request.synchronize: who pushed
    review_state: str | None = None  # pull_request_review: APPROVED, CHANGES_REQUESTED… (REST spelling)
    comment_body: str | None = None
    comment_edited: bool = False  # issue_comment edited (slash commands in edited comments never count)
    default_branch: str | None = None
    base_changed: bool = False  # pull_request edited with a new base

    @property
    def key(self) -> str:
        """Ordering key: events of one PR run one at a time (pushes by branch)."""
        if self.pull_number is not None:
            return f"{self.repository}#{self.pull_number}"
        return f"{self.repository}@{self.ref or ''}"


def _get(payload: Mapping[str, Any], *path: str) -> Any:
    node: Any = payload
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            raise PayloadError(f"payload has no {'.'.join(path)}")
        node = node[part]
    return node


def read_event(event: str, payload: Mapping[str, Any]) -> WebhookEvent:
    repository = str(_get(payload, "repository", "full_name"))
    installation = payload.get("installation") or {}
    base = {
        "event": event,
        "action": payload.get("action"),
        "repository": repository,
        "installation_id": installation.get("id"),
        "sender": str(_get(payload, "sender", "login")),
        "default_branch": payload["repository"].get("default_branch"),
    }
    if event == "pull_request":
        pr = _get(payload, "pull_request")
        sync = payload.get("action") == "synchronize"
        return WebhookEvent(
            **base,
            pull_number=int(_get(payload, "number")),
            head_sha=str(_get(pr, "head", "sha")),
            draft=bool(pr.get("draft")),
            merged=bool(pr.get("merged")) if payload.get("action") == "closed" else None,
            pusher=base["sender"] if sync else None,
            base_changed="base" in (payload.get("changes") or {}),
        )
    if event == "pull_request_review":
        pr, review = _get(payload, "pull_request"), _get(payload, "review")
        return WebhookEvent(
            **base,
            pull_number=int(_get(pr, "number")),
            head_sha=str(_get(pr, "head", "sha")),
            draft=bool(pr.get("draft")),
            review_state=str(_get(review, "state")).upper(),
        )
    if event == "issue_comment":
        issue = _get(payload, "issue")
        on_pull = "pull_request" in issue  # comments on plain issues carry no pull_request
        return WebhookEvent(
            **base,
            pull_number=int(_get(issue, "number")) if on_pull else None,
            comment_body=str(_get(payload, "comment", "body")),
            comment_edited=payload.get("action") == "edited",
        )
    if event == "push":
        ref = str(_get(payload, "ref"))
        pusher = payload.get("pusher") or {}
        return WebhookEvent(
            **base,
            ref=ref.removeprefix("refs/heads/"),
            head_sha=str(_get(payload, "after")),
            pusher=pusher.get("username") or pusher.get("name"),
        )
    if event == "check_run":
        run = _get(payload, "check_run")
        pulls = run.get("pull_requests") or []
        return WebhookEvent(
            **base,
            pull_number=int(pulls[0]["number"]) if pulls else None,
            head_sha=str(_get(run, "head_sha")),
        )
    return WebhookEvent(**base)
