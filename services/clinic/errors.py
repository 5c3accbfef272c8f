"""Clinic errors. They are the gateway's (``gateway.errors``): every one becomes
``{"error": {"code": ..., "message": ...}}`` with a human sentence."""

from __future__ import annotations

import logging

from gateway.errors import GatewayError, json_errors

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


# Everything under /clinic answers JSON, unknown routes and crashes included.
clinic_errors = json_errors("/clinic")
