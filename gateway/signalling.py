"""SDP offers in, answers out. Offers are size-capped and sanity-checked before aiortc
parses them, and any parse failure becomes a 400 with a clear message."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from aiortc import RTCPeerConnection, RTCSessionDescription

from gateway.bodies import Offer
from gateway.errors import BadSdp
from gateway.room import Participant, Room
from shared.tokens import Role

log = logging.getLogger(__name__)

MAX_SDP_LINES = 2000


def validate_offer(body: Any, max_bytes: int) -> str:
    """The SDP text of an offer body (``gateway.bodies.Offer``), checked line by line
    before aiortc parses it."""
    if not isinstance(body, dict):
        raise BadSdp("The offer must be a JSON object with 'sdp' and 'type'.")
    try:
        offer = msgspec.convert(body, Offer)
    except msgspec.ValidationError as exc:
        if "$.type" in str(exc) or "`type`" in str(exc):
            raise BadSdp("Only SDP offers are accepted ('type' must be 'offer').") from None
        raise BadSdp("The offer has no SDP text.") from None
    sdp = offer.sdp
    if not sdp.strip():
        raise BadSdp("The offer has no SDP text.")
    if len(sdp.encode()) > max_bytes:
        raise BadSdp(f"The SDP offer is larger than {max_bytes} bytes.", code="sdp_too_large", status=413)
    if not sdp.startswith("v=0"):
        raise BadSdp("The SDP offer must start with 'v=0'.")
    lines = sdp.splitlines()
    if len(lines) > MAX_SDP_LINES:
        raise BadSdp("The SDP offer has too many lines.")
    if not any(line.startswith("m=") for line in lines):
        raise BadSdp("The SDP offer has no media sections.")
    if any(not line.isprintable() for line in lines):
        raise BadSdp("The SDP offer contains control characters.")
    return sdp


async def answer_offer(room: Room, role: Role, pc: RTCPeerConnection, sdp: str) -> RTCSessionDescription:
    """Apply the browser's offer, join the room and return the gateway's answer."""
    participant = Participant(role=role, pc=pc)

    @pc.on("datachannel")
    def on_datachannel(channel: Any) -> None:
        if channel.label != "events":
            return
        participant.channel = channel

        channel.on("open", lambda: room.on_channel_open(participant))
        if channel.readyState == "open":
            room.on_channel_open(participant)

    @pc.on("track")
    def on_track(track: Any) -> None:
        room.on_track(participant, track)

    @pc.on("connectionstatechange")
    def on_state() -> None:
        log.info("session %s: %s connection %s", room.sid, role, pc.connectionState)
        if pc.connectionState == "connected":
            participant.connected.set()
        if pc.connectionState in ("failed", "closed"):
            room.leave_soon(participant)

    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except Exception as exc:  # aiortc raises assorted errors on bad SDP
        log.info("session %s: rejected malformed SDP from %s: %s", room.sid, role, type(exc).__name__)
        raise BadSdp(f"The SDP offer could not be parsed: {exc}") from None

    # Send on every media section the browser can receive on; the source is set later.
    # aiortc keeps the offer's direction already seen from our side ("recvonly" from a
    # camera-less browser is "sendonly" for us).
    for transceiver in pc.getTransceivers():
        if transceiver.kind in ("audio", "video"):
            transceiver.direction = getattr(transceiver, "_offerDirection", None) or "sendrecv"
            if transceiver.kind not in participant.outgoing and transceiver.direction in (
                "sendrecv",
                "sendonly",
            ):
                participant.add_sender(transceiver.kind, transceiver.sender)

    await room.join(participant)
    try:
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
    except Exception as exc:
        await room.leave(participant)
        raise BadSdp(f"No answer could be made for this offer: {exc}") from None
    return pc.localDescription
