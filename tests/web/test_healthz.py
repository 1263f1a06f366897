"""GET /healthz: ok, and 503 when the store check fails (without leaking the error's text)."""

from __future__ import annotations

from webhook_support import SECRET, Recorder

from bot.settings import Settings
from bot.web import create_app
from bot.web.health import UNAVAILABLE


def app_with(recorder: Recorder, check=None):  # type: ignore[no-untyped-def]
    return create_app(Settings(webhook_secret=SECRET), handler=recorder, health_check=check)


def test_ok_without_a_check(client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_ok_when_the_store_answers(recorder: Recorder) -> None:
    assert app_with(recorder, lambda: True).test_client().get("/healthz").status_code == 200


def test_503_when_the_store_is_unreachable(recorder: Recorder) -> None:
    def store_down() -> bool:
        raise ConnectionError("could not connect to postgresql://bot:hunter2@db/approvalbot")

    response = app_with(recorder, store_down).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "message": UNAVAILABLE}
    assert "hunter2" not in response.get_data(as_text=True)


def test_503_when_the_check_says_not_ready(recorder: Recorder) -> None:
    assert app_with(recorder, lambda: False).test_client().get("/healthz").status_code == 503
