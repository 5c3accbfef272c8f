"""``telerehab up``: everything on one machine.

Makes sure Redis answers (starting a local ``redis-server`` when ``REDIS_URL`` points at
this machine and nothing answers), starts the gateway and the analyzer workers as child
processes, opens a demo session and prints its patient and therapist links, restarts a
worker that dies, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import redis

from services.clinic.setup import setup_code
from shared import tokens
from shared.settings import LOOPBACK_HOSTS, Settings
from shared.tls import certificate_paths, client_context

STATE_DIR = Path(os.environ.get("TELEREHAB_STATE_DIR", ".telerehab"))


def say(message: str) -> None:
    print(f"telerehab: {message}", flush=True)


def load_secret(settings: Settings) -> Settings:
    """Use TELEREHAB_SECRET, else a random one kept in the state folder (mode 0600), so
    ``telerehab session`` can sign requests to a gateway started by ``up``."""
    if settings.secret:
        return settings
    path = STATE_DIR / "secret"
    if not path.exists():
        # The folder is the owner's alone (it also holds the clinic's SQLite file), and
        # the secret is created 0600: never, even for a moment, readable by others.
        STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return replace(settings, secret=path.read_text().strip())


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError):
        return False


def ensure_redis(url: str) -> subprocess.Popen[bytes] | None:
    """Return None when Redis already answers, else the local server we started."""
    if redis_answers(url):
        say(f"using Redis at {url}")
        return None
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if host not in LOOPBACK_HOSTS:
        raise SystemExit(f"telerehab: Redis at {url} does not answer (set REDIS_URL to a reachable server)")
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "telerehab: no Redis answers and no redis-server binary was found; "
            "install it (apt-get install redis-server) or set REDIS_URL"
        )
    say(f"starting a local Redis on {host}:{port} (nothing is saved to disk)")
    proc = subprocess.Popen(
        [binary, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        if redis_answers(url):
            return proc
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"telerehab: started redis-server but it does not answer on {host}:{port}")


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["TELEREHAB_SECRET"] = settings.secret
    env["REDIS_URL"] = settings.redis_url
    return env


def _tls(settings: Settings) -> ssl.SSLContext | None:
    return client_context(settings) if settings.tls_cert else None


def _spawn(role: str, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "services.cli", role, *extra], env=env)


def _api(
    settings: Settings, method: str, path: str, body: dict[str, object] | None = None
) -> dict[str, object]:
    token = tokens.issue(settings.secret, tokens.CLINIC_SCOPE, "clinic", 300)
    request = urllib.request.Request(
        f"{settings.local_url}{path}",
        data=json.dumps(body or {}).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5, context=_tls(settings)) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _wait_ready(settings: Settings, gateway: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    url = f"{settings.local_url}/readyz"
    while time.monotonic() < deadline:
        if gateway.poll() is not None:
            raise SystemExit(f"telerehab: the gateway exited with code {gateway.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1, context=_tls(settings)):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"telerehab: the gateway did not become ready on {url}")


def print_links(session: dict[str, object]) -> None:
    print(flush=True)
    print("  Session     ", session["sid"])
    print("  Patient   → ", session["patient_url"])
    print("  Therapist → ", session["therapist_url"])
    print(flush=True)
    print("  Open each link in its own browser window (camera and microphone needed).")
    print(flush=True)


def print_clinic(settings: Settings) -> None:
    """Where the clinic lives, and how its first account is made."""
    print(f"  Clinic    →  {settings.base_url}/clinic/dashboard", flush=True)
    # The code rides in the fragment: browsers never send it, so no access log holds it.
    print(
        f"  First run →  {settings.base_url}/clinic/dashboard#setup={setup_code(settings.secret)}"
        "  (makes the clinic's first admin; works only while it has no account)",
        flush=True,
    )
    print(flush=True)


def open_session(settings: Settings, ttl_s: int | None) -> int:
    settings = load_secret(settings)
    try:
        session = _api(settings, "POST", "/api/sessions", {"ttl_s": ttl_s} if ttl_s else None)
    except (urllib.error.URLError, OSError) as exc:
        say(f"could not reach the gateway at {settings.base_url}: {exc}")
        return 1
    print_links(session)
    return 0


def up(settings: Settings, *, workers: int | None, demo: bool) -> int:
    settings = load_secret(settings)
    n_workers = settings.analyzer_workers if workers is None else workers
    tls = certificate_paths(settings)  # a self-signed one is made here, once, before any child
    if tls is not None:
        say(f"serving HTTPS with {tls[0]}")
    redis_proc = ensure_redis(settings.redis_url)
    env = _child_env(settings)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    gateway = _spawn("gateway", env)
    analyzers = [_spawn("analyzer", env) for _ in range(n_workers)]
    try:
        _wait_ready(settings, gateway)
        say(f"gateway ready at {settings.base_url}; {n_workers} analyzer worker(s)")
        if demo:
            print_links(_api(settings, "POST", "/api/sessions"))
        if settings.clinic_enabled:
            print_clinic(settings)
        say("press Ctrl-C to stop")
        while not stopping:
            time.sleep(0.5)
            if gateway.poll() is not None:
                say(f"the gateway exited with code {gateway.returncode}; stopping")
                return 1
            for i, proc in enumerate(analyzers):
                if proc.poll() is not None and not stopping:
                    say(f"analyzer worker exited with code {proc.returncode}; restarting it")
                    analyzers[i] = _spawn("analyzer", env)
        return 0
    finally:
        say("stopping")
        children = [*analyzers, gateway]
        for proc in children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=5)
