"""Every way in installs the locked versions: the README's commands, CI, the image and the Action.

The locks themselves are checked against pyproject.toml by `scripts/lock --check` in CI (it needs the
package index); these tests hold the places that install to the lock, and the lock to pyproject's ranges.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK, TEST_LOCK = ROOT / "requirements.txt", ROOT / "requirements-test.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def _pins(lock: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]


def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_locked_package_is_pinned_with_hashes() -> None:
    for lock in (RUNTIME_LOCK, TEST_LOCK):
        text = lock.read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert entries, lock
        for entry in entries:
            assert PIN.match(entry.splitlines()[0]), f"{lock.name}: not an exact pin: {entry.splitlines()[0]}"
            assert "--hash=sha256:" in entry, f"{lock.name}: no hash for {entry.splitlines()[0]}"


def test_the_test_lock_agrees_with_the_runtime_lock() -> None:
    runtime, test = _pins(RUNTIME_LOCK), _pins(TEST_LOCK)
    assert {name: test.get(name) for name in runtime} == runtime


def test_each_dependency_of_pyproject_is_locked_within_its_range() -> None:
    project = _pyproject()
    wanted = {
        RUNTIME_LOCK: project["project"]["dependencies"] + project["dependency-groups"]["build"],
        TEST_LOCK: project["project"]["optional-dependencies"]["test"],
    }
    for lock, requirements in wanted.items():
        pins = _pins(lock)
        for spec in requirements:
            requirement = Requirement(spec)
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{lock.name} lacks {requirement.name}: run scripts/lock"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{lock.name} pins {name}=={pins[name]}, outside pyproject's {requirement.specifier}"
            )


def test_the_build_backend_is_locked_within_the_build_systems_range() -> None:
    (backend,) = map(Requirement, _pyproject()["build-system"]["requires"])
    assert backend.specifier.contains(_pins(RUNTIME_LOCK)[canonicalize_name(backend.name)])


def test_the_readme_installs_from_the_locks_and_ci_runs_its_test_command_verbatim() -> None:
    commands = _readme_commands()
    (demo,) = [c for c in commands if c.endswith("approvalbot demo")]
    (tests,) = [c for c in commands if c.endswith("python -m pytest")]
    assert demo.startswith("python -m pip install -r requirements.txt && ")
    assert tests.startswith("python -m pip install -r requirements-test.txt && ")
    for command in (demo, tests):
        # The package itself adds nothing beyond the lock and is built by the locked setuptools.
        assert "--no-deps --no-build-isolation" in command
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci
    assert "scripts/lock --check" in ci


def test_the_image_and_the_action_install_the_lock_with_hashes_and_nothing_else() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install --require-hashes -r /src/requirements\.txt$", dockerfile, re.M)
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    (install,) = [step for step in action["runs"]["steps"] if step.get("name") == "Install approvalbot"]
    lines = install["run"].strip().splitlines()
    assert '--require-hashes -r "$ACTION_PATH/requirements.txt"' in lines[0]
    assert lines[1].endswith('--no-deps --no-build-isolation "$ACTION_PATH"')
