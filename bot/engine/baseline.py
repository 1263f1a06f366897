"""The baseline: the live state a repository starts from when approvalbot first meets it.

Nothing before the bot's arrival was approved through it, so the resources on the default branch at
that commit are taken as live, as they are (recorded in the audit log), and its `.approvalbot.yml`, when
valid, as the approved rules. Taken by the first reconcile, or by the first event that applies a
commit of a repository the store has never handled (at that commit's parent), whichever comes first.
"""

from __future__ import annotations

import logging

from bot.core.live import ApprovedConfig, AuditEntry, AuditKind, LiveChange
from bot.core.loading import load_resource
from bot.core.model import Action, Status
from bot.core.repo_config import CONFIG_PATH, parse_repo_config
from bot.core.tree import Tree
from bot.core.validate import read_resource_files, resource_paths
from bot.engine.services import Services

log = logging.getLogger("approvalbot.baseline")


def take_baseline(services: Services, repo: str, sha: str, tree: Tree) -> bool:
    """Record every valid resource of `tree` as live, keyed by `sha`; False if it was already taken.

    Its `.approvalbot.yml`, when valid, becomes the approved rules: what was there before the bot
    arrived is taken as agreed, like the resources.
    """
    raw_config = tree.read(CONFIG_PATH)
    config, _ = parse_repo_config(raw_config)
    if config is None:
        log.warning("%s: no valid %s at %s; baseline taken with no resources", repo, CONFIG_PATH, sha[:12])
        return _marked(services, repo, sha, services.store.apply_merge(sha, None, [], []))
    changes: list[LiveChange] = []
    for path, account, raw in read_resource_files(tree, resource_paths(tree, config)):
        loaded = load_resource(path, raw, account)
        if loaded.resource is None or loaded.problems:
            log.warning("%s: %s is not valid at %s; left out of the baseline", repo, path, sha[:12])
            continue
        resource = loaded.resource
        action = _baseline_action(resource.status)
        changes.append(LiveChange(resource.key, action, resource.status, dict(resource.data)))
    audit = [
        AuditEntry(
            AuditKind.APPLY,
            resource=c.key,
            actor="approvalbot",
            action=c.action,
            detail={"repository": repo, "baseline": True},
        )
        for c in changes
    ]
    approved = ApprovedConfig(repo, sha, raw_config)
    taken = services.store.apply_merge(sha, None, changes, audit, approved_config=approved)
    return _marked(services, repo, sha, taken)


def _marked(services: Services, repo: str, sha: str, taken: bool) -> bool:
    """A new baseline is where the branch's handled history starts (its mark, see merge.catch_up_chain)."""
    if taken:
        services.store.set_branch_mark(repo, sha)
    return taken


def _baseline_action(status: Status) -> Action:
    return {
        Status.DRAFT: Action.CREATE_DRAFT,
        Status.SCHEDULED: Action.SCHEDULE,
        Status.RUNNING: Action.START,
        Status.PAUSED: Action.PAUSE,
        Status.FINISHED: Action.FINISH,
        Status.LIVE: Action.PUBLISH,
    }[status]
