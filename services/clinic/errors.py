"""Clinic errors: the common HTTP ones (``shared.http_errors``, shared with the gateway)
and the clinic's own. Every one becomes ``{"error": {"code": ..., "message": ...}}``
with a human sentence."""

from __future__ import annotations

from shared.http_errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HttpError,
    NotFound,
    TooLarge,
    Unauthorized,
    json_errors,
)

__all__ = [
    "BadRequest",
    "ClinicError",
    "Conflict",
    "Forbidden",
    "GatewayUnavailable",
    "HttpError",
    "Invalid",
    "NotFound",
    "TooLarge",
    "TooManyAttempts",
    "Unauthorized",
    "clinic_errors",
]


class ClinicError(HttpError):
    """An error only the clinic raises."""


class Invalid(ClinicError):
    """The body is JSON but not what this endpoint takes (wrong type, missing field…)."""

    status = 422
    code = "invalid"


class TooManyAttempts(ClinicError):
    status = 429
    code = "too_many_attempts"


class GatewayUnavailable(ClinicError):
    status = 502
    code = "gateway_unavailable"


# Everything under /clinic answers JSON, unknown routes and crashes included.
clinic_errors = json_errors("/clinic")
