"""Running the composite action's step the way a runner does, on event payloads made from GitHub's examples.

`ActionRunner.run(event, payload)` writes the payload to a file, builds the step's environment from
action.yml (`${{ inputs.* }}` and `${{ github.token }}` substituted, as the runner does), and runs the
step's bash script, which runs `approvalbot action` as a real process. The outputs are read back from
GITHUB_OUTPUT in the runner's `name=value` / `name<<DELIMITER` format.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from ship_support import ORG, REPO, ROOT, child_env

ACTION_YML = ROOT / "action.yml"
EXAMPLES = ROOT / "tests" / "contract" / "webhook-examples.json"
ACTIONS_APP_ID, ACTIONS_INSTALLATION = 15368, 99  # the `github-actions` App that GITHUB_TOKEN belongs to
ACTIONS_LOGIN = "github-actions[bot]"
TOKEN = "ghs_workflow_token_for_tests"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@cache
def action() -> dict[str, Any]:
    loaded = yaml.safe_load(ACTION_YML.read_text())
    assert isinstance(loaded, dict)
    return loaded


def run_step() -> dict[str, Any]:
    steps = action()["runs"]["steps"]
    (step,) = [s for s in steps if s.get("id") == "run"]
    return dict(step)


@cache
def _examples() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in json.loads(EXAMPLES.read_text()):
        found.setdefault(item["definition"], item["payload"])
    return found


def example(definition: str) -> dict[str, Any]:
    """A deep copy of the first official example of `event$action`."""
    return copy.deepcopy(_examples()[definition])


def aimed(payload: dict[str, Any], sender: str) -> dict[str, Any]:
    """The example pointed at the emulator's repository; no `installation` (workflow events have none)."""
    name = REPO.split("/")[1]
    repository = payload["repository"]
    repository.update(full_name=REPO, name=name, default_branch="main", private=False)
    repository["owner"]["login"] = ORG
    payload["sender"]["login"] = sender
    payload.pop("installation", None)
    return payload


def pull_fields(pull: dict[str, Any], emulator: Any, number: int) -> dict[str, Any]:
    pr = emulator.world.repo(REPO).pulls[number]
    pull.update(number=number, state=pr.state, draft=False, merged=bool(pr.merged))
    pull["merge_commit_sha"] = pr.merge_commit_sha
    pull["head"].update(sha=pr.head_sha, ref=pr.head_ref)
    pull["base"].update(ref="main")
    pull["user"]["login"] = pr.author
    return pull


def parse_outputs(text: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            for part in lines:
                if part == delimiter:
                    break
                body.append(part)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str = ""  # what the step wrote to $GITHUB_STEP_SUMMARY

    @property
    def decision(self) -> Any:
        return json.loads(self.outputs["decision"])

    @property
    def result(self) -> dict[str, Any]:
        """What `approvalbot action` printed (its --format json result)."""
        start = self.stdout.index("{")
        loaded = json.loads(self.stdout[start:])
        assert isinstance(loaded, dict)
        return loaded


@dataclass
class ActionRunner:
    api_url: str
    workdir: Path
    database_url: str
    inputs: dict[str, str] = field(default_factory=dict)
    runs: int = 0

    def step_env(self, inputs: Mapping[str, str]) -> dict[str, str]:
        """The run step's `env:` with the inputs (action.yml defaults, then the workflow's `with:`)."""
        values = {
            name: _expand(str(spec.get("default", "")), {}) for name, spec in action()["inputs"].items()
        }
        # The workflow's `with: database-url`, as the README's passes a secret (an empty one: the workspace).
        values["database-url"] = self.database_url
        values.update(self.inputs)
        values.update(inputs)
        return {name: _expand(str(value), values) for name, value in run_step().get("env", {}).items()}

    def run(self, event: str, payload: Mapping[str, Any], **inputs: str) -> Outcome:
        self.runs += 1
        event_path = self.workdir / f"event-{self.runs}.json"
        event_path.write_text(json.dumps(payload))
        output_path = self.workdir / f"output-{self.runs}.txt"
        output_path.write_text("")
        summary_path = self.workdir / f"summary-{self.runs}.md"
        summary_path.write_text("")
        env = child_env(
            {
                "GITHUB_EVENT_NAME": event,
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_API_URL": self.api_url,
                "GITHUB_OUTPUT": str(output_path),
                "GITHUB_STEP_SUMMARY": str(summary_path),
                "GITHUB_WORKSPACE": str(self.workdir),
                "GITHUB_ACTIONS": "true",
                "APPROVALBOT_GITHUB_THROTTLE": "0",  # the emulator needs no pacing
                "PATH": f"{shim(self.workdir)}:{child_env({})['PATH']}",
                **self.step_env(inputs),
            }
        )
        done = subprocess.run(
            ["bash", "-e", "-c", run_step()["run"]],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = parse_outputs(output_path.read_text())
        return Outcome(done.returncode, done.stdout, done.stderr, outputs, summary_path.read_text())


def _expand(text: str, inputs: Mapping[str, str]) -> str:
    """`${{ github.token }}` and `${{ inputs.NAME }}` replaced, as the runner does; anything else fails."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "github.token":
            return TOKEN
        assert expression.startswith("inputs."), f"action.yml uses {expression!r}; teach the test runner"
        return inputs[expression.removeprefix("inputs.")]

    return EXPRESSION.sub(value, text)


def shim(workdir: Path) -> Path:
    """A bin folder whose `approvalbot` runs this checkout's entry point (`pip install` in a real run)."""
    folder = workdir / "bin"
    script = folder / "approvalbot"
    if not script.exists():
        folder.mkdir(exist_ok=True)
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bot "$@"\n')
        script.chmod(0o755)
    return folder
