"""The whole site's API fuzzed from its own OpenAPI document (Schemathesis, a real
gateway with the clinic mounted, real Redis, SQLite): whatever a client sends, as
nobody, an admin, a therapist, a patient or someone in a live session, the answer is
never a 5xx and matches what the document says. Run with a fixed seed, so a red run can be replayed."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from shared.settings import Settings
from tests.clinic.conftest import Site, site

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


async def schemathesis(web: Site, token: str | None, paths: str, tmp_path: Path) -> tuple[int, str]:
    """``st run`` against the running site; (exit status, its report)."""
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is a test dependency (pyproject.toml)"
    args = [
        st,
        "run",
        f"{web.base}/api/openapi.json",
        "--checks",
        CHECKS,
        "--include-path-regex",
        paths,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "25",
        "--workers",
        "1",
        "--seed",
        "7",  # the same cases every run: a red run can be replayed
        "--no-color",
    ]
    if token is not None:
        args += ["--header", f"Authorization: Bearer {token}"]
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_the_whole_api_survives_fuzzing_as_anyone(
    settings: Settings, redis: aioredis.Redis, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}"
    async with site(settings, database, tmp_path) as web:
        status, session = await web.call(
            "POST", f"/clinic/api/patients/{web.pid}/sessions", web.therapist, {"kind": "live"}
        )
        assert status == 201, session
        join = session["links"]["therapist_url"].split("#token=")[1]
        runs = [
            ("nobody", None, "^/"),
            ("admin", web.admin, "^/clinic/api/"),
            ("therapist", web.therapist, "^/clinic/api/"),
            ("patient", web.patient, "^/clinic/api/"),
            ("in the live session", join, "^/api/"),
        ]
        for who, token, paths in runs:
            code, report = await schemathesis(web, token, paths, tmp_path)
            assert code == 0, f"as {who}:\n{report[-6000:]}"
            cases = [line.strip() for line in report.splitlines() if " generated, " in line]
            print(f"as {who}: {cases}")  # shown with -s (the README quotes the counts)
