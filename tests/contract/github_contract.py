"""Holding the emulator and the bot to GitHub's published contract (the slices in this folder, made by
scripts/extract_github_contract.py from @octokit/openapi and @octokit/webhooks-schemas, and by
scripts/extract_github_graphql_schema.py from @octokit/graphql-schema)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema, parse, print_ast, validate
from graphql.execution.values import get_variable_values
from graphql.language import DocumentNode, OperationDefinitionNode
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


# --- GraphQL: every document the bot sends, against GitHub's schema -------------------------------

GRAPHQL_SCHEMA = HERE / "schema.graphql"  # scripts/extract_github_graphql_schema.py


@cache
def graphql_schema() -> GraphQLSchema:
    """GitHub's schema (@octokit/graphql-schema), built once per process (about a second). Taken as
    valid: it is GitHub's, and checking it is not our test (nor free)."""
    return build_schema(GRAPHQL_SCHEMA.read_text(), assume_valid_sdl=True, assume_valid=True)


# graphql-core's wording → GitHub's (graphql-ruby), so an invalid document reads as it would on GitHub:
# e.g. "Field 'nope' doesn't exist on type 'Repository'" with extensions.code "undefinedField", as the
# answers recorded in cli/cli's and octokit's tests show.
_GITHUB_WORDING: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"Cannot query field '(?P<f>\w+)' on type '(?P<t>\w+)'\..*", re.S),
        "Field '{f}' doesn't exist on type '{t}'",
        "undefinedField",
    ),
    (
        re.compile(r"Unknown argument '(?P<a>\w+)' on field '\w+\.(?P<f>\w+)'\..*", re.S),
        "Field '{f}' doesn't accept argument '{a}'",
        "argumentNotAccepted",
    ),
    (
        re.compile(
            r"Field '(?P<f>\w+)' argument '(?P<a>\w+)' of type '.*' is required, but it was not provided\."
        ),
        "Field '{f}' is missing required arguments: {a}",
        "missingRequiredArguments",
    ),
    (
        re.compile(r"Variable '\$(?P<v>\w+)' is never used(?: in operation '(?P<o>\w+)')?\."),
        "Variable ${v} is declared by {op} but not used",
        "variableNotUsed",
    ),
    (
        # graphql-ruby says this for a missing and for a mistyped value alike (extensions.problems say why).
        re.compile(r"Variable '\$(?P<v>\w+)' (?:of required type|got invalid value).*", re.S),
        "Variable ${v} of type {type} was provided invalid value",
        "variableMismatch",
    ),
    (
        re.compile(r"Variable '\$(?P<v>\w+)' is not defined.*", re.S),
        "Variable ${v} is used by {op} but not declared",
        "variableNotDefined",
    ),
)


def _github_error(error: GraphQLError, types: Mapping[str, str]) -> dict[str, Any]:
    message, code = error.message, None
    for pattern, wording, name in _GITHUB_WORDING:
        found = pattern.fullmatch(message)
        if found:
            names = {k: v for k, v in found.groupdict().items() if v is not None}
            operation = f"operation {names['o']}" if "o" in names else "anonymous query"
            kind = types.get(names.get("v", ""), "?")
            message, code = wording.format(op=operation, type=kind, **names), name
            if name == "variableMismatch":
                message += f" ({error.message})"  # what graphql-ruby puts in extensions.problems
            break
    out: dict[str, Any] = {"message": message}
    if error.locations:
        out["locations"] = [{"line": at.line, "column": at.column} for at in error.locations]
    if code is not None:
        out["extensions"] = {"code": code}
    return out


def graphql_errors(query: str, variables: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """What GitHub would answer (in `errors`, with HTTP 200 and no data) for a document that does not
    validate against its schema, or for variables its operation cannot accept; [] when it is valid.
    Handed to the emulator (`GitHubEmulator.graphql_validator`) for the whole test suite."""
    document, problems, types = _checked(query)
    if problems or document is None:
        return [dict(p) for p in problems]
    out: list[dict[str, Any]] = []
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode):
            definitions = operation.variable_definitions or ()
            coerced = get_variable_values(graphql_schema(), definitions, dict(variables or {}))
            if isinstance(coerced, list):
                out += [_github_error(e, types) for e in coerced]
    return out


@lru_cache(maxsize=1024)
def _checked(query: str) -> tuple[DocumentNode | None, tuple[dict[str, Any], ...], dict[str, str]]:
    """The parsed document, its validation errors and its variables' types, once per distinct text: the
    bot sends the same few documents again and again (validating the facts query costs ~10 ms)."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (_github_error(error, {}),), {}
    types = {
        d.variable.name.value: print_ast(d.type)
        for o in document.definitions
        if isinstance(o, OperationDefinitionNode)
        for d in o.variable_definitions or ()
    }
    return document, tuple(_github_error(e, types) for e in validate(graphql_schema(), document)), types
