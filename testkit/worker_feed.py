"""Feeding an analyzer worker as the gateway does, through real Redis: sessions opened
and registered, frames of a synthetic face pushed, feedback read back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import cv2
import numpy as np
import redis.asyncio as aioredis

from analyzer.frames import encode_jpeg
from gateway.sessions import SessionStore
from shared import codec
from shared.keys import Keys
from shared.messages import Feedback, Frame
from testkit.synthetic import Movement, SyntheticFace


def make_frame(face: SyntheticFace, sid: str, seq: int, move: Movement | None = None, **kw: Any) -> Frame:
    image = np.asarray(
        cv2.resize(face.render(move or Movement()), (320, 240), interpolation=cv2.INTER_AREA), dtype=np.uint8
    )
    fields: dict[str, Any] = {
        "sid": sid,
        "seq": seq,
        "captured_ms": int(time.time() * 1000),
        "width": 320,
        "height": 240,
        "encoding": "jpeg",
        "data": encode_jpeg(image, 80),
    }
    fields.update(kw)
    return Frame(**fields)


async def open_session(redis: aioredis.Redis, keys: Keys) -> str:
    store = SessionStore(redis, keys)
    sid = (await store.create(600)).sid
    await store.register_for_analysis(sid)
    return sid


async def push(redis: aioredis.Redis, keys: Keys, sid: str, *payloads: bytes, maxlen: int = 4) -> None:
    async with redis.pipeline(transaction=True) as pipe:  # MULTI: the worker sees them at once
        for payload in payloads:
            pipe.xadd(keys.session_frames(sid), {"m": payload}, maxlen=maxlen)
        await pipe.execute()


async def feedback(redis: aioredis.Redis, keys: Keys, sid: str) -> list[Feedback]:
    entries: Any = await redis.xrange(keys.session_feedback(sid))
    return [codec.decode(fields[b"m"], Feedback) for _id, fields in entries]


async def wait_until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def calibrate(redis: aioredis.Redis, keys: Keys, face: SyntheticFace, sid: str) -> int:
    """Feed neutral frames one at a time until the worker reports tracking."""
    seq = 0
    while True:
        await push(redis, keys, sid, codec.encode(make_frame(face, sid, seq)))
        await wait_until(lambda s=seq: has_seq(redis, keys, sid, s))
        seq += 1
        if (await feedback(redis, keys, sid))[-1].status == "tracking":
            return seq
        assert seq < 60, "calibration never finished"


async def has_seq(redis: aioredis.Redis, keys: Keys, sid: str, seq: int) -> bool:
    """The worker has answered frame ``seq`` (or a newer one): seqs only grow."""
    entries: Any = await redis.xrevrange(keys.session_feedback(sid), count=1)
    return bool(entries) and codec.decode(entries[0][1][b"m"], Feedback).seq >= seq
