"""Commands from a page to the session's analyzer: start or stop an exercise, run the
guided assessment, re-calibrate. The gateway only validates them and appends them to the
session's commands stream (``rehab:{sid}:commands``); the analyzer applies them in order
and echoes the result in ``Feedback.exercise`` / ``Feedback.assessment``.
"""

from __future__ import annotations

from typing import Any, get_args

import redis.asyncio as aioredis

from gateway.errors import BadRequest
from shared import codec
from shared.exercises import CatalogueError, ExerciseSpec, get_exercise, load_catalogue
from shared.keys import Keys
from shared.messages import Command, CommandName, now_ms

MAX_COMMAND_BYTES = 2048
COMMANDS_STREAM_MAXLEN = 32  # approximate; the analyzer only needs the ones it has not applied
COMMAND_NAMES: tuple[str, ...] = get_args(CommandName)
FIELDS = ("command", "exercise", "reps", "sets", "hold_s")
MAX_REPS = 50
MAX_SETS = 10
MAX_HOLD_S = 60.0

# KEYS: meta, commands. ARGV: encoded command, maxlen.
# Appends only while the session is open (its meta exists), so an ended session's keys
# cannot come back, and the stream lives exactly as long as the session's record.
_ADD = """
if redis.call('exists', KEYS[1]) == 0 then return false end
local id = redis.call('xadd', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl > 0 then redis.call('pexpire', KEYS[2], ttl) end
return id
"""


def _count(body: dict[str, Any], name: str, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise BadRequest(f"'{name}' must be a whole number from 1 to {high}.", code="bad_command")
    return value


def parse_command(sid: str, body: Any) -> Command:
    """The command in a request body, or BadRequest with a sentence saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("The command must be a JSON object.", code="bad_command")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}.", code="bad_command")
    name = body.get("command")
    if name not in COMMAND_NAMES:
        raise BadRequest(f"'command' must be one of: {', '.join(COMMAND_NAMES)}.", code="bad_command")
    exercise = body.get("exercise")
    dose = {k: body[k] for k in ("reps", "sets", "hold_s") if body.get(k) is not None}
    if name != "start_exercise":
        if exercise is not None or dose:
            raise BadRequest(f"'{name}' takes no exercise, reps, sets or hold_s.", code="bad_command")
        return Command(sid=sid, command=name, issued_ms=now_ms())
    if not isinstance(exercise, str):
        raise BadRequest("'start_exercise' needs 'exercise': a name from the catalogue.", code="bad_command")
    try:
        get_exercise(exercise)
    except CatalogueError as exc:
        raise BadRequest(f"{str(exc).capitalize()}.", code="unknown_exercise") from None
    hold_s = body.get("hold_s")
    if hold_s is not None and (
        not isinstance(hold_s, int | float) or isinstance(hold_s, bool) or not 0 <= hold_s <= MAX_HOLD_S
    ):
        raise BadRequest(
            f"'hold_s' must be a number of seconds from 0 to {MAX_HOLD_S:g}.", code="bad_command"
        )
    return Command(
        sid=sid,
        command=name,
        issued_ms=now_ms(),
        exercise=exercise,
        reps=_count(body, "reps", MAX_REPS),
        sets=_count(body, "sets", MAX_SETS),
        hold_s=None if hold_s is None else float(hold_s),
    )


class CommandQueue:
    """Appends commands to a session's stream, only while the session is open."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._keys = keys
        self._add = redis.register_script(_ADD)

    async def add(self, command: Command) -> str | None:
        """The stream id of the new entry, or None when the session is not open."""
        sid = command.sid
        reply = await self._add(
            keys=[self._keys.session_meta(sid), self._keys.session_commands(sid)],
            args=[codec.encode(command), COMMANDS_STREAM_MAXLEN],
        )
        if reply is None:
            return None
        return reply.decode() if isinstance(reply, bytes) else str(reply)


def exercise_info(spec: ExerciseSpec) -> dict[str, Any]:
    """What a page needs to show and start an exercise."""
    return {
        "name": spec.name,
        "title": spec.title,
        "instructions": spec.instructions,
        "reps": spec.reps,
        "sets": spec.sets,
        "hold_s": spec.hold_s,
        "region": spec.region,
        "direction": spec.direction,
        "unit": spec.unit,
        "target": spec.target,
    }


def catalogue_info() -> list[dict[str, Any]]:
    return [exercise_info(spec) for spec in load_catalogue().values()]
