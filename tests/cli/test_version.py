"""`approvalbot --version` and `-V`: the name and `bot.__version__` on stdout, exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bot
from bot.cli import main


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_the_version_flag_prints_name_and_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([flag]) == 0
    out, err = capsys.readouterr()
    assert out == f"approvalbot {bot.__version__}\n"
    assert err == ""


def test_the_installed_console_script_prints_the_version() -> None:
    # The script pip wrote next to this interpreter: what a user types, not `python -m bot`.
    script = Path(sys.executable).with_name("approvalbot")
    if not script.exists():
        pytest.skip(f"no console script at {script}: the package is not installed in this environment")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"approvalbot {bot.__version__}\n", "")
