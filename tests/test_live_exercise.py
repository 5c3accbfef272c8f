"""The engine inside a live worker: a therapist's command starts an exercise, feedback
carries its state, and the session's end hands back the summary."""

from __future__ import annotations

import logging
import time

import pytest
import redis.asyncio as aioredis

from gateway.sessions import SessionStore
from shared import codec
from shared.keys import Keys
from shared.messages import Command, SessionSummary, now_ms
from testkit.synthetic import Movement, SyntheticFace
from testkit.worker_feed import calibrate, feedback, has_seq, make_frame, open_session, push, wait_until
from tests.conftest import RunningWorker

pytestmark = pytest.mark.slow

# The right side does 70 %: weaker, yet even enough (>= 0.6) not to be told to hold back.
SMILE = Movement(smile_left=14, smile_right=9.8)


async def show(
    redis: aioredis.Redis, keys: Keys, face: SyntheticFace, sid: str, seq: int, move: Movement, seconds: float
) -> int:
    """Feed frames in real time (one at a time, each analysed) for ``seconds``."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        await push(redis, keys, sid, codec.encode(make_frame(face, sid, seq, move)))
        await wait_until(lambda s=seq: has_seq(redis, keys, sid, s))  # type: ignore[misc]
        seq += 1
    return seq


async def test_a_therapist_started_exercise_counts_reps_live_and_lands_in_the_summary(
    worker: RunningWorker,
    redis: aioredis.Redis,
    keys: Keys,
    face: SyntheticFace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    sid = await open_session(redis, keys)
    seq = await calibrate(redis, keys, face, sid)
    commands = keys.session_commands(sid)
    # Bad commands first: garbage and an unknown exercise are logged and skipped.
    await redis.xadd(commands, {"m": b"\x01 not a command"})
    unknown = Command(sid=sid, command="start_exercise", issued_ms=now_ms(), exercise="moonwalk")
    await redis.xadd(commands, {"m": codec.encode(unknown)})
    start = Command(
        sid=sid, command="start_exercise", issued_ms=now_ms(), exercise="closed_smile", reps=2, hold_s=1.0
    )
    await redis.xadd(commands, {"m": codec.encode(start)})

    seq = await show(redis, keys, face, sid, seq, Movement(), 0.5)
    for _ in range(2):
        seq = await show(redis, keys, face, sid, seq, SMILE.lerp(Movement(), 0.5), 0.6)
        seq = await show(redis, keys, face, sid, seq, SMILE, 1.6)
        seq = await show(redis, keys, face, sid, seq, Movement(), 1.0)
    seq = await show(redis, keys, face, sid, seq, Movement(), 1.2)  # time for the checkpoint

    results = [f for f in await feedback(redis, keys, sid) if f.exercise is not None]
    assert results, "no feedback carried the exercise"
    states = [f.exercise for f in results if f.exercise]
    assert {s.name for s in states} == {"closed_smile"}
    assert states[0].reps == 2 and states[0].hold_target_s == 1.0
    assert "hold" in {s.phase for s in states}
    assert states[-1].phase == "done" and states[-1].rep == 2
    assert any(s.weaker == "right" for s in states if s.phase == "hold")
    assert any("Hold" in f.cues for f in results)
    assert all(f.resting is not None for f in results)
    assert "skipped an unreadable command" in caplog.text and "moonwalk" in caplog.text

    summary = await SessionStore(redis, keys).end(sid, 60, 3600)
    assert summary is not None and summary.sid == sid
    (smile,) = summary.exercises
    assert (smile.name, smile.reps, smile.attempts) == ("closed_smile", 2, 2)
    assert smile.symmetry is not None and smile.symmetry < 0.8
    assert summary.resting is not None
    assert not await redis.exists(commands)  # the commands stream goes with the session
    # The same summary waits in the ended-sessions stream for the clinic to keep.
    ((_, fields),) = await redis.xrange(keys.ended_sessions())
    assert codec.decode(fields[b"m"], SessionSummary) == summary
