"""Redis-side rules for session ownership, as Lua scripts so each is atomic.

A session is analysed by the worker that holds its lease key. The lease doubles as a
fencing token: feedback and checkpoints are written only by the lease holder and only
while the session's meta key exists, so a worker that lost its lease, or a session that
has ended, can never have results written (or its keys resurrected) behind its back.
All keys touched by a script share the session's hash tag, so this works on Cluster.
"""

from __future__ import annotations

from enum import IntEnum

import redis.asyncio as aioredis

from shared.keys import Keys


class LeaseResult(IntEnum):
    ENDED = -1  # the session's meta key is gone: the session is over
    HELD_ELSEWHERE = 0
    OK = 1


# KEYS: meta, lease. ARGV: worker id, lease ms. Take or renew the lease.
_ACQUIRE = """
if redis.call('exists', KEYS[1]) == 0 then return -1 end
local holder = redis.call('get', KEYS[2])
if holder == false or holder == ARGV[1] then
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS: meta, lease, target. ARGV: worker id, payload, ttl ms, maxlen (0 = plain SET), lease ms.
# A lease that merely expired (a slow heartbeat) is taken back; one held by another
# worker is not.
_FENCED_WRITE = """
if redis.call('exists', KEYS[1]) == 0 then return -1 end
local holder = redis.call('get', KEYS[2])
if holder == false then
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[5])
elseif holder ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[4]) > 0 then
  redis.call('xadd', KEYS[3], 'MAXLEN', ARGV[4], '*', 'm', ARGV[2])
  redis.call('pexpire', KEYS[3], ARGV[3])
else
  redis.call('set', KEYS[3], ARGV[2], 'PX', ARGV[3])
end
return 1
"""

# KEYS: lease. ARGV: worker id.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

# KEYS: meta, then the session's other keys. Delete leftovers of an ended session.
_CLEAN_ENDED = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do redis.call('del', KEYS[i]) end
return 1
"""


class Leases:
    def __init__(self, redis: aioredis.Redis, keys: Keys, worker: str, lease_ms: int) -> None:
        self._keys = keys
        self.worker = worker
        self.lease_ms = lease_ms
        self._acquire = redis.register_script(_ACQUIRE)
        self._write = redis.register_script(_FENCED_WRITE)
        self._release = redis.register_script(_RELEASE)
        self._clean = redis.register_script(_CLEAN_ENDED)

    async def acquire(self, sid: str) -> LeaseResult:
        k = self._keys
        result = await self._acquire(
            keys=[k.session_meta(sid), k.session_lease(sid)], args=[self.worker, self.lease_ms]
        )
        return LeaseResult(int(result))

    async def publish_feedback(self, sid: str, payload: bytes, maxlen: int, ttl_ms: int) -> LeaseResult:
        k = self._keys
        result = await self._write(
            keys=[k.session_meta(sid), k.session_lease(sid), k.session_feedback(sid)],
            args=[self.worker, payload, ttl_ms, maxlen, self.lease_ms],
        )
        return LeaseResult(int(result))

    async def save_checkpoint(self, sid: str, payload: bytes, ttl_ms: int) -> LeaseResult:
        k = self._keys
        result = await self._write(
            keys=[k.session_meta(sid), k.session_lease(sid), k.session_state(sid)],
            args=[self.worker, payload, ttl_ms, 0, self.lease_ms],
        )
        return LeaseResult(int(result))

    async def release(self, sid: str) -> None:
        await self._release(keys=[self._keys.session_lease(sid)], args=[self.worker])

    async def clean_if_ended(self, sid: str) -> bool:
        return bool(await self._clean(keys=list(self._keys.session_keys(sid))))
