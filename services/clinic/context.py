"""What a clinic handler gets (``Ctx``: the signed-in user, one database transaction,
the body decoder, the access check) and the route table entry that registers it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, TypeVar

import aiohttp
import msgspec
from aiohttp import web
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clinic.audit import record
from services.clinic.errors import BadRequest, Forbidden, Invalid, NotFound, TooLarge, Unauthorized
from services.clinic.mailer import Mailer
from services.clinic.models import User
from services.clinic.throttle import SignInGate
from shared.settings import Settings

# The dates a clinic's records can sensibly carry (births and onsets to plans ahead).
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2200, 12, 31)

Role = Literal["admin", "therapist", "patient"]
T = TypeVar("T")

CLINICAL: tuple[Role, ...] = ("therapist", "patient")
THERAPIST: tuple[Role, ...] = ("therapist",)


@dataclass
class Services:
    """The clinic's long-lived parts, made in the app's cleanup context."""

    settings: Settings
    mailer: Mailer
    http: aiohttp.ClientSession
    hasher: PasswordHasher
    sessions: async_sessionmaker[AsyncSession]  # for writes that must outlive a rolled-back request
    sign_ins: SignInGate = field(default_factory=SignInGate)  # throttles password checks


@dataclass(frozen=True)
class Route:
    """One endpoint: registers the route and describes it in the OpenAPI document."""

    method: str
    path: str  # relative to the clinic app (mounted at /clinic)
    handler: Callable[[Ctx], Awaitable[web.StreamResponse]]
    summary: str
    roles: tuple[Role, ...] | None  # None: no sign-in needed
    tag: str
    body: Any = None  # the msgspec type of the JSON body
    query: tuple[str, ...] = ()
    produces: str = "application/json"
    created: bool = False  # answers 201


@dataclass
class Ctx:
    request: web.Request
    db: AsyncSession
    services: Services
    route: Route
    user: User | None = None
    audited: list[tuple[str, str, int | None]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def actor(self) -> User:
        if self.user is None:  # routes with roles never get here without a user
            raise Unauthorized("Sign in first.", code="missing_token")
        return self.user

    async def body(self, kind: type[T]) -> T:
        """The JSON body decoded into ``kind``; 413 over the size cap, 400 for bad JSON,
        422 for the wrong shape (with the path of the offending field)."""
        limit = self.settings.clinic_max_body_bytes
        request = self.request
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge(f"The request body is larger than {limit} bytes.")
        raw = await request.content.read(limit + 1)
        if len(raw) > limit:
            raise TooLarge(f"The request body is larger than {limit} bytes.")
        if b"\\u0000" in raw:  # PostgreSQL text cannot hold NUL; no field needs one
            raise BadRequest("Text may not contain NUL characters.", code="bad_text")
        try:
            return msgspec.json.decode(raw or b"null", type=kind, strict=True)
        except msgspec.ValidationError as exc:
            raise Invalid(f"The request body does not fit: {exc}.") from None
        except msgspec.DecodeError:
            raise BadRequest("The request body is not valid JSON.", code="bad_json") from None

    def id_param(self, name: str) -> int:
        raw = self.request.match_info[name]
        if not valid_id(raw):
            raise NotFound("No such patient." if name == "pid" else "No such record.")
        return int(raw)

    def date_query(self, name: str) -> date | None:
        raw = self.request.query.get(name)
        if raw is None:
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise BadRequest(f"'{name}' must be a date like 2026-01-31.") from None
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            # Day arithmetic near year 1 or 9999 would overflow (it was a 500).
            raise BadRequest(f"'{name}' must be between {EARLIEST_DATE} and {LATEST_DATE}.")
        return day

    async def patient(self, patient_id: int) -> User:
        """The patient this caller may see: themself (a patient), or one of their own
        patients (a therapist). Another patient's records are 403; a patient who is not
        yours, or who does not exist, is 404 (so ids do not reveal who exists)."""
        actor = self.actor
        if actor.role == "patient":
            if actor.id != patient_id:
                raise Forbidden("You can only see your own records.")
            return actor
        if actor.role != "therapist":
            raise Forbidden("Only a patient's own therapist can see their records.")
        patient = await self.db.get(User, patient_id)
        if patient is None or patient.role != "patient" or patient.therapist_id != actor.id:
            raise NotFound("No such patient.")
        return patient

    @property
    def actor_ids(self) -> tuple[int, str] | None:
        """(id, role) of the signed-in user, for audit entries."""
        return (self.user.id, self.user.role) if self.user is not None else None

    def audit(
        self, action: str, resource: str, patient_id: int | None, resource_id: int | None = None
    ) -> None:
        """Add an audit entry in this request's transaction (so it lands with the change)."""
        actor = (self.user.id, self.user.role) if self.user is not None else None
        record(self.db, actor, action, resource, patient_id, resource_id)
        self.audited.append((action, resource, patient_id))


MAX_ID = 2**31 - 1  # ids are 32-bit integers on every backend


def valid_id(raw: str | None) -> bool:
    return raw is not None and raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_ID


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), status=status, content_type="application/json")
