"""A plain aiortc ``MediaRelay`` server: the baseline that ``relay_cpu`` measures the
gateway against. It relays a patient's video to the therapists of the same room and does
nothing else: no sampling, no Redis, no data-channel events, no tokens.

Same wire API as the gateway's signalling, so the same peers can use either:
``POST /api/offer`` with ``Authorization: Bearer <room>:<patient|therapist>`` and the
JSON offer; ``POST /api/rooms/{room}/end``; ``GET /healthz``.

    python -m benchmarks.plain_relay --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from gateway.ice import configure_host_addresses

log = logging.getLogger(__name__)


@dataclass(eq=False)
class PlainRoom:
    relay: MediaRelay = field(default_factory=MediaRelay)
    video: MediaStreamTrack | None = None
    waiting: list[RTCRtpSender] = field(default_factory=list)  # therapists who came first
    pcs: set[RTCPeerConnection] = field(default_factory=set)

    def feed(self, sender: RTCRtpSender) -> None:
        if self.video is None:
            self.waiting.append(sender)
        else:
            sender.replaceTrack(self.relay.subscribe(self.video))

    async def close(self) -> None:
        for pc in list(self.pcs):
            await pc.close()
        self.pcs.clear()


rooms_key = web.AppKey("rooms", dict[str, PlainRoom])


async def offer(request: web.Request) -> web.Response:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    room_id, _, role = token.rpartition(":")
    if not room_id or role not in ("patient", "therapist"):
        raise web.HTTPBadRequest(text="Authorization: Bearer <room>:<patient|therapist>")
    body: dict[str, Any] = await request.json()
    room = request.app[rooms_key].setdefault(room_id, PlainRoom())
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    room.pcs.add(pc)

    @pc.on("connectionstatechange")
    async def on_state() -> None:
        if pc.connectionState in ("failed", "closed"):
            room.pcs.discard(pc)
            await pc.close()

    if role == "patient":

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind != "video":
                return
            room.video = track
            waiting, room.waiting = room.waiting, []
            for sender in waiting:
                room.feed(sender)

    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
    if role == "therapist":
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                transceiver.direction = "sendonly"
                room.feed(transceiver.sender)
    await pc.setLocalDescription(await pc.createAnswer())
    return web.json_response({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})


async def end_room(request: web.Request) -> web.Response:
    room = request.app[rooms_key].pop(request.match_info["room"], None)
    if room is not None:
        await room.close()
    return web.json_response({"ended": room is not None})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "rooms": len(request.app[rooms_key])})


async def _rooms(app: web.Application) -> AsyncIterator[None]:
    app[rooms_key] = {}
    yield
    for room in app[rooms_key].values():
        with contextlib.suppress(Exception):
            await room.close()
    app[rooms_key].clear()


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_rooms)
    app.router.add_post("/api/offer", offer)
    app.router.add_post("/api/rooms/{room}/end", end_room)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_host_addresses(["127.0.0.1"])  # loopback only, and never any STUN
    web.run_app(create_app(), host=args.host, port=args.port, print=None, access_log=None)
    asyncio.set_event_loop(None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
