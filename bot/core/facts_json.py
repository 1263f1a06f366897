"""Pull request facts as JSON: the offline `approvalbot check --facts FACTS.json` format.

Missing optional fields take the safe defaults (no reviews, no comments, not draft, no other PRs).
Bad input raises `ValueError` naming the field (`reviews[1].state: …`), never a KeyError or
TypeError, so the CLI can print it as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.core.facts import Comment, Commit, OpenPullRequest, PullRequestFacts, Review, ReviewState
from bot.core.model import Kind, PendingState, ResourceKey

T = TypeVar("T")


def facts_from_json(data: Mapping[str, Any]) -> PullRequestFacts:
    """Read the FACTS.json object into `PullRequestFacts`."""
    _mapping(data, "facts")
    return PullRequestFacts(
        number=_int(_required(data, "number", "number"), "number"),
        author=_login(_required(data, "author", "author"), "author"),
        head_sha=_str(data.get("head_sha", ""), "head_sha"),
        draft=_bool(data.get("draft", False), "draft"),
        ready_at=_time(data.get("ready_at"), "ready_at"),
        head_pushed_at=_time(data.get("head_pushed_at"), "head_pushed_at"),
        commits=_list(data, "commits", _commit),
        pusher=_optional_login(data.get("pusher"), "pusher"),
        reviews=_list(data, "reviews", _review),
        comments=_list(data, "comments", _comment),
        teams=_teams(data.get("teams", {})),
        open_prs=_list(data, "open_prs", _open_pr),
        incomplete=_optional_str(data.get("incomplete"), "incomplete"),
    )


def facts_to_json(facts: PullRequestFacts) -> dict[str, Any]:
    """The FACTS.json object of `facts`; `facts_from_json` reads it back to equal facts."""
    return {
        "number": facts.number,
        "author": facts.author,
        "draft": facts.draft,
        "head_sha": facts.head_sha,
        "ready_at": _time_json(facts.ready_at),
        "head_pushed_at": _time_json(facts.head_pushed_at),
        "commits": [
            {"sha": c.sha, "author": c.author, "committer": c.committer, "co_authors": list(c.co_authors)}
            for c in facts.commits
        ],
        "pusher": facts.pusher,
        "reviews": [
            {
                "user": r.user,
                "state": r.state.value,
                "body": r.body,
                "commit_id": r.commit_id,
                "submitted_at": _time_json(r.submitted_at),
            }
            for r in facts.reviews
        ],
        "comments": [
            {
                "user": c.user,
                "body": c.body,
                "created_at": _time_json(c.created_at),
                "edited": c.edited,
                "id": c.id,
            }
            for c in facts.comments
        ],
        "teams": {slug: list(members) for slug, members in facts.teams.items()},
        "open_prs": [_open_pr_json(p) for p in facts.open_prs],
        "incomplete": facts.incomplete,
    }


# ---------------------------------------------------------------------------------------------------
# Parts.


def _commit(item: Any, where: str) -> Commit:
    _mapping(item, where)
    return Commit(
        sha=_str(_required(item, "sha", where), f"{where}.sha"),
        author=_optional_login(item.get("author"), f"{where}.author"),
        committer=_optional_login(item.get("committer"), f"{where}.committer"),
        co_authors=tuple(_logins(item.get("co_authors", []), f"{where}.co_authors")),
    )


def _review(item: Any, where: str) -> Review:
    _mapping(item, where)
    state = _str(_required(item, "state", where), f"{where}.state")
    try:
        review_state = ReviewState(state.upper())
    except ValueError:
        allowed = ", ".join(s.value for s in ReviewState)
        raise ValueError(f"{where}.state: unknown review state {state!r}; use one of {allowed}") from None
    return Review(
        user=_login(_required(item, "user", where), f"{where}.user"),
        state=review_state,
        body=_str(item.get("body") or "", f"{where}.body"),
        commit_id=_str(item.get("commit_id") or "", f"{where}.commit_id"),
        submitted_at=_time(item.get("submitted_at"), f"{where}.submitted_at"),
    )


def _comment(item: Any, where: str) -> Comment:
    _mapping(item, where)
    comment_id = item.get("id")
    return Comment(
        user=_login(_required(item, "user", where), f"{where}.user"),
        body=_str(item.get("body") or "", f"{where}.body"),
        created_at=_time(item.get("created_at"), f"{where}.created_at"),
        edited=_bool(item.get("edited", False), f"{where}.edited"),
        id=None if comment_id is None else _int(comment_id, f"{where}.id"),
    )


def _open_pr(item: Any, where: str) -> OpenPullRequest:
    _mapping(item, where)
    resources = _list(item, "resources", _resource, where)
    pending: dict[ResourceKey, PendingState] = {}
    for index, raw in enumerate(item.get("resources") or []):
        state = raw.get("pending")
        if state is not None:
            pending[resources[index]] = _enum(PendingState, state, f"{where}.resources[{index}].pending")
    return OpenPullRequest(
        number=_int(_required(item, "number", where), f"{where}.number"),
        ready_at=_time(item.get("ready_at"), f"{where}.ready_at"),
        resources=resources,
        draft=_bool(item.get("draft", False), f"{where}.draft"),
        publishes=_list(item, "publishes", _resource, where),
        pending=pending,
    )


def _resource(item: Any, where: str) -> ResourceKey:
    _mapping(item, where)
    return ResourceKey(
        account=_str(_required(item, "account", where), f"{where}.account"),
        kind=_enum(Kind, _required(item, "kind", where), f"{where}.kind"),
        id=_str(_required(item, "id", where), f"{where}.id"),
    )


def _open_pr_json(pr: OpenPullRequest) -> dict[str, Any]:
    def key_json(key: ResourceKey) -> dict[str, Any]:
        out: dict[str, Any] = {"account": key.account, "kind": key.kind.value, "id": key.id}
        if key in pr.pending:
            out["pending"] = pr.pending[key].value
        return out

    return {
        "number": pr.number,
        "ready_at": _time_json(pr.ready_at),
        "draft": pr.draft,
        "resources": [key_json(k) for k in pr.resources],
        "publishes": [{"account": k.account, "kind": k.kind.value, "id": k.id} for k in pr.publishes],
    }


def _teams(value: Any) -> dict[str, tuple[str, ...]]:
    _mapping(value, "teams")
    teams: dict[str, tuple[str, ...]] = {}
    for slug, members in value.items():
        if not isinstance(slug, str) or "/" not in slug:
            raise ValueError(f"teams: key {slug!r} must be a team slug like 'org/team'")
        teams[slug.lstrip("@")] = tuple(_logins(members, f"teams.{slug}"))
    return teams


# ---------------------------------------------------------------------------------------------------
# Checked scalars: each names the field when the value is wrong.


def _required(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        field = where if where == key else f"{where}.{key}"
        raise ValueError(f"{field}: missing; it is required")
    return data[key]


def _mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")


def _list(
    data: Mapping[str, Any], key: str, read: Callable[[Any, str], T], parent: str = ""
) -> tuple[T, ...]:
    where = f"{parent}.{key}" if parent else key
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
    return tuple(read(item, f"{where}[{index}]") for index, item in enumerate(value))


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected text, got {type(value).__name__}")
    return value


def _optional_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _login(value: Any, where: str) -> str:
    login = _str(value, where).strip()
    if not login:
        raise ValueError(f"{where}: a login may not be empty")
    return login


def _optional_login(value: Any, where: str) -> str | None:
    return None if value is None else _login(value, where)


def _logins(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of logins, got {type(value).__name__}")
    return [_login(item, f"{where}[{index}]") for index, item in enumerate(value)]


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: expected a whole number, got {value!r}")
    return int(value)  # already an int; int() says so to mypy, which cannot narrow Any by isinstance here


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: expected true or false, got {value!r}")
    return value


E = TypeVar("E", Kind, PendingState)


def _enum(enum: type[E], value: Any, where: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise ValueError(f"{where}: unknown value {value!r}; use one of {allowed}") from None


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    text = _str(value, where)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not an RFC 3339 time like 2026-11-21T09:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{where}: {text!r} has no time zone; add Z or an offset like +01:00")
    return parsed.astimezone(UTC)


def _time_json(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
