"""Slash commands: one per line that starts with `/`, wherever it sits in a comment."""

from __future__ import annotations

import pytest

from bot.core.commands import Command, CommandName, parse_commands, unknown_commands

A, R, W, C = CommandName.APPROVE, CommandName.REJECT, CommandName.WINNER, CommandName.RECHECK

CASES = [
    ("approve", "/approve", [Command(A, "", 1)]),
    ("winner with a variant", "/winner b", [Command(W, "b", 1)]),
    ("reject with a reason", "/reject too risky", [Command(R, "too risky", 1)]),
    ("recheck", "/recheck", [Command(C, "", 1)]),
    ("case and spaces are forgiven", "  /APPROVE  ", [Command(A, "", 1)]),
    ("prose around a command", "Looks good.\n/winner b\nThanks!", [Command(W, "b", 2)]),
    (
        "several commands, in order",
        "/approve\n/winner control",
        [Command(A, "", 1), Command(W, "control", 2)],
    ),
    (
        "a reject reason runs until the next command",
        "/reject too risky\nthe traffic is too high\n\n/recheck",
        [Command(R, "too risky\nthe traffic is too high", 1), Command(C, "", 4)],
    ),
    (
        "a reject reason may start on the next line",
        "/reject\nnot this week",
        [Command(R, "not this week", 1)],
    ),
    ("windows line ends", "/approve\r\n/winner a\r\n", [Command(A, "", 1), Command(W, "a", 2)]),
    ("a command mid-line is prose", "please /approve this", []),
    ("a path is not a command", "see //comment and / and /1", []),
    ("unknown words are not commands", "/aprove", []),
    ("empty body", "", []),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_commands(body: str, expected: list[Command]) -> None:
    assert parse_commands(body) == expected


def test_unknown_commands_are_reported_for_a_reply() -> None:
    found = unknown_commands("/aprove\n/approve\n/lgtm now")
    assert [(u.word, u.line) for u in found] == [("aprove", 1), ("lgtm", 3)]


@pytest.mark.parametrize(
    "body",
    [
        "```\n/approve\n```",
        "~~~~\n/approve\n~~~~",
        "  ```yaml\n/approve\n  ```",
        "<!--\n/approve\n-->",
        "text <!-- hidden\n/approve -->",
        "> quoted\n/approve",
        "> /approve",
        "    /approve",
        "`/approve`",
    ],
)
def test_a_command_in_code_a_comment_or_a_quote_is_not_one(body: str) -> None:
    assert parse_commands(body) == [] and unknown_commands(body.replace("approve", "aprove")) == []


def test_commands_after_code_and_quotes_are_read() -> None:
    body = "```\n/approve\n```\n<!-- x -->\n> quoted\n\n/winner b\n/approve"
    assert [(c.name.value, c.argument) for c in parse_commands(body)] == [("winner", "b"), ("approve", "")]
