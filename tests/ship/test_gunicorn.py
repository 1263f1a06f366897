"""The container's command, started for real: `approvalbot serve` (gunicorn) on loopback, configured only
by the environment the Dockerfile documents, with GitHub App auth against the emulator end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ship_support import (
    APP_ID,
    INSTALLATION,
    ORG,
    PAUSE_PATH,
    REPO,
    app_key,
    approvalbot_runs,
    child_env,
    console,
    create_labels,
    dockerfile_instructions,
    exec_form,
    final_stage,
    free_port,
    paused_text,
    sample_files,
    stop,
    wait_for_health,
    with_option,
)

from bot.adapters.store import Store

pytestmark = pytest.mark.slow

SECRET = "ship-webhook-secret"


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def container_command(port: int) -> list[str]:
    (cmd,) = [exec_form(i) for i in final_stage(dockerfile_instructions()) if i.name == "CMD"]
    return console(with_option(with_option(cmd, "--host", "127.0.0.1"), "--port", str(port)))


@pytest.fixture
def served(emulator, tmp_path: Path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    private, public = app_key()
    emulator.driver.create_repo(REPO, sample_files())
    emulator.driver.install_app(APP_ID, INSTALLATION, ORG, public_key_pem=public)
    create_labels(emulator)
    key_file = tmp_path / "app.pem"  # mounted as a secret file in the container
    key_file.write_text(private)
    key_file.chmod(0o600)
    env = child_env(
        {
            "APPROVALBOT_WEBHOOK_SECRET": SECRET,
            "APPROVALBOT_APP_ID": str(APP_ID),
            "APPROVALBOT_PRIVATE_KEY": str(key_file),
            "APPROVALBOT_GITHUB_URL": emulator.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'approvalbot.db'}",
        }
    )
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            container_command(port), env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT
        )
    server = Served(process, port, log)
    try:
        wait_for_health(f"{server.root}/healthz", process)
        yield server
    finally:
        code = stop(process)
        assert code == 0, f"`approvalbot serve` exited {code} on SIGTERM:\n{server.output()[-3000:]}"


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_signed_delivery_ends_in_a_check_run_made_with_app_auth(emulator, served: Served) -> None:  # type: ignore[no-untyped-def]
    emulator.webhooks.secret = SECRET
    emulator.webhooks.url = f"{served.root}/webhook"
    number = emulator.driver.open_pr(REPO, "carol-contrib", "pause-checkout", {PAUSE_PATH: paused_text()})

    (opened,) = emulator.webhooks.of("pull_request", "opened")
    assert opened.status == 202, served.output()[-3000:]
    head = emulator.world.repo(REPO).pulls[number].head_sha
    deadline = time.monotonic() + 60  # production throttles (0.25 s a read, 1 s a write) are on here
    while not approvalbot_runs(emulator, head) and time.monotonic() < deadline:
        time.sleep(0.2)
    runs = approvalbot_runs(emulator, head)
    assert runs, f"no approvalbot check run on #{number} within 60 s; server log:\n{served.output()[-3000:]}"
    # The installation token was minted from a JWT the emulator verified against the App's public key.
    assert emulator.calls.of("POST /app/installations/{installation_id}/access_tokens")
    assert all(
        c.status < 400 for c in emulator.calls.of("POST /app/installations/{installation_id}/access_tokens")
    )


def test_health_answers_and_unsigned_or_forged_deliveries_are_refused(
    emulator, served: Served, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # The image's own HEALTHCHECK command, pointed at this server's port, passes.
    (check,) = [i for i in final_stage(dockerfile_instructions()) if i.name == "HEALTHCHECK"]
    script = exec_form(check)[2].replace("127.0.0.1:8080", f"127.0.0.1:{served.port}")
    assert f":{served.port}/healthz" in script, "the healthcheck no longer names 127.0.0.1:8080"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=15)
    assert done.returncode == 0, done.stderr.decode()

    # The server heals at start (a reconcile of every installed repository, which takes the baseline):
    # let that job finish first, as its store says.
    store = Store.from_url(f"sqlite:///{tmp_path / 'approvalbot.db'}")
    try:
        deadline = time.monotonic() + 60
        while not (store.live() and store.jobs().open_jobs() == 0):
            assert time.monotonic() < deadline, f"serve did not heal at start:\n{served.output()[-3000:]}"
            time.sleep(0.1)
    finally:
        store.close()
    assert emulator.calls.of("GET /app/installations")
    emulator.calls.reset()

    body = json.dumps({"action": "opened", "number": 1}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "d-1",
    }
    assert post(f"{served.root}/webhook", body, headers) == 401
    forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert post(f"{served.root}/webhook", body, forged) == 401
    time.sleep(0.5)
    assert emulator.calls.calls == [], "a refused delivery must not reach GitHub"


def test_the_healthcheck_command_fails_when_nothing_listens() -> None:
    (check,) = [i for i in final_stage(dockerfile_instructions()) if i.name == "HEALTHCHECK"]
    script = exec_form(check)[2].replace("127.0.0.1:8080", f"127.0.0.1:{free_port()}")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=15)
    assert done.returncode != 0


def test_the_server_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    env = child_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    done = subprocess.run(
        container_command(free_port()), env=env, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert done.returncode != 0
    assert b"APPROVALBOT_WEBHOOK_SECRET" in done.stderr
    assert b"Traceback" not in done.stderr
