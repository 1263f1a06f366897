"""The code stays as the README promises: `ruff` clean, formatted, and `mypy --strict` clean.

These run the tools the test lock pins, on the project's own configuration in pyproject.toml, so a
change that breaks the rules is red here rather than in a reviewer's head.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "bot", "tests", "bench"), ("ruff", "format", "--check", "bot", "tests", "bench")],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff_is_clean(command: tuple[str, ...]) -> None:
    result = _run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    # The files and `strict = true` come from [tool.mypy]; a cache outside the tree keeps the checkout clean.
    result = _run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert result.returncode == 0, result.stdout + result.stderr
