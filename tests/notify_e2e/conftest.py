"""Fixtures: a sandbox that emails through a real SMTP server on loopback (see notify_e2e_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notify_e2e_support import MailWorld, mail_sandbox


@pytest.fixture
def world() -> Iterator[MailWorld]:
    with mail_sandbox() as world:
        yield world
