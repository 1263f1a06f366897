"""The Dockerfile read as data: what the image runs, as whom, how it is checked and configured.

No Docker engine is needed; test_gunicorn.py starts the very command asserted here.
"""

from __future__ import annotations

import re

from ship_support import (
    DOCKERFILE,
    ROOT,
    dockerfile_instructions,
    documented_variables,
    exec_form,
    final_stage,
)

SERVE = ["approvalbot", "serve", "--host", "0.0.0.0", "--port", "8080"]


def instruction(name: str) -> list[str]:
    return [i.args for i in final_stage(dockerfile_instructions()) if i.name == name]


def test_the_image_runs_the_webhook_server_on_port_8080() -> None:
    (cmd,) = [exec_form(i) for i in final_stage(dockerfile_instructions()) if i.name == "CMD"]
    assert cmd == SERVE
    assert not instruction("ENTRYPOINT"), "an ENTRYPOINT would change what CMD runs"
    assert instruction("EXPOSE") == ["8080"]


def test_every_stage_starts_from_python_3_11_slim() -> None:
    text = DOCKERFILE.read_text()
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert default == "python:3.11-slim"
    froms = [i.args.split()[0] for i in dockerfile_instructions() if i.name == "FROM"]
    assert froms and all(f == "${PYTHON_IMAGE}" for f in froms)


def test_the_final_stage_runs_as_a_non_root_user() -> None:
    users = instruction("USER")
    assert users, "no USER: the server would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    created = " ".join(instruction("RUN"))
    assert "useradd" in created and re.search(rf"--uid {user}\b", created), "the USER is never created"


def test_the_final_stage_installs_the_package_not_the_sources() -> None:
    steps = dockerfile_instructions()
    package = re.compile(r"pip install --no-deps --no-build-isolation /src$")
    assert any(i.name == "RUN" and package.search(i.args) for i in steps)
    copies = instruction("COPY")
    assert copies and all(c.startswith("--from=") for c in copies), copies


def test_the_healthcheck_asks_healthz_with_python_only() -> None:
    (check,) = [i for i in final_stage(dockerfile_instructions()) if i.name == "HEALTHCHECK"]
    argv = exec_form(check)
    assert argv[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8080/healthz" in argv[2]
    assert "curl" not in check.args and "wget" not in check.args  # neither exists in the slim image
    assert re.search(r"--timeout=\d+s", check.args)


def test_the_documented_variables_are_the_ones_the_settings_read() -> None:
    documented = documented_variables()
    required = {
        "APPROVALBOT_APP_ID",
        "APPROVALBOT_PRIVATE_KEY",
        "APPROVALBOT_WEBHOOK_SECRET",
        "DATABASE_URL",
        "SMTP_URL",
        "REDIS_URL",
    }
    assert required <= set(documented), required - set(documented)
    settings = (ROOT / "bot" / "settings.py").read_text()
    unknown = [name for name in documented if f'"{name}"' not in settings]
    assert not unknown, f"documented in the Dockerfile but read nowhere: {unknown}"


def test_no_secret_is_baked_into_the_image() -> None:
    env = " ".join(instruction("ENV") + instruction("ARG"))
    for secret in ("APPROVALBOT_WEBHOOK_SECRET", "APPROVALBOT_PRIVATE_KEY", "SMTP_URL"):
        assert secret not in env
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "*.pem" in ignored and ".git" in ignored


def test_the_database_lives_in_the_volume_the_user_owns() -> None:
    env = " ".join(instruction("ENV"))
    (url,) = re.findall(r"DATABASE_URL=(\S+)", env)
    assert url == "sqlite:////var/lib/approvalbot/approvalbot.db"
    assert instruction("VOLUME") == ['["/var/lib/approvalbot"]']
    assert instruction("WORKDIR") == ["/var/lib/approvalbot"]
    assert any("-o approvalbot" in run and "/var/lib/approvalbot" in run for run in instruction("RUN"))
