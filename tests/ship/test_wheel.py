"""The wheel a release would publish: built with `python -m build`, installed into a fresh virtualenv,
it carries honest metadata and runs `approvalbot demo` from a folder that is not the checkout."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import bot

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the tracked files, so the build neither writes into the checkout nor picks up
    # anything git does not know about.
    source = tmp_path_factory.mktemp("source")
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        origin, copy = ROOT / name, source / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():  # bot/data/experiments.example points at the sample repository
            copy.symlink_to(os.readlink(origin))
        elif origin.is_file():
            shutil.copy2(origin, copy)
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the locked setuptools of this environment builds it, not whatever PyPI has today.
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("approvalbot-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    # The dependencies come from this environment (a path entry, so this venv's editable checkout is
    # not activated: .pth files are read only in site directories); the package itself only from the wheel.
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (purelib / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return env


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_the_wheel_declares_its_license_as_an_spdx_expression_and_ships_the_file(wheel: Path) -> None:
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License"] is None  # the deprecated free-text field
    assert metadata.get_all("License-File") == ["LICENSE"]
    with zipfile.ZipFile(wheel) as archive:
        (license_file,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(license_file).decode().startswith("MIT License")
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_wheel_carries_its_version_classifiers_urls_and_keywords(wheel: Path) -> None:
    metadata = _metadata(wheel)
    assert metadata["Version"] == bot.__version__
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression says it
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL") or []} >= {
        "Homepage",
        "Source",
        "Issues",
    }
    assert "gitops" in (metadata["Keywords"] or "")
    assert metadata["Author"] or metadata["Author-email"]
    assert metadata["Requires-Python"] == ">=3.11"


def test_the_installed_wheel_runs_the_demo_from_any_folder(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path / "home")
    where = subprocess.run(
        [installed / "bin" / "python", "-c", "import bot; print(bot.__file__)"],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(installed)), where  # the wheel's copy, not the checkout
    version = subprocess.run(
        [installed / "bin" / "approvalbot", "--version"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert version.returncode == 0 and version.stdout.strip() == f"approvalbot {bot.__version__}", version
    demo = subprocess.run(
        [installed / "bin" / "approvalbot", "demo", "--quiet"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "demo passed" in demo.stdout
    assert list(elsewhere.iterdir()) == []  # the demo keeps its sandbox in a temporary folder
