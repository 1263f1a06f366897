"""Fixtures for the webhook tests: an app over in-process workers and a recording handler."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from webhook_support import SECRET, Recorder

from bot.queue import ThreadQueue
from bot.settings import Settings
from bot.web import create_app
from bot.web.webhook import InMemoryDeliveryLog


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def queue(recorder: Recorder) -> Iterator[ThreadQueue]:
    q = ThreadQueue(recorder, workers=2)
    yield q
    q.close(timeout=5)


@pytest.fixture
def deliveries() -> InMemoryDeliveryLog:
    return InMemoryDeliveryLog()


@pytest.fixture
def app(queue: ThreadQueue, deliveries: InMemoryDeliveryLog):  # type: ignore[no-untyped-def]
    return create_app(Settings(webhook_secret=SECRET), queue=queue, deliveries=deliveries)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()
