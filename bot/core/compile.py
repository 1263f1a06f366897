"""The compiled remote config of an account: what clients fetch to know which value each user gets.

Built from live records only (never from a branch): every live variable with its default and its
conditional values; for each running experiment, its targeting, traffic and each variant's overrides;
for each finished experiment with a winner, the winner's overrides rolled out to 100 % — they replace the
variables' defaults. Ordering is deterministic so the same live state always gives the same ETag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.core.live import LiveRecord, effective_status, to_jsonable
from bot.core.model import Kind, Status

_FULL_TRAFFIC = 100  # the schema's default traffic_allocation, and a rolled-out winner's


def compile_remote_config(
    account: str, live_records: Iterable[LiveRecord], now: datetime | None = None
) -> dict[str, Any]:
    """The account's compiled remote config as JSON-able data.

    With `now`, experiments count by their effective status (a scheduled one past start_at is running)
    so a late scheduler tick never delays what clients see; without it the stored status is used.
    Overrides of keys that are not live variables are left out: a client must never receive a key
    that has no default.
    """
    records = sorted((r for r in live_records if r.key.account == account), key=lambda r: r.key)
    status = {r.key: (effective_status(r, now) if now is not None else r.status) for r in records}
    variables = {
        r.key.id: _variable(r)
        for r in records
        if r.key.kind is Kind.REMOTE_CONFIG and status[r.key] is Status.LIVE
    }
    experiments = [r for r in records if r.key.kind is Kind.EXPERIMENT]
    running = [_running(r, variables) for r in experiments if status[r.key] is Status.RUNNING]
    rollouts = [
        _rollout(r, variables)
        for r in sorted(experiments, key=_rollout_order)
        if status[r.key] is Status.FINISHED and r.winner is not None
    ]
    for rollout in rollouts:  # later finishes win a key two winners both set
        for key, value in rollout["overrides"].items():
            variable = variables[key]
            variable.setdefault("declared_default", variable["default"])
            variable["default"] = value
            variable["rolled_out"] = {"experiment": rollout["experiment"], "variant": rollout["variant"]}
    return {
        "account": account,
        "variables": dict(sorted(variables.items())),
        "experiments": running,
        "rollouts": rollouts,
    }


def etag(compiled: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of `compiled` (sorted keys, no spaces); HTTP quotes it."""
    canonical = json.dumps(compiled, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _variable(record: LiveRecord) -> dict[str, Any]:
    doc = record.document
    out: dict[str, Any] = {
        "type": doc.get("type"),
        "default": to_jsonable(doc.get("default")),
        "conditional_values": to_jsonable(doc.get("conditional_values") or []),
        "revision": record.revision,
    }
    return out


def _running(record: LiveRecord, variables: Mapping[str, Any]) -> dict[str, Any]:
    doc = record.document
    traffic = doc.get("traffic_allocation")
    return {
        "id": record.key.id,
        "revision": record.revision,
        "traffic_allocation": _FULL_TRAFFIC if traffic is None else traffic,
        "targeting": to_jsonable(doc.get("targeting")),
        "variants": [
            {
                "id": str(v.get("id")),
                "weight": v.get("weight"),
                "control": bool(v.get("control", False)),
                "overrides": _known_overrides(v, variables),
            }
            for v in _variants(doc)
        ],
    }


def _rollout(record: LiveRecord, variables: Mapping[str, Any]) -> dict[str, Any]:
    winner = record.winner
    chosen = next((v for v in _variants(record.document) if str(v.get("id")) == winner), {})
    return {
        "experiment": record.key.id,
        "variant": winner,
        "traffic_allocation": _FULL_TRAFFIC,
        "overrides": _known_overrides(chosen, variables),
    }


def _rollout_order(record: LiveRecord) -> tuple[str, str]:
    # Oldest finish first so the most recent one is applied last and wins; id breaks ties.
    at = record.updated_at.isoformat() if record.updated_at is not None else ""
    return (at, record.key.id)


def _known_overrides(variant: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    overrides = variant.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        return {}
    return {str(k): to_jsonable(v) for k, v in sorted(overrides.items()) if str(k) in variables}


def _variants(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    variants = doc.get("variants") or []
    return [v for v in variants if isinstance(v, Mapping)] if isinstance(variants, list) else []
