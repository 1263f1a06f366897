"""What the ship tests share: the Dockerfile read as data, the command it runs, an App key, a config repo.

The tests start the container's own command (`approvalbot serve ...`, `approvalbot action`) as real
processes, so what the image runs is what is tested. Without the package installed the console script
is `python -m bot`, the same entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.emulator.keys import app_key_pair as app_key  # noqa: F401
from bot.sandbox import sample_files  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
SAMPLE = ROOT / "bot" / "data" / "experiments.example"
REPO = "acme/experiments"
ORG = "acme"
APP_ID, INSTALLATION = 4242, 77
PAUSE_PATH = "web/experiments/checkout_button_color_test.yaml"


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case: FROM, RUN, CMD...
    args: str  # the rest of the logical line, continuations joined
    line: int


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The Dockerfile's instructions: comments dropped, backslash continuations joined."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continuation are removed by Docker too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        text = " ".join(part for part in pending if part)
        pending = []
        name, _, args = text.partition(" ")
        found.append(Instruction(name.upper(), args.strip(), start))
    return found


def final_stage(instructions: Sequence[Instruction]) -> list[Instruction]:
    """The instructions of the last stage (the image that runs), from its FROM on."""
    starts = [i for i, ins in enumerate(instructions) if ins.name == "FROM"]
    return list(instructions[starts[-1] :])


def exec_form(instruction: Instruction) -> list[str]:
    """CMD/ENTRYPOINT in exec (JSON) form; a shell-form command would not receive SIGTERM."""
    args = instruction.args
    if instruction.name == "HEALTHCHECK":
        args = args[args.index("CMD") + 3 :].strip()
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), instruction
    return value


def documented_variables(path: Path = DOCKERFILE) -> list[str]:
    """Variables listed in the Dockerfile's "Configuration (environment variables...)" comment block."""
    names: list[str] = []
    inside = False
    for raw in path.read_text().splitlines():
        if raw.startswith("# Configuration"):
            inside = True
            continue
        if inside:
            body = raw[1:].strip() if raw.startswith("#") else ""
            if not body:
                break
            names.append(body.split()[0])
    return names


def console(argv: Sequence[str]) -> list[str]:
    """`approvalbot ...` as a runnable argv: the installed script, else the same entry via `python -m bot`."""
    if argv and argv[0] == "approvalbot" and shutil.which("approvalbot") is None:
        return [sys.executable, "-m", "bot", *argv[1:]]
    return list(argv)


def with_option(argv: Sequence[str], option: str, value: str) -> list[str]:
    """`argv` with the value of `option` replaced (the container's 0.0.0.0:8080 → loopback, free port)."""
    out = list(argv)
    index = out.index(option)
    out[index + 1] = value
    return out


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A clean environment for a child process: PATH and the checkout on PYTHONPATH, plus `extra`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """SIGTERM, as `docker stop` sends; wait for a clean exit (kill only if it hangs, and fail)."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        raise AssertionError(f"the process ignored SIGTERM for {timeout} s") from None


def paused_text() -> str:
    text = (SAMPLE / PAUSE_PATH).read_text()
    assert "status: running" in text, f"{PAUSE_PATH} no longer starts running; pick another experiment"
    return text.replace("status: running", "status: paused", 1)


def create_labels(emulator: object) -> None:
    """The bot's labels exist up front with descriptions, as in a maintained repository (labels the
    emulator creates on the fly have a null description, which the pull-request contract forbids)."""
    from bot.core.decision import PENDING_LABEL_PREFIX, STATE_LABELS
    from bot.core.model import PendingState
    from bot.emulator.state import Label

    world = emulator.world  # type: ignore[attr-defined]
    repo = world.repo(REPO)
    names = [PENDING_LABEL_PREFIX + p.value for p in PendingState] + list(STATE_LABELS.values())
    with world.lock:
        for name in names:
            repo.labels[name] = Label(world.new_id(), name, "ededed", f"approvalbot: {name}")


def approvalbot_runs(emulator: object, sha: str) -> list[object]:
    """`approvalbot` check runs on a commit, oldest first."""
    repo = emulator.world.repo(REPO)  # type: ignore[attr-defined]
    runs = [r for r in repo.check_runs.values() if r.head_sha == sha and r.name == "approvalbot"]
    return sorted(runs, key=lambda r: r.id)
