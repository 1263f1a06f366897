"""No surprise files: `status`, `tick` and `reconcile` run inside a config repository leave no database
there. Without DATABASE_URL the store is in the user's data folder (XDG rules), every command names the
store it uses (no password shown), and `status` reports a store that does not exist instead of making one.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cli_support import User, enter, files_in, make_user

from bot.cli import main
from bot.emulator import GitHubEmulator
from bot.sandbox import sample_files
from bot.settings import Settings, data_home, default_database_url, masked_url
from bot.startup import store_line

REPO = "acme/experiments"


@pytest.fixture
def user(tmp_path: Path) -> User:
    return make_user(tmp_path)


# --- where the default store is -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "platform", "store"),
    [
        ({"HOME": "/home/u"}, "linux", "/home/u/.local/share/approvalbot/approvalbot.db"),
        ({"HOME": "/home/u", "XDG_DATA_HOME": "/data"}, "linux", "/data/approvalbot/approvalbot.db"),
        # The XDG rules: a relative XDG_DATA_HOME is invalid and ignored, never resolved against the cwd.
        (
            {"HOME": "/home/u", "XDG_DATA_HOME": "data"},
            "linux",
            "/home/u/.local/share/approvalbot/approvalbot.db",
        ),
        ({"HOME": "/Users/u"}, "darwin", "/Users/u/Library/Application Support/approvalbot/approvalbot.db"),
        ({"HOME": "/Users/u", "XDG_DATA_HOME": "/x"}, "darwin", "/x/approvalbot/approvalbot.db"),
        ({"LOCALAPPDATA": "/c/Local", "USERPROFILE": "/c/u"}, "win32", "/c/Local/approvalbot/approvalbot.db"),
        # A GitHub Actions job keeps the file in its workspace, as action.yml says.
        (
            {"HOME": "/home/u", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/ws"},
            "linux",
            "/ws/approvalbot.db",
        ),
        (
            {"HOME": "/home/u", "GITHUB_WORKSPACE": "/ws"},
            "linux",
            "/home/u/.local/share/approvalbot/approvalbot.db",
        ),
    ],
)
def test_the_default_store_is_in_the_users_data_folder(
    env: dict[str, str], platform: str, store: str
) -> None:
    assert default_database_url(env, platform) == f"sqlite:///{store}"


def test_without_home_the_data_folder_comes_from_the_password_database() -> None:
    assert data_home({}, "linux") == Path.home() / ".local" / "share"


def test_the_settings_know_a_chosen_store_from_the_default() -> None:
    default = Settings.from_env({"HOME": "/home/u"})
    chosen = Settings.from_env({"HOME": "/home/u", "DATABASE_URL": "sqlite:////srv/bot.db"})
    assert default.database_is_default and not chosen.database_is_default
    assert chosen.default_store_url == default.database_url
    assert not Settings(database_url="sqlite:////srv/bot.db").database_is_default


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://bot:s3cret@db.example.com:5432/approvalbot",
            "postgresql://bot:***@db.example.com:5432/approvalbot",
        ),
        (
            "postgresql+psycopg://bot:p%40ss@db/x?sslmode=require",
            "postgresql+psycopg://bot:***@db/x?sslmode=require",
        ),
        (
            "postgresql://bot@db/x?password=s3cret&sslmode=require",
            "postgresql://bot@db/x?password=***&sslmode=require",
        ),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://bot@db/approvalbot", "postgresql://bot@db/approvalbot"),
        ("sqlite:////var/lib/approvalbot/approvalbot.db", "sqlite:////var/lib/approvalbot/approvalbot.db"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_the_store_line_names_the_store_and_where_it_came_from() -> None:
    chosen = Settings.from_env({"HOME": "/h", "DATABASE_URL": "postgresql://bot:s3cret@db/approvalbot"})
    assert store_line(chosen) == "store: postgresql://bot:***@db/approvalbot (DATABASE_URL)"
    default = Settings.from_env({"HOME": "/h", "XDG_DATA_HOME": "/d"})
    assert store_line(default) == (
        "store: sqlite:////d/approvalbot/approvalbot.db (the default; set DATABASE_URL to use another)"
    )


# --- the commands, run in a config repository -------------------------------------------------------


def test_tick_in_a_config_repo_uses_the_store_in_the_data_folder(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch)
    assert main(["tick", "--now", "2030-01-01T00:00:00Z"]) == 0
    out, err = capsys.readouterr()
    assert out == "0 scheduled transitions applied\n"
    assert err == (
        f"approvalbot: store: sqlite:///{user.default_store} (the default; set DATABASE_URL to use another)\n"
    )
    assert files_in(user.repo) == [".approvalbot.yml"]
    assert user.default_store.is_file()
    assert stat.S_IMODE(user.default_store.parent.stat().st_mode) == 0o700  # made for this user only


def test_without_xdg_data_home_the_store_is_under_home(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch, xdg=False)
    assert main(["tick"]) == 0
    store = user.home / ".local" / "share" / "approvalbot" / "approvalbot.db"
    assert f"store: sqlite:///{store} (the default" in capsys.readouterr().err
    assert store.is_file() and files_in(user.repo) == [".approvalbot.yml"]
    # Each folder it had to make is the user's own, as the XDG rules ask.
    for folder in (user.home / ".local", user.home / ".local" / "share", store.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_status_on_a_store_that_does_not_exist_says_so_and_creates_nothing(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch)
    assert main(["status"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"approvalbot: store: sqlite:///{user.default_store} (the default; set DATABASE_URL to use another)\n"
        f"approvalbot: error: no store at {user.default_store}: that is where the store is when DATABASE_URL "
        "is not set, and nothing has written it for this user. To see a bot's state, set DATABASE_URL to "
        "the store its `approvalbot serve` uses (e.g. postgresql://user@host/dbname).\n"
    )
    assert files_in(user.repo) == [".approvalbot.yml"]
    assert not user.data.exists()


def test_status_on_a_chosen_store_that_does_not_exist_names_it(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch)
    missing = user.home / "bot.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    assert main(["status"]) == 2
    assert (
        f"approvalbot: error: no store at {missing} (DATABASE_URL=sqlite:///{missing}): nothing has written "
        "it. Set DATABASE_URL to the store `approvalbot serve` uses.\n"
    ) in capsys.readouterr().err
    assert not missing.exists()


def test_status_reads_the_store_tick_made(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch)
    assert main(["tick"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("The live store is empty")
    assert err.startswith(f"approvalbot: store: sqlite:///{user.default_store} (the default")
    assert files_in(user.repo) == [".approvalbot.yml"]


def test_a_chosen_sqlite_folder_that_is_missing_is_reported_not_created(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch)
    typo = user.home / "stroe" / "bot.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{typo}")
    assert main(["tick"]) == 2
    assert (
        f"approvalbot: error: DATABASE_URL=sqlite:///{typo}: the folder {typo.parent} does not exist; "
        "create it, or set DATABASE_URL to a file in an existing folder.\n"
    ) in capsys.readouterr().err
    assert not typo.parent.exists()


def test_a_data_folder_that_cannot_be_made_is_explained(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch)
    blocker = user.home / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "data"))
    assert main(["tick"]) == 2
    err = capsys.readouterr().err
    assert (
        f"approvalbot: error: cannot create the store's folder {blocker}/data/approvalbot "
        f"({blocker}/data: Not a directory); set XDG_DATA_HOME to a writable folder, or DATABASE_URL to "
        "another store.\n"
    ) in err
    assert "Traceback" not in err


def test_reconcile_in_a_config_repo_uses_the_store_in_the_data_folder(
    emulator: GitHubEmulator, user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.driver.create_repo(REPO, sample_files())
    enter(user, monkeypatch)
    monkeypatch.setenv("GITHUB_TOKEN", emulator.token_for("alice"))
    monkeypatch.setenv("APPROVALBOT_GITHUB_URL", emulator.base_url)
    monkeypatch.setenv("APPROVALBOT_GITHUB_THROTTLE", "0")
    assert main(["reconcile", "--repo", REPO]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("baseline: the live state starts from ")
    assert err == (
        f"approvalbot: store: sqlite:///{user.default_store} (the default; set DATABASE_URL to use another)\n"
    )
    assert user.default_store.is_file() and files_in(user.repo) == [".approvalbot.yml"]


def test_reconcile_without_credentials_says_so_and_creates_no_store(
    user: User, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enter(user, monkeypatch)
    assert main(["reconcile", "--repo", REPO]) == 2
    err = capsys.readouterr().err
    assert err == (
        "approvalbot: error: no GitHub credentials: set APPROVALBOT_APP_ID and APPROVALBOT_PRIVATE_KEY (the "
        "GitHub App's id and private key), or GITHUB_TOKEN (a token that may write checks, pull requests "
        "and issues).\n"
    )
    assert not user.data.exists()
