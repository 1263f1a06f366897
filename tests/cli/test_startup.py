"""Starting wrong is explained, not dumped: `approvalbot serve` with a missing or bad secret, App
credentials, store or queue exits 2 before gunicorn starts, with a message on stderr that names the
variable, says what was wrong and what to set; no traceback and no "Worker failed to boot".

Each case starts the real command (the installed console script) as a process, as a user would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_support import (
    User,
    child_env,
    ec_key_pem,
    encrypted_rsa_pem,
    files_in,
    free_port,
    make_user,
    serve_until_exit,
    serving,
)
from pg_scratch import UNREACHABLE, pg_user, scratch_schema

from bot.emulator.keys import app_key_pair

pytestmark = pytest.mark.slow

SECRET = "startup-webhook-secret"
APP_ID = "4242"
PASSWORD = "s3cret-password"  # must never be printed
GARBLED_PEM = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n"


@dataclass(frozen=True)
class Case:
    """A configuration that must not start: what to change in a good one, and what stderr must say."""

    name: str
    change: Callable[[User], dict[str, str | None]]  # None removes the variable
    says: Callable[[User], list[str]]


def key_file(user: User, text: str, name: str = "app.pem") -> str:
    path = user.home / name
    path.write_text(text)
    return str(path)


def app(user: User, key: str) -> dict[str, str | None]:
    return {"GITHUB_TOKEN": None, "APPROVALBOT_APP_ID": APP_ID, "APPROVALBOT_PRIVATE_KEY": key}


def blocked_data_home(user: User) -> dict[str, str | None]:
    (user.home / "a-file").write_text("")
    return {"DATABASE_URL": None, "XDG_DATA_HOME": str(user.home / "a-file" / "data")}


CLOSED_PORT = free_port()  # nothing listens there (PostgreSQL itself is on 5432, Redis on 6379)

CASES = [
    Case(
        "no webhook secret",
        lambda u: {"APPROVALBOT_WEBHOOK_SECRET": None},
        lambda u: [
            "approvalbot: error: APPROVALBOT_WEBHOOK_SECRET is not set: the webhook server refuses to start "
            "without it, since it could not tell GitHub's deliveries from forged ones. Set it to the secret "
            "configured in the GitHub App's webhook settings.\n"
        ],
    ),
    Case(
        "a webhook secret of blanks",
        lambda u: {"APPROVALBOT_WEBHOOK_SECRET": "   "},
        lambda u: ["approvalbot: error: APPROVALBOT_WEBHOOK_SECRET is not set:"],
    ),
    Case(
        "no GitHub credentials",
        lambda u: {"GITHUB_TOKEN": None},
        lambda u: [
            "approvalbot: error: no GitHub credentials: set APPROVALBOT_APP_ID and APPROVALBOT_PRIVATE_KEY "
            "(the GitHub App's id and private key), or GITHUB_TOKEN (a token that may write checks, pull "
            "requests and issues).\n"
        ],
    ),
    Case(
        "an App id that is not a number",
        lambda u: app(u, app_key_pair()[0]) | {"APPROVALBOT_APP_ID": "my-app"},
        lambda u: [
            "approvalbot: error: APPROVALBOT_APP_ID='my-app' is not a number: use the GitHub App's "
            "numeric id.\n"
        ],
    ),
    Case(
        "an App id without a key",
        lambda u: app(u, app_key_pair()[0]) | {"APPROVALBOT_PRIVATE_KEY": None},
        lambda u: [
            "approvalbot: error: APPROVALBOT_APP_ID is set but APPROVALBOT_PRIVATE_KEY is not: set it to the "
            "GitHub App's private key (the path of the .pem file downloaded from the App's settings, or its "
            "text).\n"
        ],
    ),
    Case(
        "a key without an App id",
        lambda u: app(u, app_key_pair()[0]) | {"APPROVALBOT_APP_ID": None},
        lambda u: [
            "approvalbot: error: APPROVALBOT_PRIVATE_KEY is set but APPROVALBOT_APP_ID is not: set it to the "
            "GitHub App's numeric id (\"App ID\" on the App's settings page).\n"
        ],
    ),
    Case(
        "a key file that does not exist",
        lambda u: app(u, str(u.home / "missing.pem")),
        lambda u: [
            "approvalbot: error: APPROVALBOT_PRIVATE_KEY: cannot read the key file "
            f"'{u.home / 'missing.pem'}' (No such file or directory); give the PEM text itself or the "
            "path of a readable .pem file.\n"
        ],
    ),
    Case(
        "a key file that is not PEM",
        lambda u: app(u, key_file(u, "ssh-rsa AAAA... not a pem\n")),
        lambda u: [
            f"approvalbot: error: APPROVALBOT_PRIVATE_KEY: '{u.home / 'app.pem'}' does not hold a PEM key",
        ],
    ),
    Case(
        "a key file whose PEM body is garbled",
        lambda u: app(u, key_file(u, GARBLED_PEM)),
        lambda u: [
            f"approvalbot: error: APPROVALBOT_PRIVATE_KEY ({u.home / 'app.pem'}): not a usable PEM "
            "private key (what is between its BEGIN and END lines does not decode to one); download a "
            "new private key from the GitHub App's settings; give the .pem file's path or its text.\n"
        ],
    ),
    Case(
        "a key encrypted with a passphrase",
        lambda u: app(u, key_file(u, encrypted_rsa_pem(app_key_pair()[0]))),
        lambda u: [
            f"approvalbot: error: APPROVALBOT_PRIVATE_KEY ({u.home / 'app.pem'}): the key is encrypted with "
            "a passphrase; approvalbot needs it as GitHub issued it, unencrypted:"
        ],
    ),
    Case(
        "a key that is not RSA (given as text)",
        lambda u: app(u, ec_key_pem()),
        lambda u: [
            "approvalbot: error: APPROVALBOT_PRIVATE_KEY: not an RSA key, and GitHub App keys are RSA keys;"
        ],
    ),
    Case(
        "a database that does not answer",
        lambda u: {"DATABASE_URL": f"postgresql://bot:{PASSWORD}@127.0.0.1:{CLOSED_PORT}/approvalbot"},
        lambda u: [
            f"approvalbot: error: DATABASE_URL=postgresql://bot:***@127.0.0.1:{CLOSED_PORT}/approvalbot: the "
            "database does not answer (",
            "); start it, or set DATABASE_URL to a database reachable from here.\n",
        ],
    ),
    Case(
        "a database URL of an unsupported kind",
        lambda u: {"DATABASE_URL": "mysql://db/approvalbot"},
        lambda u: ["approvalbot: error: DATABASE_URL uses 'mysql'; approvalbot supports sqlite:///FILE"],
    ),
    Case(
        "a SQLite folder that does not exist",
        lambda u: {"DATABASE_URL": f"sqlite:///{u.home / 'nowhere' / 'bot.db'}"},
        lambda u: [
            f"approvalbot: error: DATABASE_URL=sqlite:///{u.home / 'nowhere' / 'bot.db'}: the folder "
            f"{u.home / 'nowhere'} does not exist; create it, or set DATABASE_URL to a file in an existing "
            "folder.\n"
        ],
    ),
    Case(
        "a data folder that cannot be made",
        blocked_data_home,
        lambda u: [
            "approvalbot: error: cannot create the store's folder "
            f"{u.home / 'a-file' / 'data' / 'approvalbot'} ({u.home / 'a-file' / 'data'}: Not a "
            "directory); set XDG_DATA_HOME to a writable folder, or DATABASE_URL to another store.\n"
        ],
    ),
    Case(
        "a Redis that does not answer",
        lambda u: {"REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{CLOSED_PORT}/0"},
        lambda u: [
            f"approvalbot: error: REDIS_URL=redis://:***@127.0.0.1:{CLOSED_PORT}/0: Redis does not answer (",
            "); start it, fix REDIS_URL, or unset it to run jobs in the server processes.\n",
        ],
    ),
    Case(
        "no secret and no credentials: both are said",
        lambda u: {"APPROVALBOT_WEBHOOK_SECRET": None, "GITHUB_TOKEN": None},
        lambda u: [
            "approvalbot: error: APPROVALBOT_WEBHOOK_SECRET is not set:",
            "approvalbot: error: no GitHub credentials:",
        ],
    ),
]


@pytest.fixture
def user(tmp_path: Path) -> User:
    return make_user(tmp_path)


def good_config(user: User) -> dict[str, str]:
    return {
        "APPROVALBOT_WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": "ghp_startup_test",
        "DATABASE_URL": f"sqlite:///{user.home / 'bot.db'}",
        "XDG_DATA_HOME": str(user.data),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_serve_explains_a_bad_configuration_and_exits_2(case: Case, user: User) -> None:
    config: dict[str, str | None] = {**good_config(user), **case.change(user)}
    env = child_env(user.home, {name: value for name, value in config.items() if value is not None})

    done = serve_until_exit(env, user.repo)

    assert done.returncode == 2, done.stderr
    for expected in case.says(user):
        assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert "Worker failed to boot" not in done.stderr
    assert "cannot reach GitHub" not in done.stderr  # missing credentials are not a network failure
    assert PASSWORD not in done.stderr + done.stdout
    assert done.stdout == ""
    assert files_in(user.repo) == [".approvalbot.yml"]


def test_serve_says_which_store_queue_and_github_it_uses(user: User) -> None:
    """Without DATABASE_URL: the default store in the data folder, made on start, nothing in the cwd."""
    private, _ = app_key_pair()
    env = child_env(
        user.home,
        {
            "APPROVALBOT_WEBHOOK_SECRET": SECRET,
            "APPROVALBOT_APP_ID": APP_ID,
            "APPROVALBOT_PRIVATE_KEY": key_file(user, private),
            "APPROVALBOT_WORKERS": "3",
            "XDG_DATA_HOME": str(user.data),
        },
    )
    port = free_port()
    with serving(env, user.repo, port) as log:
        lines = log.read_text().splitlines()[:4]
    assert lines == [
        f"approvalbot: store: sqlite:///{user.default_store} (the default; set DATABASE_URL to use another)",
        "approvalbot: queue: in the store (kept across restarts), 3 worker threads in each server process "
        "(no REDIS_URL)",
        f"approvalbot: GitHub: https://api.github.com as GitHub App {APP_ID}",
        f"approvalbot: serving webhooks on http://127.0.0.1:{port}/webhook",
    ]
    assert user.default_store.is_file()
    assert files_in(user.repo) == [".approvalbot.yml"]


@pytest.mark.postgres
def test_serve_names_a_postgresql_store_without_its_password(user: User) -> None:
    who = pg_user()
    if who is None:
        pytest.skip(UNREACHABLE)
    with scratch_schema(who, "startup_") as url:
        # The machine's PostgreSQL trusts loopback, so a password is accepted and ignored: it is only
        # here to be hidden.
        with_password = url.replace(f"://{who}@", f"://{who}:{PASSWORD}@")
        env = child_env(
            user.home,
            {
                "APPROVALBOT_WEBHOOK_SECRET": SECRET,
                "GITHUB_TOKEN": "ghp_startup_test",
                "APPROVALBOT_GITHUB_URL": "https://ghe.example.com/api/v3",
                "DATABASE_URL": with_password,
            },
        )
        with serving(env, user.repo, free_port()) as log:
            output = log.read_text()
    shown = url.replace(f"://{who}@", f"://{who}:***@")
    assert f"approvalbot: store: {shown} (DATABASE_URL)\n" in output
    assert "approvalbot: GitHub: https://ghe.example.com/api/v3 with GITHUB_TOKEN\n" in output
    assert PASSWORD not in output
