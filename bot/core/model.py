"""The vocabulary every part of approvalbot speaks: plain, frozen data and enums.

Nothing here does I/O or imports an adapter. Documents are kept as the plain mappings YAML gave us
(validated by the JSON schemas), with a position map beside them so every message can point at a
file, line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    EXPERIMENT = "experiment"
    REMOTE_CONFIG = "remote_config"


class Status(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    LIVE = "live"  # remote config variables only


class Action(StrEnum):
    """What a change submits for one resource (SPEC §3). Values are the JSON contract's names."""

    CREATE_DRAFT = "create_draft"
    EDIT_DRAFT = "edit_draft"
    DELETE_DRAFT = "delete_draft"
    START = "start"
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    PAUSE = "pause"
    RESUME = "resume"
    FINISH = "finish"
    PUBLISH_EDITS = "publish_edits"
    DELETE = "delete"
    PUBLISH = "publish"

    @property
    def label(self) -> str:
        """Human name as the state table writes it ("publish edits")."""
        return self.value.replace("_", " ")


class PendingState(StrEnum):
    """The state a resource shows while a ready PR submits an action for it (SPEC §3)."""

    APPROVAL_PENDING = "APPROVAL PENDING"
    SCHEDULING_PENDING = "SCHEDULING PENDING"
    PAUSE_PENDING = "PAUSE PENDING"
    FINISH_PENDING = "FINISH PENDING"
    RESUME_PENDING = "RESUME PENDING"
    DELETE_PENDING = "DELETE PENDING"


@dataclass(frozen=True, order=True)
class ResourceKey:
    """Identity of a resource: it never changes for the life of the resource."""

    account: str
    kind: Kind
    id: str

    def __str__(self) -> str:
        return f"{self.account}/{self.kind.value}/{self.id}"


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 1-based
    column: int = 1  # 1-based


class ItemId(str):
    """A list item named by its `id` inside a DocPath: the diff matches variants by id, not position."""

    __slots__ = ()


# A path inside a document, as the keys and list indexes that lead to a value.
DocPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a change, located so a user can find it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True)
class Document:
    """A parsed YAML mapping with the position of every key and item in it."""

    data: Mapping[str, Any]
    positions: Mapping[DocPath, Position] = field(default_factory=dict)

    def position(self, path: DocPath = ()) -> Position:
        """Where `path` is; falls back to the nearest enclosing node that has a position."""
        probe = tuple(path)
        while probe:
            found = self.positions.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return self.positions.get((), Position(1, 1))


@dataclass(frozen=True)
class Resource:
    """One experiment or remote config variable as a file in one revision."""

    key: ResourceKey
    path: str
    document: Document

    @property
    def data(self) -> Mapping[str, Any]:
        return self.document.data

    @property
    def status(self) -> Status:
        return Status(self.data["status"])


@dataclass(frozen=True)
class LoadResult:
    """What loading one file gave: a resource, or the problems that stopped it (never both empty)."""

    path: str
    resource: Resource | None
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.resource is not None and not self.problems


@dataclass(frozen=True)
class FieldChange:
    """One changed value between two revisions of a resource (the structured diff's unit)."""

    class Kind(StrEnum):
        ADDED = "added"
        REMOVED = "removed"
        CHANGED = "changed"

    path: DocPath
    change: FieldChange.Kind
    old: Any = None
    new: Any = None

    @property
    def dotted(self) -> str:
        """`variants[1].weight` style, for humans and the JSON contract."""
        out = ""
        for part in self.path:
            bracketed = isinstance(part, int | ItemId)
            out += f"[{part}]" if bracketed else (f".{part}" if out else str(part))
        return out


@dataclass(frozen=True)
class PlannedAction:
    """The engine's verdict on one touched resource: what the change submits, and whether it may."""

    key: ResourceKey
    file: str  # head path, or base path when the file is deleted
    action: Action | None  # None when the transition is refused or cannot be worked out
    from_status: Status | None  # effective status on the base (None: absent)
    to_status: Status | None  # status on the head (None: absent)
    pending_state: PendingState | None
    requires_approval: bool
    errors: tuple[Problem, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    # Variant ids of the head document (or base, when deleted): the decision engine checks /winner.
    variants: tuple[str, ...] = ()
    # Remote config ids of the same account this resource's head document uses.
    uses: tuple[str, ...] = ()
    # Remote config variables this resource uses that are neither live on the base nor published by
    # the same change: the decision engine blocks on them and names the PR that holds them, if any.
    unmet_dependencies: tuple[ResourceKey, ...] = ()
    winner: str | None = None  # the creator's `winner` field on a finish
    # The head file is there but cannot be read as a resource (invalid YAML, or against its schema):
    # `to_status` is then None without meaning a deletion, `changes` is empty and `errors` say why.
    unreadable: bool = False

    @property
    def valid(self) -> bool:
        return self.action is not None and not self.errors


@dataclass(frozen=True)
class Plan:
    """Everything one change (base → head) submits, plus the problems not tied to one resource."""

    actions: tuple[PlannedAction, ...] = ()
    errors: tuple[Problem, ...] = ()  # e.g. a broken .approvalbot.yml, a file outside every account
    config_changed: bool = False  # the change edits .approvalbot.yml itself
    config_accounts: tuple[str, ...] = ()  # accounts whose config the change affects

    @property
    def valid(self) -> bool:
        return not self.errors and all(a.valid for a in self.actions)

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        found = list(self.errors)
        for action in self.actions:
            found.extend(action.errors)
        return tuple(sorted(set(found)))

    @property
    def accounts(self) -> tuple[str, ...]:
        names = {a.key.account for a in self.actions} | set(self.config_accounts)
        return tuple(sorted(names))
