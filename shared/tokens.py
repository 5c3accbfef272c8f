"""Short-lived join tokens, signed with HMAC-SHA256 and scoped to a session and role.

Format: ``base64url(json payload) "." base64url(mac)``. Compact enough for a link in an
SMS; no account is needed for the patient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal

Role = Literal["patient", "therapist", "clinic"]
ROLES: tuple[Role, ...] = ("patient", "therapist", "clinic")
CLINIC_SCOPE = "*"  # a clinic (service) token is not bound to one session


class TokenError(Exception):
    """Base: the token cannot be used."""


class InvalidToken(TokenError):
    pass


class ExpiredToken(TokenError):
    pass


@dataclass(frozen=True, slots=True)
class Claims:
    sid: str
    role: Role
    exp: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def issue(secret: str, sid: str, role: Role, ttl_s: int, now: float | None = None) -> str:
    if not secret:
        raise ValueError("a signing secret is required")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    exp = int((time.time() if now is None else now) + ttl_s)
    payload = _b64(json.dumps({"sid": sid, "role": role, "exp": exp}, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str, now: float | None = None) -> Claims:
    """Return the claims, or raise InvalidToken / ExpiredToken. Checks the MAC first."""
    if not token or len(token) > 2048 or token.count(".") != 1:
        raise InvalidToken("malformed token")
    payload, mac = token.split(".")
    if not hmac.compare_digest(_mac(secret, payload), mac):
        raise InvalidToken("token signature does not match")
    try:
        data = json.loads(_unb64(payload))
        claims = Claims(sid=str(data["sid"]), role=data["role"], exp=int(data["exp"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed token payload") from None
    if claims.role not in ROLES:
        raise InvalidToken("unknown role in token")
    if claims.exp <= (time.time() if now is None else now):
        raise ExpiredToken("token has expired")
    return claims
