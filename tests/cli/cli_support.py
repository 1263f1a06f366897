"""What the command-line tests share: a user's home and a config repository in temporary folders, App
keys of every wrong kind, and `approvalbot serve` started as a real process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[2]
# Variables that would change where the default store is, or which store is used, if the test
# process inherited them (a CI job on GitHub Actions has GITHUB_ACTIONS and GITHUB_WORKSPACE set).
STORE_VARIABLES = ("DATABASE_URL", "GITHUB_ACTIONS", "GITHUB_WORKSPACE", "XDG_DATA_HOME")
CREDENTIAL_VARIABLES = ("APPROVALBOT_APP_ID", "APPROVALBOT_PRIVATE_KEY", "GITHUB_TOKEN")


@dataclass(frozen=True)
class User:
    """A user's folders: HOME, the XDG data home, and a config repository to run commands in."""

    home: Path
    data: Path
    repo: Path

    @property
    def default_store(self) -> Path:
        return self.data / "approvalbot" / "approvalbot.db"


def make_user(tmp_path: Path) -> User:
    user = User(home=tmp_path / "home", data=tmp_path / "data", repo=tmp_path / "config-repo")
    user.home.mkdir()
    user.repo.mkdir()
    (user.repo / ".approvalbot.yml").write_text("approvals:\n  required: 1\n")
    return user


def enter(user: User, monkeypatch: pytest.MonkeyPatch, *, xdg: bool = True) -> None:
    """This process runs as `user` would: in the config repository, with only their home to write to."""
    for name in (*STORE_VARIABLES, *CREDENTIAL_VARIABLES, "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(user.home))
    if xdg:
        monkeypatch.setenv("XDG_DATA_HOME", str(user.data))
    monkeypatch.chdir(user.repo)


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


# --- App keys -----------------------------------------------------------------------------------------


def ec_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def encrypted_rsa_pem(rsa_pem: str) -> str:
    key = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()


# --- `approvalbot serve` as a process -----------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(port: int) -> list[str]:
    """The installed console script when there is one (what a user types), else the same entry point."""
    script = Path(sys.executable).with_name("approvalbot")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    return [*head, "serve", "--host", "127.0.0.1", "--port", str(port)]


def child_env(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """A clean environment: nothing of this process's configuration leaks into the server's."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


Output = int | IO[bytes]  # what Popen takes for stdout and stderr


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


def serve_until_exit(env: Mapping[str, str], cwd: Path, timeout: float = 60.0) -> Finished:
    """Run `approvalbot serve`, expecting it to exit by itself; a server that starts instead fails."""
    process = _start(env, cwd, free_port(), subprocess.PIPE, subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(
            f"`approvalbot serve` still ran after {timeout} s:\n{err.decode()[-3000:]}"
        ) from None
    return Finished(process.returncode, out.decode(), err.decode())


@contextmanager
def serving(env: Mapping[str, str], cwd: Path, port: int) -> Iterator[Path]:
    """A started `approvalbot serve` (its /healthz answers); yields its stderr's file, stops it (SIGTERM)."""
    log = cwd.parent / f"serve-{port}.stderr"  # beside the repository: it must stay clean
    with log.open("wb") as sink:
        process = _start(env, cwd, port, subprocess.DEVNULL, sink)
    try:
        _wait_for_health(f"http://127.0.0.1:{port}/healthz", process, log)
        yield log
        process.terminate()
        assert process.wait(15) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _start(
    env: Mapping[str, str], cwd: Path, port: int, stdout: Output, stderr: Output
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        serve_command(port),
        env=dict(env),
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,  # so gunicorn's worker is stopped too if a test gives up on the master
    )


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s:\n{log.read_text()[-3000:]}")
