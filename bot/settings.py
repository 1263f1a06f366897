"""Configuration from the environment, read in this one place (nothing else reads `os.environ`).

Every bad value fails at start-up with an error that names the variable, says what was wrong and
what a good value looks like, so a misconfigured deployment never half-works.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.adapters.targets import Target

DEFAULT_GITHUB_URL = "https://api.github.com"
STORE_FOLDER, STORE_FILE = "approvalbot", "approvalbot.db"  # the embedded store: FOLDER/FILE in the data home
DEFAULT_SMTP_FROM = "approvalbot@localhost"
DEFAULT_WORKERS = 4
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_PATH_URLS = frozenset({"APPROVALBOT_SLACK_WEBHOOK_URL"})  # the path itself is the credential
ALL_ACCOUNTS = "*"  # an API token that may read every account


@dataclass(frozen=True)
class JobSettings:
    """How the durable job queue runs its jobs (bot.workers.StoreQueue)."""

    lease: float = 60.0  # seconds a worker holds a job without renewing; a dead worker's job waits this long
    poll: float = 1.0  # seconds between looks for work other processes accepted
    retry_base: float = 2.0  # a failed job waits about base, 2×base, 4×base… (jittered, capped at 5 min)
    attempts: int = 8  # then it is parked: kept, logged, shown by `status`, run again by a redelivery


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    webhook_secret: str | None = None
    app_id: str | None = None
    private_key: str | None = None  # PEM text (read from the file when the variable held a path)
    private_key_path: str | None = None  # that file, so a key GitHub could not use is named by its path
    github_token: str | None = None  # token auth instead of App auth (the Action, `reconcile` from cron)
    # Seconds PyGithub waits between requests (writes wait 4×); None keeps PyGithub's own pacing,
    # which GitHub's best practices ask for. Tests and the emulator use 0.
    github_throttle: float | None = None
    github_url: str = DEFAULT_GITHUB_URL
    database_url: str = field(default_factory=lambda: default_database_url(os.environ))
    # Where the store is when DATABASE_URL is not set. Kept beside `database_url` so messages can tell
    # the default from a chosen store, and so only the default's folder is ever created for the user
    # (a chosen folder that is missing is more likely a typo, and is reported).
    default_store_url: str = field(default_factory=lambda: default_database_url(os.environ))
    redis_url: str | None = None
    smtp_url: str | None = None
    smtp_from: str = DEFAULT_SMTP_FROM
    api_tokens: Mapping[str, str] = field(default_factory=dict)  # token → account name or "*"
    targets: tuple[Target, ...] = ()
    slack_webhook_url: str | None = None  # optional second notification channel
    workers: int = DEFAULT_WORKERS
    jobs: JobSettings = JobSettings()
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        private_key, private_key_path = _private_key(env.get("APPROVALBOT_PRIVATE_KEY", ""))
        default_store = default_database_url(env)
        return cls(
            webhook_secret=get("APPROVALBOT_WEBHOOK_SECRET"),
            app_id=_app_id(get("APPROVALBOT_APP_ID")),
            private_key=private_key,
            private_key_path=private_key_path,
            github_token=get("GITHUB_TOKEN"),
            github_throttle=_throttle(get("APPROVALBOT_GITHUB_THROTTLE")),
            github_url=_url(
                "APPROVALBOT_GITHUB_URL",
                get("APPROVALBOT_GITHUB_URL") or DEFAULT_GITHUB_URL,
                ("http", "https"),
            ).rstrip("/"),
            database_url=get("DATABASE_URL") or default_store,
            default_store_url=default_store,
            redis_url=_optional_url("REDIS_URL", get("REDIS_URL"), ("redis", "rediss", "unix")),
            smtp_url=_optional_url("SMTP_URL", get("SMTP_URL"), ("smtp", "smtps")),
            smtp_from=_email("APPROVALBOT_SMTP_FROM", get("APPROVALBOT_SMTP_FROM") or DEFAULT_SMTP_FROM),
            api_tokens=_api_tokens(get("APPROVALBOT_API_TOKENS")),
            targets=_targets(get("APPROVALBOT_TARGETS"), get("APPROVALBOT_TARGETS_SECRET")),
            slack_webhook_url=_optional_url(
                "APPROVALBOT_SLACK_WEBHOOK_URL", get("APPROVALBOT_SLACK_WEBHOOK_URL"), ("https", "http")
            ),
            workers=_workers(get("APPROVALBOT_WORKERS")),
            jobs=_job_settings(get("APPROVALBOT_JOB_ATTEMPTS"), get("APPROVALBOT_JOB_LEASE")),
            log_level=_log_level(get("APPROVALBOT_LOG_LEVEL")),
        )

    def require_webhook_secret(self) -> str:
        if not self.webhook_secret:
            raise SettingsError(
                "APPROVALBOT_WEBHOOK_SECRET is not set: the webhook server refuses to start without it, "
                "since it could not tell GitHub's deliveries from forged ones. Set it to the secret "
                "configured in the GitHub App's webhook settings."
            )
        return self.webhook_secret

    def require_github_credentials(self) -> None:
        """GitHub App credentials (id and a usable RSA key), or a token: checked before any work starts,
        so a missing or broken credential is reported as such, not as a failure to reach GitHub later."""
        if self.app_id and not self.private_key:
            raise SettingsError(
                "APPROVALBOT_APP_ID is set but APPROVALBOT_PRIVATE_KEY is not: set it to the GitHub App's "
                "private key (the path of the .pem file downloaded from the App's settings, or its text)."
            )
        if self.private_key and not self.app_id:
            raise SettingsError(
                "APPROVALBOT_PRIVATE_KEY is set but APPROVALBOT_APP_ID is not: set it to the GitHub App's "
                'numeric id ("App ID" on the App\'s settings page).'
            )
        if self.app_id and self.private_key:
            _check_rsa_key(self.private_key, self.private_key_path)
        elif not self.github_token:
            raise SettingsError(
                "no GitHub credentials: set APPROVALBOT_APP_ID and APPROVALBOT_PRIVATE_KEY (the GitHub "
                "App's id and private key), or GITHUB_TOKEN (a token that may write checks, pull requests "
                "and issues)."
            )

    @property
    def database_is_default(self) -> bool:
        """True when DATABASE_URL was not set and the store is the per-user default."""
        return self.database_url == self.default_store_url


def default_database_url(env: Mapping[str, str], platform: str = sys.platform) -> str:
    """The store when DATABASE_URL is not set: a SQLite file that is never in the current directory.

    A command run inside a config repository must not leave a database in it, so the file lives in
    the per-user data folder (the XDG base directory rules: $XDG_DATA_HOME, else ~/.local/share;
    macOS and Windows use their own equivalents). In a GitHub Actions job it stays in the workspace,
    as action.yml documents: the runner is thrown away after the job anyway.
    """
    workspace = env.get("GITHUB_WORKSPACE", "").strip()
    if env.get("GITHUB_ACTIONS", "").strip() == "true" and workspace:
        return f"sqlite:///{Path(workspace) / STORE_FILE}"
    return f"sqlite:///{data_home(env, platform) / STORE_FOLDER / STORE_FILE}"


def data_home(env: Mapping[str, str], platform: str = sys.platform) -> Path:
    """The per-user folder for application data."""
    xdg = env.get("XDG_DATA_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():  # the XDG rules: a relative path is invalid and ignored
        return Path(xdg)
    if platform == "win32":
        local = env.get("LOCALAPPDATA", "").strip()
        return Path(local) if local else _home(env) / "AppData" / "Local"
    if platform == "darwin":
        return _home(env) / "Library" / "Application Support"
    return _home(env) / ".local" / "share"


def _home(env: Mapping[str, str]) -> Path:
    for name in ("HOME", "USERPROFILE"):
        value = env.get(name, "").strip()
        if value:
            return Path(value)
    return Path.home()  # no HOME at all (some service managers): the password database knows


def masked_url(url: str) -> str:
    """`url` fit for a log line: a password (`user:PASSWORD@`, `?password=`) shown as `***`.

    The user name, host and path stay: they are what tells one store or server from another.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = userinfo.split(":", 1)[0] + ":***@" + host
    tail = re.sub(r"(?i)([?&](?:password|passwd|secret|token)=)[^&#]*", r"\1***", tail)
    return f"{scheme}://{netloc}{tail}"


def _app_id(value: str | None) -> str | None:
    if value is not None and not value.isdigit():
        raise SettingsError(f"APPROVALBOT_APP_ID={value!r} is not a number: use the GitHub App's numeric id.")
    return value


def _private_key(raw: str) -> tuple[str | None, str | None]:
    """The key's PEM text, and the file it was read from (None when the variable held the text)."""
    value = raw.strip()
    if not value:
        return None, None
    if value.startswith("-----BEGIN"):
        # Some platforms cannot hold newlines in variables and store them as "\n".
        return value.replace("\\n", "\n") + "\n", None
    path = Path(value).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            f"APPROVALBOT_PRIVATE_KEY: cannot read the key file {str(path)!r} ({exc.strerror or exc}); "
            "give the PEM text itself or the path of a readable .pem file."
        ) from exc
    if "-----BEGIN" not in text:
        raise SettingsError(
            f"APPROVALBOT_PRIVATE_KEY: {str(path)!r} does not hold a PEM key (no '-----BEGIN' line); "
            "download the private key from the GitHub App's settings."
        )
    return text, str(path)


def _check_rsa_key(pem: str, path: str | None) -> None:
    """The key must be one GitHub App JWTs can be signed with: an unencrypted RSA private key."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    where = f"APPROVALBOT_PRIVATE_KEY ({path})" if path else "APPROVALBOT_PRIVATE_KEY"
    fix = "download a new private key from the GitHub App's settings; give the .pem file's path or its text"
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except TypeError:  # cryptography's way of saying "this one needs a password"
        raise SettingsError(
            f"{where}: the key is encrypted with a passphrase; approvalbot needs it as GitHub issued "
            f"it, unencrypted: {fix}."
        ) from None
    except ValueError:
        raise SettingsError(
            f"{where}: not a usable PEM private key (what is between its BEGIN and END lines does not "
            f"decode to one); {fix}."
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise SettingsError(f"{where}: not an RSA key, and GitHub App keys are RSA keys; {fix}.")


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    try:
        parts = urlsplit(value)
        valid = parts.scheme in schemes and (parts.scheme == "unix" or bool(parts.hostname))
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        valid = False
    if not valid:
        raise SettingsError(
            f"{name}={_redacted(name, value)!r} is not a valid URL: "
            f"expected {' or '.join(s + '://' for s in schemes)}HOST…"
        )
    return value


def _redacted(name: str, value: str) -> str:
    """The value with whatever may be a credential hidden: user:password@, and a webhook URL's path."""
    shown = re.sub(r"(?<=://)[^/@]*@", "***@", value)
    if name in SECRET_PATH_URLS:
        shown = re.sub(r"(?<=[^/])/.*", "/***", shown.split("://", 1)[-1])
    return shown


def _optional_url(name: str, value: str | None, schemes: tuple[str, ...]) -> str | None:
    return None if value is None else _url(name, value, schemes)


def _email(name: str, value: str) -> str:
    if "@" not in value or any(c.isspace() for c in value.strip("<> ")):
        raise SettingsError(f"{name}={value!r} is not an email address: use e.g. approvalbot@example.com.")
    return value


def _api_tokens(value: str | None) -> dict[str, str]:
    """`token=account,token2=*`: each read-API token and the account it may read ('*' for all)."""
    tokens: dict[str, str] = {}
    if value is None:
        return tokens
    for index, item in enumerate(value.split(","), start=1):
        token, sep, account = (part.strip() for part in item.strip().partition("="))
        if not sep or not token or not account:
            raise SettingsError(
                f"APPROVALBOT_API_TOKENS: entry {index} ({_masked(item)!r}) is not TOKEN=ACCOUNT; "
                "write e.g. 's3cret=growth,0ther=*' ('*' reads every account)."
            )
        if token in tokens:
            raise SettingsError(
                f"APPROVALBOT_API_TOKENS: entry {index} repeats a token; each must be unique."
            )
        tokens[token] = account
    return tokens


def _masked(item: str) -> str:
    # Never echo a secret back into logs: keep only what tells the user which entry is meant.
    token, sep, account = item.strip().partition("=")
    return (token[:2] + "…" if token else "") + sep + account


def _targets(value: str | None, secret: str | None) -> tuple[Target, ...]:
    """`APPROVALBOT_TARGETS`: URLs separated by commas or spaces, signed with `APPROVALBOT_TARGETS_SECRET`."""
    if value is None:
        return ()
    urls = [u for u in value.replace(",", " ").split() if u]
    for url in urls:
        _url("APPROVALBOT_TARGETS", url, ("http", "https"))
    if not secret:
        raise SettingsError(
            "APPROVALBOT_TARGETS is set but APPROVALBOT_TARGETS_SECRET is not: outbound posts are signed "
            "(HMAC-SHA256) so receivers can trust them; set a shared secret."
        )
    return tuple(Target(url=url, secret=secret) for url in dict.fromkeys(urls))


def _throttle(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise SettingsError(
            f"APPROVALBOT_GITHUB_THROTTLE={value!r}: give the seconds between GitHub requests, from 0 to 60"
        )
    return seconds


def _workers(value: str | None) -> int:
    if value is None:
        return DEFAULT_WORKERS
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise SettingsError(f"APPROVALBOT_WORKERS={value!r} is not a whole number from 1 to 256.")
    return int(value)


def _job_settings(attempts: str | None, lease: str | None) -> JobSettings:
    default = JobSettings()
    if attempts is not None and (not attempts.isdigit() or not 1 <= int(attempts) <= 100):
        raise SettingsError(
            f"APPROVALBOT_JOB_ATTEMPTS={attempts!r} is not a whole number from 1 to 100 (how often a failing "
            "job runs before it is parked)."
        )
    try:
        seconds = float(lease) if lease is not None else default.lease
    except ValueError:
        seconds = -1.0
    if not 5 <= seconds <= 3600:
        raise SettingsError(
            f"APPROVALBOT_JOB_LEASE={lease!r} is not a number of seconds from 5 to 3600 (how long a job "
            "stays with a worker that stopped renewing it)."
        )
    return JobSettings(lease=seconds, attempts=int(attempts) if attempts else default.attempts)


def _log_level(value: str | None) -> str:
    if value is None:
        return "INFO"
    if value.upper() not in LOG_LEVELS:
        raise SettingsError(f"APPROVALBOT_LOG_LEVEL={value!r} is not one of {', '.join(LOG_LEVELS)}.")
    return value.upper()
