"""Vendor GitHub's GraphQL schema (npm `@octokit/graphql-schema`) for the tests, without its prose.

Every GraphQL document approvalbot sends is validated against this schema in the tests (the emulator's
`/graphql` refuses an invalid one as GitHub does; see tests/contract/github_contract.py). Regenerate:

    mkdir -p /tmp/gh-b && cd /tmp/gh-b && npm init -y && npm install --no-audit --no-fund \\
        @octokit/graphql-schema
    python scripts/extract_github_graphql_schema.py /tmp/gh-b/node_modules tests/contract

Output: OUT_DIR/schema.graphql, the whole schema (every type, field, argument, enum value and
directive, so a field we start using tomorrow is checked too) with the descriptions dropped: they do not
constrain documents and are two thirds of the 1.2 MB. The source is the package's `schema.json`
(introspection), which is what the package's own `validate()` builds its schema from; its
`schema.graphql` defines two fields of `EnterpriseOwnerInfo` twice and is rejected by graphql-core.
The first line names the package version it was made from.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

from graphql import build_client_schema, parse, print_ast, print_schema
from graphql.language import Node, Visitor, visit

PACKAGE = "@octokit/graphql-schema"


class _DropDescriptions(Visitor):
    def enter(self, node: Node, *_: Any) -> Node | None:
        if getattr(node, "description", None) is not None:
            trimmed = copy.copy(node)  # a visitor returns a new node instead of editing the tree
            trimmed.description = None  # type: ignore[attr-defined]
            return trimmed
        return None


def trimmed_sdl(node_modules: Path) -> str:
    package = node_modules / PACKAGE
    version = json.loads((package / "package.json").read_text())["version"]
    introspection = json.loads((package / "schema.json").read_text())
    schema = build_client_schema(introspection.get("data", introspection))
    document = visit(parse(print_schema(schema), no_location=True), _DropDescriptions())
    return f"# {PACKAGE} {version}, descriptions dropped (scripts/extract_github_graphql_schema.py)\n" + (
        print_ast(document) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("node_modules", type=Path, help=f"a node_modules folder holding {PACKAGE}")
    parser.add_argument("out_dir", type=Path, help="where schema.graphql goes (tests/contract)")
    args = parser.parse_args()
    out = args.out_dir / "schema.graphql"
    out.write_text(trimmed_sdl(args.node_modules))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
