"""A seeded fault campaign (issue 13): the scale-out burst of 20 PRs while the campaign loses, duplicates
and redelivers webhooks, makes GitHub answer 500/502/429 on reads and writes, and kills processes with
SIGKILL at random moments, whatever they are doing (restarting each as it was). Then the faults stop, and
the test waits for the system to heal by itself: self-healing at start, the durable queue's leases
and retries, no `reconcile` by hand. It checks every approved merge applied exactly once, nothing else
applied, every live resource as the merges make it, no drift, no lock left behind, no job parked.

Two stacks (CAMPAIGN_STORE):
- `sqlite` (the default): two `approvalbot serve` replicas on one SQLite file, each running jobs in
  its own threads (no Redis);
- `postgresql`: the machine's PostgreSQL and Redis, two `serve` replicas that only record jobs and two
  `approvalbot worker` processes that run them, woken through Redis; kills hit servers and workers.

The suite runs seed 1 on SQLite; CAMPAIGN_STORE=postgresql (or sqlite,postgresql) and CAMPAIGN_SEEDS
choose others (PostgreSQL's is skipped with a reason when the server or Redis is unreachable), and
`python bench/bench_campaign.py --seeds 1,2,3,4,5` runs them on both stacks and prints the counts.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.adapters.store import Store
from bot.core.live import AuditKind
from bot.emulator import GitHubEmulator
from bot.sandbox import sample_files
from scale.cluster import Cluster, Unavailable, app_key, free_port, pg_schema, redis_database
from scale.scenario import REPO, Burst, PlannedPr, plan, repository_files

pytestmark = pytest.mark.slow

APP_ID, INSTALLATION = 9002, 32
SECRET = "fault-campaign-secret"
# Seed 1 on SQLite in every run of the suite (about 30 s); CAMPAIGN_SEEDS and CAMPAIGN_STORE choose
# others (bench/bench_campaign.py runs many). The PostgreSQL stack is not in the default run: since
# merges with an unknown pusher wait for GitHub's redelivery (issue 14), about one seed in four there
# leaves a merge waiting past the timeout, for a cause not found yet (see the issue 13 note).
SEEDS = [int(s) for s in os.environ.get("CAMPAIGN_SEEDS", "1").split(",") if s.strip()]
STACKS = [s for s in os.environ.get("CAMPAIGN_STORE", "sqlite").split(",") if s.strip()]
HEAL_TIMEOUT = 180.0
# GitHub routes the bot reads and writes, and the answers GitHub gives when it is in trouble.
ROUTES = (
    "GET /repos/{owner}/{repo}/pulls/{pull_number}",
    "GET /repos/{owner}/{repo}/git/trees/{tree_sha}",
    "POST /graphql",
    "POST /repos/{owner}/{repo}/check-runs",
    "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "GET /repos/{owner}/{repo}/commits",
    "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls",
)


@dataclass
class Tally:
    lost: int = 0
    duplicated: int = 0
    refused: int = 0  # deliveries a dead replica could not take (lost to GitHub as well)
    github_errors: int = 0
    kills: int = 0
    statuses: Counter[int | None] = field(default_factory=Counter)


class Chaos:
    """The webhook sink between the emulator and the replicas: round robin, with losses, duplicates
    and kills, all drawn from one seeded generator."""

    def __init__(self, cluster: Cluster, emulator: GitHubEmulator, seed: int, tally: Tally) -> None:
        self.cluster, self.emulator, self.tally = cluster, emulator, tally
        self.rng = random.Random(seed)
        self.sent = 0
        self.on = True
        self.lock = threading.Lock()

    def __call__(self, headers: Mapping[str, str], body: bytes) -> int | None:
        with self.lock:
            self.sent += 1
            if self.on:
                self._maybe_fault()
                if self.rng.random() < 0.10:
                    self.tally.lost += 1
                    return None  # lost on the way: GitHub never redelivers by itself
                copies = 2 if self.rng.random() < 0.10 else 1
            else:
                copies = 1
            target = self.rng.randrange(len(self.cluster.ports))
        status = None
        for _ in range(copies):
            status = self._post(target, headers, body)
        with self.lock:
            self.tally.duplicated += copies - 1
            self.tally.statuses[status] += 1
        return status

    def _maybe_fault(self) -> None:
        roll = self.rng.random()
        if roll < 0.06:
            self.tally.kills += 1
            victim = self.rng.randrange(len(self.cluster.servers) + len(self.cluster.workers))
            if victim < len(self.cluster.servers):
                restart(self.cluster, victim)
            else:
                restart_worker(self.cluster, victim - len(self.cluster.servers))
        elif roll < 0.20:
            route = self.rng.choice(ROUTES)
            status = self.rng.choice((500, 502, 429))
            times = self.rng.randint(1, 3)
            self.tally.github_errors += times
            if status == 429:
                self.emulator.faults.rate_limit(route, status=429, retry_after=1, times=times)
            else:
                self.emulator.faults.fail(route, times=times, status=status)

    def _post(self, index: int, headers: Mapping[str, str], body: bytes) -> int | None:
        url = f"http://127.0.0.1:{self.cluster.ports[index]}/webhook"
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, OSError):
            with self.lock:
                self.tally.refused += 1
            return None


def restart(cluster: Cluster, index: int) -> None:
    """SIGKILL replica `index` (gunicorn and its worker) and start it again on its port."""
    server = cluster.servers[index]
    with suppress(ProcessLookupError):
        os.killpg(server.popen.pid, signal.SIGKILL)
    server.popen.wait(10)
    port = cluster.ports[index]
    cluster.servers[index] = cluster._spawn(
        f"{server.name}-again", ["serve", "--port", str(port), "--threads", "8"]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with (
            suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{server.name} did not come back:\n{cluster.servers[index].output()}")


def wait_for_baseline(database_url: str, cluster: Cluster, timeout: float = 60.0) -> None:
    """Until the servers' healing at start has taken the repository's baseline: the App is installed and
    running before anyone merges (a merge before that predates the bot and is part of the baseline)."""
    store = Store.from_url(database_url)
    try:
        deadline = time.monotonic() + timeout
        while store.branch_mark(REPO) is None:
            cluster.assert_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no baseline within {timeout} s:\n{cluster.outputs()}")
            time.sleep(0.1)
    finally:
        store.close()


def restart_worker(cluster: Cluster, index: int) -> None:
    """SIGKILL `approvalbot worker` process `index` and start another: its jobs wait out their lease."""
    worker = cluster.workers[index]
    with suppress(ProcessLookupError):
        os.killpg(worker.popen.pid, signal.SIGKILL)
    worker.popen.wait(10)
    cluster.workers[index] = cluster._spawn(f"{worker.name}-again", ["worker"])


@dataclass(frozen=True)
class Stack:
    database_url: str
    redis_url: str | None  # set: servers record jobs, `approvalbot worker` processes run them

    @property
    def workers(self) -> int:
        return 2 if self.redis_url else 0


@contextmanager
def campaign_stack(name: str, tmp_path: Path) -> Iterator[Stack]:
    if name == "postgresql":
        with pg_schema() as url, redis_database() as redis_url:
            yield Stack(url, redis_url)
    else:
        yield Stack(f"sqlite:///{tmp_path / 'campaign.db'}", None)


def problems(emulator: GitHubEmulator, store: Store, prs: list[PlannedPr]) -> list[str]:
    wrong = []
    applies = [
        e for e in store.audit_log(limit=5000) if e.kind is AuditKind.APPLY and e.pr_number is not None
    ]
    for pr in prs:
        pull = emulator.world.repos[REPO].pulls[pr.number]
        mine = [e.commit_sha for e in applies if e.resource == pr.key]
        live = store.get_live(pr.key)
        where = f"#{pr.number} ({pr.act.value} {pr.resource}, {pr.fate.value})"
        if pull.merged:
            if mine != [pull.merge_commit_sha]:
                wrong.append(f"{where}: merged as {str(pull.merge_commit_sha)[:12]} but applied by {mine}")
        elif mine:
            wrong.append(f"{where}: not merged but applied by {mine}")
        expected = pr.expected_live_status() if pull.merged else pr.base_status()
        if live is None or live.status is not expected:
            wrong.append(f"{where}: live {live.status if live else None}, expected {expected}")
    held = {lock.pr_number for lock in store.locks(REPO)}
    open_now = {n for n, p in emulator.world.repos[REPO].pulls.items() if p.state == "open"}
    if held - open_now:
        wrong.append(f"locks left behind by closed PRs {sorted(held - open_now)}")
    if store.drift():
        wrong.append(
            f"drift recorded: {[(d.commit_sha[:12], d.detail.get('reasons')) for d in store.drift()]}"
        )
    counts = store.jobs().counts()
    if counts.parked:
        wrong.append(f"{counts.parked} jobs parked: {list(store.jobs().parked())}")
    return wrong


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("stack_name", STACKS)
def test_nothing_lost_nothing_twice_under_a_fault_campaign(
    stack_name: str, seed: int, tmp_path: Path
) -> None:
    private_pem, public_pem = app_key()
    prs = plan()
    emulator = GitHubEmulator(webhook_secret=SECRET).start()
    cluster: Cluster | None = None
    tally = Tally()
    try:
        with campaign_stack(stack_name, tmp_path) as stack:
            database_url = stack.database_url
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
                "APPROVALBOT_LOG_LEVEL": os.environ.get("CAMPAIGN_LOG_LEVEL", "WARNING"),
                "APPROVALBOT_GITHUB_THROTTLE": "0",
                "APPROVALBOT_JOB_LEASE": "5",  # a killed process's jobs are taken up 5 s later
                **({"REDIS_URL": stack.redis_url} if stack.redis_url else {}),
            }
            Store.from_url(database_url).close()  # migrated once, before two processes race to do it
            cluster = Cluster(env, tmp_path)
            cluster.start(servers=2, workers=stack.workers)
            wait_for_baseline(database_url, cluster)
            chaos = Chaos(cluster, emulator, seed, tally)
            emulator.webhooks.sink = chaos
            files = emulator.world.repos[REPO]

            def file(path: str) -> str:
                commit = files.commits[files.branches[files.default_branch]]
                return emulator.world.blobs[commit.files[path]].decode()

            Burst(driver, emulator.webhooks, file, prs, seed=seed).run()
            chaos.on = False
            last_fault = time.monotonic()
            # Healing, by itself: a replica that starts heals (SPEC §6); both are restarted once, as a
            # deploy would, and from then on nothing but the bot acts.
            for index in range(len(cluster.ports)):
                restart(cluster, index)
            for index in range(len(cluster.workers)):
                restart_worker(cluster, index)
            store = Store.from_url(database_url)
            try:
                deadline = time.monotonic() + HEAL_TIMEOUT
                while (found := problems(emulator, store, prs)) and time.monotonic() < deadline:
                    time.sleep(0.5)
                healed_after = time.monotonic() - last_fault
                print(
                    f"seed {seed}: {chaos.sent} deliveries, lost {tally.lost}, "
                    f"duplicated {tally.duplicated}, "
                    f"refused by a dead replica {tally.refused}, GitHub errors {tally.github_errors}, "
                    f"kills {tally.kills}, answers {dict(tally.statuses)}; healed {healed_after:.1f} s after "
                    "the last fault"
                )
                assert not found, "\n".join(found) + "\n" + cluster.outputs()
            finally:
                store.close()
                cluster.stop()  # before the store goes (a PostgreSQL schema is dropped on the way out)
    except Unavailable as missing:
        pytest.skip(str(missing))
    finally:
        if cluster is not None:
            cluster.stop()
        emulator.stop()


def test_the_campaign_port_helper_gives_a_free_port() -> None:
    assert 1024 < free_port() < 65536
