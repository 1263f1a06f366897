"""What a service command checks and says before it starts work: which store, queue and GitHub it uses,
and whether they are usable.

`approvalbot serve` runs every check in gunicorn's master, before it forks: a worker that fails to boot
only makes gunicorn print a traceback and "Worker failed to boot", which says nothing of what to set.
`tick`, `reconcile` and `status` name the store they use, so a store in an unexpected place is seen.
Messages say what was wrong, which variable it comes from, and what to set; no secret is ever shown.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.store.database import StoreError, normalise_url
from bot.settings import Settings, SettingsError, masked_url

if TYPE_CHECKING:
    from bot.adapters.store import Store

# Long enough for a database or Redis across a network, short enough that a wrong host fails fast.
CONNECT_TIMEOUT_S = 5


class StartupError(Exception):
    """What a command needs is not there (a store, a folder, a server); the message says what to set."""


# --- the lines a command prints at start ------------------------------------------------------------------


def store_line(settings: Settings) -> str:
    shown = masked_url(settings.database_url)
    if settings.database_is_default:
        return f"store: {shown} (the default; set DATABASE_URL to use another)"
    return f"store: {shown} (DATABASE_URL)"


def queue_line(settings: Settings) -> str:
    if settings.redis_url:
        shown = masked_url(settings.redis_url)
        return (
            f"queue: in the store (kept across restarts); jobs run in `approvalbot worker` processes, "
            f"woken through Redis at {shown}"
        )
    return (
        f"queue: in the store (kept across restarts), {settings.workers} worker threads in each server "
        "process (no REDIS_URL)"
    )


def github_line(settings: Settings) -> str:
    url = masked_url(settings.github_url)
    if settings.app_id and settings.private_key:  # the same precedence as bot.engine.wiring
        return f"GitHub: {url} as GitHub App {settings.app_id}"
    return f"GitHub: {url} with GITHUB_TOKEN"


def serve_lines(settings: Settings) -> list[str]:
    return [store_line(settings), queue_line(settings), github_line(settings)]


# --- opening the store ------------------------------------------------------------------------------------


def open_store(settings: Settings) -> Store:
    """The store, for a command that writes to it; the default store's folder is made on first use."""
    from bot.adapters.store import Store

    path = sqlite_file(settings)
    if path is not None:
        _usable_folder(settings, path.parent)
    return Store.from_url(settings.database_url)


def existing_store(settings: Settings) -> Store:
    """The store, for a command that only reads it: a SQLite file that is not there is not created."""
    from bot.adapters.store import Store

    path = sqlite_file(settings)
    if path is not None and not path.exists():
        if settings.database_is_default:
            raise StartupError(
                f"no store at {path}: that is where the store is when DATABASE_URL is not set, and "
                "nothing has written it for this user. To see a bot's state, set DATABASE_URL to the "
                "store its `approvalbot serve` uses (e.g. postgresql://user@host/dbname)."
            )
        raise StartupError(
            f"no store at {path} (DATABASE_URL={masked_url(settings.database_url)}): nothing has "
            "written it. Set DATABASE_URL to the store `approvalbot serve` uses."
        )
    return Store.from_url(settings.database_url)


def sqlite_file(settings: Settings) -> Path | None:
    """The file of a SQLite store (None for PostgreSQL and an in-memory SQLite store)."""
    url = normalise_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database or "").expanduser()


def _usable_folder(settings: Settings, folder: Path) -> None:
    if not folder.is_dir():
        if not settings.database_is_default:
            # A folder the user named and that is missing is more likely a typo than a wish.
            raise StartupError(
                f"DATABASE_URL={masked_url(settings.database_url)}: the folder {folder} does not exist; "
                "create it, or set DATABASE_URL to a file in an existing folder."
            )
        _make_private_folder(folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite writes its journal beside the file, so a writable file alone is not enough.
        raise StartupError(
            f"the store's folder {folder} is not writable by this user, and SQLite writes its journal "
            "there; fix its permissions, or set DATABASE_URL to a store in a writable folder."
        )


def _make_private_folder(folder: Path) -> None:
    """`folder` and its missing parents, each 0700 as the XDG rules ask: the store is the user's own."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            raise StartupError(
                f"cannot create the store's folder {folder} ({path}: {error.strerror or error}); set "
                "XDG_DATA_HOME to a writable folder, or DATABASE_URL to another store."
            ) from None


# --- serve: everything checked before gunicorn starts -----------------------------------------------------


def serve_problems(settings: Settings, timeout: float = CONNECT_TIMEOUT_S) -> list[str]:
    """What stops `approvalbot serve` from working, one message each; empty when it may start."""
    problems = _problems([settings.require_webhook_secret, settings.require_github_credentials])
    if problems:  # a configuration that is wrong anyway should not create or touch a database
        return problems
    return _problems([lambda: check_store(settings, timeout), lambda: check_queue(settings, timeout)])


def _problems(checks: Iterable[Callable[[], object]]) -> list[str]:
    found = []
    for check in checks:
        try:
            check()
        except (SettingsError, StoreError, StartupError) as error:
            found.append(str(error))
    return found


def check_store(settings: Settings, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """The database answers, and its schema is migrated now, so a store newer than this version is
    reported here rather than by a worker that fails to boot."""
    url = normalise_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        _database_answers(settings, timeout)
    open_store(settings).close()


def _database_answers(settings: Settings, timeout: float) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    url = normalise_url(settings.database_url)
    if "connect_timeout" not in url.query:  # libpq would wait for the operating system's TCP timeout
        url = url.update_query_dict({"connect_timeout": str(int(timeout))})
    probe = create_engine(url, poolclass=NullPool)
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        reason = " ".join(str(error.orig).split())  # libpq's message spans lines
        raise StartupError(
            f"DATABASE_URL={masked_url(settings.database_url)}: the database does not answer ({reason}); "
            "start it, or set DATABASE_URL to a database reachable from here."
        ) from None
    finally:
        probe.dispose()


def check_queue(settings: Settings, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Redis answers, when REDIS_URL says workers are woken through it."""
    if not settings.redis_url:
        return
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except RedisError as error:
        raise StartupError(
            f"REDIS_URL={masked_url(settings.redis_url)}: Redis does not answer ({error}); start it, "
            "fix REDIS_URL, or unset it to run jobs in the server processes."
        ) from None
    finally:
        client.close()
