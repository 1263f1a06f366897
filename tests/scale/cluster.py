"""Several approvalbot processes on the machine's real Redis and PostgreSQL, fed by the GitHub emulator.

`Cluster` starts `approvalbot serve` replicas and `approvalbot worker` processes as subprocesses, all
with one environment (App id + private key, the emulator's URL, a PostgreSQL schema of their own, a
Redis database of their own), and a `RoundRobin` sink that posts each signed webhook, unchanged, to
the next replica in turn, as a load balancer would.

Isolation from other tests on the same machine: the queue's names are fixed (`approvalbot`), so the
cluster claims a whole Redis database (1–15) that is empty, with a claim key that expires; the store
lives in a fresh PostgreSQL schema dropped afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import redis
from pg_scratch import UNREACHABLE, pg_user, scratch_schema

from bot.emulator.keys import app_key_pair as app_key  # noqa: F401

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CLAIM_KEY = "approvalbot-scale-test:claim"
CLAIM_SECONDS = 600
ROOT = Path(__file__).resolve().parents[2]


class Unavailable(RuntimeError):
    """A service the scale-out test needs is not running on this machine."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- PostgreSQL ------------------------------------------------------------------------------------


@contextmanager
def pg_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    user = pg_user()
    if user is None:
        raise Unavailable(UNREACHABLE)
    with scratch_schema(user, "scale_") as url:
        yield url


# --- Redis -----------------------------------------------------------------------------------------


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis URL on a database (1–15) nobody uses, claimed for this test and emptied afterwards."""
    token = uuid.uuid4().hex
    for db in range(15, 0, -1):
        conn = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_connect_timeout=3)
        try:
            if conn.dbsize() == 0 and conn.set(CLAIM_KEY, token, nx=True, ex=CLAIM_SECONDS):
                break
        except redis.ConnectionError as error:
            raise Unavailable(f"Redis unreachable at {REDIS_HOST}:{REDIS_PORT}: {error}") from error
        conn.close()
    else:
        raise Unavailable("every Redis database 1–15 holds keys: none is free for the scale-out test")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        if conn.get(CLAIM_KEY) == token.encode():
            for key in conn.scan_iter(count=500):
                conn.delete(key)
        conn.close()


# --- processes -------------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self, tail: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-tail:]


@dataclass
class Cluster:
    env: Mapping[str, str]
    logs: Path
    servers: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def start(self, servers: int, workers: int) -> None:
        for index in range(servers):
            port = free_port()
            self.ports.append(port)
            args = ["serve", "--port", str(port), "--threads", "8"]
            self.servers.append(self._spawn(f"serve-{index}", args))
        for index in range(workers):
            self.workers.append(self._spawn(f"worker-{index}", ["worker"]))
        self._wait_healthy(timeout=30)

    @property
    def webhook_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/webhook" for port in self.ports]

    def _spawn(self, name: str, args: list[str]) -> Process:
        log = self.logs / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)},
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,  # its own process group: stopping it stops gunicorn's worker too
        )
        handle.close()
        return Process(name, popen, log)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for port, server in zip(self.ports, self.servers, strict=True):
            while True:
                self.assert_alive()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{server.name} not healthy within {timeout} s:\n{server.output()}")
                time.sleep(0.1)

    def assert_alive(self) -> None:
        for process in self.servers + self.workers:
            code = process.popen.poll()
            if code is not None:
                raise RuntimeError(f"{process.name} exited with {code}:\n{process.output()}")

    def stop(self) -> None:
        processes = self.servers + self.workers
        for process in processes:
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.popen.wait(5)

    def outputs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()}" for p in self.servers + self.workers)


def _signal(process: Process, signum: int) -> None:
    if process.popen.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signum)


class RoundRobin:
    """A webhook sink: each delivery goes, signed headers and body unchanged, to the next URL in turn."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.sent = 0
        self.statuses: list[int | None] = []

    def __call__(self, headers: Mapping[str, str], body: bytes) -> int:
        url = self.urls[self.sent % len(self.urls)]
        self.sent += 1
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as error:
            status = int(error.code)
        self.statuses.append(status)
        return status
