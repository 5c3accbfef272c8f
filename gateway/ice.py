"""ICE configuration from settings.

aiortc gathers host candidates on every interface except loopback and, with no ICE
servers given, reaches for a public STUN server. This network is closed and tests run
on 127.0.0.1, so both are settings: ``TELEREHAB_ICE_SERVERS`` (empty by default) and
``TELEREHAB_ICE_HOSTS`` (the addresses to gather host candidates on).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from shared.settings import IceServer, Settings

GATEWAY_TURN_TTL_S = 24 * 3600  # the gateway's own TURN credentials (renewed per connection)

_original_get_host_addresses = aioice.ice.get_host_addresses


def configure_host_addresses(hosts: Sequence[str]) -> None:
    """Gather host candidates only on ``hosts`` (all interfaces when empty).

    aioice offers no parameter for this, so its module-level helper is replaced: the
    setting applies to every peer connection in this process.
    """
    if not hosts:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    chosen = list(hosts)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


def turn_credentials(secret: str, user: str, expires: int) -> tuple[str, str]:
    """coturn's REST scheme (``use-auth-secret``): the username carries its own expiry,
    the password is HMAC-SHA1 of it under the shared secret; coturn checks both."""
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(settings: Settings, user: str, expires: int) -> list[IceServer]:
    """The ICE servers one participant gets: with ``TELEREHAB_TURN_SECRET``, TURN
    credentials of their own that expire with their session."""
    if not settings.turn_secret:
        return list(settings.ice_servers)
    out = []
    for server in settings.ice_servers:
        if server.urls.startswith("turn"):
            username, credential = turn_credentials(settings.turn_secret, user, expires)
            out.append(IceServer(server.urls, username, credential))
        else:
            out.append(server)
    return out


def rtc_configuration(settings: Settings) -> RTCConfiguration:
    expires = int(time.time()) + GATEWAY_TURN_TTL_S
    servers = [
        RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
        for s in ice_servers_for(settings, "gateway", expires)
    ]
    # An explicit empty list: aiortc only falls back to public STUN when given None.
    return RTCConfiguration(iceServers=servers)
