"""Clinic errors. They are the gateway's (``gateway.errors``): every one becomes
``{"error": {"code": ..., "message": ...}}`` with a human sentence."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.errors import GatewayError, Handler, error_response

log = logging.getLogger(__name__)


class ClinicError(GatewayError):
    pass


class BadRequest(ClinicError):
    pass


class Invalid(ClinicError):
    """The body is JSON but not what this endpoint takes (wrong type, missing field…)."""

    status = 422
    code = "invalid"


class TooLarge(ClinicError):
    status = 413
    code = "too_large"


class Unauthorized(ClinicError):
    status = 401
    code = "unauthorized"


class Forbidden(ClinicError):
    status = 403
    code = "forbidden"


class NotFound(ClinicError):
    status = 404
    code = "not_found"


class Conflict(ClinicError):
    status = 409
    code = "conflict"


class TooManyAttempts(ClinicError):
    status = 429
    code = "too_many_attempts"


class GatewayUnavailable(ClinicError):
    status = 502
    code = "gateway_unavailable"


@web.middleware
async def clinic_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Everything under ``/clinic`` answers JSON, unknown routes and crashes included."""
    try:
        return await handler(request)
    except GatewayError as exc:
        log.info("%s %s -> %d %s", request.method, request.path, exc.status, exc.code)
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "The request body is too large.")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason + ".")
    except Exception:
        # The traceback may name a table, never a value (the engine hides SQL parameters).
        log.exception("%s %s -> 500", request.method, request.path)
        return error_response(500, "internal", "Something went wrong on our side.")
