"""A GitHub emulator: an in-memory GitHub served over real HTTP, with a scenario driver and webhooks.

Used by the tests (PyGithub talks to it through `base_url`) and by `approvalbot demo`.
"""

from bot.emulator.faults import Call, CallLog, Faults
from bot.emulator.gitobjects import Identity
from bot.emulator.scenario import Driver
from bot.emulator.server import GitHubEmulator, GraphQLValidator, validate_graphql_with
from bot.emulator.webhooks import Delivery, WebhookSender, sign

__all__ = [
    "Call",
    "CallLog",
    "Delivery",
    "Driver",
    "Faults",
    "GitHubEmulator",
    "GraphQLValidator",
    "Identity",
    "WebhookSender",
    "sign",
    "validate_graphql_with",
]
