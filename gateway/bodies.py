"""The request bodies of the gateway's API, typed and bounded where they are decoded
(the page's commands have theirs in ``gateway.commands``). The same structs describe the
bodies in the OpenAPI document (``gateway.openapi``)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class SessionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/sessions`` (the clinic's token): how long the join links live; at most
    ``TELEREHAB_TOKEN_TTL_S``, checked by the handler."""

    ttl_s: Annotated[int, msgspec.Meta(ge=60)] | None = None


class Offer(msgspec.Struct):
    """``POST /api/offer``: the browser's SDP offer (then ``signalling.validate_offer``)."""

    type: Literal["offer"]
    sdp: Annotated[str, msgspec.Meta(min_length=1)]
