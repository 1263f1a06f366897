"""Build the engine's services from the settings, once per process (server, worker, Action, CLI)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.adapters.github.client import ClientSettings
from bot.adapters.smtp import SmtpMailer
from bot.adapters.store import Store
from bot.adapters.targets import SlackNotifier, TargetPublisher
from bot.core.notifications import Notifier
from bot.engine.notify import FanOut
from bot.engine.services import AppAccess, GitHubAccess, Services, TokenAccess, utcnow
from bot.settings import Settings


class ConfigurationError(ValueError):
    """The settings do not say how to reach GitHub; the message says which variables to set."""


def github_access(settings: Settings, token: str | None = None) -> GitHubAccess:
    client = ClientSettings(base_url=settings.github_url)
    if settings.github_throttle is not None:
        pace = settings.github_throttle
        client = replace(client, seconds_between_requests=pace, seconds_between_writes=4 * pace)
    if token:
        return TokenAccess(token, client)
    if settings.app_id and settings.private_key:  # the App's own identity wins over a stray token
        return AppAccess(settings.app_id, settings.private_key, client)
    if settings.github_token:
        return TokenAccess(settings.github_token, client)
    raise ConfigurationError(
        "no GitHub credentials: set APPROVALBOT_APP_ID and APPROVALBOT_PRIVATE_KEY (GitHub App) "
        "or GITHUB_TOKEN (the Action)"
    )


def build_services(
    settings: Settings,
    *,
    github: GitHubAccess | None = None,
    token: str | None = None,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Services:
    store = store or Store.from_url(settings.database_url)
    return Services(
        github=github or github_access(settings, token),
        store=store,
        clock=clock,
        notifier=notifier(settings, store),
        targets=target_publisher(settings),
        app_id=int(settings.app_id) if settings.app_id else None,
    )


def target_publisher(settings: Settings) -> TargetPublisher | None:
    """The outbound targets of APPROVALBOT_TARGETS, when any are set."""
    return TargetPublisher(settings.targets) if settings.targets else None


def notifier(settings: Settings, store: Store) -> Notifier | None:
    """Email when SMTP_URL is set, a chat webhook when APPROVALBOT_SLACK_WEBHOOK_URL is, or both.

    Claims live in the store, so a redelivered event sends nothing twice across processes; a send that
    finally failed releases its claim, so a later event may try again.
    """
    claim, release = store.claim_notification, store.release_notification
    channels: list[Notifier] = []
    if settings.smtp_url:
        mailer = SmtpMailer.from_url(settings.smtp_url, settings.smtp_from, claim=claim, release=release)
        channels.append(mailer)
    if settings.slack_webhook_url:
        channels.append(SlackNotifier(settings.slack_webhook_url, claim=claim, release=release))
    if not channels:
        return None
    return channels[0] if len(channels) == 1 else FanOut(*channels)
