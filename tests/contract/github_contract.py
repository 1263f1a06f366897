"""Holding the emulator to GitHub's published contract (the slices in this folder, made by
scripts/extract_github_contract.py from @octokit/openapi and @octokit/webhooks-schemas)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

HERE = Path(__file__).parent
OPENAPI_URI = "urn:github-openapi"
WEBHOOKS_URI = "urn:github-webhooks"


@cache
def openapi() -> dict[str, Any]:
    return json.loads((HERE / "openapi.json").read_text())


@cache
def webhook_schemas() -> dict[str, Any]:
    return json.loads((HERE / "webhook-schemas.json").read_text())


@cache
def webhook_examples() -> list[dict[str, Any]]:
    return json.loads((HERE / "webhook-examples.json").read_text())


@cache
def _openapi_registry() -> Registry:
    return Registry().with_resource(
        OPENAPI_URI, Resource.from_contents(openapi(), default_specification=DRAFT4)
    )


@cache
def _webhook_registry() -> Registry:
    resource = Resource.from_contents(webhook_schemas(), default_specification=DRAFT7)
    return Registry().with_resource(WEBHOOKS_URI, resource)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = openapi()
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def response_schema(route: str, status: int) -> dict[str, Any] | None:
    """The JSON schema GitHub documents for `route` ("GET /repos/...") answering `status`.

    Raises KeyError when the operation or status is not in the contract: the emulator must not
    answer with something GitHub never would.
    """
    method, path = route.split(" ", 1)
    operation = openapi()["paths"][path][method.lower()]
    responses = operation["responses"]
    if str(status) not in responses:
        raise KeyError(f"{route} does not document status {status} (documents {sorted(responses)})")
    response = _resolve(responses[str(status)])
    content = response.get("content", {}).get("application/json")
    return content["schema"] if content else None


def response_errors(route: str, status: int, body: Any) -> list[str]:
    # Error bodies (4xx/5xx) that GitHub does not document per operation are basic-error shaped.
    try:
        schema = response_schema(route, status)
    except KeyError as missing:
        if status >= 400:
            schema = {"$ref": f"{OPENAPI_URI}#/components/schemas/basic-error"}
        else:
            return [str(missing)]
    if schema is None and status >= 400 and body not in (None, ""):
        # The description leaves some errors without content (e.g. the 422 of requesting reviewers), but
        # GitHub answers them with a basic error all the same: the 422 "Reviews may only be requested from
        # collaborators…" is quoted verbatim, with its documentation_url, in
        # github.com/Dolibarr/dolibarr/pull/32024 and peter-evans/create-pull-request#4138.
        schema = {"$ref": f"{OPENAPI_URI}#/components/schemas/basic-error"}
    if schema is None:
        return [] if body in (None, "") else [f"{route} {status}: body sent where GitHub sends none"]
    wrapped = _rebase(schema)
    validator = OAS30Validator(
        wrapped, registry=_openapi_registry(), format_checker=OAS30Validator.FORMAT_CHECKER
    )
    return [
        f"{route} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(body)
    ]


def _rebase(schema: Any) -> Any:
    """Point local `#/components/...` refs of an inline schema at the registered spec."""
    if isinstance(schema, dict):
        return {
            k: (OPENAPI_URI + v if k == "$ref" and v.startswith("#/") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def webhook_errors(event: str, payload: dict[str, Any]) -> list[str]:
    name = f"{event}${payload.get('action', 'event')}"
    if name not in webhook_schemas()["definitions"]:
        return [f"{name}: not an event the contract slice covers (add it to the extractor)"]
    validator = Draft7Validator(
        {"$ref": f"{WEBHOOKS_URI}#/definitions/{name}"},
        registry=_webhook_registry(),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    return [
        f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(payload)
    ]
