"""The gateway's JSON API as an OpenAPI 3.1 document, made from the table that registers
its routes (``gateway.api.API``), so the two cannot drift apart. ``services.site`` serves
it at ``/api/openapi.json`` together with the clinic's operations (one document for the
whole site); the fuzz test (``tests/test_api_fuzz.py``) drives both with Schemathesis."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from shared.http_errors import ERROR_SCHEMA

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: tuple[str, ...] | None  # bearer-token roles; None: no token
    body: type | None = None
    status: int = 200
    body_required: bool = True
    produces: str = "application/json"


def document(operations: Sequence[Operation], extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document for ``operations``, plus ``extra_paths`` (already described, e.g. the
    clinic's, with their components merged by ``merge``)."""
    bodies = [op.body for op in operations if op.body is not None]
    schemas, components = msgspec.json.schema_components(bodies, ref_template="#/components/schemas/{name}")
    body_schema = dict(zip([id(b) for b in bodies], schemas, strict=True))
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        success: dict[str, Any] = {"description": "OK"}
        if op.produces != "application/json":
            success["content"] = {op.produces: {"schema": {"type": "string"}}}
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": "gateway_" + op.handler.__name__,
            "tags": ["live session"],
            "x-roles": list(op.roles or ()),
            "responses": {
                str(op.status): success,
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if op.roles is not None:
            entry["security"] = [{"bearer": []}]
        params = [
            {"name": n, "in": "path", "required": True, "schema": SESSION_ID}
            for n in re.findall(r"{(\w+)}", op.path)
        ]
        if params:
            entry["parameters"] = params
        if op.body is not None:
            entry["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": body_schema[id(op.body)]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "telerehab API",
            "version": "1",
            "description": "The live-session gateway (join tokens from the clinic: Authorization: Bearer "
            '<token>) and, under /clinic, the clinic. Errors are {"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return doc


def merge(site: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``site`` with ``other``'s paths and component schemas added (names must not clash)."""
    clash = set(site["components"]["schemas"]) & set(other["components"]["schemas"]) - {"Error"}
    if clash:
        raise ValueError(f"OpenAPI component names used twice: {sorted(clash)}")
    out = {**site, "paths": {**site["paths"], **other["paths"]}}
    out["components"] = {
        **site["components"],
        "schemas": {**other["components"]["schemas"], **site["components"]["schemas"]},
    }
    return out


MATRIX_ROLES = ("patient", "therapist", "admin", "clinic")


def access_matrix(doc: dict[str, Any]) -> str:
    """The role × operation table of a document (markdown, for the README): who may call
    what. Gateway operations take a session's join token (its role: patient or
    therapist) or the clinic's service token; clinic operations a signed-in person's."""
    lines = [
        "| operation | token | anyone | patient | therapist | admin | clinic service |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted(doc["paths"]):
        for method, op in sorted(doc["paths"][path].items()):
            roles = set(op.get("x-roles", []))
            token = _token_kind(path, roles)
            cells = ["✓" if not roles else ""] + ["✓" if r in roles else "" for r in MATRIX_ROLES]
            lines.append(f"| `{method.upper()} {path}` | {token} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _token_kind(path: str, roles: set[str]) -> str:
    if not roles:
        return "—"
    if path.startswith("/clinic/"):
        return "sign-in"
    if roles == {"clinic"}:
        return "service"
    return "join or service" if "clinic" in roles else "join"
