"""Slash commands in pull request comments and review bodies.

A command is a line that starts with `/`. Commands are facts like reviews: the decision engine
weighs them with the same eligibility rules, so this module only reads text, it never judges who
wrote it.
"""

from __future__ import annotations

import re
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
    prose = _prose_lines(lines)
    found: list[Command | UnknownCommand] = []
    for index, raw in enumerate(lines):
        text = raw.strip()
        if index not in prose or not _is_command_line(text):
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


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _prose_lines(lines: list[str]) -> set[int]:
    """The indexes of the lines that are prose, where a command may stand: not inside a fenced or an
    indented code block, an HTML comment or a `>` quote (with its lazy continuation lines), as GitHub
    renders Markdown (GitHub Flavored Markdown spec: fenced and indented code blocks, HTML blocks,
    block quotes). Quoted or pasted text is someone else's words, never a command of the commenter."""
    prose: set[int] = set()
    fence: str | None = None
    in_comment = quoted = False
    for index, raw in enumerate(lines):
        stripped = raw.strip()
        if fence is not None:
            closing = _FENCE.match(raw)
            mark = closing.group(1) if closing else ""
            # A closing fence: the same character, at least as long, and nothing after it.
            if mark and mark[0] == fence[0] and len(mark) >= len(fence) and not stripped[len(mark) :].strip():
                fence = None
            continue
        if in_comment:
            in_comment = "-->" not in raw
            continue
        opening = _FENCE.match(raw)
        if opening:
            fence = opening.group(1)
            quoted = False
            continue
        if "<!--" in raw and "-->" not in raw[raw.index("<!--") :]:
            in_comment = True  # the comment runs on to a later line; this line starts with prose, if any
            if not stripped.startswith("<!--"):
                prose.add(index)
            continue
        if not stripped:
            quoted = False
            continue
        if stripped.startswith(">"):
            quoted = True
            continue
        if quoted:
            continue  # a lazy continuation of the quote above
        if raw.startswith(("    ", "\t")):
            continue  # an indented code block
        prose.add(index)
    return prose


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
