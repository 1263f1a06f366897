"""Settings from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.targets import Target
from bot.settings import DEFAULT_GITHUB_URL, Settings, SettingsError, default_database_url

PEM = "\n".join(
    (
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
        "-----END RSA PRIVATE KEY-----",
    )
)


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({"HOME": "/home/u"})
    store = default_database_url({"HOME": "/home/u"})  # see tests/cli/test_store_location.py
    assert settings == Settings(database_url=store, default_store_url=store)
    assert settings.github_url == DEFAULT_GITHUB_URL
    assert settings.database_url == store and settings.database_is_default
    assert settings.redis_url is None and settings.smtp_url is None
    assert settings.workers == 4 and settings.log_level == "INFO"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "APPROVALBOT_WEBHOOK_SECRET": "s3cret",
            "APPROVALBOT_APP_ID": "12345",
            "APPROVALBOT_PRIVATE_KEY": PEM,
            "APPROVALBOT_GITHUB_URL": "https://ghe.example.com/api/v3/",
            "DATABASE_URL": "postgresql+psycopg://bot@db/approvalbot",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "SMTP_URL": "smtp://mailer:pw@mail.example.com:587",
            "APPROVALBOT_SMTP_FROM": "bot@example.com",
            "APPROVALBOT_API_TOKENS": "tok1=growth, tok2=*",
            "APPROVALBOT_TARGETS": "https://a.example.com/hook, https://b.example.com/hook",
            "APPROVALBOT_TARGETS_SECRET": "shared",
            "APPROVALBOT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X",
            "APPROVALBOT_WORKERS": "8",
            "APPROVALBOT_LOG_LEVEL": "debug",
        }
    )
    assert settings.webhook_secret == "s3cret"
    assert settings.app_id == "12345"
    assert settings.private_key == PEM + "\n"
    assert settings.github_url == "https://ghe.example.com/api/v3"
    assert settings.database_url == "postgresql+psycopg://bot@db/approvalbot"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.smtp_url == "smtp://mailer:pw@mail.example.com:587"
    assert settings.smtp_from == "bot@example.com"
    assert settings.api_tokens == {"tok1": "growth", "tok2": "*"}
    assert settings.targets == (
        Target("https://a.example.com/hook", "shared"),
        Target("https://b.example.com/hook", "shared"),
    )
    assert settings.slack_webhook_url == "https://hooks.slack.com/services/T/B/X"
    assert settings.workers == 8 and settings.log_level == "DEBUG"


def test_private_key_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(PEM + "\n")
    assert Settings.from_env({"APPROVALBOT_PRIVATE_KEY": str(key_file)}).private_key == PEM + "\n"


def test_private_key_with_escaped_newlines() -> None:
    escaped = PEM.replace("\n", "\\n")
    assert Settings.from_env({"APPROVALBOT_PRIVATE_KEY": escaped}).private_key == PEM + "\n"


def test_private_key_file_missing(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError, match=r"APPROVALBOT_PRIVATE_KEY: cannot read the key file .*missing\.pem"
    ):
        Settings.from_env({"APPROVALBOT_PRIVATE_KEY": str(tmp_path / "missing.pem")})


def test_private_key_file_that_is_not_pem(tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text("not a key")
    with pytest.raises(SettingsError, match="does not hold a PEM key"):
        Settings.from_env({"APPROVALBOT_PRIVATE_KEY": str(key_file)})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("APPROVALBOT_APP_ID", "my-app", "APPROVALBOT_APP_ID='my-app' is not a number"),
        (
            "APPROVALBOT_GITHUB_URL",
            "ghe.example.com",
            "APPROVALBOT_GITHUB_URL='ghe.example.com' is not a valid URL",
        ),
        ("REDIS_URL", "localhost:6379", "REDIS_URL='localhost:6379' is not a valid URL"),
        ("SMTP_URL", "mail.example.com", "SMTP_URL='mail.example.com' is not a valid URL"),
        (
            "APPROVALBOT_SMTP_FROM",
            "approvalbot",
            "APPROVALBOT_SMTP_FROM='approvalbot' is not an email address",
        ),
        ("APPROVALBOT_WORKERS", "0", "APPROVALBOT_WORKERS='0' is not a whole number from 1 to 256"),
        ("APPROVALBOT_WORKERS", "many", "APPROVALBOT_WORKERS='many'"),
        ("APPROVALBOT_LOG_LEVEL", "loud", "APPROVALBOT_LOG_LEVEL='loud' is not one of"),
        ("APPROVALBOT_API_TOKENS", "secrettoken", "APPROVALBOT_API_TOKENS: entry 1"),
        ("APPROVALBOT_API_TOKENS", "a=x,b=", "APPROVALBOT_API_TOKENS: entry 2"),
        ("APPROVALBOT_API_TOKENS", "a=x,a=y", "repeats a token"),
        ("APPROVALBOT_TARGETS", "ftp://x/y", "APPROVALBOT_TARGETS='ftp://x/y' is not a valid URL"),
        ("APPROVALBOT_TARGETS", "https://x.example.com/hook", "APPROVALBOT_TARGETS_SECRET is not"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert message in str(info.value)


def test_a_bad_token_entry_is_not_echoed_whole() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"APPROVALBOT_API_TOKENS": "averylongsecrettoken"})
    assert "averylongsecrettoken" not in str(info.value)


def test_webhook_secret_is_required_to_serve() -> None:
    with pytest.raises(SettingsError, match="APPROVALBOT_WEBHOOK_SECRET is not set"):
        Settings.from_env({"APPROVALBOT_WEBHOOK_SECRET": "  "}).require_webhook_secret()
    assert Settings.from_env({"APPROVALBOT_WEBHOOK_SECRET": "x"}).require_webhook_secret() == "x"


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVALBOT_WORKERS", "3")
    assert Settings.from_env().workers == 3


def test_target_repr_hides_the_secret() -> None:
    assert "shared" not in repr(Target("https://x.example.com", "shared"))


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("SMTP_URL", "mail://bot:hunter2@mail.example.com", "hunter2"),
        ("REDIS_URL", "redis://:hunter2@cache:notaport", "hunter2"),
        ("APPROVALBOT_SLACK_WEBHOOK_URL", "hooks.slack.com/services/T0/B0/hunter2", "hunter2"),
    ],
)
def test_bad_urls_are_reported_without_their_credentials(name: str, value: str, secret: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value) and secret not in str(info.value)


def test_github_throttle_is_read_and_bounded() -> None:
    assert Settings.from_env({}).github_throttle is None
    assert Settings.from_env({"APPROVALBOT_GITHUB_THROTTLE": "0"}).github_throttle == 0
    with pytest.raises(SettingsError, match="APPROVALBOT_GITHUB_THROTTLE"):
        Settings.from_env({"APPROVALBOT_GITHUB_THROTTLE": "fast"})
