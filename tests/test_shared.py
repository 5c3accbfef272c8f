"""Messages, codec, keys, tokens and settings: the contracts between processes."""

from __future__ import annotations

import msgspec
import pytest

from shared import codec, tokens
from shared.codec import MalformedMessage, UnknownMessage
from shared.keys import Keys
from shared.messages import Feedback, Frame, RegionMeasure, SessionEntry, Sides
from shared.settings import Settings, SettingsError


def _frame(**kw: object) -> Frame:
    fields: dict[str, object] = {
        "sid": "abcdefgh12",
        "seq": 3,
        "captured_ms": 1,
        "width": 2,
        "height": 1,
        "encoding": "rgb24",
        "data": b"\x00" * 6,
    }
    fields.update(kw)
    return Frame(**fields)  # type: ignore[arg-type]


def test_messages_round_trip_through_the_codec() -> None:
    feedback = Feedback(
        sid="abcdefgh12",
        seq=7,
        captured_ms=10,
        analysed_ms=20,
        worker="w1",
        status="tracking",
        face=True,
        regions={"mouth": RegionMeasure(excursion=Sides(left=4.0, right=1.0), symmetry=0.25, weaker="right")},
    )
    for message in (_frame(), SessionEntry(sid="abcdefgh12", created_ms=5), feedback):
        assert codec.decode(codec.encode(message)) == message


def test_frame_repr_never_shows_pixels() -> None:
    assert "\\x00" not in repr(_frame())


def test_unknown_version_is_rejected_with_a_clear_error() -> None:
    data = codec.encode(_frame(v=2))
    with pytest.raises(UnknownMessage, match="unknown 'frame' message version 2"):
        codec.decode(data)


def test_unknown_type_and_garbage_are_rejected() -> None:
    with pytest.raises(UnknownMessage, match="unknown message type"):
        codec.decode(msgspec.msgpack.encode({"t": "video", "v": 1}))
    with pytest.raises(MalformedMessage):
        codec.decode(b"\xc1 not msgpack")
    with pytest.raises(MalformedMessage):
        codec.decode(b"")


def test_wrong_field_types_fail_validation() -> None:
    data = msgspec.msgpack.encode({"t": "frame", "v": 1, "sid": "abcdefgh12", "seq": "three"})
    with pytest.raises(MalformedMessage, match="invalid 'frame' message"):
        codec.decode(data)


def test_decode_checks_the_expected_type() -> None:
    with pytest.raises(MalformedMessage, match="expected a Feedback"):
        codec.decode(codec.encode(_frame()), Feedback)


def test_session_keys_share_one_hash_tag() -> None:
    keys = Keys("rehab")
    assert keys.session_frames("abcdefgh12") == "rehab:{abcdefgh12}:frames"
    tags = {k.split("{")[1].split("}")[0] for k in keys.session_keys("abcdefgh12")}
    assert tags == {"abcdefgh12"}
    with pytest.raises(ValueError):
        keys.session_meta("bad}id{x")


def test_tokens_are_scoped_signed_and_expire() -> None:
    token = tokens.issue("s3cret", "abcdefgh12", "patient", ttl_s=60, now=1000)
    claims = tokens.verify("s3cret", token, now=1030)
    assert (claims.sid, claims.role) == ("abcdefgh12", "patient")
    with pytest.raises(tokens.ExpiredToken):
        tokens.verify("s3cret", token, now=1061)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify("another-secret", token, now=1030)
    payload, mac = token.split(".")
    forged_payload = tokens._b64(b'{"sid":"abcdefgh12","role":"therapist","exp":99999}')
    with pytest.raises(tokens.InvalidToken):
        tokens.verify("s3cret", f"{forged_payload}.{mac}", now=1030)
    for junk in ("", "a.b.c", "x" * 3000):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify("s3cret", junk)


def test_settings_from_env_parse_and_validate() -> None:
    s = Settings.from_env(
        {
            "REDIS_URL": "redis://r:6380/1",
            "TELEREHAB_PORT": "9000",
            "TELEREHAB_ICE_SERVERS": "stun:stun.example.org:3478, turn:turn.example.org:3478",
            "TELEREHAB_TURN_USERNAME": "u",
            "TELEREHAB_TURN_PASSWORD": "p",
            "TELEREHAB_ICE_HOSTS": "127.0.0.1",
            "TELEREHAB_SECRET": "topsecret-0123456789",
        }
    )
    assert s.redis_url == "redis://r:6380/1" and s.port == 9000
    assert [x.urls for x in s.ice_servers] == ["stun:stun.example.org:3478", "turn:turn.example.org:3478"]
    assert s.ice_servers[1].as_browser_dict() == {
        "urls": "turn:turn.example.org:3478",
        "username": "u",
        "credential": "p",
    }
    assert s.ice_hosts == ("127.0.0.1",)
    assert "topsecret" not in repr(s) and "'p'" not in repr(s.ice_servers[1])
    # The example files' placeholder, or a short word, never signs join links.
    for weak in ("change-me-to-a-long-random-string", "hunter2"):
        with pytest.raises(SettingsError, match="TELEREHAB_SECRET"):
            Settings.from_env({"TELEREHAB_SECRET": weak})
    assert Settings.from_env({}).ice_servers == ()  # no public STUN unless configured
    with pytest.raises(SettingsError, match="TELEREHAB_PORT must be an integer"):
        Settings.from_env({"TELEREHAB_PORT": "eighty"})
    with pytest.raises(SettingsError, match="between"):
        Settings.from_env({"TELEREHAB_ANALYSIS_FPS": "500"})
    with pytest.raises(SettingsError, match="not a stun:/turn: URL"):
        Settings.from_env({"TELEREHAB_ICE_SERVERS": "http://example.org"})
