"""ICE configuration from settings.

aiortc gathers host candidates on every interface except loopback and, with no ICE
servers given, reaches for a public STUN server. This network is closed and tests run
on 127.0.0.1, so both are settings: ``TELEREHAB_ICE_SERVERS`` (empty by default) and
``TELEREHAB_ICE_HOSTS`` (the addresses to gather host candidates on).
"""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from shared.settings import Settings

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


def rtc_configuration(settings: Settings) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in settings.ice_servers
    ]
    # An explicit empty list: aiortc only falls back to public STUN when given None.
    return RTCConfiguration(iceServers=servers)
