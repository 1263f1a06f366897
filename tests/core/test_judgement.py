"""The log of a PR's heads reduced to what the decision weighs (bot.core.judgement, issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.judgement import HeadEvent, HeadEventKind, head_history, latest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PUSH, SEEN, BASE = HeadEventKind.PUSH, HeadEventKind.SEEN, HeadEventKind.BASE


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_every_pusher_of_every_head_is_kept() -> None:
    events = [
        HeadEvent("a", "main", _at(0), PUSH, "carol", 1),
        HeadEvent("b", "main", _at(5), PUSH, "bob", 2),
        HeadEvent("c", "main", _at(9), PUSH, "carol", 3),
    ]
    history = head_history(events, "c", "main", {"a", "b", "c"})
    assert history.pushers == ("carol", "bob")
    assert history.unknown == () and history.since == _at(9) and history.current


def test_a_sighting_with_no_webhook_has_an_unknown_pusher_until_one_names_it() -> None:
    events = [HeadEvent("a", "main", _at(0), PUSH, "carol", 1), HeadEvent("b", "main", _at(8), SEEN, None, 2)]
    assert head_history(events, "b", "main", {"a", "b"}).unknown == ("b",)
    # The lost synchronize, redelivered: same stint (no other head between), so its pusher is known.
    events.append(HeadEvent("b", "main", _at(5), PUSH, "bob", 3))
    history = head_history(events, "b", "main", {"a", "b"})
    assert history.unknown == () and history.pushers == ("carol", "bob")
    assert history.since == _at(5)  # GitHub's time of the push, not of the later sighting


def test_an_unknown_head_no_longer_in_the_pr_does_not_block() -> None:
    events = [HeadEvent("a", "main", _at(0), SEEN, None, 1), HeadEvent("b", "main", _at(5), PUSH, "carol", 2)]
    assert head_history(events, "b", "main", {"b"}).unknown == ()  # force-pushed away
    assert head_history(events, "b", "main", {"a", "b"}).unknown == ("a",)


def test_a_force_push_back_to_an_old_head_starts_a_new_stint() -> None:
    events = [
        HeadEvent("a", "main", _at(0), PUSH, "carol", 1),
        HeadEvent("b", "main", _at(5), PUSH, "carol", 2),
        HeadEvent("a", "main", _at(9), PUSH, "carol", 3),
    ]
    assert head_history(events, "a", "main", {"a"}).since == _at(9)


def test_a_retarget_restarts_the_head_s_time_and_is_not_a_push() -> None:
    events = [
        HeadEvent("a", "staging", _at(0), PUSH, "carol", 1),
        HeadEvent("a", "main", _at(7), BASE, None, 2),
    ]
    history = head_history(events, "a", "main", {"a"})
    assert history.since == _at(7) and history.base_changed_at == _at(7) and history.unknown == ()


def test_a_head_the_log_never_saw_is_unknown_and_has_no_time() -> None:
    events = [HeadEvent("a", "main", _at(0), PUSH, "carol", 1)]
    history = head_history(events, "z", "main", {"a", "z"})
    assert not history.current and history.since is None and history.unknown == ("z",)
    assert head_history(events, "a", "release", {"a"}).since is None  # merged into another base
    assert latest(events) == events[0] and latest([]) is None


def test_emails_name_logins_by_github_s_noreply_forms_and_users() -> None:
    from bot.core.decision import login_for_email
    from bot.core.repo_config import parse_repo_config

    rules = (
        "accounts:\n  web:\n    paths: ['web/**']\n    roles: {admin: [bob]}\n"
        "users:\n  bob: {email: Bob@Example.com}\n  twin1: {email: x@y.z}\n  twin2: {email: x@y.z}\n"
    )
    config, problems = parse_repo_config(rules.encode())
    assert config is not None, problems
    assert login_for_email(config, "123+bob-x@users.noreply.github.com") == "bob-x"
    assert login_for_email(config, "carol@users.noreply.github.com") == "carol"
    assert login_for_email(config, "bob@example.com") == "bob"
    assert login_for_email(config, "x@y.z") is None  # two people: either may have written it
    assert login_for_email(config, "nobody@example.com") is None
