"""Extract the slice of GitHub's published contract that approvalbot's emulator and adapter rely on.

GitHub publishes its REST API as OpenAPI (npm `@octokit/openapi`, 385 MB) and its webhook payloads as
JSON Schema (`@octokit/webhooks-schemas`) with examples (`@octokit/webhooks-examples`). We check in only
what we use, so the tests can hold the emulator to the contract without the internet:

    cd /tmp/gh && npm init -y && npm install --no-audit --no-fund \\
        @octokit/openapi @octokit/webhooks-schemas @octokit/webhooks-examples
    python scripts/extract_github_contract.py /tmp/gh/node_modules tests/contract

Outputs (in OUT_DIR):
  openapi.json          the operations the emulator serves and the component schemas they reference,
                        transitively (descriptions and examples dropped: they do not constrain bodies)
  webhook-schemas.json  the `event$action` definitions the emulator sends, plus what they reference
  webhook-examples.json one official example per `event$action`, the first that validates (or the
                        first at all, flagged, when none does)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# (method, OpenAPI path) of every REST operation the emulator serves. Keep in step with
# bot/emulator/routes.py (tests/contract/test_contract_data.py checks that they agree).
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/app"),
    ("get", "/app/installations"),
    ("get", "/app/hook/deliveries"),
    ("post", "/app/hook/deliveries/{delivery_id}/attempts"),
    ("get", "/installation/repositories"),
    ("get", "/user"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("delete", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("get", "/repos/{owner}/{repo}/git/trees/{tree_sha}"),
    ("get", "/repos/{owner}/{repo}/commits"),
    ("get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    ("get", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("post", "/repos/{owner}/{repo}/check-runs"),
    ("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("delete", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"),
)

# event$action definitions the emulator sends (push has no action: its definition is `push$event`).
WEBHOOK_DEFINITIONS: tuple[str, ...] = (
    "pull_request$opened",
    "pull_request$reopened",
    "pull_request$synchronize",
    "pull_request$ready_for_review",
    "pull_request$converted_to_draft",
    "pull_request$closed",
    "pull_request$edited",
    "pull_request_review$submitted",
    "pull_request_review$edited",
    "pull_request_review$dismissed",
    "issue_comment$created",
    "issue_comment$edited",
    "push$event",
    "check_run$rerequested",
)

# Keys that document a schema without constraining it; dropped to keep the checked-in files small.
_DOC_KEYS = {"description", "summary", "example", "examples", "externalDocs", "x-github", "title"}


def _strip_docs(node: Any, *, in_properties: bool = False) -> Any:
    """Drop documentation keys, but never a property that happens to be called `description`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not in_properties and key in _DOC_KEYS:
                continue
            out[key] = _strip_docs(value, in_properties=(key == "properties" and not in_properties))
        return out
    if isinstance(node, list):
        return [_strip_docs(item) for item in node]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _pointer_get(doc: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise SystemExit(f"unexpected non-local $ref {ref!r}: extend the extractor before using it")
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _pointer_set(doc: dict[str, Any], ref: str, value: Any) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _close_over_refs(source: dict[str, Any], target: dict[str, Any], roots: list[Any]) -> None:
    """Copy into `target` every `#/...` node reachable from `roots`, transitively."""
    pending = [ref for root in roots for ref in _refs(root)]
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        node = _strip_docs(_pointer_get(source, ref))
        _pointer_set(target, ref, node)
        pending.extend(_refs(node))


def extract_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "paths": {},
    }
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method]
        kept = {
            "operationId": operation["operationId"],
            "parameters": operation.get("parameters", []),
            "responses": operation["responses"],
        }
        if "requestBody" in operation:
            kept["requestBody"] = operation["requestBody"]
        out["paths"].setdefault(path, {})[method] = _strip_docs(kept)
    _close_over_refs(spec, out, list(out["paths"].values()))
    _correct_installation_account(spec, out)
    return out


def _correct_installation_account(spec: dict[str, Any], out: dict[str, Any]) -> None:
    """A known defect of the description: "List installations for the authenticated app" inlines the
    installation schema with `account: allOf [simple-user, enterprise]`, which no answer satisfies (a
    user has no `slug`, an enterprise no `login`); the `installation` component it copies says `anyOf`.
    The contract takes the component's word."""
    try:
        component = spec["components"]["schemas"]["installation"]["properties"]["account"]
        body = out["paths"]["/app/installations"]["get"]["responses"]["200"]["content"]["application/json"]
        account = body["schema"]["items"]["properties"]["account"]
    except KeyError:
        return  # a description without the defect's shape: nothing to correct
    if "allOf" in account and "anyOf" in component:
        account["anyOf"] = account.pop("allOf")


def extract_webhook_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"$schema": schema["$schema"], "definitions": {}}
    roots = []
    for name in WEBHOOK_DEFINITIONS:
        definition = _strip_docs(schema["definitions"][name])
        out["definitions"][name] = definition
        roots.append(definition)
    _close_over_refs(schema, out, roots)
    return out


def extract_examples(index: list[dict[str, Any]], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    uri = "urn:github-webhooks"
    registry = Registry().with_resource(uri, Resource.from_contents(schemas, default_specification=DRAFT7))
    by_event = {entry["name"]: entry["examples"] for entry in index}
    chosen = []
    for name in WEBHOOK_DEFINITIONS:
        event, action = name.split("$")
        candidates = [e for e in by_event.get(event, []) if e.get("action", "event") == action]
        if not candidates:
            continue  # e.g. pull_request edited: declared, but GitHub ships no example
        validator = Draft7Validator(
            {"$ref": f"{uri}#/definitions/{name}"},
            registry=registry,
            format_checker=Draft7Validator.FORMAT_CHECKER,
        )
        valid = [e for e in candidates if validator.is_valid(e)]
        chosen.append({"definition": name, "valid": bool(valid), "payload": (valid or candidates)[0]})
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("node_modules", type=Path, help="node_modules holding the three @octokit packages")
    parser.add_argument("out_dir", type=Path, help="where to write the extracted contract (tests/contract)")
    args = parser.parse_args(argv)
    octokit = args.node_modules / "@octokit"
    try:
        spec = json.loads((octokit / "openapi/generated/api.github.com.json").read_text())
        schema = json.loads((octokit / "webhooks-schemas/schema.json").read_text())
        index = json.loads((octokit / "webhooks-examples/api.github.com/index.json").read_text())
    except FileNotFoundError as missing:
        print(f"{missing.filename}: not found; install the npm packages first (see --help)", file=sys.stderr)
        return 2
    schemas = extract_webhook_schemas(schema)
    outputs = {
        "openapi.json": extract_openapi(spec),
        "webhook-schemas.json": schemas,
        "webhook-examples.json": extract_examples(index, schemas),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        target = args.out_dir / name
        target.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")
        print(f"{target}: {target.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
