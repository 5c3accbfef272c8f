"""Gateway errors: every one becomes a JSON body with a code and a human sentence
(``shared.http_errors``, shared with the clinic)."""

from __future__ import annotations

from shared.http_errors import (
    BadRequest,
    Forbidden,
    HttpError,
    NotFound,
    TooLarge,
    Unauthorized,
    error_response,
    json_errors,
)

__all__ = [
    "BadRequest",
    "BadSdp",
    "Forbidden",
    "GatewayError",
    "NotFound",
    "SessionGone",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "error_response",
    "json_errors",
]


class GatewayError(HttpError):
    """An error only the gateway raises."""


class BadSdp(GatewayError):
    code = "bad_sdp"


class SessionGone(GatewayError):
    status = 410
    code = "session_ended"


class Unavailable(GatewayError):
    status = 503
    code = "unavailable"
