"""A body over GitHub's 25 MB limit gets a 413 the client can read, under gunicorn as `serve` runs it.

Answering before the body is read and then closing makes the client's TCP stack reset the connection
while it is still sending (it saw "Broken pipe", never the answer); the route reads and throws the
body away after answering, within a bound."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bot.web.webhook import MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parents[2]
APP = textwrap.dedent(
    """
    from bot.queue import ThreadQueue
    from bot.settings import Settings
    from bot.web import create_app

    app = create_app(Settings(webhook_secret="s"), queue=ThreadQueue(lambda job: None, workers=1))
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_26_mb_body_gets_a_readable_413(tmp_path: Path) -> None:
    (tmp_path / "oversize_app.py").write_text(APP)
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "2"]
    command += ["-b", f"127.0.0.1:{port}", "--chdir", str(tmp_path), "--pythonpath", str(ROOT)]
    server = subprocess.Popen(
        [*command, "oversize_app:app"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = b"x" * (MAX_BODY_BYTES + 1024 * 1024)
        conn.request("POST", "/webhook", body=body, headers={"X-GitHub-Event": "push"})
        response = conn.getresponse()
        assert response.status == 413
        assert b"25 MB" in response.read()
        conn.close()
    finally:
        server.terminate()
        server.wait(10)
