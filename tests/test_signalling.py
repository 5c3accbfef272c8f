"""What the gateway says to bad requests: clear JSON errors, nothing half-done."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from aiortc import RTCConfiguration, RTCPeerConnection

from gateway.app import create_app
from shared import tokens
from shared.keys import Keys
from shared.settings import Settings
from shared.slow_clients import server_limits
from tests.conftest import Gateway


async def _post(gw: Gateway, path: str, token: str | None, **kw: object) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with gw.http.post(f"{gw.url}{path}", headers=headers, **kw) as response:  # type: ignore[arg-type]
        return response.status, await response.json()


async def test_creating_a_session_needs_a_clinic_token(gateway: Gateway) -> None:
    session = await gateway.create_session()
    assert session["patient_url"].startswith(f"{gateway.settings.base_url}/patient#token=")
    status, body = await _post(gateway, "/api/sessions", session["patient_token"])
    assert (status, body["error"]["code"]) == (403, "wrong_role")  # type: ignore[index]
    status, body = await _post(gateway, "/api/sessions", None)
    assert (status, body["error"]["code"]) == (401, "missing_token")  # type: ignore[index]


async def test_malformed_sdp_is_a_400_with_a_reason(gateway: Gateway) -> None:
    token = (await gateway.create_session())["patient_token"]
    cases = [
        ({"type": "answer", "sdp": "v=0\r\n"}, "Only SDP offers"),
        ({"type": "offer"}, "no SDP"),
        ({"type": "offer", "sdp": "hello"}, "start with 'v=0'"),
        ({"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}, "no media sections"),
        (
            {"type": "offer", "sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=\x07\r\n"},
            "control characters",
        ),
        ({"type": "offer", "sdp": "v=0\r\nm=video nine UDP/TLS/RTP/SAVPF 96\r\n"}, "could not be parsed"),
        (["not", "an", "object"], "JSON object"),
    ]
    for body, reason in cases:
        status, reply = await _post(gateway, "/api/offer", token, json=body)
        assert status == 400, (body, reply)
        assert reply["error"]["code"] == "bad_sdp"  # type: ignore[index]
        assert reason in reply["error"]["message"]  # type: ignore[index]
    status, reply = await _post(gateway, "/api/offer", token, data=b"{not json")
    assert (status, reply["error"]["code"]) == (400, "bad_json")  # type: ignore[index]


async def test_oversized_sdp_is_refused_before_parsing(gateway: Gateway) -> None:
    token = (await gateway.create_session())["patient_token"]
    huge = "v=0\r\n" + "a=x\r\n" * 20_000
    status, reply = await _post(gateway, "/api/offer", token, json={"type": "offer", "sdp": huge})
    assert status == 413
    assert reply["error"]["code"] == "too_large"  # type: ignore[index]


async def test_bad_tokens_are_401_and_wrong_scope_403(gateway: Gateway) -> None:
    session = await gateway.create_session()
    secret = gateway.settings.secret
    expired = tokens.issue(secret, session["sid"], "patient", ttl_s=-1)
    forged = tokens.issue("not-the-secret", session["sid"], "patient", ttl_s=60)
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    for token, code in ((expired, "token_expired"), (forged, "invalid_token"), ("garbage", "invalid_token")):
        status, reply = await _post(gateway, "/api/offer", token, json=offer)
        assert (status, reply["error"]["code"]) == (401, code)  # type: ignore[index]
    # A patient may not end the session; a therapist of another session may not either.
    status, reply = await _post(gateway, f"/api/sessions/{session['sid']}/end", session["patient_token"])
    assert (status, reply["error"]["code"]) == (403, "wrong_role")  # type: ignore[index]
    other = await gateway.create_session()
    status, reply = await _post(gateway, f"/api/sessions/{session['sid']}/end", other["therapist_token"])
    assert (status, reply["error"]["code"]) == (403, "wrong_session")  # type: ignore[index]


async def test_unknown_and_ended_sessions(gateway: Gateway, redis: aioredis.Redis, keys: Keys) -> None:
    unknown = tokens.issue(gateway.settings.secret, "nosuchsession1", "patient", ttl_s=60)
    async with gateway.http.get(
        f"{gateway.url}/api/session", headers={"Authorization": f"Bearer {unknown}"}
    ) as r:
        assert r.status == 404
    session = await gateway.create_session()
    auth = {"Authorization": f"Bearer {session['therapist_token']}"}
    async with gateway.http.get(f"{gateway.url}/api/session", headers=auth) as r:
        info = await r.json()
        assert r.status == 200 and info["role"] == "therapist" and info["ice_servers"] == []
    status, _ = await _post(gateway, "/api/sessions/not}a{sid/end", gateway.clinic_token())
    assert status == 404
    status, _ = await _post(gateway, f"/api/sessions/{session['sid']}/end", session["therapist_token"])
    assert status == 200
    assert not await redis.exists(keys.session_meta(session["sid"]))
    async with gateway.http.get(f"{gateway.url}/api/session", headers=auth) as r:
        assert r.status == 410
        assert (await r.json())["error"]["code"] == "session_ended"
    # Ending twice is refused, and hands the clinic one summary, not a second empty one.
    status, again = await _post(gateway, f"/api/sessions/{session['sid']}/end", session["therapist_token"])
    assert status == 410 and again["error"]["code"] == "session_ended"
    assert len(await redis.xrange(keys.ended_sessions())) == 1


async def test_health_and_readiness(gateway: Gateway) -> None:
    async with gateway.http.get(f"{gateway.url}/healthz") as r:
        assert r.status == 200
    async with gateway.http.get(f"{gateway.url}/readyz") as r:
        assert r.status == 200
    async with gateway.http.get(f"{gateway.url}/patient") as r:
        assert r.status == 200 and "<html" in (await r.text()).lower()


async def test_every_reply_carries_the_security_headers_and_json_is_never_cached(gateway: Gateway) -> None:
    session = await gateway.create_session()
    pages = [f"{gateway.url}/patient", f"{gateway.url}/static/style.css", f"{gateway.url}/healthz"]
    for url in pages:
        async with gateway.http.get(url) as r:
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            assert "script-src 'self';" in r.headers["Content-Security-Policy"]  # no inline scripts
            assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "no-referrer"
            assert "aiohttp" not in r.headers.get("Server", "").lower()
    headers = {"Authorization": f"Bearer {session['patient_token']}"}
    async with gateway.http.get(f"{gateway.url}/api/session", headers=headers) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    async with gateway.http.get(f"{gateway.url}/api/exercises") as r:  # no token: a 401
        assert r.status >= 400 and r.headers["Cache-Control"] == "no-store"  # errors too
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP here: no HSTS


async def test_behind_https_browsers_are_told_to_keep_to_it(
    settings: Settings, redis: aioredis.Redis
) -> None:
    server = TestServer(create_app(replace(settings, public_url="https://rehab.test")), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http, http.get(str(server.make_url("/healthz"))) as r:
            assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        await server.close()


async def test_offers_that_never_connect_give_their_place_in_the_room_back(
    settings: Settings, redis: aioredis.Redis
) -> None:
    """A link holder cannot block a room: four therapist offers whose ICE never completes
    (no candidates) fill it, the next is 403 room_full, and after the connect timeout the
    places are free again."""
    server = TestServer(create_app(replace(settings, connect_timeout_s=2)), host="127.0.0.1")
    await server.start_server()
    gw_url = str(server.make_url("")).rstrip("/")
    peers: list[RTCPeerConnection] = []
    try:
        async with aiohttp.ClientSession() as http:
            gw = Gateway(url=gw_url, settings=settings, http=http)
            token = (await gw.create_session())["therapist_token"]

            async def dead_offer() -> int:
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                peers.append(pc)
                pc.addTransceiver("video", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
                sdp = "".join(
                    line + "\r\n"
                    for line in pc.localDescription.sdp.splitlines()
                    if not line.startswith(("a=candidate", "a=end-of-candidates"))
                )
                status, _ = await _post(gw, "/api/offer", token, json={"type": "offer", "sdp": sdp})
                return status

            assert [await dead_offer() for _ in range(4)] == [200] * 4
            assert await dead_offer() == 403
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            status = 403
            while status == 403 and loop.time() < deadline:
                await asyncio.sleep(0.5)
                status = await dead_offer()
            assert status == 200
    finally:
        for pc in peers:
            await pc.close()
        await server.close()


async def test_join_links_never_follow_a_forged_host_header(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {gateway.clinic_token()}"}
    async with gateway.http.post(f"{gateway.url}/api/sessions", headers=headers) as reply:
        own = await reply.json()
    assert own["patient_url"].startswith(gateway.url + "/patient#token=")  # reached on loopback
    async with gateway.http.post(
        f"{gateway.url}/api/sessions", headers={**headers, "Host": "evil.example"}
    ) as reply:
        forged = await reply.json()
    assert "evil.example" not in forged["patient_url"] + forged["therapist_url"]
    assert forged["patient_url"].startswith(f"http://{gateway.settings.host}:")  # its own address


async def test_turn_credentials_are_made_per_session_and_expire_with_it(
    settings: Settings, redis: aioredis.Redis
) -> None:
    import base64
    import hashlib
    import hmac
    import time

    from shared.settings import IceServer

    turn = replace(
        settings,
        ice_servers=(IceServer("stun:turn.test:3478"), IceServer("turn:turn.test:3478", "fixed", "fixed-pw")),
        turn_secret="coturn-shared-secret",
    )
    server = TestServer(create_app(turn), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            gw = Gateway(url=str(server.make_url("")).rstrip("/"), settings=turn, http=http)
            session = await gw.create_session()
            infos = []
            for role in ("patient", "therapist"):
                headers = {"Authorization": f"Bearer {session[f'{role}_token']}"}
                async with http.get(f"{gw.url}/api/session", headers=headers) as reply:
                    infos.append(await reply.json())
    finally:
        await server.close()
    users = set()
    for info in infos:
        stun, relay = info["ice_servers"]
        assert stun == {"urls": "stun:turn.test:3478"}
        expiry, user = relay["username"].split(":", 1)
        assert int(expiry) == info["expires"] and time.time() < int(expiry)
        assert user.startswith(info["sid"]) and relay["username"] != "fixed"
        digest = hmac.new(b"coturn-shared-secret", relay["username"].encode(), hashlib.sha1).digest()
        assert relay["credential"] == base64.b64encode(digest).decode()  # what coturn checks
        users.add(relay["username"])
    assert len(users) == 2  # one per participant


async def test_half_open_and_trickling_clients_are_cut_off_and_others_are_served(
    settings: Settings, redis: aioredis.Redis
) -> None:
    limited = replace(settings, http_timeout_s=1)
    server = TestServer(create_app(limited), host="127.0.0.1")
    await server.start_server(**server_limits(limited))  # as services.site runs it
    try:
        port = server.port
        assert port is not None
        # 50 connections that never finish their request line and headers.
        half_open = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
        for _, writer in half_open:
            writer.write(b"POST /api/offer HTTP/1.1\r\nHost: x\r\nContent-Le")
            await writer.drain()
        # One whose headers are complete but whose body trickles in and stops.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/offer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 400\r\n\r\n{"type": "offer"'
        )
        await writer.drain()
        # Meanwhile an ordinary client is served.
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200
        reply = await asyncio.wait_for(reader.read(), 30)  # the server closes after answering
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), head
        assert b'"request_timeout"' in body and b"did not arrive" in body
        writer.close()
        for half_reader, half_writer in half_open:  # each closed by the server: end of stream
            assert await asyncio.wait_for(half_reader.read(), 30) == b""
            half_writer.close()
    finally:
        await server.close()


async def test_session_creation_takes_a_typed_bounded_body(gateway: Gateway) -> None:
    clinic = gateway.clinic_token()
    limit = gateway.settings.token_ttl_s
    for body, ok in (
        ({"ttl_s": 120}, True),
        ({}, True),
        ({"ttl_s": 59}, False),
        ({"ttl_s": limit + 1}, False),
        ({"ttl_s": "600"}, False),
        ({"ttl_s": 1.5}, False),
        ({"tl_s": 120}, False),
        ([1], False),
    ):
        status, reply = await _post(gateway, "/api/sessions", clinic, json=body)
        if ok:
            assert status == 201, (body, reply)
        else:
            assert status == 400 and reply["error"]["code"] == "bad_request", (body, reply)  # type: ignore[index]
    status, reply = await _post(gateway, "/api/sessions", clinic, json={"ttl_s": 59})
    assert f"from 60 to {limit}" in reply["error"]["message"]  # type: ignore[index]
