"""Service subcommands: wrong settings get a plain message naming the setting (exit 2, no traceback);
`tick` does the scheduler's work once."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.adapters.store import Store
from bot.adapters.targets import Target, target_key
from bot.cli import main
from bot.core.live import OwedPost


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


def test_tick_delivers_the_target_posts_still_owed(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    database = f"sqlite:///{tmp_path}/s.db"
    store = Store.from_url(database)
    owed = OwedPost("c" * 40, target_key(Target(url, "s3cret")), '{"commit": "ccc"}')
    store.apply_merge("c" * 40, 3, [], [], owed=[owed])
    store.close()
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("APPROVALBOT_TARGETS", url)
    monkeypatch.setenv("APPROVALBOT_TARGETS_SECRET", "s3cret")
    try:
        assert main(["tick"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert "1 owed target POST(s) delivered, 0 still owed" in capsys.readouterr().out
    assert received == [b'{"commit": "ccc"}']
