"""The subcommands that run the service side: serve, worker, action, tick, reconcile, status.

Wiring only. Heavy imports (Flask, PyGithub, SQLAlchemy) happen inside each command so that
`approvalbot check` and the pre-commit hook start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2


# --- serve -----------------------------------------------------------------------------------------------


def configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    parser.add_argument(
        "--threads", type=int, default=None, help="request threads (default: APPROVALBOT_WORKERS)"
    )


def run_serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]  # gunicorn ships no types

    from bot.server import create_server_app
    from bot.settings import Settings
    from bot.startup import serve_lines, serve_problems

    settings = Settings.from_env()
    # Checked here, in gunicorn's master before it forks: a worker that cannot boot is reported by
    # gunicorn as a traceback and "Worker failed to boot", which says nothing of what to set.
    problems = serve_problems(settings)
    for problem in problems:
        print(f"approvalbot: error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_ERROR

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        # One process per replica: its threads serve requests and run jobs. The job queue is a table in
        # the store (per-PR order and leases across processes), so replicas on one PostgreSQL share it;
        # with REDIS_URL set, serve only records jobs and `approvalbot worker` processes run them.
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", args.threads or settings.workers)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", settings.log_level.lower())

        def load(self) -> Any:
            # Built in the worker, after gunicorn forks: the job queue's and the scheduler's threads and
            # the store's connections must belong to the process that serves the requests.
            return create_server_app(settings)

    _say(*serve_lines(settings), f"serving webhooks on http://{args.host}:{args.port}/webhook")
    _Gunicorn().run()
    return EXIT_OK


# --- worker ----------------------------------------------------------------------------------------------


def configure_worker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--burst", action="store_true", help="stop when the queue is empty")


def run_worker(args: argparse.Namespace) -> int:
    from bot.engine.services import PullRef
    from bot.engine.wiring import build_services
    from bot.handlers import handle, reevaluation_job, toggles_job
    from bot.ports import Job
    from bot.queue import run_worker as serve_jobs
    from bot.settings import Settings
    from bot.startup import check_queue, open_store, serve_lines

    settings = Settings.from_env()
    if not settings.redis_url:
        raise _usage(
            "REDIS_URL is not set: without it every `approvalbot serve` process runs its jobs itself; "
            "set it (on serve and worker alike) to run them in `approvalbot worker` processes instead"
        )
    settings.require_github_credentials()
    check_queue(settings)
    _say(*serve_lines(settings))
    store = open_store(settings)
    services = build_services(settings, store=store)

    def run(job: Job) -> None:
        handle(services, job)

    # The engine's own jobs (re-evaluations, toggle follow-ups) go to the same table, for any worker.
    jobs = store.jobs()

    def requeue(ref: PullRef) -> None:
        jobs.add(reevaluation_job(ref))

    def follow_up(repo: str, installation: int | None) -> None:
        jobs.add(toggles_job(repo, installation))

    services.requeue = requeue
    services.follow_up = follow_up
    serve_jobs(settings, run, store, burst=args.burst)
    return EXIT_OK


# --- action ----------------------------------------------------------------------------------------------


def configure_action(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("json", "none"), default="json", help="print the result")


def run_action(args: argparse.Namespace) -> int:
    from bot.action import ActionError
    from bot.action import run_action as act

    try:
        result = act()
    except ActionError as error:
        raise _usage(str(error)) from error
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    return EXIT_OK


# --- tick, reconcile, status ------------------------------------------------------------------------


def configure_tick(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", help="run as if at this RFC 3339 time (default: the clock)")


def run_tick(args: argparse.Namespace) -> int:
    from bot.cli import parse_now
    from bot.engine.outbox import tick
    from bot.engine.wiring import target_publisher
    from bot.settings import Settings
    from bot.startup import open_store, store_line

    settings = Settings.from_env()
    now = parse_now(args.now)
    _say(store_line(settings))
    result = tick(open_store(settings), target_publisher(settings), now)
    for transition in result.transitions:
        print(f"{transition.key}: {transition.from_status.value} → {transition.to_status.value}")
    done = len(result.transitions)
    print(f"{done} scheduled transition{'s' if done != 1 else ''} applied")
    if result.delivered or result.still_owed:
        print(f"{result.delivered} owed target POST(s) delivered, {result.still_owed} still owed")
    return EXIT_OK


def configure_reconcile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", required=True, help="the config repository, owner/name")
    parser.add_argument("--installation", type=int, help="GitHub App installation id (App mode)")


def run_reconcile(args: argparse.Namespace) -> int:
    from bot.engine.evaluate import evaluate_pull
    from bot.engine.reconcile import reconcile
    from bot.engine.services import PullRef
    from bot.engine.wiring import build_services
    from bot.settings import Settings
    from bot.startup import open_store, store_line

    settings = Settings.from_env()
    settings.require_github_credentials()  # before the store: a missing token creates no store
    _say(store_line(settings))
    services = build_services(settings, store=open_store(settings))

    def evaluate_now(ref: PullRef) -> None:
        evaluate_pull(services, ref)

    # No queue here: the PRs reconcile re-checks are evaluated now, one after the other.
    services.requeue = evaluate_now
    result = reconcile(services, args.repo, installation=args.installation)
    if result.baseline:
        print(f"baseline: the live state starts from {result.baseline[:12]}")
    for item in result.results:
        print(f"{item.sha[:12]}: {item.outcome.value}" + (f" (#{item.pr_number})" if item.pr_number else ""))
    if result.released:
        print("released stale locks of " + ", ".join(f"#{n}" for n in result.released))
    if result.checks:
        print("published the checks owed to " + ", ".join(sha[:12] for sha in result.checks))
    if result.reevaluated:
        print("re-evaluated (no verdict on their head) " + ", ".join(f"#{n}" for n in result.reevaluated))
    return EXIT_OK


def configure_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", help="only this account")


def run_status(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.settings import Settings
    from bot.startup import existing_store, store_line
    from bot.status import jobs_text, status_text

    settings = Settings.from_env()
    _say(store_line(settings))
    store = existing_store(settings)  # a store that is not there yet is reported, not created empty
    print(status_text(store, args.account, datetime.now(UTC)), end="")
    jobs = store.jobs()
    shown = jobs_text(jobs.counts(), jobs.parked())
    print(f"\n{shown}" if shown else "", end="")
    return EXIT_OK


def _say(*lines: str) -> None:
    """What a command tells about itself (the store it uses) goes to stderr: stdout stays its result."""
    for line in lines:
        print(f"approvalbot: {line}", file=sys.stderr)


def _usage(message: str) -> Exception:
    from bot.cli import UsageError

    return UsageError(message)
