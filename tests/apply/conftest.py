"""Fixtures of the apply tests: a whole installation (sandbox) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox import Sandbox


@pytest.fixture
def box() -> Iterator[Sandbox]:
    """The sample repository behind the real webhook server, with a SQLite store and the real clock."""
    with Sandbox() as sandbox:
        yield sandbox
