"""Fixtures of the end-to-end tests: a `BotWorld` (see harness.py) per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import BotWorld, world_fixture


@pytest.fixture
def world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    """The App over App auth, webhooks through Flask's test client."""
    yield from world_fixture(emulator, github_settings, tmp_path)


@pytest.fixture
def http_world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    """The App served over real HTTP on loopback; the emulator posts its signed webhooks to it."""
    yield from world_fixture(emulator, github_settings, tmp_path, transport="http")


@pytest.fixture
def token_world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    """Token auth (as the Action runs), webhooks through Flask's test client."""
    yield from world_fixture(emulator, github_settings, tmp_path, auth="token")
