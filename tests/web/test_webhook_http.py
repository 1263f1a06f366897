"""The app over real HTTP (werkzeug's threaded server on loopback), as GitHub would reach it."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator

import pytest
from webhook_support import SECRET, Recorder, delivery, pr_payload
from werkzeug.serving import BaseWSGIServer, make_server

from bot.queue import ThreadQueue
from bot.settings import Settings
from bot.web import create_app
from bot.web.webhook import MAX_BODY_BYTES


@pytest.fixture
def served(recorder: Recorder) -> Iterator[tuple[BaseWSGIServer, ThreadQueue]]:
    queue = ThreadQueue(recorder, workers=2)
    app = create_app(Settings(webhook_secret=SECRET), queue=queue)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, queue
    server.shutdown()
    queue.close(timeout=5)


def post(server: BaseWSGIServer, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    try:
        conn.request("POST", "/webhook", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_signed_delivery_over_http_is_queued_and_handled(served, recorder: Recorder) -> None:
    server, queue = served
    body, headers = delivery("pull_request", pr_payload(21), delivery_id="http-1")
    status, answer = post(server, body, headers)
    assert status == 202 and b"acme/experiments#21" in answer
    status, _ = post(server, body, headers)
    assert status == 200  # the replay
    headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    headers["X-GitHub-Delivery"] = "http-2"
    assert post(server, body, headers)[0] == 401
    assert queue.drain(timeout=5)
    assert [j.delivery_id for j in recorder.jobs] == ["http-1"]


def test_oversize_declared_body_is_refused_before_it_is_sent(served) -> None:
    server, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    try:
        # Announce 25 MB + 1 but send only the headers: an answer proves the server did not wait for the body.
        conn.putrequest("POST", "/webhook")
        conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        conn.putheader("X-GitHub-Event", "push")
        conn.putheader("X-GitHub-Delivery", "huge")
        conn.endheaders()
        started = time.monotonic()
        response = conn.getresponse()
        assert response.status == 413
        assert b"25 MB" in response.read()
        assert time.monotonic() - started < 5
    finally:
        conn.close()


def test_healthz_over_http(served) -> None:
    server, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b'{"status":"ok"}\n')
    conn.close()
