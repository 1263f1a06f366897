"""A head file that cannot be read is shown as such, never as a deletion (issue 14).

Before: text said "running → absent" and "the file is removed (N fields)", Markdown listed every field
as removed, and JSON had `to_status: null` with a diff of removals, the same as a real deletion.
"""

from datetime import UTC, datetime

import pytest
from gitrepo import experiment, variable

from bot.core.model import Plan
from bot.core.plan import make_plan
from bot.core.render import plan_to_json, render_markdown, render_text
from bot.core.repo_config import Account, Approvals, RepoConfig
from bot.core.tree import DictTree, changed_files

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = RepoConfig(Approvals(), (Account("web", ("web/**",)),), {})
EXP = "web/experiments/checkout.yaml"
RC = "web/remote_config/color.yaml"

RUNNING = experiment("checkout", "running")
LIVE = variable("color", "live")

# (name, path, base text, head text, words the problem must contain)
CASES = [
    ("invalid YAML", EXP, RUNNING, RUNNING + "tags: [unclosed\n", "invalid YAML"),
    ("against the schema", EXP, RUNNING, RUNNING.replace("status: running", "status: runing"), "status"),
    ("a remote config against its schema", RC, LIVE, LIVE.replace("type: string", "type: strin"), "type"),
    ("no longer a mapping", RC, LIVE, "- just\n- a list\n", ""),
]


def plan_of(path: str, base: str, head: str) -> Plan:
    before, after = DictTree({path: base}), DictTree({path: head})
    return make_plan(before, after, changed_files(before, after), CONFIG, NOW)


@pytest.mark.parametrize(("name", "path", "base", "head", "words"), CASES, ids=[c[0] for c in CASES])
def test_an_unreadable_head_is_not_a_deletion(name: str, path: str, base: str, head: str, words: str) -> None:
    plan = plan_of(path, base, head)
    [action] = plan.actions
    assert action.unreadable and action.action is None and not action.changes
    assert action.errors and words in " ".join(p.message for p in action.errors)

    text = render_text(plan, CONFIG)
    assert "→ cannot be read" in text and "the file cannot be read" in text
    assert "absent" not in text and "removed" not in text

    markdown = render_markdown(plan, CONFIG)
    assert "→ cannot be read" in markdown and "The file cannot be read" in markdown
    assert "absent" not in markdown and "removed" not in markdown
    assert "**Refused**" in markdown  # the problem itself is there

    out = plan_to_json(plan, CONFIG)
    [shown] = out["actions"]
    assert shown["unreadable"] is True and shown["to_status"] is None
    assert shown["diff"] == [] and out["diff"][0]["changes"] == []
    assert shown["errors"]


def test_a_real_deletion_is_still_shown_as_one() -> None:
    before, after = DictTree({RC: LIVE}), DictTree({})
    plan = make_plan(before, after, changed_files(before, after), CONFIG, NOW)
    [action] = plan.actions
    assert not action.unreadable
    assert "the file is removed" in render_text(plan, CONFIG)
    assert plan_to_json(plan, CONFIG)["actions"][0]["unreadable"] is False
