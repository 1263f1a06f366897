"""The live store (SQLAlchemy; SQLite by default, PostgreSQL for several replicas)."""

from bot.adapters.store.database import DEFAULT_URL, StoreError, normalise_url
from bot.adapters.store.sql import Store
from bot.core.live import (
    AuditEntry,
    AuditKind,
    DriftRecord,
    LiveChange,
    LiveRecord,
    Lock,
    PullHead,
    Transition,
)

__all__ = [
    "DEFAULT_URL",
    "AuditEntry",
    "AuditKind",
    "DriftRecord",
    "LiveChange",
    "LiveRecord",
    "Lock",
    "PullHead",
    "Store",
    "StoreError",
    "Transition",
    "normalise_url",
]
