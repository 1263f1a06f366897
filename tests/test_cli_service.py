"""Service subcommands with wrong settings: a plain message naming the setting, exit 2, no traceback."""

from __future__ import annotations

import pytest

from bot.cli import main


@pytest.mark.parametrize(
    ("command", "variable", "value", "says"),
    [
        ("status", "DATABASE_URL", "mysql://db/x", "DATABASE_URL uses 'mysql'"),
        ("tick", "APPROVALBOT_WORKERS", "abc", "APPROVALBOT_WORKERS='abc'"),
        ("reconcile", "APPROVALBOT_GITHUB_THROTTLE", "fast", "APPROVALBOT_GITHUB_THROTTLE"),
    ],
)
def test_bad_settings_are_explained(  # type: ignore[no-untyped-def]
    command, variable, value, says, monkeypatch, capsys, tmp_path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/s.db")
    monkeypatch.setenv(variable, value)
    argv = [command] + (["--repo", "acme/config"] if command == "reconcile" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err and "internal error" not in err


def test_reconcile_without_any_github_credentials_says_what_to_set(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/s.db")
    for name in ("GITHUB_TOKEN", "APPROVALBOT_APP_ID", "APPROVALBOT_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["reconcile", "--repo", "acme/config"]) == 2
    assert "APPROVALBOT_APP_ID" in capsys.readouterr().err


def test_tick_on_an_empty_store_reports_nothing_due(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/s.db")
    assert main(["tick", "--now", "2030-01-01T00:00:00Z"]) == 0
    assert "0 scheduled transitions applied" in capsys.readouterr().out
