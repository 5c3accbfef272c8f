"""First run: the clinic's first admin is made in the browser, with the setup code that
``telerehab up`` prints, and only while the clinic has no account at all."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from services.clinic.setup import setup_code
from shared.settings import Settings
from tests.clinic.conftest import PASSWORD, serve


async def _call(http: aiohttp.ClientSession, url: str, method: str, body: Any = None, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as r:
        return r.status, await r.json()


def _admin(code: str, email: str = "first@clinic.test") -> dict[str, str]:
    return {"code": code, "email": email, "name": "First Admin", "password": PASSWORD}


async def test_the_first_admin_needs_the_code_and_only_an_empty_clinic_takes_one(
    clinic_settings: Settings,
) -> None:
    server, _ = await serve(clinic_settings)
    api = str(server.make_url("/clinic/api"))
    code = setup_code(clinic_settings.secret)
    try:
        async with aiohttp.ClientSession() as http:
            assert await _call(http, api + "/setup", "GET") == (200, {"needed": True})
            status, body = await _call(http, api + "/setup", "POST", _admin("not-the-code"))
            assert (status, body["error"]["code"]) == (403, "bad_setup_code")
            # A code made from another secret is no better.
            status, body = await _call(http, api + "/setup", "POST", _admin(setup_code("another secret")))
            assert status == 403
            # The code as printed, in capitals or with spaces around, is the same code.
            status, made = await _call(http, api + "/setup", "POST", _admin(f" {code.upper()} "))
            assert status == 201, made
            assert made["user"]["role"] == "admin"
            status, me = await _call(http, api + "/me", "GET", token=made["token"])
            assert (status, me["email"]) == (200, "first@clinic.test")
            assert await _call(http, api + "/setup", "GET") == (200, {"needed": False})
            # Once there is an account the code opens nothing, even the right one.
            status, body = await _call(http, api + "/setup", "POST", _admin(code, "second@clinic.test"))
            assert (status, body["error"]["code"]) == (409, "already_set_up")
            # The admin made this way adds therapists like any admin.
            status, _ = await _call(
                http,
                api + "/therapists",
                "POST",
                {"email": "t@clinic.test", "name": "T", "password": PASSWORD},
                made["token"],
            )
            assert status == 201
    finally:
        await server.close()


async def test_two_forms_sent_at_once_make_one_admin(clinic_settings: Settings) -> None:
    server, _ = await serve(clinic_settings)
    api = str(server.make_url("/clinic/api"))
    code = setup_code(clinic_settings.secret)
    try:
        async with aiohttp.ClientSession() as http:
            replies = await asyncio.gather(
                *(_call(http, api + "/setup", "POST", _admin(code, f"a{i}@clinic.test")) for i in range(4))
            )
            assert sorted(status for status, _ in replies)[0] == 201
            assert [status for status, _ in replies].count(201) == 1, replies
            assert all(status in (201, 409) for status, _ in replies), replies
    finally:
        await server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_without_a_secret_there_is_no_first_run_in_the_browser(clinic_settings: Settings) -> None:
    # Without a secret the code would be the same everywhere: anyone could claim a clinic.
    server, _ = await serve(replace(clinic_settings, secret=""))
    api = str(server.make_url("/clinic/api"))
    try:
        async with aiohttp.ClientSession() as http:
            status, body = await _call(http, api + "/setup", "POST", _admin(setup_code("")))
            assert (status, body["error"]["code"]) == (403, "setup_unavailable")
    finally:
        await server.close()
