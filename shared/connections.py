"""Redis connections that survive a Redis restart.

Commands retry with jittered exponential back-off on connection errors; long-running
loops additionally catch ``redis.exceptions.ConnectionError`` and back off themselves
(see ``Backoff``), so nothing crashes while Redis is away.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


def connect(url: str, *, ca_file: str = "", socket_timeout: float = 5.0) -> aioredis.Redis:
    """A client for ``url``; a ``rediss://`` URL speaks TLS and checks the server's
    certificate and name against the system's CAs, or against ``ca_file`` (PEM) when
    given (``TELEREHAB_REDIS_CA_FILE``: a cluster's own CA)."""
    tls: dict[str, Any] = {"ssl_ca_certs": ca_file} if ca_file and url.startswith("rediss://") else {}
    return aioredis.Redis.from_url(
        url,
        decode_responses=False,
        socket_connect_timeout=2.0,
        socket_timeout=socket_timeout,
        health_check_interval=10,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        **tls,
    )


class Backoff:
    """Jittered exponential back-off for a loop that keeps trying."""

    def __init__(self, base: float = 0.1, cap: float = 2.0) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    async def wait(self) -> None:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        await asyncio.sleep(delay * (0.5 + random.random() / 2))
