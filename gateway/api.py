"""HTTP handlers: sessions, signalling, health, and the two pages."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from aiortc import RTCPeerConnection

from gateway.bodies import Offer, SessionCreate
from gateway.commands import MAX_COMMAND_BYTES, CommandIn, catalogue_info, parse_command
from gateway.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    SessionGone,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from gateway.ice import ice_servers_for, rtc_configuration
from gateway.openapi import Operation, document
from gateway.registry import RoomRegistry
from gateway.room import RoomFull
from gateway.signalling import answer_offer, validate_offer
from shared import tokens
from shared.connections import REDIS_DOWN
from shared.keys import valid_session_id
from shared.prometheus import CONTENT_TYPE_LATEST
from shared.settings import LOOPBACK_HOSTS, Settings
from shared.tokens import Claims, Role

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

settings_key = web.AppKey("settings", Settings)
registry_key = web.AppKey("registry", RoomRegistry)
# The OpenAPI document served at /api/openapi.json: the gateway's operations, and the
# clinic's when services.site mounts it.
openapi_key = web.AppKey("openapi", dict[str, Any])


def authenticate(request: web.Request, roles: tuple[Role, ...], sid: str | None = None) -> Claims:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthorized("A join token is required (Authorization: Bearer …).", code="missing_token")
    settings = request.app[settings_key]
    try:
        claims = tokens.verify(settings.secret, header[len("Bearer ") :].strip())
    except tokens.ExpiredToken:
        raise Unauthorized(
            "This link has expired. Ask your therapist for a new one.", code="token_expired"
        ) from None
    except tokens.InvalidToken:
        raise Unauthorized("This link is not valid.", code="invalid_token") from None
    if claims.role not in roles:
        raise Forbidden(f"A {claims.role} token cannot do this.", code="wrong_role")
    if sid is not None and claims.role != "clinic" and claims.sid != sid:
        raise Forbidden("This token belongs to another session.", code="wrong_session")
    return claims


async def read_json(request: web.Request, max_bytes: int) -> Any:
    if request.content_length is not None and request.content_length > max_bytes:
        raise TooLarge(f"The request body is larger than {max_bytes} bytes.")
    body = await request.content.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise TooLarge(f"The request body is larger than {max_bytes} bytes.")
    if not body:
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.", code="bad_json") from None


def join_links(settings: Settings, sid: str, base_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role in ("patient", "therapist"):
        token = tokens.issue(settings.secret, sid, role, settings.token_ttl_s)
        out[f"{role}_token"] = token
        # The token rides in the fragment, which browsers never send to the server.
        out[f"{role}_url"] = f"{base_url}/{role}#token={token}"
    return out


def is_own_address(name: str) -> bool:
    """An IP address of this machine (a LAN demo bound to 0.0.0.0, reached by its LAN
    address): only a local address can be bound to."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(name).version == 6 else socket.AF_INET
    except ValueError:
        return False
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((name, 0))
        except OSError:
            return False
    return True


def link_base(request: web.Request, settings: Settings) -> str:
    """Where join links point. Without TELEREHAB_PUBLIC_URL: where the caller reached this
    gateway, but only if that is this gateway's own address or a loopback name; a forged
    ``Host`` header (``evil.example``) must not put another site into patients' links."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    name = (request.url.host or "").strip("[]").lower()
    if name in LOOPBACK_HOSTS or name == settings.host.lower() or is_own_address(name):
        return f"{request.scheme}://{request.host}".rstrip("/")
    log.warning("join links: Host %r is not this gateway's address; using %s", name[:64], settings.base_url)
    return settings.base_url.rstrip("/")


async def create_session(request: web.Request) -> web.Response:
    authenticate(request, ("clinic",))
    settings = request.app[settings_key]
    body = await read_json(request, 4096)
    wrong_ttl = f"'ttl_s' must be an integer from 60 to {settings.token_ttl_s}."
    try:
        wanted = msgspec.convert(body, SessionCreate)
    except msgspec.ValidationError as exc:
        message = wrong_ttl if "ttl_s" in str(exc) else f"The request body does not fit: {exc}."
        raise BadRequest(message) from None
    ttl = settings.token_ttl_s if wanted.ttl_s is None else wanted.ttl_s
    if ttl > settings.token_ttl_s:
        raise BadRequest(wrong_ttl)
    info = await request.app[registry_key].store.create(ttl)
    log.info("session %s created", info.sid)
    links = join_links(settings, info.sid, link_base(request, settings))
    return web.json_response({"sid": info.sid, "expires": info.expires, **links}, status=201)


async def session_info(request: web.Request) -> web.Response:
    claims = authenticate(request, ("patient", "therapist"))
    settings = request.app[settings_key]
    room = await request.app[registry_key].room_for(claims.sid)
    expires = min(claims.exp, room.expires)
    servers = ice_servers_for(settings, f"{claims.sid}-{claims.role}", expires)
    return web.json_response(
        {
            "sid": claims.sid,
            "role": claims.role,
            "expires": expires,
            "ice_servers": [s.as_browser_dict() for s in servers],
        }
    )


async def offer(request: web.Request) -> web.Response:
    claims = authenticate(request, ("patient", "therapist"))
    settings = request.app[settings_key]
    sdp = validate_offer(await read_json(request, settings.max_sdp_bytes + 1024), settings.max_sdp_bytes)
    room = await request.app[registry_key].room_for(claims.sid)
    pc = RTCPeerConnection(rtc_configuration(settings))
    try:
        answer = await answer_offer(room, claims.role, pc, sdp)
    except RoomFull as exc:
        await pc.close()
        raise Forbidden(str(exc), code="room_full") from None
    except BaseException:
        await pc.close()
        raise
    return web.json_response({"sdp": answer.sdp, "type": answer.type})


async def end_session(request: web.Request) -> web.Response:
    sid = request.match_info["sid"]
    authenticate(request, ("therapist", "clinic"), sid=sid)
    if not valid_session_id(sid):
        raise NotFound("No such session.")
    registry = request.app[registry_key]
    if await registry.store.is_ended(sid):
        # Once only: a second end would hand the clinic an empty summary for it.
        raise SessionGone("This session has ended.")
    summary = await registry.end(sid)
    return web.json_response(
        {"ended": True, "summary": None if summary is None else msgspec.to_builtins(summary)}
    )


async def session_presence(request: web.Request) -> web.Response:
    """Who is in a room (the patient connected, how many therapists) and the analyzer's
    last word on the patient's picture: the dashboard's waiting room."""
    sid = request.match_info["sid"]
    authenticate(request, ("therapist", "clinic"), sid=sid)
    if not valid_session_id(sid):
        raise NotFound("No such session.")
    room = request.app[registry_key].rooms.get(sid)
    if room is None or room.closed:
        return web.json_response({"patient": False, "therapists": 0, "camera": None})
    return web.json_response(room.presence())


async def send_command(request: web.Request) -> web.Response:
    """A therapist (or a patient practising alone) tells the session's analyzer what to
    do next; the analyzer echoes the result in the feedback both pages receive."""
    sid = request.match_info["sid"]
    authenticate(request, ("therapist", "patient"), sid=sid)
    if not valid_session_id(sid):
        raise NotFound("No such session.")
    command = parse_command(sid, await read_json(request, MAX_COMMAND_BYTES))
    registry = request.app[registry_key]
    stream_id = await registry.commands.add(command)
    if stream_id is None:
        if await registry.store.is_ended(sid):
            raise SessionGone("This session has ended.")
        raise NotFound("No such session, or it has expired.")
    log.info("session %s: command %s", sid, command.command)
    return web.json_response({"id": stream_id}, status=202)


async def session_summary(request: web.Request) -> web.Response:
    """What the analyzer has counted so far in an open session (no frames, only figures);
    a patient practising at home saves it to the clinic when they finish."""
    sid = request.match_info["sid"]
    authenticate(request, ("therapist", "patient"), sid=sid)
    if not valid_session_id(sid):
        raise NotFound("No such session.")
    registry = request.app[registry_key]
    if await registry.store.get(sid) is None:
        if await registry.store.is_ended(sid):
            raise SessionGone("This session has ended.")
        raise NotFound("No such session, or it has expired.")
    summary = await registry.store.summary(sid)
    return web.json_response({"summary": None if summary is None else msgspec.to_builtins(summary)})


async def exercises(request: web.Request) -> web.Response:
    """The exercise catalogue, for the pages' exercise cards and the therapist's picker."""
    authenticate(request, ("patient", "therapist", "clinic"))
    return web.json_response({"exercises": catalogue_info()})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[registry_key].store.ping()
    except REDIS_DOWN as exc:
        raise Unavailable(f"Redis is not reachable: {type(exc).__name__}", code="redis_unavailable") from None
    return web.json_response({"ok": True, "rooms": len(request.app[registry_key].rooms)})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[registry_key]
    body = registry.metrics.render(list(registry.rooms.values()))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def patient_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "patient.html")


async def therapist_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "therapist.html")


async def dashboard_page(request: web.Request) -> web.FileResponse:
    """The therapist's clinic dashboard (data from /clinic/api with their sign-in token)."""
    return web.FileResponse(STATIC / "dashboard.html")


async def home_page(request: web.Request) -> web.FileResponse:
    """The patient's plan for today; also where the clinic's magic links land."""
    return web.FileResponse(STATIC / "home.html")


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[openapi_key])


CLINIC = ("clinic",)
IN_SESSION = ("patient", "therapist")
# The JSON API: registered and described (gateway.openapi) from this one table.
API: list[Operation] = [
    Operation("GET", "/api/openapi.json", openapi_json, "This document", None),
    Operation(
        "POST",
        "/api/sessions",
        create_session,
        "Open a session: its join links",
        CLINIC,
        SessionCreate,
        201,
        body_required=False,
    ),
    Operation(
        "GET", "/api/session", session_info, "The session a join token is for, and ICE servers", IN_SESSION
    ),
    Operation("POST", "/api/offer", offer, "Join the room: SDP offer in, answer out", IN_SESSION, Offer),
    Operation("POST", "/api/sessions/{sid}/end", end_session, "End a session", ("therapist", "clinic")),
    Operation(
        "GET",
        "/api/sessions/{sid}/presence",
        session_presence,
        "Who is in the room, and whether the patient's camera and light are good",
        ("therapist", "clinic"),
    ),
    Operation(
        "POST",
        "/api/sessions/{sid}/commands",
        send_command,
        "Tell the analyzer what to do",
        IN_SESSION,
        CommandIn,
        202,
    ),
    Operation("GET", "/api/sessions/{sid}/summary", session_summary, "What was counted so far", IN_SESSION),
    Operation("GET", "/api/exercises", exercises, "The exercise catalogue", (*IN_SESSION, "clinic")),
    Operation("GET", "/healthz", healthz, "The gateway is up", None),
    Operation("GET", "/readyz", readyz, "The gateway and Redis answer", None),
    Operation("GET", "/metrics", metrics, "Prometheus metrics", None, produces="text/plain"),
]


def add_routes(app: web.Application) -> None:
    for op in API:
        app.router.add_route(op.method, op.path, op.handler)
    app[openapi_key] = document(API)
    app.router.add_get("/patient", patient_page)
    app.router.add_get("/therapist", therapist_page)
    # The clinic's pages; its JSON API is the sub-application mounted at /clinic, and these
    # exact paths resolve before that prefix does.
    app.router.add_get("/clinic/dashboard", dashboard_page)
    app.router.add_get("/clinic/today", home_page)
    app.router.add_get("/clinic/magic", home_page)
    app.router.add_static("/static", STATIC)
