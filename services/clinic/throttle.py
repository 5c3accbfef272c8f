"""Sign-in throttling that a guesser cannot turn into an outage.

Three limits, each checked *before* the password hash is computed and counted atomically
(attempts still being checked count as failures until they are settled, so 40 guesses
sent at once cannot slip 40 past a limit of 5):

* per account *and* client address: a guesser at one address is stopped after
  ``per_account`` failures, while the account's owner, elsewhere, still signs in (a
  lock-out keyed by the account alone lets anyone lock any therapist out). Unknown
  e-mail addresses count exactly like real ones, so the 429 says nothing about which
  addresses exist;
* per client address, whatever the account: one address cannot walk the staff list;
* argon2 is memory-hard and takes tens of milliseconds of a core by design: at most
  ``concurrent_checks`` run at once and at most ``queued_checks`` wait, so a flood of
  sign-ins queues or is refused at once instead of delaying everyone else's requests.

The counts live in this process's memory: with several gateways each counts its own, and
the clinic's audit log (``login_failed``, shared) adds a ceiling per account across all
of them (``services.clinic.auth``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from services.clinic.errors import TooManyAttempts

T = TypeVar("T")

TRY_LATER = "Too many failed sign-ins; wait 15 minutes and try again."
BUSY = "The clinic is busy signing people in; try again in a minute."


@dataclass(frozen=True)
class SignInLimits:
    window_s: float = 15 * 60
    per_account: int = 5  # failures per account from one address within the window
    per_client: int = 20  # failures from one address within the window, any accounts
    concurrent_checks: int = 2  # argon2 verifications at once (about the cores)
    queued_checks: int = 16  # waiting beyond that: refused at once
    max_tracked: int = 100_000  # failure records kept before the oldest expire early


@dataclass
class Attempt:
    """One sign-in attempt holding its place in the counts until it is settled."""

    keys: tuple[str, ...]
    failed: bool = False

    def fail(self) -> None:
        self.failed = True


@dataclass
class SignInGate:
    limits: SignInLimits = field(default_factory=SignInLimits)
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _pending: Counter[str] = field(default_factory=Counter)
    _waiting: int = 0
    _checks: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def attempt(self, account: str, client: str) -> AsyncIterator[Attempt]:
        """Hold a place for one attempt on ``account`` from ``client``; 429 if either is
        over its limit. Call ``fail()`` on the attempt if it fails."""
        keys = (f"account:{account.lower()}|{client}", f"client:{client}")
        for key, limit in zip(keys, (self.limits.per_account, self.limits.per_client), strict=True):
            if self._recent(key) + self._pending[key] >= limit:
                raise TooManyAttempts(TRY_LATER)
        attempt = Attempt(keys)
        self._pending.update(keys)
        try:
            yield attempt
        finally:
            self._pending.subtract(keys)
            for key in keys:
                if self._pending[key] <= 0:
                    del self._pending[key]
                if attempt.failed:
                    self._failures.setdefault(key, deque()).append(self.clock())
            if attempt.failed and len(self._failures) > self.limits.max_tracked:
                self._sweep()

    async def check(self, verify: Callable[[], T]) -> T:
        """Run a password check in a thread, at most ``concurrent_checks`` at once."""
        if self._checks is None:
            self._checks = asyncio.Semaphore(self.limits.concurrent_checks)
        if self._waiting >= self.limits.queued_checks + self.limits.concurrent_checks:
            raise TooManyAttempts(BUSY, code="busy")
        self._waiting += 1
        try:
            async with self._checks:
                return await asyncio.to_thread(verify)
        finally:
            self._waiting -= 1

    def _recent(self, key: str) -> int:
        times = self._failures.get(key)
        if times is None:
            return 0
        horizon = self.clock() - self.limits.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0
        return len(times)

    def _sweep(self) -> None:
        """Forget expired records; if that is not enough, the oldest keys (memory stays
        bounded whatever a guesser sends)."""
        for key in list(self._failures):
            self._recent(key)
        excess = len(self._failures) - self.limits.max_tracked
        if excess > 0:
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])[:excess]
            for key in oldest:
                del self._failures[key]
