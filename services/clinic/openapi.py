"""The OpenAPI 3.1 document, generated from the same route table that registers the
routes (``services.clinic.app.ROUTES``), with request schemas from the msgspec types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from services.clinic.context import Route
from shared.http_errors import ERROR_SCHEMA

# Path parameters are record ids, except these.
PATH_SCHEMAS: dict[str, dict[str, object]] = {"key": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}}


def document(routes: Sequence[Route], prefix: str = "/clinic") -> dict[str, Any]:
    bodies = [r.body for r in routes if r.body is not None]
    schemas, components = msgspec.json.schema_components(bodies, ref_template="#/components/schemas/{name}")
    body_schema = dict(zip([id(b) for b in bodies], schemas, strict=True))
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": r.handler.__module__.rsplit(".", 1)[-1] + "_" + r.handler.__name__,
            "tags": [r.tag],
            "x-roles": list(r.roles) if r.roles is not None else [],
            "responses": {
                "201" if r.created else "200": {
                    "description": "OK",
                    "content": {
                        r.produces: {"schema": {"type": "string", "format": "binary"}}
                        if r.produces != "application/json"
                        else {}
                    },
                },
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if r.roles is not None:
            op["security"] = [{"bearer": []}]
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": PATH_SCHEMAS.get(name, {"type": "integer"}),
            }
            for name in re.findall(r"{(\w+)}", r.path)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in r.query
        ]
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema[id(r.body)]}},
            }
        paths.setdefault(prefix + r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "telerehab clinic API",
            "version": "1",
            "description": "Patients, programmes, sessions, progress, questionnaires, referral flags and "
            "reports. Sign in, then send Authorization: Bearer <token>. Errors are "
            '{"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
