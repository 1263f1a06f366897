"""Scale-out (SPEC §6, §8): two `approvalbot serve` replicas recording jobs and two `approvalbot worker`
processes running them, on one PostgreSQL job table, woken through the machine's Redis, take a burst
of interleaved events for 20 PRs and end exactly right.

The emulator runs in this process with the sample repository plus 20 experiments (one per PR), the App
installed with a generated RSA key (the emulator checks the App's JWTs). Its signed webhooks go to the
two replicas in turn. The burst (tests/scale/scenario.py) opens, reviews, pushes, re-reviews, merges
and redelivers without ever waiting for the bot; then the test waits until the job table and the emulator
are quiet and checks every PR, the live store, exactly-once apply and the absence of drift.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.store import Store
from bot.core.live import AuditKind
from bot.emulator import GitHubEmulator
from bot.emulator.state import CheckRun
from bot.engine.reconcile import reconcile
from bot.engine.wiring import build_services
from bot.sandbox import sample_files
from bot.settings import Settings
from scale.cluster import Cluster, RoundRobin, Unavailable, app_key, pg_schema, redis_database
from scale.scenario import (
    FEEDBACK,
    PENDING_LABEL,
    REPO,
    Burst,
    Fate,
    PlannedPr,
    plan,
    repository_files,
)

pytestmark = pytest.mark.slow

APP_ID, INSTALLATION = 9001, 31
SECRET = "scale-out-webhook-secret"
QUIET_SECONDS = 2.0
SETTLE_TIMEOUT = 90.0


@pytest.fixture
def services_env() -> Iterator[tuple[str, str]]:
    try:
        with pg_schema() as database_url, redis_database() as redis_url:
            yield database_url, redis_url
    except Unavailable as missing:
        pytest.skip(str(missing))


def wait_until_quiet(emulator: GitHubEmulator, store: Store, cluster: Cluster, timeout: float) -> None:
    """Until no job is open in the store's table and the emulator saw no call or webhook lately."""
    jobs = store.jobs()
    deadline = time.monotonic() + timeout
    last, quiet_since = (-1, -1), time.monotonic()
    while True:
        cluster.assert_alive()
        activity = (len(emulator.calls.calls), len(emulator.webhooks.deliveries))
        busy = jobs.open_jobs()
        now = time.monotonic()
        if busy or activity != last:
            last, quiet_since = activity, now
        elif now - quiet_since >= QUIET_SECONDS:
            return
        if now > deadline:
            raise TimeoutError(f"the cluster did not settle within {timeout} s:\n{cluster.outputs()}")
        time.sleep(0.1)


def test_two_servers_and_two_workers_take_a_burst_of_twenty_prs(
    services_env: tuple[str, str], tmp_path: Path
) -> None:
    database_url, redis_url = services_env
    private_pem, public_pem = app_key()
    prs = plan()
    emulator = GitHubEmulator(webhook_secret=SECRET).start()
    cluster: Cluster | None = None
    store: Store | None = None
    try:
        driver = emulator.driver
        driver.add_team("acme", "growth-leads", ["lena-growth"])
        driver.create_repo(REPO, repository_files(sample_files(), prs))
        driver.install_app(APP_ID, INSTALLATION, "acme", public_key_pem=public_pem)
        env = {
            "APPROVALBOT_WEBHOOK_SECRET": SECRET,
            "APPROVALBOT_APP_ID": str(APP_ID),
            "APPROVALBOT_PRIVATE_KEY": private_pem,
            "APPROVALBOT_GITHUB_URL": emulator.base_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "APPROVALBOT_LOG_LEVEL": "WARNING",
            "APPROVALBOT_GITHUB_THROTTLE": "0",  # the emulator has no secondary rate limits to respect
        }
        settings = Settings.from_env(env)
        store = Store.from_url(database_url)
        # The baseline, once, from this process: the same App auth and store the replicas use.
        baseline = reconcile(build_services(settings, store=store), REPO, installation=INSTALLATION)
        assert baseline.baseline is not None
        cluster = Cluster(env, tmp_path)
        cluster.start(servers=2, workers=2)
        sink = RoundRobin(cluster.webhook_urls)
        emulator.webhooks.sink = sink

        Burst(driver, emulator.webhooks, lambda path: _file(emulator, path), prs).run()
        wait_until_quiet(emulator, store, cluster, SETTLE_TIMEOUT)

        assert set(sink.statuses) <= {200, 202}, Counter(sink.statuses)
        assert sink.sent >= 2 * len(prs)  # both replicas took a share (round robin)
        logs = cluster.outputs()
        assert "job failed" not in logs and "Traceback" not in logs, logs
        core = [p for pr in prs for p in _core_problems(emulator, store, pr)]
        assert not core, "\n".join(core) + "\n" + logs
        assert store.drift() == []
        assert store.jobs().counts().parked == 0
        shown = [p for pr in prs for p in _shown_problems(emulator, pr)]
        assert not shown, "\n".join(shown) + "\n" + logs
    finally:
        if cluster is not None:
            cluster.stop()
        if store is not None:
            store.close()
        emulator.stop()


def _file(emulator: GitHubEmulator, path: str) -> str:
    repo = emulator.world.repos[REPO]
    commit = repo.commits[repo.branches[repo.default_branch]]
    return emulator.world.blobs[commit.files[path]].decode()


def _latest_check(emulator: GitHubEmulator, sha: str) -> CheckRun | None:
    runs = [r for r in emulator.world.repos[REPO].check_runs.values() if r.head_sha == sha]
    runs = [r for r in runs if r.name == "approvalbot"]
    return max(runs, key=lambda r: r.id) if runs else None


def _where(pr: PlannedPr) -> str:
    return f"#{pr.number} ({pr.act.value} {pr.resource}, {pr.fate.value})"


def _core_problems(emulator: GitHubEmulator, store: Store, pr: PlannedPr) -> list[str]:
    """The PR's state on GitHub and in the live store: merged ones applied once, the others not at all."""
    pull = emulator.world.repos[REPO].pulls[pr.number]
    live = store.get_live(pr.key)
    applies = [
        e for e in store.audit_log("web", limit=1000) if e.kind is AuditKind.APPLY and e.resource == pr.key
    ]
    by_merge = [e.commit_sha for e in applies if e.pr_number is not None]  # the baseline has no PR
    traffic = live.document.get("traffic_allocation") if live else None
    seen = (
        f"state={pull.state} merged={pull.merged} live={live.status if live else None} traffic={traffic} "
        f"applied by {by_merge}"
    )
    wrong: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            wrong.append(f"{_where(pr)}: expected {what}; saw {seen}")

    if pr.merges:
        assert pr.merge_sha is not None
        expect(pull.merged, "merged")
        expect(store.is_applied(pr.merge_sha), f"merge {pr.merge_sha[:12]} recorded as applied")
        expect(by_merge == [pr.merge_sha], f"exactly one apply, by merge {pr.merge_sha[:12]}")
    else:
        expect(not pull.merged, "not merged")
        expect(by_merge == [], "no apply")
        if pr.fate is Fate.STALE_PENDING:
            expect(pull.state == "open", "still open")
    expect(live is not None and live.status is pr.expected_live_status(), f"live {pr.expected_live_status()}")
    expect(traffic == pr.expected_traffic(), f"live traffic {pr.expected_traffic()}")
    return wrong


def _shown_problems(emulator: GitHubEmulator, pr: PlannedPr) -> list[str]:
    """What the PR shows: the check on its head, its labels, and for a rejected one its closing."""
    repo = emulator.world.repos[REPO]
    pull = repo.pulls[pr.number]
    check = _latest_check(emulator, pull.head_sha)
    conclusion = check.conclusion if check else None
    labels = set(pull.labels)
    seen = f"state={pull.state} check={conclusion} ({check.title if check else None}) labels={sorted(labels)}"
    wrong: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            wrong.append(f"{_where(pr)}: expected {what}; saw {seen}")

    if pr.merges:
        # The burst merges without waiting for the bot, so a merged PR may show no check, or one from
        # before its approval was handled (a closed PR is not re-evaluated); never a refusal, though.
        expect(conclusion != "failure", "no failed check")
        expect(labels <= {"approved", PENDING_LABEL[pr.act]}, "no label but approved and the pending one")
    elif pr.fate is Fate.REJECTED:
        expect(pull.state == "closed", "closed by the bot (on_reject: close)")
        expect(conclusion == "failure", "check failure (rejected)")
        expect(labels == {"rejected"}, "label rejected only")
        comments = [c.body for c in repo.comments.values() if c.number == pr.number]
        expect(any(FEEDBACK in body for body in comments), "the feedback in a comment")
    else:
        expect(conclusion == "action_required", "check waiting for approval (the approval went stale)")
        expect(labels == {PENDING_LABEL[pr.act]}, f"label {PENDING_LABEL[pr.act]} only")
    return wrong
