"""Fixtures: a real SMTP server on loopback and a repo config with two accounts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from notify_support import Inbox, LoopbackController, Receiver, receivers

from bot.core.repo_config import Account, Approvals, CustomRole, RepoConfig, Role, User


@pytest.fixture
def smtp_server() -> Iterator[tuple[LoopbackController, Inbox]]:
    inbox = Inbox()
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def config() -> RepoConfig:
    """Two accounts; bob approves both; erin has no email; a team and a custom approving role on growth."""
    growth = Account(
        name="growth",
        paths=("growth/**",),
        roles={Role.ADMIN: ("alice",), Role.APPROVER: ("bob", "@acme/reviewers"), Role.VIEWER: ("victor",)},
        custom_roles=(
            CustomRole("lead", frozenset({"approve:product_experiences"}), ("lena",)),
            CustomRole("reader", frozenset({"read"}), ("rita",)),
        ),
    )
    payments = Account(
        name="payments",
        paths=("payments/**",),
        roles={Role.ADMIN: ("paula",), Role.APPROVER: ("bob", "erin"), Role.DRAFT_CONTRIBUTOR: ("dave",)},
    )
    users = {
        login: User(login, f"{login}@example.com")
        for login in ("alice", "bob", "carol", "dave", "lena", "paula", "victor", "rita", "tess")
    }
    users["erin"] = User("erin", None)
    return RepoConfig(approvals=Approvals(), accounts=(growth, payments), users=users)


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    with receivers() as start:
        yield start
