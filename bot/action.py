"""`approvalbot action`: the GitHub Action entry point. Same handlers as the App, run inline.

GitHub Actions hands the event over as files and variables: `GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`
(the webhook payload), `GITHUB_TOKEN` (the workflow's token), `GITHUB_API_URL` (GitHub Enterprise),
`GITHUB_OUTPUT` (where step outputs go), `GITHUB_STEP_SUMMARY` (the job summary). There is no queue: the
event is handled in this process, and the re-evaluations it asks for (a released lock, a moved base) run
after it, one at a time. `schedule` and `workflow_dispatch` events run the scheduler's tick.

Two of GitHub Actions' rules shape this module (GitHub docs, "Events that trigger workflows" and
"Triggering a workflow from a workflow"):
- an event caused by the workflow's GITHUB_TOKEN starts no new workflow run, so a merge approvalbot makes
  (`merge_on_approval`) brings no `push` run: it is applied here, in the run that merged, and reported;
- a `pull_request` or `pull_request_review` event from a fork gets a read-only GITHUB_TOKEN and no secrets,
  so approvalbot cannot write its check: it says so (a warning and the job summary) and stops, without a
  traceback. The README's workflow uses `pull_request_target`, which runs with the base's write token.
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

from bot.adapters.github.source import GitHubReadError
from bot.adapters.github.writer import GitHubWriteError
from bot.core.decision import decision_to_json
from bot.core.render import plan_to_json
from bot.engine.outbox import tick
from bot.engine.services import PullRef, Services
from bot.engine.wiring import build_services
from bot.handlers import HANDLERS, apply_own_merge, reevaluation_job
from bot.ports import Job
from bot.settings import Settings

log = logging.getLogger("approvalbot.action")

TICK_EVENTS = frozenset({"schedule", "workflow_dispatch"})
# GitHub docs, "Events that trigger workflows": for these events "from a forked repository" the
# GITHUB_TOKEN is read-only and secrets are not passed (pull_request_target and issue_comment run with the
# base repository's token instead).
FORK_READ_ONLY_EVENTS = frozenset({"pull_request", "pull_request_review", "pull_request_review_comment"})


class ActionError(Exception):
    """The Action was started without what it needs; the message says what to set."""


@dataclass(frozen=True)
class ActionResult:
    event: str
    handled: bool
    decision: Mapping[str, Any] | None = None
    plan: Mapping[str, Any] | None = None
    ticked: int | None = None
    # Merges approvalbot made in this run and what applying each did (`applied`, `drift`…).
    merged: tuple[Mapping[str, Any], ...] = ()
    note: str | None = None  # why the event was not handled, when it was not

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "handled": self.handled,
            "decision": self.decision,
            "plan": self.plan,
            "ticked": self.ticked,
            "merged": [dict(m) for m in self.merged],
            "note": self.note,
        }


def fork_of(event: str, payload: Mapping[str, Any]) -> str | None:
    """The fork a read-only event comes from (its head repository), or None when the head is the base's."""
    if event not in FORK_READ_ONLY_EVENTS:
        return None
    pull = payload.get("pull_request") or {}
    head = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
    base = ((pull.get("base") or {}).get("repo") or {}).get("full_name")
    base = base or (payload.get("repository") or {}).get("full_name")
    # A deleted fork shows as a null head.repo: still not the base repository, still read-only.
    if not pull or (head is not None and head == base):
        return None
    return str(head or "a deleted fork")


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
    fork = fork_of(event, payload)
    if fork is not None:
        note = (
            f"this `{event}` event comes from the fork {fork}: GitHub gives its run a read-only "
            "GITHUB_TOKEN and no secrets, so approvalbot cannot write its check or reach the store here. "
            "Run the README's workflow (on `pull_request_target`, which runs the base branch's workflow "
            "with its write token), or install the GitHub App; an approver's `/recheck` comment "
            "re-evaluates the PR meanwhile."
        )
        print(f"::warning title=approvalbot::{note}", flush=True)
        return _output(env, ActionResult(event, False, note=note))
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
    merges: deque[tuple[PullRef, str]] = deque()
    services.requeue = lambda ref: pending.append(reevaluation_job(ref))
    services.merged = lambda ref, sha: merges.append((ref, sha))
    actor = (payload.get("sender") or {}).get("login")
    merged: list[Mapping[str, Any]] = []
    try:
        first = HANDLERS[event](services, payload)
        seen: set[str] = set()
        while pending or merges:
            while merges:  # our own merges first: no push run will come for them
                ref, sha = merges.popleft()
                outcome = apply_own_merge(services, ref, sha, actor)
                merged.append({"pull_request": ref.number, "sha": sha, "outcome": outcome.value})
                log.info("%s: merged as %s in this run; applied: %s", ref, sha[:12], outcome.value)
            if pending:  # re-evaluations the event asked for, each PR once
                job = pending.popleft()
                if job.key not in seen:
                    seen.add(job.key)
                    HANDLERS[job.event](services, job.payload)
    except (GitHubReadError, GitHubWriteError) as error:
        # Said once, plainly (the handlers logged the detail), in the job summary too; the step fails so
        # that a re-run retries.
        note = f"GitHub refused or failed a call: {error}"
        _output(env, ActionResult(event, True, merged=tuple(merged), note=note))
        raise ActionError(note) from error
    return _output(
        env,
        ActionResult(
            event,
            True,
            decision=decision_to_json(first.decision) if first else None,
            plan=plan_to_json(first.plan, first.config) if first else None,
            merged=tuple(merged),
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
    summary = env.get("GITHUB_STEP_SUMMARY", "").strip()
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(step_summary(result))
    return result


def step_summary(result: ActionResult) -> str:
    """The job summary (Markdown): the decision, the merges applied in this run, or why nothing was done."""
    lines = ["## approvalbot", ""]
    if result.note:
        lines.append(f"{'Failed' if result.handled else 'Not handled'}: {result.note}")
    elif result.ticked is not None:
        lines.append(f"Scheduler tick (`{result.event}`): {result.ticked} scheduled transition(s) applied.")
    elif result.decision is None:
        handled = "handled" if result.handled else "not an event approvalbot acts on"
        lines.append(f"`{result.event}`: {handled}; no pull request decision in this run.")
    else:
        decision = result.decision
        lines.append(f"Decision: **{decision.get('state', '')}**")
        lines += ["", *(f"- {_cell(str(r))}" for r in decision.get("reasons") or [])]
        accounts = decision.get("accounts") or {}
        if isinstance(accounts, dict) and accounts:
            lines += ["", "| account | approved by |", "| --- | --- |"]
            for name, account in sorted(accounts.items()):
                approvers = ", ".join((account or {}).get("approved_by") or []) or "—"
                lines.append(f"| {_cell(name)} | {_cell(approvers)} |")
    for merge in result.merged:
        lines.append(
            f"\nMerged #{merge['pull_request']} as `{str(merge['sha'])[:12]}` in this run and applied it to "
            f"the live store: {merge['outcome']} (a merge by GITHUB_TOKEN starts no push run)."
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table row or list item: no pipes, no line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")
