"""`approvalbot action`: the GitHub Action entry point. Same handlers as the App, run inline.

GitHub Actions hands the event over as files and variables: `GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`
(the webhook payload), `GITHUB_TOKEN` (the workflow's token), `GITHUB_API_URL` (GitHub Enterprise),
`GITHUB_OUTPUT` (where step outputs go). There is no queue: the event is handled in this process, and
the re-evaluations it asks for (a released lock, a moved base) run after it, one at a time.
`schedule` and `workflow_dispatch` events run the scheduler's tick.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.decision import decision_to_json
from bot.core.render import plan_to_json
from bot.engine.outbox import tick
from bot.engine.services import Services
from bot.engine.wiring import build_services
from bot.handlers import HANDLERS, reevaluation_job
from bot.ports import Job
from bot.settings import Settings

log = logging.getLogger("approvalbot.action")

TICK_EVENTS = frozenset({"schedule", "workflow_dispatch"})


class ActionError(Exception):
    """The Action was started without what it needs; the message says what to set."""


@dataclass(frozen=True)
class ActionResult:
    event: str
    handled: bool
    decision: Mapping[str, Any] | None = None
    plan: Mapping[str, Any] | None = None
    ticked: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "handled": self.handled,
            "decision": self.decision,
            "plan": self.plan,
            "ticked": self.ticked,
        }


def read_event(environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    name = environ.get("GITHUB_EVENT_NAME", "").strip()
    path = environ.get("GITHUB_EVENT_PATH", "").strip()
    if not name:
        raise ActionError(
            "GITHUB_EVENT_NAME is not set: run `approvalbot action` inside a GitHub Actions workflow"
        )
    if not path:
        return name, {}
    try:
        payload = json.loads(Path(path).read_text())
    except OSError as error:
        raise ActionError(
            f"GITHUB_EVENT_PATH={path}: cannot read the event payload ({error.strerror})"
        ) from error
    except json.JSONDecodeError as error:
        raise ActionError(f"GITHUB_EVENT_PATH={path}: not JSON (line {error.lineno}: {error.msg})") from error
    if not isinstance(payload, dict):
        raise ActionError(f"GITHUB_EVENT_PATH={path}: the event payload is not a JSON object")
    return name, payload


def run_action(environ: Mapping[str, str] | None = None, *, services: Services | None = None) -> ActionResult:
    env = dict(os.environ if environ is None else environ)
    event, payload = read_event(env)
    if services is None:
        token = env.get("GITHUB_TOKEN", "").strip() or env.get("INPUT_TOKEN", "").strip()
        if not token:
            raise ActionError(
                "GITHUB_TOKEN is not set: pass `token: ${{ secrets.GITHUB_TOKEN }}` to the action"
            )
        settings_env = {**env, "APPROVALBOT_GITHUB_URL": env.get("GITHUB_API_URL", "https://api.github.com")}
        services = build_services(Settings.from_env(settings_env), token=token)
    if event in TICK_EVENTS:
        ticked = len(tick(services.store, services.targets, services.clock()).transitions)
        return _output(env, ActionResult(event, True, ticked=ticked))
    if event not in HANDLERS:
        return _output(env, ActionResult(event, False))
    pending: deque[Job] = deque()
    services.requeue = lambda ref: pending.append(reevaluation_job(ref))
    first = HANDLERS[event](services, payload)
    seen: set[str] = set()
    while pending:  # re-evaluations the event asked for, each PR once
        job = pending.popleft()
        if job.key not in seen:
            seen.add(job.key)
            HANDLERS[job.event](services, job.payload)
    return _output(
        env,
        ActionResult(
            event,
            True,
            decision=decision_to_json(first.decision) if first else None,
            plan=plan_to_json(first.plan, first.config) if first else None,
        ),
    )


def _output(env: Mapping[str, str], result: ActionResult) -> ActionResult:
    """Write the step outputs (`decision`, `state`) the way GitHub Actions reads them."""
    path = env.get("GITHUB_OUTPUT", "").strip()
    if path:
        delimiter = f"approvalbot_{uuid.uuid4().hex}"
        decision = json.dumps(result.decision, sort_keys=True)
        state = (result.decision or {}).get("state", "")
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"decision<<{delimiter}\n{decision}\n{delimiter}\n")
            out.write(f"state={state}\n")
    return result
