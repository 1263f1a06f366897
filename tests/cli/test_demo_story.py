"""`approvalbot demo` tells one story a newcomer can follow (issue 14).

Before: the webhook server's log lines were interleaved with the steps (`--quiet` too); the rejection
step printed the pending check and hid the feedback; the blocked step did not say why; the demo ended
without saying what to try next.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def story() -> str:
    env = {k: v for k, v in os.environ.items() if k != "APPROVALBOT_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", done.stderr  # nothing but the story, on stdout
    return done.stdout


def test_no_log_lines_interleave_with_the_story(story: str) -> None:
    assert " INFO " not in story and "bot.web.webhook" not in story and "delivery=" not in story


def test_the_rejection_step_shows_the_verdict_and_the_feedback(story: str) -> None:
    step = story.split("== 5.", 1)[1].split("== 6.", 1)[0]
    assert "Rejected" in step
    assert "Not enough data yet: wait a week." in step
    assert "Waiting for approval" not in step  # the pending check before the rejection is not the story


def test_the_blocked_step_says_why(story: str) -> None:
    step = story.split("== 6.", 1)[1]
    assert "is locked by #3" in step


def test_the_demo_ends_with_what_to_try_next(story: str) -> None:
    tail = story.rsplit("demo passed", 1)[1]
    assert "approvalbot check --repo" in tail and "approvalbot validate ." in tail


def test_quiet_prints_only_the_verdicts() -> None:
    env = {k: v for k, v in os.environ.items() if k != "APPROVALBOT_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--quiet"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert all(line.startswith(("approvalbot demo", "==", "   [ok ]", "demo passed")) for line in lines), (
        lines
    )
