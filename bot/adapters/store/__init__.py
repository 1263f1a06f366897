"""The live store (SQLAlchemy; SQLite by default, PostgreSQL for several replicas)."""

from bot.adapters.store.database import StoreError, normalise_url
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
