"""HTTP errors both the gateway and the clinic raise, and the middleware that turns every
one into ``{"error": {"code": ..., "message": ...}}`` with a human sentence. Here, not in
either service: each imports it, neither imports the other."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

log = logging.getLogger(__name__)


class HttpError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class BadRequest(HttpError):
    pass


class TooLarge(HttpError):
    status = 413
    code = "too_large"


class Unauthorized(HttpError):
    status = 401
    code = "unauthorized"


class Forbidden(HttpError):
    status = 403
    code = "forbidden"


class NotFound(HttpError):
    status = 404
    code = "not_found"


class Conflict(HttpError):
    status = 409
    code = "conflict"


# The JSON schema of that body, for both services' OpenAPI documents.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_errors(api_prefix: str) -> Middleware:
    """A middleware under which every error on a path below ``api_prefix`` answers JSON
    with a code and a sentence (unknown routes and crashes included); other paths (the
    pages) keep aiohttp's own answers."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except HttpError as exc:
            log.info("%s %s -> %d %s", request.method, request.path, exc.status, exc.code)
            return error_response(exc.status, exc.code, exc.message)
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "too_large", "The request body is too large.")
        except web.HTTPException as exc:
            if exc.status >= 400 and request.path.startswith(api_prefix):
                return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason + ".")
            raise
        except Exception:
            if not request.path.startswith(api_prefix):
                raise
            # The traceback may name a table or a key, never a value or a token.
            log.exception("%s %s -> 500", request.method, request.path)
            return error_response(500, "internal", "Something went wrong on our side.")

    return middleware
