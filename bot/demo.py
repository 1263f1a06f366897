"""`approvalbot demo`: the whole lifecycle on embedded defaults, with no GitHub, printed step by step.

It runs a sandbox (bot/sandbox.py): the GitHub emulator holding a copy of experiments.example, the
real webhook server on loopback, a SQLite store in a temporary folder. Then, as people would:

1. a contributor opens a PR that pauses a running A/B test: the check waits, the diff is posted;
2. the contributor tries to approve it themselves: refused;
3. an approver approves it: the check turns green;
4. it is merged: the pause is applied to the live state, once;
5. a PR that finishes another test is rejected with feedback: closed, the test keeps running;
6. two PRs touch one experiment: the second is blocked until the first is closed, then re-checked.

Each step says what it expected and what happened; the demo exits 0 only if every step behaved.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from bot.core.model import Kind, ResourceKey, Status
from bot.sandbox import Sandbox
from bot.status import status_text

PAUSED_TEST = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")
FINISHED_TEST = ResourceKey("mobile", Kind.EXPERIMENT, "onboarding_length_test")

CREATOR = "carol-contrib"
WEB_APPROVER = "bob-approver"
MOBILE_APPROVER = "heidi-approver"
ADMIN = "alice-admin"
SECOND_CREATOR = "ivan-contrib"


NEXT_STEPS = """
What to try next:
- copy experiments.example/ (in this repository) into a git repository of your own, commit, change a
  file, then, in it:
    approvalbot validate .                                every file, against the schemas and rules
    approvalbot check --repo . --base main --head HEAD    what the change would submit, and its diff
  (--format markdown shows the PR comment, --format json the contract the README documents);
- run it for real: the README's "Deployment" (a GitHub App with `approvalbot serve`, or the GitHub Action);
- `approvalbot status` shows the live state of a store, `approvalbot --help` every command.""".lstrip("\n")


@dataclass
class Report:
    out: TextIO
    quiet: bool = False
    failures: list[str] = field(default_factory=list)
    step: int = 0

    def title(self, text: str) -> None:
        self.step += 1
        print(f"\n== {self.step}. {text}", file=self.out)

    def say(self, text: str) -> None:
        if not self.quiet:
            print("   " + text.replace("\n", "\n   "), file=self.out)

    def expect(self, what: str, ok: bool, seen: object) -> None:
        mark = "ok " if ok else "FAIL"
        print(f"   [{mark}] {what}" + ("" if ok else f" (saw: {seen})"), file=self.out)
        if not ok:
            self.failures.append(f"step {self.step}: {what} (saw: {seen})")


def run_demo(*, quiet: bool = False, out: TextIO | None = None) -> bool:
    report = Report(out or sys.stdout, quiet)
    print(
        "approvalbot demo: a GitHub emulator, the webhook server and a SQLite store, all on this machine.",
        file=report.out,
    )
    with Sandbox(log_level="ERROR") as box:
        report.say(f"config repository {box.repo} (a copy of experiments.example), bot at {box.webhook_url}")
        steps: list[Callable[[Sandbox, Report], None]] = [
            _open_pause,
            _self_approval,
            _approve,
            _merge,
            _rejected_finish,
            _locked_second_pr,
        ]
        for step in steps:
            step(box, report)
        report.title("The live state now (`approvalbot status`)")
        report.say(status_text(box.store, None, box.services.clock()).rstrip())
    if report.failures:
        print(f"\ndemo FAILED: {len(report.failures)} step(s) did not behave:", file=report.out)
        for failure in report.failures:
            print(f" - {failure}", file=report.out)
        return False
    print("\ndemo passed: every step behaved as expected.", file=report.out)
    report.say(NEXT_STEPS)
    return True


def _edit(box: Sandbox, key: ResourceKey, old: str, new: str) -> dict[str, str]:
    path = box.path_of(key)
    text = box.file(path)
    if old not in text:
        raise RuntimeError(f"{path}: expected to find {old!r} in the sample")
    return {path: text.replace(old, new, 1)}


def _conclusion(box: Sandbox, number: int) -> str | None:
    run = box.check(number)
    return run.conclusion if run else None


def _open_pause(box: Sandbox, report: Report) -> None:
    report.title(f"{CREATOR} opens a pull request that pauses {PAUSED_TEST.id}")
    edits = _edit(box, PAUSED_TEST, "status: running", "status: paused")
    number = box.driver.open_pr(
        box.repo, CREATOR, "pause-checkout-test", edits, title="Pause the checkout test"
    )
    box.drain()
    run = box.check(number)
    report.say(f"check run: {run.conclusion if run else None} — {run.title if run else ''}")
    diff = next((c.body for c in box.comments(number) if "approvalbot:diff" in c.body), "")
    report.say("diff comment:\n" + "\n".join(diff.splitlines()[1:12]))
    report.expect("the check waits for approval", _conclusion(box, number) == "action_required", run)
    report.expect(
        "the PR carries the label 'pending: PAUSE PENDING'",
        "pending: PAUSE PENDING" in box.pull(number).labels,
        box.pull(number).labels,
    )
    report.expect(
        f"{WEB_APPROVER} is asked to review",
        WEB_APPROVER in box.pull(number).requested_reviewers,
        box.pull(number).requested_reviewers,
    )
    box.demo_pr = number  # type: ignore[attr-defined]


def _self_approval(box: Sandbox, report: Report) -> None:
    number = box.demo_pr  # type: ignore[attr-defined]
    report.title(f"{CREATOR} tries to approve their own change with /approve")
    box.driver.comment(box.repo, number, CREATOR, "/approve")
    box.drain()
    replies = [c.body for c in box.comments(number) if c.user != CREATOR and "approvalbot:diff" not in c.body]
    report.say("bot reply: " + (replies[-1] if replies else "(none)"))
    report.expect(
        "the creator's approval does not count",
        _conclusion(box, number) == "action_required",
        _conclusion(box, number),
    )
    report.expect("the creator is told why", any(CREATOR in r for r in replies), replies)


def _approve(box: Sandbox, report: Report) -> None:
    number = box.demo_pr  # type: ignore[attr-defined]
    report.title(f"{WEB_APPROVER} approves the pull request")
    box.driver.review(box.repo, number, WEB_APPROVER, "APPROVE", "Pausing is fine, traffic is low.")
    box.drain()
    run = box.check(number)
    report.say(f"check run: {run.conclusion if run else None} — {run.title if run else ''}")
    report.expect("the check is green", _conclusion(box, number) == "success", run)


def _merge(box: Sandbox, report: Report) -> None:
    number = box.demo_pr  # type: ignore[attr-defined]
    report.title(f"{ADMIN} merges it: the pause goes live")
    before = box.live(PAUSED_TEST)
    sha = box.driver.merge(box.repo, number, ADMIN)
    box.drain()
    after = box.live(PAUSED_TEST)
    report.say(
        f"merge commit {sha[:12]}; {PAUSED_TEST.id}: {before.status if before else None} → "
        f"{after.status if after else None}"
    )
    report.expect(
        "the experiment is paused in the live store",
        after is not None and after.status is Status.PAUSED,
        after,
    )
    report.expect("the merge is recorded as applied, once", box.store.is_applied(sha), sha)


def _rejected_finish(box: Sandbox, report: Report) -> None:
    report.title(f"{CREATOR} asks to finish {FINISHED_TEST.id} with a winner; {MOBILE_APPROVER} rejects it")
    edits = _edit(box, FINISHED_TEST, "status: running", "status: finished\nwinner: three_steps")
    number = box.driver.open_pr(box.repo, CREATOR, "finish-onboarding", edits, title="Finish onboarding test")
    box.drain()
    box.driver.review(
        box.repo, number, MOBILE_APPROVER, "REQUEST_CHANGES", "Not enough data yet: wait a week."
    )
    report.say(f'{MOBILE_APPROVER} requests changes: "Not enough data yet: wait a week."')
    box.drain()
    pull = box.pull(number)
    check = box.check(number)
    report.say(f"check run: {check.conclusion if check else None} — {check.title if check else ''}")
    feedback = [c.body for c in box.comments(number) if c.body.startswith("**Rejected.**")]
    report.say("bot comment:\n" + (feedback[-1] if feedback else "(none)"))
    report.expect(
        "the check fails as rejected", _conclusion(box, number) == "failure", _conclusion(box, number)
    )
    report.expect("the PR is closed (on_reject: close)", pull.state == "closed", pull.state)
    report.expect(
        "the feedback is shown on the PR", any("Not enough data yet" in f for f in feedback), feedback
    )
    live = box.live(FINISHED_TEST)
    report.expect("the experiment keeps running", live is not None and live.status is Status.RUNNING, live)


def _locked_second_pr(box: Sandbox, report: Report) -> None:
    report.title("Two pull requests touch one experiment: the second waits for the first")
    first = box.driver.open_pr(
        box.repo,
        CREATOR,
        "pause-onboarding",
        _edit(box, FINISHED_TEST, "status: running", "status: paused"),
        title="Pause onboarding test",
    )
    box.drain()
    edits = _edit(
        box,
        FINISHED_TEST,
        "description: Three onboarding lengths",
        "description: Three onboarding lengths (copy reviewed)",
    )
    second = box.driver.open_pr(
        box.repo, SECOND_CREATOR, "reword-onboarding", edits, title="Reword description"
    )
    box.drain()
    run = box.check(second)
    why = (
        [line.lstrip("- ") for line in (run.summary or "").splitlines() if "is locked by" in line]
        if run
        else []
    )
    report.say(f"#{second}: {run.title if run else None} — " + (why[0] if why else "(no reason given)"))
    report.expect(
        f"#{second} is blocked by #{first}",
        run is not None and "Blocked" in (run.title or "") and f"#{first}" in (run.summary or ""),
        run.summary if run else None,
    )
    report.say(f"#{first} is closed without merging")
    box.driver.close(box.repo, first, CREATOR)
    box.drain()
    run = box.check(second)
    report.say(f"#{second}: {run.title if run else None}")
    report.expect(
        f"#{second} was re-checked by itself and now waits for approval",
        run is not None and run.conclusion == "action_required" and "Blocked" not in (run.title or ""),
        run.title if run else None,
    )
