"""What a pull request shows: the check run and the diff comment, built from the plan and the decision.

Pure formatting; the evaluation hands the results to the GitHub writer, which skips writes that
would change nothing.
"""

from __future__ import annotations

from bot.adapters.github.writer import DIFF_MARKER, Annotation, CheckOutput, Conclusion
from bot.core.decision import Decision, DecisionState, decision_markdown
from bot.core.model import Plan
from bot.core.render import render_markdown
from bot.core.repo_config import RepoConfig

# Only these let the PR merge: branch protection reads the conclusion. Pending and blocked ask for
# action (GitHub shows them as failing, which keeps the merge button closed until approval).
_CONCLUSIONS = {
    DecisionState.NO_APPROVAL_NEEDED: Conclusion.SUCCESS,
    DecisionState.APPROVED: Conclusion.SUCCESS,
    DecisionState.PENDING: Conclusion.ACTION_REQUIRED,
    DecisionState.BLOCKED: Conclusion.ACTION_REQUIRED,
    DecisionState.REJECTED: Conclusion.FAILURE,
    DecisionState.INVALID: Conclusion.FAILURE,
}

_TITLES = {
    DecisionState.NO_APPROVAL_NEEDED: "No approval needed",
    DecisionState.APPROVED: "Approved",
    DecisionState.PENDING: "Waiting for approval",
    DecisionState.BLOCKED: "Blocked",
    DecisionState.REJECTED: "Rejected",
    DecisionState.INVALID: "Refused: the change is not valid",
}

MAX_ANNOTATIONS = 200


def check_output(plan: Plan, decision: Decision) -> CheckOutput:
    """The `approvalbot` check run: the verdict, each action with its pending state, who approved, why."""
    actions = [a for a in plan.actions if a.action is not None]
    pending = sorted({a.pending_state.value for a in actions if a.pending_state and a.requires_approval})
    title = _TITLES[decision.state]
    if pending and decision.state is DecisionState.PENDING:
        title += " — " + ", ".join(pending)
    lines = [decision_markdown(decision).rstrip(), ""]
    if plan.actions:
        lines += ["| resource | action | pending state |", "|---|---|---|"]
        for a in plan.actions:
            name = a.action.label if a.action else "refused"
            state = a.pending_state.value if a.pending_state and a.requires_approval else "—"
            lines.append(f"| `{a.key}` | {name} | {state} |")
    annotations = tuple(
        Annotation(path=p.file, line=max(p.line, 1), message=p.message, title="approvalbot")
        for p in plan.all_problems[:MAX_ANNOTATIONS]
    )
    return CheckOutput(
        conclusion=_CONCLUSIONS[decision.state],
        title=title,
        summary="\n".join(lines).rstrip() + "\n",
        annotations=annotations,
    )


def failure_output(title: str, message: str) -> CheckOutput:
    """A check that fails closed, e.g. GitHub could not be read in full or the repo config is broken."""
    return CheckOutput(conclusion=Conclusion.FAILURE, title=title, summary=message)


def comment_body(plan: Plan, config: RepoConfig | None, files_at: str | None = None) -> str:
    """The one PR comment approvalbot keeps up to date: the structured diff. `files_at` is where the
    head commit's files are on the web (`https://github.com/OWNER/REPO/blob/SHA`): `file:line` links there."""
    body = render_markdown(plan, config, files_at)
    return f"{DIFF_MARKER}\n## approvalbot: what this pull request changes\n\n{body}"


def files_at(repo_url: str, head_sha: str) -> str | None:
    """The web address of a commit's files (GitHub serves a PR's head commits from the base repository,
    forks' included: `blob/<sha>/<path>`); None when the repository's address is unknown."""
    return f"{repo_url.rstrip('/')}/blob/{head_sha}" if repo_url and head_sha else None
