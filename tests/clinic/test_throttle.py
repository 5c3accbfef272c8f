"""The sign-in gate's rules on their own: limits per account and address, the window,
the bounded queue of password checks, memory that stays bounded, and which address a
sign-in came from behind a reverse proxy."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from services.clinic.auth import client_address
from services.clinic.errors import TooManyAttempts
from services.clinic.throttle import SignInGate, SignInLimits
from shared.settings import Settings, SettingsError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def fail(gate: SignInGate, account: str, client: str) -> None:
    async with gate.attempt(account, client) as attempt:
        attempt.fail()


async def test_an_address_is_stopped_on_one_account_but_not_the_owner_elsewhere() -> None:
    gate = SignInGate(SignInLimits(per_account=3, per_client=100))
    for _ in range(3):
        await fail(gate, "Ada@clinic.test", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await fail(gate, "ada@clinic.test", "10.0.0.1")  # e-mail case does not matter
    async with gate.attempt("ada@clinic.test", "10.0.0.2"):
        pass  # the owner, at home


async def test_an_address_walking_many_accounts_is_stopped() -> None:
    gate = SignInGate(SignInLimits(per_account=100, per_client=4))
    for i in range(4):
        await fail(gate, f"person{i}@clinic.test", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await fail(gate, "someone.else@clinic.test", "10.0.0.1")


async def test_successful_attempts_do_not_count_and_failures_expire_after_the_window() -> None:
    clock = Clock()
    gate = SignInGate(SignInLimits(per_account=2, window_s=60), clock=clock)
    for _ in range(5):
        async with gate.attempt("ada@clinic.test", "10.0.0.1"):
            pass
    await fail(gate, "ada@clinic.test", "10.0.0.1")
    await fail(gate, "ada@clinic.test", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await fail(gate, "ada@clinic.test", "10.0.0.1")
    clock.now += 61
    await fail(gate, "ada@clinic.test", "10.0.0.1")


async def test_attempts_in_progress_count_until_they_are_settled() -> None:
    gate = SignInGate(SignInLimits(per_account=2))
    async with gate.attempt("ada@clinic.test", "10.0.0.1"), gate.attempt("ada@clinic.test", "10.0.0.1"):
        with pytest.raises(TooManyAttempts):
            await fail(gate, "ada@clinic.test", "10.0.0.1")
    async with gate.attempt("ada@clinic.test", "10.0.0.1"):  # both succeeded: free again
        pass


async def test_password_checks_beyond_the_queue_are_refused_at_once() -> None:
    gate = SignInGate(SignInLimits(concurrent_checks=1, queued_checks=1))
    release = threading.Event()
    running = [gate.check(release.wait) for _ in range(2)]  # one checking, one waiting
    tasks = [asyncio.create_task(c) for c in running]
    await asyncio.sleep(0.05)
    with pytest.raises(TooManyAttempts) as refused:
        await gate.check(lambda: True)
    assert refused.value.code == "busy"
    release.set()
    assert await asyncio.gather(*tasks) == [True, True]
    assert await gate.check(lambda: 42) == 42


async def test_memory_stays_bounded_whatever_a_guesser_sends() -> None:
    gate = SignInGate(SignInLimits(per_client=10**9, max_tracked=50))
    for i in range(400):
        await fail(gate, f"random{i}@example.test", f"10.0.{i // 250}.{i % 250}")
    assert len(gate._failures) <= 50 + 2


class PeerTransport:
    """The one thing a request asks its transport here: who is on the other end."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.peer, 40000) if name == "peername" else default


def request_from(peer: str, forwarded: str | None = None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return make_mocked_request(
        "POST", "/clinic/api/auth/login", headers=headers, transport=PeerTransport(peer)
    )


def test_the_client_behind_a_trusted_proxy_is_the_nearest_untrusted_forwarded_address() -> None:
    proxies = ("10.0.0.0/8",)
    # Without trusted proxies, or from an untrusted peer, the peer is the client.
    assert client_address(request_from("10.0.0.5", "1.2.3.4")) == "10.0.0.5"
    assert client_address(request_from("5.6.7.8", "1.2.3.4"), proxies) == "5.6.7.8"
    # Behind the ingress: the address it appended, not what the client prepended.
    assert client_address(request_from("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.7"), proxies) == "1.2.3.4"
    assert client_address(request_from("10.0.0.5"), proxies) == "10.0.0.5"


def test_trusted_proxies_must_be_addresses() -> None:
    assert Settings.from_env({"TELEREHAB_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"}).trusted_proxies == (
        "10.0.0.0/8",
        "192.168.1.1",
    )
    with pytest.raises(SettingsError, match="TELEREHAB_TRUSTED_PROXIES"):
        Settings.from_env({"TELEREHAB_TRUSTED_PROXIES": "the ingress"})
