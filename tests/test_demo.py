"""`approvalbot demo` is the README's main job: it must run green on embedded defaults."""

from __future__ import annotations

import io

from bot.cli import main
from bot.demo import run_demo


def test_the_demo_runs_every_step_green() -> None:
    out = io.StringIO()
    assert run_demo(out=out), out.getvalue()
    text = out.getvalue()
    assert "demo passed" in text
    assert "[FAIL]" not in text
    # The story a newcomer reads: each step's verdict is printed.
    for words in (
        "waits for approval",
        "creator's approval does not count",
        "the check is green",
        "paused in the live store",
        "PR is closed",
        "blocked by",
    ):
        assert words in text


def test_the_demo_command_exits_zero(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo", "--quiet"]) == 0
    assert "demo passed" in capsys.readouterr().out
