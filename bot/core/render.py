"""Three views of a Plan: plain text for terminals, Markdown for the PR comment, JSON for machines.

The JSON shape is a contract (`approvalbot check --format json`, the Action's outputs): change it only
by adding keys. The Markdown is read on phones as often as on desktops, so it uses short lines, small
tables and folds long values away.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from bot.core.model import FieldChange, ItemId, Plan, PlannedAction, Problem
from bot.core.repo_config import RepoConfig
from bot.core.transitions import status_name

JSON_VERSION = 1
LONG_VALUE = 80  # characters; longer (or multi-line) values are folded in the Markdown
REFUSED = "refused"  # the group of actions the state machine refused, in text and Markdown
NO_CHANGES = "No resource changes."
CONFIG_CHANGED = "changes .approvalbot.yml, needs an admin of"
FILE_REMOVED = "the file is removed ({count} fields)"
CANNOT_BE_READ = "cannot be read"
UNREADABLE = (
    "the file cannot be read, so what it asks for cannot be judged; fix the problem{s} below "
    "(nothing is deleted)"
)
WAITS_FOR = "waits for (not live on the base, not published by this change)"

_SIGN = {FieldChange.Kind.ADDED: "+", FieldChange.Kind.REMOVED: "-", FieldChange.Kind.CHANGED: "~"}


# --- JSON ---------------------------------------------------------------------------------------------


def plan_to_json(plan: Plan, config: RepoConfig | None = None) -> dict[str, Any]:
    """The stable JSON contract of a plan (see module doc); `config` adds the approvals each action needs."""
    return {
        "version": JSON_VERSION,
        "valid": plan.valid,
        "accounts": list(plan.accounts),
        "config_changed": plan.config_changed,
        "config_accounts": list(plan.config_accounts),
        "actions": [_action_json(a, config) for a in plan.actions],
        "errors": [_problem_json(p) for p in plan.errors],
        "diff": [{**_key_json(a), "changes": [_change_json(c) for c in a.changes]} for a in plan.actions],
    }


def _key_json(action: PlannedAction) -> dict[str, Any]:
    return {
        "account": action.key.account,
        "kind": action.key.kind.value,
        "id": action.key.id,
        "file": action.file,
    }


def _action_json(action: PlannedAction, config: RepoConfig | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        **_key_json(action),
        "action": action.action.value if action.action else None,
        "from_status": action.from_status.value if action.from_status else None,
        "to_status": action.to_status.value if action.to_status else None,
        "pending_state": action.pending_state.value if action.pending_state else None,
        "requires_approval": action.requires_approval,
        "valid": action.valid,
        "errors": [_problem_json(p) for p in action.errors],
        "diff": [_change_json(c) for c in action.changes],
        "variants": list(action.variants),
        "uses": list(action.uses),
        "unmet_dependencies": [
            {"account": k.account, "kind": k.kind.value, "id": k.id} for k in action.unmet_dependencies
        ],
        "winner": action.winner,
        "unreadable": action.unreadable,
    }
    if config is not None:
        out["approvals_required"] = approvals_required(action, config)
    return out


def approvals_required(action: PlannedAction, config: RepoConfig) -> int:
    return config.required_for(action.key.account, action.action) if action.requires_approval else 0


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {"file": problem.file, "line": problem.line, "column": problem.column, "message": problem.message}


def _change_json(change: FieldChange) -> dict[str, Any]:
    return {
        "path": change.dotted,
        "change": change.change.value,
        "old": json_value(change.old),
        "new": json_value(change.new),
    }


def json_value(value: Any) -> Any:
    """YAML values as JSON can carry them (times become RFC 3339 text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


# --- text ---------------------------------------------------------------------------------------------


def render_text(plan: Plan, config: RepoConfig | None = None) -> str:
    """For terminals: one block per resource, one line per changed field, problems with file:line:col."""
    lines: list[str] = []
    for problem in plan.errors:
        lines.append(f"error: {problem}")
    if plan.config_changed:
        lines.append(f"{CONFIG_CHANGED}: {', '.join(plan.config_accounts) or 'no account'}")
    for account, groups in _grouped(plan.actions):
        lines.append(f"account {account}")
        for group, actions in groups:
            for action in actions:
                lines.extend(_text_action(group, action, config))
    if not plan.actions:
        lines.append(NO_CHANGES)
    lines.append(_verdict(plan))
    return "\n".join(lines) + "\n"


def _text_action(group: str, action: PlannedAction, config: RepoConfig | None) -> list[str]:
    out = [f"  {group}: {action.key.kind.value} {action.key.id} ({action.file})"]
    out.append(f"    {_transition(action)}{_pending_text(action, config)}")
    if action.unreadable:
        out.append(f"    {_unreadable(action)}")
    elif _deleted(action):
        out.append(f"    - {FILE_REMOVED.format(count=len(action.changes))}")
    else:
        for change in action.changes:
            out.append(f"    {_SIGN[change.change]} {change.dotted}: {_change_text(change)}")
    if action.unmet_dependencies:
        out.append(f"    {WAITS_FOR}: {', '.join(str(k) for k in action.unmet_dependencies)}")
    for problem in action.errors:
        out.append(f"    error: {problem}")
    return out


def _change_text(change: FieldChange) -> str:
    if change.change is FieldChange.Kind.ADDED:
        return _one_line(change.new)
    if change.change is FieldChange.Kind.REMOVED:
        return _one_line(change.old)
    return f"{_one_line(change.old)} → {_one_line(change.new)}"


def _one_line(value: Any) -> str:
    """Multi-line text quoted with its line breaks escaped, so a terminal block stays aligned."""
    text = short(value)
    return json.dumps(text, ensure_ascii=False) if "\n" in text else text


def _pending_text(action: PlannedAction, config: RepoConfig | None) -> str:
    if action.action is None:
        return ""
    if not action.requires_approval:
        return "  (no approval needed)"
    needed = f", {_approvals(approvals_required(action, config))}" if config is not None else ""
    return f"  [{action.pending_state}]{needed}"


def _approvals(count: int) -> str:
    return f"needs {count} approval{'s' if count != 1 else ''}"


def _verdict(plan: Plan) -> str:
    refused = sum(1 for a in plan.actions if not a.valid)
    count = len(plan.actions)
    if plan.valid:
        return f"ok: {count} action{'s' if count != 1 else ''}"
    return (
        f"refused: {refused} of {count} action{'s' if count != 1 else ''}, {len(plan.errors)} other error(s)"
    )


# --- Markdown -----------------------------------------------------------------------------------------


def render_markdown(plan: Plan, config: RepoConfig | None = None, files_at: str | None = None) -> str:
    """The PR comment body: problems first, then each account, each action, each resource's diff.

    Each problem is said once: those of no resource in the list at the top, the others at their
    resource. `files_at` (".../blob/<head sha>") makes every `file:line` a link to that line."""
    parts: list[str] = []
    problems = plan.all_problems
    if problems:
        count = f"**{len(problems)} problem{'s' if len(problems) != 1 else ''}** — nothing can merge yet"
        at_resources = len(problems) - len(plan.errors)
        below = f"{at_resources} shown below at {'its' if at_resources == 1 else 'their'} resource"
        if not plan.errors:
            parts.append(
                f"{count}; {'it is' if at_resources == 1 else 'they are'} shown below at the resource."
            )
        else:
            parts.append(f"{count}{f' ({below})' if at_resources else ''}:")
            parts.append("\n".join(f"- {_at(p, files_at)} {_md_escape(p.message)}" for p in plan.errors))
    if plan.config_changed:
        accounts = ", ".join(f"`{a}`" for a in plan.config_accounts) or "no account"
        parts.append(f"This change edits `.approvalbot.yml`: it needs an admin of {accounts}.")
    for account, groups in _grouped(plan.actions):
        parts.append(f"### Account `{account}`")
        for group, actions in groups:
            parts.append(f"#### {group.capitalize()}")
            parts.extend(_md_action(a, config, files_at) for a in actions)
    if not plan.actions:
        parts.append(NO_CHANGES)
    return "\n\n".join(parts) + "\n"


def _md_action(action: PlannedAction, config: RepoConfig | None, files_at: str | None = None) -> str:
    head = f"**{action.key.kind.value.replace('_', ' ')} `{action.key.id}`** · `{action.file}`"
    lines = [head, "", f"{_transition(action)}{_md_pending(action, config)}"]
    if action.unreadable:
        lines += ["", _unreadable(action).capitalize() + "."]
        lines += [f"\n> **Refused** {_at(p, files_at)}: {_md_escape(p.message)}" for p in action.errors]
        return "\n".join(lines)
    if _deleted(action):
        # What a deletion removes is the whole file the reviewer already knows: fold it away.
        listing = "\n".join(f"- `{c.dotted}`: {_code(short(c.old))}" for c in action.changes)
        summary = FILE_REMOVED.format(count=len(action.changes))
        lines += ["", f"<details><summary>{summary}</summary>\n\n{listing}\n\n</details>"]
        lines += [f"\n> **Refused** {_at(p, files_at)}: {_md_escape(p.message)}" for p in action.errors]
        return "\n".join(lines)
    weights = variant_weights(action.changes)
    if weights:
        lines += ["", "| variant | weight |", "|---|---|"]
        lines += [f"| {_code(v, True)} | {_arrow(old, new)} |" for v, old, new in weights]
    overrides = override_rows(action.changes)
    if overrides:
        lines += ["", "| variant | override | value |", "|---|---|---|"]
        lines += [
            f"| {_code(v, True)} | {_code(k, True)} | {_arrow(old, new)} |" for v, k, old, new in overrides
        ]
    shown = _tabled(action.changes)
    rest = [c for c in action.changes if c not in shown]
    inline = [c for c in rest if not _folded(c)]
    if inline:
        lines.append("")
        lines += [f"- `{c.dotted}` {c.change.value}: {_md_change_value(c)}" for c in inline]
    for change in rest:
        if _folded(change):
            lines += ["", _md_details(change)]
    if action.unmet_dependencies:
        waiting = ", ".join(f"`{k}`" for k in action.unmet_dependencies)
        lines += ["", f"Waits for {waiting}: not live on the base branch and not published by this change."]
    for problem in action.errors:
        lines += ["", f"> **Refused** {_at(problem, files_at)}: {_md_escape(problem.message)}"]
    return "\n".join(lines)


def _at(problem: Problem, files_at: str | None) -> str:
    """`file:line`, linked to that line of the file at the head commit when `files_at` is known."""
    where = f"`{problem.file}:{problem.line}`"
    if files_at is None:
        return where
    return f"[{where}]({files_at.rstrip('/')}/{quote(problem.file)}#L{max(problem.line, 1)})"


def _md_pending(action: PlannedAction, config: RepoConfig | None) -> str:
    if action.action is None:
        return " · **refused**"
    if not action.requires_approval:
        return " · no approval needed"
    needed = f" · {_approvals(approvals_required(action, config))}" if config is not None else ""
    return f" · `{action.pending_state}`{needed}"


def _folded(change: FieldChange) -> bool:
    values = [v for v in (change.old, change.new) if v is not None]
    return any(_is_long(v) for v in values)


def _md_details(change: FieldChange) -> str:
    """A long value folded away: phones show one summary line until the reader opens it."""
    blocks = []
    if change.change is not FieldChange.Kind.ADDED:
        blocks.append(f"old:\n\n{_fenced(long_form(change.old))}")
    if change.change is not FieldChange.Kind.REMOVED:
        blocks.append(f"new:\n\n{_fenced(long_form(change.new))}")
    summary = f"<code>{_md_escape(change.dotted)}</code> {change.change.value}"
    return f"<details><summary>{summary}</summary>\n\n" + "\n\n".join(blocks) + "\n\n</details>"


def _fenced(text: str) -> str:
    """A code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _md_change_value(change: FieldChange) -> str:
    if change.change is FieldChange.Kind.ADDED:
        return _code(short(change.new))
    if change.change is FieldChange.Kind.REMOVED:
        return f"~~{_code(short(change.old))}~~"
    return f"{_code(short(change.old))} → {_code(short(change.new))}"


def _arrow(old: Any, new: Any) -> str:
    """A table cell: pipes escaped, as GitHub ends a cell at any unescaped pipe, even in code."""
    if old == new:
        return _code(short(new), True)
    left = "—" if old is None else _code(short(old), True)
    right = "—" if new is None else _code(short(new), True)
    return f"{left} → {right}"


# --- tables: variant weights and overrides -----------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    old: Any = None
    new: Any = None


def variant_weights(changes: Iterable[FieldChange]) -> list[tuple[str, Any, Any]]:
    """(variant, old weight, new weight) for every variant whose weight the change sets, adds or removes."""
    cells: dict[str, _Cell] = {}
    for change in changes:
        for variant, side, value in _weight_facts(change):
            cell = cells.get(variant, _Cell())
            cells[variant] = _Cell(value, cell.new) if side == "old" else _Cell(cell.old, value)
    return [(v, c.old, c.new) for v, c in cells.items()]


def _weight_facts(change: FieldChange) -> list[tuple[str, str, Any]]:
    path = change.path
    sides = (("old", change.old), ("new", change.new))
    if path == ("variants",):
        return [
            (str(item["id"]), side, item.get("weight"))
            for side, items in sides
            if isinstance(items, list)
            for item in items
            if isinstance(item, Mapping) and "id" in item
        ]
    if len(path) == 2 and path[0] == "variants" and isinstance(path[1], ItemId):
        return [(str(path[1]), s, v.get("weight")) for s, v in sides if isinstance(v, Mapping)]
    if len(path) == 3 and path[0] == "variants" and isinstance(path[1], ItemId) and path[2] == "weight":
        return [(str(path[1]), s, v) for s, v in sides]
    return []


def override_rows(changes: Iterable[FieldChange]) -> list[tuple[str, str, Any, Any]]:
    """(variant, key, old, new) for each remote config override the change touches.

    Works with overrides kept inside each variant (`variants[x].overrides.key`) or beside them
    (`overrides.x.key`), so the table survives a schema that moves them.
    """
    rows: list[tuple[str, str, Any, Any]] = []
    for change in changes:
        rows.extend(_override_facts(change))
    return rows


def _override_facts(change: FieldChange) -> list[tuple[str, str, Any, Any]]:
    path = [str(p) for p in change.path]
    if "overrides" not in path:
        return []
    at = path.index("overrides")
    rest = path[at + 1 :]
    if path[0] == "variants" and at == 2:  # variants[x].overrides.key
        variant = path[1]
    elif at == 0 and rest:  # overrides.x.key
        variant, rest = rest[0], rest[1:]
    elif at == 0:  # the whole overrides mapping: variant → key → value
        old, new = _mapping(change.old), _mapping(change.new)
        return [row for v in {**old, **new} for row in _rows(str(v), old.get(v), new.get(v))]
    else:
        return []
    if rest:
        return [(variant, ".".join(rest), change.old, change.new)]
    return _rows(variant, change.old, change.new)


def _rows(variant: str, old: Any, new: Any) -> list[tuple[str, str, Any, Any]]:
    before, after = _mapping(old), _mapping(new)
    return [(variant, str(k), before.get(k), after.get(k)) for k in {**before, **after}]


def _mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _tabled(changes: Iterable[FieldChange]) -> list[FieldChange]:
    """Changes fully shown by the tables, so the field list does not repeat them."""
    out = []
    for change in changes:
        path = change.path
        weight_only = len(path) == 3 and path[0] == "variants" and path[2] == "weight"
        if weight_only or "overrides" in [str(p) for p in path]:
            out.append(change)
    return out


# --- shared helpers -----------------------------------------------------------------------------------


def _grouped(actions: Iterable[PlannedAction]) -> list[tuple[str, list[tuple[str, list[PlannedAction]]]]]:
    """Actions by account, then by action label (refused last), in a stable order."""
    by_account: dict[str, dict[str, list[PlannedAction]]] = {}
    for action in sorted(actions, key=lambda a: (a.key, a.file)):
        group = action.action.label if action.valid and action.action else REFUSED
        by_account.setdefault(action.key.account, {}).setdefault(group, []).append(action)
    order: Callable[[str], tuple[bool, str]] = lambda g: (g == REFUSED, g)  # noqa: E731
    return [
        (acc, [(g, groups[g]) for g in sorted(groups, key=order)])
        for acc, groups in sorted(by_account.items())
    ]


def _deleted(action: PlannedAction) -> bool:
    return action.to_status is None and action.from_status is not None and bool(action.changes)


def _transition(action: PlannedAction) -> str:
    head = CANNOT_BE_READ if action.unreadable else status_name(action.to_status)
    return f"{status_name(action.from_status)} → {head}"


def _unreadable(action: PlannedAction) -> str:
    return UNREADABLE.format(s="s" if len(action.errors) != 1 else "")


def short(value: Any) -> str:
    """A value on one line, as YAML users write it."""
    if isinstance(value, str):
        return value
    return json.dumps(json_value(value), ensure_ascii=False, sort_keys=True)


def long_form(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(json_value(value), ensure_ascii=False, sort_keys=True, indent=2)


def _is_long(value: Any) -> bool:
    text = short(value)
    return len(text) > LONG_VALUE or "\n" in text


def _code(text: str, in_table: bool = False) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    body = text.replace("|", "\\|") if in_table else text
    return f"{fence}{pad}{body}{pad}{fence}"


def _md_escape(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")
