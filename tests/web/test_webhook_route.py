"""POST /webhook through Flask's test client: every refusal, replays, and the hand-off to the queue."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest
from webhook_support import SECRET, Recorder, delivery, pr_payload, sign

from bot.ports import Job
from bot.queue import ThreadQueue
from bot.settings import Settings, SettingsError
from bot.web import create_app
from bot.web.webhook import (
    BAD_SIGNATURE,
    MAX_BODY_BYTES,
    MISSING_HEADERS,
    MISSING_SIGNATURE,
    NOT_JSON,
    REPLAYED,
    TOO_LARGE,
    InMemoryDeliveryLog,
    job_key,
)


def test_refuses_to_start_without_a_secret(recorder: Recorder) -> None:
    with pytest.raises(SettingsError, match="APPROVALBOT_WEBHOOK_SECRET"):
        create_app(Settings(webhook_secret=None), handler=recorder)


def test_refuses_to_start_without_work_to_do() -> None:
    with pytest.raises(ValueError, match="job handler"):
        create_app(Settings(webhook_secret=SECRET))


def test_builds_its_own_thread_queue_from_a_handler(recorder: Recorder) -> None:
    app = create_app(Settings(webhook_secret=SECRET, workers=1), handler=recorder)
    body, headers = delivery("pull_request", pr_payload(3))
    assert app.test_client().post("/webhook", data=body, headers=headers).status_code == 202
    queue = app.extensions["approvalbot"].queue
    assert queue.drain(timeout=5)
    assert [j.key for j in recorder.jobs] == ["acme/experiments#3"]
    queue.close(timeout=5)


def test_extra_blueprints_are_served_beside_the_webhook(recorder: Recorder) -> None:
    from flask import Blueprint

    extra = Blueprint("extra", __name__)
    extra.add_url_rule("/api/v1/ping", "ping", lambda: {"pong": True})
    app = create_app(Settings(webhook_secret=SECRET), handler=recorder, blueprints=[extra])
    assert app.test_client().get("/api/v1/ping").get_json() == {"pong": True}
    app.extensions["approvalbot"].queue.close(timeout=5)


def test_bad_signature_is_401_and_queues_nothing(client, recorder: Recorder, queue: ThreadQueue) -> None:
    body, headers = delivery("pull_request", pr_payload(1))
    headers["X-Hub-Signature-256"] = sign(body, secret="not the secret")
    response = client.post("/webhook", data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["message"] == BAD_SIGNATURE
    queue.drain(timeout=5)
    assert recorder.jobs == []


def test_signature_of_another_body_is_401(client) -> None:
    body, headers = delivery("pull_request", pr_payload(1))
    tampered = body.replace(b'"number": 1', b'"number": 2')
    assert client.post("/webhook", data=tampered, headers=headers).status_code == 401


def test_sha1_signature_alone_is_not_enough(client) -> None:
    body, headers = delivery("pull_request", pr_payload(1))
    headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].replace("sha256=", "sha1=")
    assert client.post("/webhook", data=body, headers=headers).status_code == 401


def test_missing_signature_is_401(client) -> None:
    body, headers = delivery("pull_request", pr_payload(1))
    del headers["X-Hub-Signature-256"]
    response = client.post("/webhook", data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["message"] == MISSING_SIGNATURE


def test_signature_is_checked_before_parsing(client) -> None:
    # An unsigned body that is not even JSON: the answer is about the signature, not the JSON.
    response = client.post("/webhook", data=b"{not json", headers={"X-GitHub-Event": "push"})
    assert response.status_code == 401


class ExplodingStream(io.RawIOBase):
    """A request body of `size` bytes that fails the test if anyone reads it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.size if whence == 2 else offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        raise AssertionError("the oversize body was read")


def test_oversize_body_is_413_without_reading_it(client) -> None:
    response = client.post(
        "/webhook",
        input_stream=ExplodingStream(MAX_BODY_BYTES + 1),
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "big", "X-Hub-Signature-256": "sha256=00"},
    )
    assert response.status_code == 413
    assert response.get_json() == {"message": TOO_LARGE, "delivery": None}


def test_body_of_exactly_the_limit_is_read_and_checked(client) -> None:
    body = b" " * MAX_BODY_BYTES
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "edge", "X-Hub-Signature-256": sign(body)}
    response = client.post("/webhook", data=body, headers=headers)
    assert response.status_code == 400  # past the size and signature checks: refused only as not JSON
    assert response.get_json()["message"] == NOT_JSON


@pytest.mark.parametrize("missing", ["X-GitHub-Event", "X-GitHub-Delivery"])
def test_missing_github_headers_are_400(client, missing: str) -> None:
    body, headers = delivery("pull_request", pr_payload(1))
    del headers[missing]
    response = client.post("/webhook", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["message"] == MISSING_HEADERS


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_signed_body_that_is_not_a_json_object_is_400(client, body: bytes) -> None:
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": sign(body)}
    response = client.post("/webhook", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["message"] == NOT_JSON


def test_ping_is_200_and_queues_nothing(client, recorder: Recorder, queue: ThreadQueue) -> None:
    body, headers = delivery("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    response = client.post("/webhook", data=body, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["message"] == "pong"
    queue.drain(timeout=5)
    assert recorder.jobs == []


def test_accepted_delivery_is_202_and_queued_with_its_key(
    client, recorder: Recorder, queue: ThreadQueue
) -> None:
    payload = pr_payload(12, action="opened")
    body, headers = delivery("pull_request", payload, delivery_id="d-12")
    response = client.post("/webhook", data=body, headers=headers)
    assert response.status_code == 202
    assert response.get_json() == {"message": "queued", "delivery": "d-12", "key": "acme/experiments#12"}
    assert queue.drain(timeout=5)
    assert recorder.jobs == [
        Job(key="acme/experiments#12", event="pull_request", delivery_id="d-12", payload=payload)
    ]


def test_replayed_delivery_is_200_and_does_nothing(client, recorder: Recorder, queue: ThreadQueue) -> None:
    body, headers = delivery("pull_request", pr_payload(5), delivery_id="same-id")
    assert client.post("/webhook", data=body, headers=headers).status_code == 202
    replay = client.post("/webhook", data=body, headers=headers)
    assert replay.status_code == 200
    assert replay.get_json()["message"] == REPLAYED
    assert queue.drain(timeout=5)
    assert [j.delivery_id for j in recorder.jobs] == ["same-id"]


def test_unknown_event_is_acknowledged_and_handed_on(client, recorder: Recorder, queue: ThreadQueue) -> None:
    body, headers = delivery("sponsorship", {"action": "created", "repository": {"full_name": "acme/x"}})
    assert client.post("/webhook", data=body, headers=headers).status_code == 202
    assert queue.drain(timeout=5)
    assert [(j.event, j.key) for j in recorder.jobs] == [("sponsorship", "acme/x")]


def test_handler_runs_off_the_request_thread(client, app) -> None:
    release = threading.Event()
    seen: list[int] = []

    def slow(job: Job) -> None:
        seen.append(threading.get_ident())
        release.wait(5)

    queue = ThreadQueue(slow, workers=1)
    app = create_app(Settings(webhook_secret=SECRET), queue=queue)
    body, headers = delivery("pull_request", pr_payload(1))
    # The handler blocks until released, yet the request has its answer: it did not wait for the work.
    response = app.test_client().post("/webhook", data=body, headers=headers)
    assert response.status_code == 202
    release.set()
    assert queue.close(timeout=5)
    assert seen and seen[0] != threading.get_ident()


class BrokenQueue:
    def submit(self, job: Job) -> None:
        raise ConnectionError("redis is down")

    def drain(self, timeout: float | None = None) -> bool:
        return True


def test_queue_down_is_503_and_the_redelivery_is_not_taken_for_a_replay() -> None:
    deliveries = InMemoryDeliveryLog()
    app = create_app(Settings(webhook_secret=SECRET), queue=BrokenQueue(), deliveries=deliveries)
    body, headers = delivery("pull_request", pr_payload(1), delivery_id="d-down")
    response = app.test_client().post("/webhook", data=body, headers=headers)
    assert response.status_code == 503
    assert "Traceback" not in response.get_data(as_text=True)
    assert deliveries.record_delivery("d-down", "pull_request") is True


def test_one_log_line_per_delivery(client, caplog: pytest.LogCaptureFixture) -> None:
    body, headers = delivery("pull_request", pr_payload(7, action="opened"), delivery_id="log-me")
    with caplog.at_level(logging.INFO, logger="bot.web.webhook"):
        client.post("/webhook", data=body, headers=headers)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.web.webhook"]
    assert len(lines) == 1
    assert "delivery=log-me" in lines[0] and "event=pull_request" in lines[0] and "action=opened" in lines[0]
    assert "status=202" in lines[0]


def test_unknown_route_and_wrong_method_answer_json(client) -> None:
    assert client.get("/nope").get_json()["message"]
    response = client.get("/webhook")
    assert response.status_code == 405
    assert response.is_json


def test_unexpected_error_is_500_without_a_stack_trace(recorder: Recorder) -> None:
    class ExplodingLog:
        def record_delivery(self, delivery_id: str, event: str) -> bool:
            raise RuntimeError("secret internals")

    app = create_app(Settings(webhook_secret=SECRET), handler=recorder, deliveries=ExplodingLog())
    body, headers = delivery("pull_request", pr_payload(1))
    response = app.test_client().post("/webhook", data=body, headers=headers)
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert json.loads(text)["message"]


@pytest.mark.parametrize(
    ("event", "payload", "key"),
    [
        ("pull_request", {"pull_request": {"number": 4}, "repository": {"full_name": "o/r"}}, "o/r#4"),
        ("pull_request_review", {"pull_request": {"number": 5}, "repository": {"full_name": "o/r"}}, "o/r#5"),
        ("issue_comment", {"issue": {"number": 6}, "repository": {"full_name": "o/r"}}, "o/r#6"),
        (
            "check_run",
            {"check_run": {"pull_requests": [{"number": 8}]}, "repository": {"full_name": "o/r"}},
            "o/r#8",
        ),
        ("check_run", {"check_run": {"pull_requests": []}, "repository": {"full_name": "o/r"}}, "o/r"),
        (
            "check_suite",
            {"check_suite": {"pull_requests": [{"number": 9}]}, "repository": {"full_name": "o/r"}},
            "o/r#9",
        ),
        (
            "push",
            {"ref": "refs/heads/main", "after": "c0ffee", "repository": {"full_name": "o/r"}},
            "o/r@c0ffee",
        ),
        ("installation", {"action": "created", "installation": {"id": 42}}, "installation:42"),
        ("meta", {}, "event:meta"),
    ],
)
def test_job_key(event: str, payload: dict, key: str) -> None:
    assert job_key(event, payload) == key
