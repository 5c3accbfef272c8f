"""A guesser's burst of wrong passwords against one account, and what another therapist
feels meanwhile: the clinic with production argon2 parameters, SQLite in a temporary
folder, served on loopback.

Three phases, in one run:

  (a) quiet: the other therapist signs in and reads ``/me``, alone;
  (b) burst: ``--guesses`` wrong-password sign-ins for one account at once, from one
      address, while the other therapist signs in and reads ``/me`` (``--rounds`` times,
      one after another, the first at the burst's first moment);
  (c) a second burst from the same address against other accounts (the per-address limit).

Reported: the status counts of the guesses (401: checked and wrong; 429: refused before
any hash was computed; 5xx: must be 0), and the other therapist's sign-in and ``/me``
latency in (a) and (b), with their ratio. Target (issue 13): another user signs in in
under a second during a burst, and no 5xx.

    python -m benchmarks.login_burst --guesses 60 --rounds 5 [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks._common import machine_info, print_table, write_json
from services.clinic.app import create_clinic_app
from services.clinic.manage import create_admin
from shared.settings import Settings
from testkit.net import free_port

PASSWORD = "a long enough test password"


async def timed(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, float, Any]:
    started = time.perf_counter()
    async with http.request(method, url, **kw) as reply:
        body = await reply.json(content_type=None)
        return reply.status, (time.perf_counter() - started) * 1000, body


async def other_user(http: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """The other therapist signs in and reads /me: (sign-in ms, /me ms)."""
    status, login_ms, body = await timed(
        http,
        "POST",
        f"{base}/clinic/api/auth/login",
        json={"email": "other@clinic.test", "password": PASSWORD},
    )
    assert status == 200, (status, body)
    headers = {"Authorization": f"Bearer {body['token']}"}
    status, me_ms, _ = await timed(http, "GET", f"{base}/clinic/api/me", headers=headers)
    assert status == 200
    return login_ms, me_ms


async def run(guesses: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="telerehab-login-burst-") as tmp:
        settings = Settings(
            secret="login-burst-" + "x" * 16,
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'clinic.db'}",
            state_dir=tmp,
            reminder_interval_s=0,
            clinic_collect_summaries=False,
            port=free_port(),
        )
        await create_admin(settings, "admin@clinic.test", "Admin", PASSWORD)
        root = web.Application()
        root.add_subapp("/clinic", create_clinic_app(settings))  # production argon2 parameters
        runner = web.AppRunner(root, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.port).start()
        base = f"http://127.0.0.1:{settings.port}"
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                _, _, admin = await timed(
                    http, "POST", f"{base}/clinic/api/auth/login",
                    json={"email": "admin@clinic.test", "password": PASSWORD},
                )  # fmt: skip
                auth = {"Authorization": f"Bearer {admin['token']}"}
                for who in ("target", "other"):
                    body = {"email": f"{who}@clinic.test", "name": who, "password": PASSWORD}
                    status, _, _ = await timed(
                        http, "POST", f"{base}/clinic/api/therapists", json=body, headers=auth
                    )
                    assert status == 201
                quiet = [await other_user(http, base) for _ in range(rounds)]

                async def guess(email: str, n: int) -> int:
                    body = {"email": email, "password": f"wrong guess {n}"}
                    status, _, _ = await timed(http, "POST", f"{base}/clinic/api/auth/login", json=body)
                    return status

                async def meanwhile() -> list[tuple[float, float]]:
                    # One after another, as a person would, from the burst's first moment.
                    return [await other_user(http, base) for _ in range(rounds)]

                burst = asyncio.gather(*(guess("target@clinic.test", n) for n in range(guesses)))
                statuses_list, during = await asyncio.gather(burst, meanwhile())
                statuses: Counter[int] = Counter(statuses_list)
                walk = await asyncio.gather(*(guess(f"person{n}@clinic.test", n) for n in range(guesses)))
                walk_statuses = Counter(walk)
        finally:
            await runner.cleanup()
    return {
        "guesses": guesses,
        "rounds": rounds,
        "burst_statuses": dict(statuses),
        "walk_statuses": dict(walk_statuses),
        "quiet_login_ms": statistics.median(q[0] for q in quiet),
        "quiet_me_ms": statistics.median(q[1] for q in quiet),
        "burst_login_ms": statistics.median(d[0] for d in during),
        "burst_login_max_ms": max(d[0] for d in during),
        "burst_me_ms": statistics.median(d[1] for d in during),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--guesses", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5, help="the other therapist's sign-ins per phase")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    r = asyncio.run(run(args.guesses, args.rounds))
    print_table(
        f"{args.guesses} wrong passwords at once for one account, then for {args.guesses} accounts",
        ["burst", "401 (checked)", "429 (refused before hashing)", "5xx"],
        [
            [
                name,
                counts.get(401, 0),
                counts.get(429, 0),
                sum(v for k, v in counts.items() if k >= 500),
            ]
            for name, counts in (("one account", r["burst_statuses"]), ("many accounts", r["walk_statuses"]))
        ],
    )
    print_table(
        "Another therapist meanwhile (median ms)",
        ["phase", "sign-in", "GET /me"],
        [
            ["quiet", f"{r['quiet_login_ms']:.0f}", f"{r['quiet_me_ms']:.1f}"],
            [
                "during the burst",
                f"{r['burst_login_ms']:.0f} (max {r['burst_login_max_ms']:.0f})",
                f"{r['burst_me_ms']:.1f}",
            ],
        ],
    )
    ratio = r["burst_login_ms"] / r["quiet_login_ms"]
    verdict = (
        "PASS"
        if r["burst_login_max_ms"] < 1000
        and not any(k >= 500 for counts in (r["burst_statuses"], r["walk_statuses"]) for k in counts)
        else "FAIL"
    )
    print(
        f"\nlogin_burst: another user's sign-in {ratio:.2f}x slower during the burst; "
        f"target < 1 s, no 5xx: {verdict}"
    )
    write_json(args.json, {"benchmark": "login_burst", "machine": machine_info(), **r, "verdict": verdict})


if __name__ == "__main__":
    main()
