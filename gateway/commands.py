"""Commands from a page to the session's analyzer: start or stop an exercise, run the
guided assessment, re-calibrate. The gateway only validates them and appends them to the
session's commands stream (``rehab:{sid}:commands``); the analyzer applies them in order
and echoes the result in ``Feedback.exercise`` / ``Feedback.assessment``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, get_args

import msgspec
import redis.asyncio as aioredis

from gateway.errors import BadRequest
from shared import codec
from shared.exercises import CatalogueError, ExerciseSpec, get_exercise, load_catalogue
from shared.keys import Keys
from shared.messages import Command, CommandName, now_ms

MAX_COMMAND_BYTES = 2048
COMMANDS_STREAM_MAXLEN = 32  # approximate; the analyzer only needs the ones it has not applied
COMMAND_NAMES: tuple[str, ...] = get_args(CommandName)
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


class CommandIn(msgspec.Struct, forbid_unknown_fields=True):
    """A command as a page sends it: typed and bounded where it is decoded."""

    command: CommandName
    exercise: str | None = None
    reps: Annotated[int, msgspec.Meta(ge=1, le=MAX_REPS)] | None = None
    sets: Annotated[int, msgspec.Meta(ge=1, le=MAX_SETS)] | None = None
    hold_s: Annotated[float, msgspec.Meta(ge=0, le=MAX_HOLD_S)] | None = None


# What to tell the page when a field does not fit, by field.
_SENTENCES = {
    "command": f"'command' must be one of: {', '.join(COMMAND_NAMES)}.",
    "exercise": "'start_exercise' needs 'exercise': a name from the catalogue.",
    "reps": f"'reps' must be a whole number from 1 to {MAX_REPS}.",
    "sets": f"'sets' must be a whole number from 1 to {MAX_SETS}.",
    "hold_s": f"'hold_s' must be a number of seconds from 0 to {MAX_HOLD_S:g}.",
}
_FIELD = re.compile(r"at `\$\.(\w+)`|missing required field `(\w+)`|unknown field `([^`]*)`")


def _sentence(error: msgspec.ValidationError) -> str:
    text = str(error)
    found = _FIELD.search(text)
    if found is None:
        return "The command must be a JSON object."
    field, missing, unknown = found.groups()
    if unknown is not None:
        return f"Unknown field(s): {unknown}."
    return _SENTENCES.get(field or missing, f"The command does not fit: {text}.")


def parse_command(sid: str, body: Any) -> Command:
    """The command in a request body (decoded JSON), or BadRequest with a sentence
    saying what is wrong."""
    try:
        given = msgspec.convert(body, CommandIn, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(_sentence(exc), code="bad_command") from None
    if given.command != "start_exercise":
        if given.exercise is not None or (given.reps, given.sets, given.hold_s) != (None, None, None):
            raise BadRequest(
                f"'{given.command}' takes no exercise, reps, sets or hold_s.", code="bad_command"
            )
        return Command(sid=sid, command=given.command, issued_ms=now_ms())
    if given.exercise is None:
        raise BadRequest(_SENTENCES["exercise"], code="bad_command")
    try:
        get_exercise(given.exercise)
    except CatalogueError as exc:
        raise BadRequest(f"{str(exc).capitalize()}.", code="unknown_exercise") from None
    return Command(
        sid=sid,
        command=given.command,
        issued_ms=now_ms(),
        exercise=given.exercise,
        reps=given.reps,
        sets=given.sets,
        hold_s=given.hold_s,
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
