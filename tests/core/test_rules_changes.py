"""rule_changes: each grant, revocation and policy edit of `.approvalbot.yml`, for the audit (issue 14)."""

import pytest

from bot.core.repo_config import parse_repo_config
from bot.core.rules_changes import RuleChange, rule_changes

BASE = """
approvals: {required: 1}
accounts:
  web:
    paths: ["web/**"]
    roles: {admin: [alice], approver: [bob]}
    custom_roles:
      reviewers: {permissions: [approve:product_experiences], members: [rita]}
"""

CASES = [
    ("nothing", BASE, []),
    (
        "an approver added",
        BASE.replace("approver: [bob]", "approver: [bob, dave]"),
        [RuleChange("web", "granted", "approver", "dave")],
    ),
    (
        "an admin moved to approver",
        BASE.replace("admin: [alice], approver: [bob]", "admin: [carl], approver: [bob, alice]"),
        [
            RuleChange("web", "granted", "admin", "carl"),
            RuleChange("web", "revoked", "admin", "alice"),
            RuleChange("web", "granted", "approver", "alice"),
        ],
    ),
    (
        "a custom role's member and permissions",
        BASE.replace("members: [rita]", "members: [rita, '@acme/leads']").replace(
            "permissions: [approve:product_experiences]", "permissions: [view:product_experiences]"
        ),
        [
            RuleChange("web", "granted", "reviewers", "@acme/leads"),
            RuleChange(
                "web", "policy", setting="custom_roles.reviewers.permissions",
                old="[approve:product_experiences]", new="[view:product_experiences]",
            ),
        ],
    ),
    (
        "the workflow turned off",
        BASE.replace("{required: 1}", "{required: 1, enabled: false}"),
        [RuleChange(None, "policy", setting="approvals.enabled", old="true", new="false")],
    ),
    (
        "an account's own required count",
        BASE.replace('paths: ["web/**"]', 'paths: ["web/**"]\n    required: 2'),
        [RuleChange("web", "policy", setting="required", old=None, new="2")],
    ),
    (
        "an account added",
        BASE + '  mobile:\n    paths: ["mobile/**"]\n    roles: {admin: [grace]}\n',
        [RuleChange("mobile", "account_added"), RuleChange("mobile", "granted", "admin", "grace"),
         RuleChange("mobile", "policy", setting="paths", old=None, new="[mobile/**]")],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "after", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule_changes(name: str, after: str, expected: list[RuleChange]) -> None:
    old, problems = parse_repo_config(BASE.encode())
    new, more = parse_repo_config(after.encode())
    assert not problems and not more
    assert list(rule_changes(old, new)) == expected


def test_the_audit_detail_leaves_empty_fields_out() -> None:
    assert RuleChange("web", "granted", "approver", "dave").detail() == {
        "change": "granted", "role": "approver", "member": "dave",
    }  # fmt: skip
