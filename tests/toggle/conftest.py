"""Fixtures: the mailing sandbox of tests/notify_e2e (a real SMTP server on loopback)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify_e2e"))

from notify_e2e_support import MailWorld, mail_sandbox


@pytest.fixture
def world() -> Iterator[MailWorld]:
    with mail_sandbox() as world:
        yield world
