"""Slash commands in pull request comments and review bodies.

A command is a line that starts with `/`. Commands are facts like reviews: the decision engine
weighs them with the same eligibility rules, so this module only reads text, it never judges who
wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CommandName(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    WINNER = "winner"
    RECHECK = "recheck"


KNOWN_COMMANDS = ", ".join(f"/{name.value}" for name in CommandName)


@dataclass(frozen=True)
class Command:
    name: CommandName
    argument: str = ""  # `/winner b` → "b"; `/reject REASON` → the reason (may span lines)
    line: int = 1  # 1-based line of the command in the body


@dataclass(frozen=True)
class UnknownCommand:
    """A line that looks like a command but names none we know: worth a reply, never an action."""

    word: str
    line: int


def parse_commands(body: str) -> list[Command]:
    """The known commands of `body`, one per line that starts with `/`, in order."""
    return [c for c in _parse(body) if isinstance(c, Command)]


def unknown_commands(body: str) -> list[UnknownCommand]:
    """Lines that start with `/` but name no command, so a typo (`/aprove`) gets an answer."""
    return [c for c in _parse(body) if isinstance(c, UnknownCommand)]


def _parse(body: str) -> list[Command | UnknownCommand]:
    lines = body.replace("\r\n", "\n").split("\n")
    found: list[Command | UnknownCommand] = []
    for index, raw in enumerate(lines):
        text = raw.strip()
        if not _is_command_line(text):
            continue
        word, _, rest = text[1:].partition(" ")
        name = _command_name(word)
        if name is None:
            found.append(UnknownCommand(word, index + 1))
            continue
        argument = rest.strip()
        if name is CommandName.REJECT:
            # Feedback may run over several lines: everything up to the next command belongs to it.
            argument = _with_continuation(argument, lines[index + 1 :])
        found.append(Command(name, argument, index + 1))
    return found


def _is_command_line(text: str) -> bool:
    # `//` and a lone `/` are prose (comments in pasted code, a path root), not commands.
    return len(text) > 1 and text[0] == "/" and text[1].isalpha()


def _command_name(word: str) -> CommandName | None:
    try:
        return CommandName(word.lower())
    except ValueError:
        return None


def _with_continuation(first: str, following: list[str]) -> str:
    parts = [first] if first else []
    for raw in following:
        if _is_command_line(raw.strip()):
            break
        parts.append(raw.rstrip())
    return "\n".join(parts).strip()
