"""`telerehab up` on a machine with no Redis answering at REDIS_URL: it starts one, the
gateway and a worker, prints working links, and stops everything cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shared import tokens

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_starts_everything_and_prints_links(tmp_path: Path) -> None:
    redis_port, http_port = _free_port(), _free_port()
    env = dict(os.environ)
    env.update(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        TELEREHAB_PORT=str(http_port),
        TELEREHAB_HOST="127.0.0.1",
        TELEREHAB_STATE_DIR=str(tmp_path / "state"),
        TELEREHAB_ICE_HOSTS="127.0.0.1",
        GLOG_minloglevel="2",
    )
    env.pop("TELEREHAB_SECRET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while not any("Clinic" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        out = "".join(lines)
        assert "starting a local Redis" in out
        patient_url = re.search(r"Patient\s+→\s+(\S+)", out)
        therapist_url = re.search(r"Therapist\s+→\s+(\S+)", out)
        assert patient_url and therapist_url
        clinic_url = re.search(r"Clinic\s+→\s+(\S+)", out)
        assert clinic_url and clinic_url.group(1) == f"http://127.0.0.1:{http_port}/clinic/dashboard"
        with urllib.request.urlopen(clinic_url.group(1), timeout=5) as response:
            assert b"<html" in response.read().lower()
        page, token = patient_url.group(1).split("#token=")
        assert page == f"http://127.0.0.1:{http_port}/patient"
        with urllib.request.urlopen(page, timeout=5) as response:
            assert b"<html" in response.read().lower()
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_port}/api/session", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        # The secret was generated and kept private for `telerehab session`.
        secret_file = tmp_path / "state" / "secret"
        assert secret_file.stat().st_mode & 0o077 == 0
        assert secret_file.parent.stat().st_mode & 0o077 == 0  # the state folder too
        assert tokens.verify(secret_file.read_text().strip(), token).role == "patient"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            proc.stdout.close()
    assert code == 0
    with socket.socket() as s:  # the Redis it started is gone too
        assert s.connect_ex(("127.0.0.1", redis_port)) != 0
