"""The one msgpack codec for every message that crosses a process boundary.

Decoding is two-step: first the envelope (type and version), so that a message from
a newer build fails with "unknown version" rather than a confusing field error; then
the full, validated schema.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from shared.messages import SUPPORTED_VERSIONS, Message

M = TypeVar("M", bound=Message)


class CodecError(ValueError):
    """Bytes that are not a message this build can read."""


class MalformedMessage(CodecError):
    pass


class UnknownMessage(CodecError):
    """A message type or version this build does not know."""


class _Envelope(msgspec.Struct):
    t: str
    v: int


_envelope_decoder = msgspec.msgpack.Decoder(_Envelope)
_message_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)
_encoder = msgspec.msgpack.Encoder()


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes, expected: type[M] | None = None) -> M:
    try:
        envelope = _envelope_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedMessage(f"not a message envelope: {exc}") from None
    versions = SUPPORTED_VERSIONS.get(envelope.t)
    if versions is None:
        raise UnknownMessage(f"unknown message type {envelope.t!r}")
    if envelope.v not in versions:
        raise UnknownMessage(
            f"unknown {envelope.t!r} message version {envelope.v} (this build reads {versions})"
        )
    try:
        message = _message_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedMessage(f"invalid {envelope.t!r} message: {exc}") from None
    if expected is not None and not isinstance(message, expected):
        raise MalformedMessage(f"expected a {expected.__name__} message, got {envelope.t!r}")
    return message  # type: ignore[return-value]
