"""Typed settings, built once from the environment at start-up and passed down."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use."""


@dataclass(frozen=True, slots=True)
class IceServer:
    """One STUN/TURN server, as a browser's RTCIceServer understands it."""

    urls: str
    username: str | None = None
    credential: str | None = field(default=None, repr=False)

    def as_browser_dict(self) -> dict[str, str]:
        out = {"urls": self.urls}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway, analyzer and launcher read from the environment.

    The README's configuration table documents each variable; keep them in step.
    """

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_ca_file: str = ""  # PEM CA for a rediss:// REDIS_URL ("" : the system's CAs)
    database_url: str = "sqlite+aiosqlite:///telerehab.db"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    secret: str = field(default="", repr=False)
    ice_servers: tuple[IceServer, ...] = ()
    # coturn's shared secret (use-auth-secret): TURN credentials are then made per session
    # and expire with it, instead of one fixed username and password for every link holder.
    turn_secret: str | None = field(default=None, repr=False)
    ice_hosts: tuple[str, ...] = ()
    # Reverse proxies (CIDRs) whose X-Forwarded-For is believed: behind an ingress every
    # request comes from the proxy, and per-address sign-in limits need the real client.
    trusted_proxies: tuple[str, ...] = ()
    key_prefix: str = "rehab"
    token_ttl_s: int = 4 * 3600
    analysis_fps: float = 15.0
    frame_max_side: int = 320
    frame_jpeg_quality: int = 80
    frame_stream_maxlen: int = 4
    feedback_stream_maxlen: int = 64
    feedback_max_age_ms: int = 500
    max_frame_bytes: int = 1_000_000
    max_sdp_bytes: int = 32_768
    lease_ms: int = 2_000
    worker_max_sessions: int = 8
    analyzer_workers: int = 2
    analyzer_metrics_port: int = 0  # 0: no HTTP endpoints on analyzer workers
    # "tracked": FaceMesh's landmark model on a tracked region (analyzer.landmark_model,
    # about 1.25x bare FaceMesh per analysed frame); "facemesh": MediaPipe's whole graph
    # (about 2x, no more accurate in the accuracy benchmark; see the README).
    landmarker: str = "tracked"
    # Landmarks on every n-th measured frame, the pixels measure every frame (1: landmarks
    # on every frame too; analyzer.analysis.SessionAnalysis._landmarks).
    landmark_every: int = 3
    session_idle_ttl_s: int = 120
    # A session without frames this long gives its analyzer slot back (checkpoint kept for
    # session_idle_ttl_s); the gateway re-registers it when frames flow again. Abandoned
    # sessions then cannot hold every slot while a live one waits.
    analysis_idle_s: int = 5
    # A connection that has not connected this long after its offer is dropped, so an
    # offer that never completes ICE cannot keep a room's place (a therapist slot).
    connect_timeout_s: int = 30
    # The clinic (services/clinic): mounted under /clinic in the gateway, or run alone.
    state_dir: str = ".telerehab"
    clinic_enabled: bool = True
    # The clinic keeps ended sessions' summaries from Redis (the gateway's ended-sessions
    # stream). Not an environment setting: tests of the clinic alone turn it off.
    clinic_collect_summaries: bool = True
    clinic_port: int = 8081
    gateway_url: str | None = None
    clinic_max_body_bytes: int = 65_536
    # A connection without a complete request, or a request body still arriving, this
    # long is cut off (shared.slow_clients).
    http_timeout_s: int = 15
    clinic_login_ttl_s: int = 12 * 3600
    magic_link_ttl_s: int = 7 * 86400
    reminder_interval_s: int = 60
    # Ended sessions' summaries wait in Redis for the clinic at most this long (the clinic
    # takes them at once when it runs); audit records are deleted after this many days
    # (0: kept for ever). Six years is what HIPAA asks of US practices; set your own.
    summary_retention_s: int = 7 * 86400
    audit_retention_days: int = 6 * 365
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "telerehab@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    # How mail is protected on its way to the relay: "starttls" (default), "tls" (implicit
    # TLS, port 465) or "off" (only to a relay on this machine). The relay's certificate
    # is verified against the system's CAs, or against ``smtp_ca_file``.
    smtp_tls: str = "starttls"
    smtp_ca_file: str | None = None
    # HTTPS (shared.tls): a certificate chain and key (PEM), or "self-signed" for a
    # generated local one (a LAN demo: browsers open the camera only on secure pages).
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def local_url(self) -> str:
        """This machine's own address of the service (for its own clients)."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def https(self) -> bool:
        """Browsers reach the service over HTTPS (its own TLS, or a proxy in front)."""
        return self.base_url.startswith("https://")

    @property
    def base_url(self) -> str:
        return self.public_url or f"{self.scheme}://{self.host}:{self.port}"

    @property
    def clinic_gateway_url(self) -> str:
        """Where the clinic reaches the gateway's HTTP API (itself, when mounted in it)."""
        return (self.gateway_url or self.local_url).rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        values: dict[str, Any] = {
            "redis_url": env.get("REDIS_URL", d.redis_url),
            "redis_ca_file": env.get("TELEREHAB_REDIS_CA_FILE", d.redis_ca_file).strip(),
            "database_url": async_database_url(env.get("DATABASE_URL", d.database_url)),
            "host": env.get("TELEREHAB_HOST", d.host),
            "port": _number(env, "TELEREHAB_PORT", d.port, 0, 65535),
            "public_url": env.get("TELEREHAB_PUBLIC_URL") or None,
            "secret": env.get("TELEREHAB_SECRET", d.secret),
            "turn_secret": env.get("TELEREHAB_TURN_SECRET") or None,
            "ice_servers": parse_ice_servers(
                env.get("TELEREHAB_ICE_SERVERS", ""),
                env.get("TELEREHAB_TURN_USERNAME"),
                env.get("TELEREHAB_TURN_PASSWORD"),
            ),
            "ice_hosts": _csv(env.get("TELEREHAB_ICE_HOSTS", "")),
            "trusted_proxies": _networks(env.get("TELEREHAB_TRUSTED_PROXIES", "")),
            "key_prefix": env.get("TELEREHAB_KEY_PREFIX", d.key_prefix),
            "token_ttl_s": _number(env, "TELEREHAB_TOKEN_TTL_S", d.token_ttl_s, 1, 30 * 86400),
            "analysis_fps": _number(env, "TELEREHAB_ANALYSIS_FPS", d.analysis_fps, 0.5, 60.0),
            "frame_max_side": _number(env, "TELEREHAB_FRAME_MAX_SIDE", d.frame_max_side, 64, 1920),
            "frame_jpeg_quality": _number(env, "TELEREHAB_JPEG_QUALITY", d.frame_jpeg_quality, 10, 100),
            "frame_stream_maxlen": _number(
                env, "TELEREHAB_FRAME_STREAM_MAXLEN", d.frame_stream_maxlen, 1, 1000
            ),
            "feedback_max_age_ms": _number(
                env, "TELEREHAB_FEEDBACK_MAX_AGE_MS", d.feedback_max_age_ms, 1, 60_000
            ),
            "max_frame_bytes": _number(env, "TELEREHAB_MAX_FRAME_BYTES", d.max_frame_bytes, 1024, 50_000_000),
            "max_sdp_bytes": _number(env, "TELEREHAB_MAX_SDP_BYTES", d.max_sdp_bytes, 1024, 1_000_000),
            "lease_ms": _number(env, "TELEREHAB_LEASE_MS", d.lease_ms, 200, 600_000),
            "worker_max_sessions": _number(
                env, "TELEREHAB_WORKER_MAX_SESSIONS", d.worker_max_sessions, 1, 1000
            ),
            "analyzer_workers": _number(env, "TELEREHAB_ANALYZER_WORKERS", d.analyzer_workers, 0, 256),
            "analyzer_metrics_port": _number(
                env, "TELEREHAB_ANALYZER_METRICS_PORT", d.analyzer_metrics_port, 0, 65535
            ),
            "landmarker": env.get("TELEREHAB_LANDMARKER", d.landmarker).strip().lower(),
            "connect_timeout_s": _number(env, "TELEREHAB_CONNECT_TIMEOUT_S", d.connect_timeout_s, 2, 600),
            "analysis_idle_s": _number(env, "TELEREHAB_ANALYSIS_IDLE_S", d.analysis_idle_s, 1, 3600),
            "landmark_every": _number(env, "TELEREHAB_LANDMARK_EVERY", d.landmark_every, 1, 8),
            "session_idle_ttl_s": _number(
                env, "TELEREHAB_SESSION_IDLE_TTL_S", d.session_idle_ttl_s, 5, 86400
            ),
            "state_dir": env.get("TELEREHAB_STATE_DIR") or d.state_dir,
            "clinic_enabled": _flag(env, "TELEREHAB_CLINIC", d.clinic_enabled),
            "clinic_port": _number(env, "TELEREHAB_CLINIC_PORT", d.clinic_port, 0, 65535),
            "gateway_url": env.get("TELEREHAB_GATEWAY_URL") or None,
            "http_timeout_s": _number(env, "TELEREHAB_HTTP_TIMEOUT_S", d.http_timeout_s, 1, 3600),
            "clinic_max_body_bytes": _number(
                env, "TELEREHAB_CLINIC_MAX_BODY_BYTES", d.clinic_max_body_bytes, 1024, 10_000_000
            ),
            "clinic_login_ttl_s": _number(
                env, "TELEREHAB_CLINIC_LOGIN_TTL_S", d.clinic_login_ttl_s, 60, 30 * 86400
            ),
            "magic_link_ttl_s": _number(
                env, "TELEREHAB_MAGIC_LINK_TTL_S", d.magic_link_ttl_s, 60, 30 * 86400
            ),
            "summary_retention_s": _number(
                env, "TELEREHAB_SUMMARY_RETENTION_S", d.summary_retention_s, 60, 366 * 86400
            ),
            "audit_retention_days": _number(
                env, "TELEREHAB_AUDIT_RETENTION_DAYS", d.audit_retention_days, 0, 100 * 366
            ),
            "reminder_interval_s": _number(
                env, "TELEREHAB_REMINDER_INTERVAL_S", d.reminder_interval_s, 0, 86400
            ),
            "smtp_host": env.get("TELEREHAB_SMTP_HOST", d.smtp_host),
            "smtp_port": _number(env, "TELEREHAB_SMTP_PORT", d.smtp_port, 1, 65535),
            "smtp_from": env.get("TELEREHAB_SMTP_FROM") or d.smtp_from,
            "smtp_username": env.get("TELEREHAB_SMTP_USERNAME") or None,
            "smtp_password": env.get("TELEREHAB_SMTP_PASSWORD") or None,
            "smtp_tls": env.get("TELEREHAB_SMTP_TLS", d.smtp_tls).strip().lower(),
            "smtp_ca_file": env.get("TELEREHAB_SMTP_CA_FILE") or None,
            "tls_cert": env.get("TELEREHAB_TLS_CERT") or None,
            "tls_key": env.get("TELEREHAB_TLS_KEY") or None,
        }
        if values["tls_cert"] and values["tls_cert"] != SELF_SIGNED:
            for name in ("tls_cert", "tls_key"):
                path = values[name] or values["tls_cert"]
                if not os.path.isfile(path):
                    raise SettingsError(f"TELEREHAB_{name.upper()}: no file at {path}")
        smtp_problem = smtp_transport_problem(values["smtp_host"], values["smtp_tls"])
        if smtp_problem:
            raise SettingsError(smtp_problem)
        secret_problem = secret_weakness(values["secret"])
        if secret_problem:
            raise SettingsError(secret_problem)
        if values["landmarker"] not in LANDMARKERS:
            raise SettingsError(f"TELEREHAB_LANDMARKER must be one of {', '.join(LANDMARKERS)}")
        if not values["key_prefix"] or "{" in values["key_prefix"] or "}" in values["key_prefix"]:
            raise SettingsError("TELEREHAB_KEY_PREFIX must be non-empty and contain no braces")
        return cls(**values)


LANDMARKERS = ("tracked", "facemesh")
SELF_SIGNED = "self-signed"  # TELEREHAB_TLS_CERT: make a local certificate (shared.tls)
MIN_SECRET_CHARS = 16
PLACEHOLDER_MARK = "change-me"  # what the example files hold (deploy/k8s/secret.example.yaml)


def secret_weakness(secret: str) -> str | None:
    """Why ``TELEREHAB_SECRET`` cannot sign join links, or None. Empty is allowed here
    (``telerehab up`` makes one); a placeholder copied from an example file, or a short
    word, is refused at start rather than signing every patient's link with it."""
    if not secret:
        return None
    if PLACEHOLDER_MARK in secret.lower():
        return "TELEREHAB_SECRET is still the example's placeholder: set a long random value"
    if len(secret) < MIN_SECRET_CHARS:
        return f"TELEREHAB_SECRET must be at least {MIN_SECRET_CHARS} characters (a long random value)"
    return None
SMTP_TLS_MODES = ("starttls", "tls", "off")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # TELEREHAB_HOST values that mean "every interface"


def smtp_transport_problem(host: str, tls: str) -> str | None:
    """Why mail could not be sent safely with these settings, or None. Magic links are
    a way into health records for a week: they never cross a network in clear."""
    if tls not in SMTP_TLS_MODES:
        return f"TELEREHAB_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, got {tls!r}"
    if tls == "off" and host and host not in LOOPBACK_HOSTS:
        return (
            "TELEREHAB_SMTP_TLS=off would send sign-in links in clear to "
            f"{host!r}: only a relay on this machine (localhost) may be used without TLS"
        )
    return None


def parse_ice_servers(value: str, username: str | None, password: str | None) -> tuple[IceServer, ...]:
    """``stun:host:3478,turn:host:3478?transport=udp`` → servers; TURN ones get the credentials."""
    servers = []
    for url in _csv(value):
        if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
            raise SettingsError(f"TELEREHAB_ICE_SERVERS: {url!r} is not a stun:/turn: URL")
        if url.startswith("turn"):
            servers.append(IceServer(url, username, password))
        else:
            servers.append(IceServer(url))
    return tuple(servers)


def _networks(value: str) -> tuple[str, ...]:
    for cidr in _csv(value):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise SettingsError(f"TELEREHAB_TRUSTED_PROXIES: {cidr!r} is not an address or CIDR") from None
    return _csv(value)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1/0, true/false, yes/no or on/off, got {raw!r}")


N = TypeVar("N", int, float)


# The schemes hosts and tutorials write, and the async driver the clinic runs them with.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def async_database_url(url: str) -> str:
    """``DATABASE_URL`` as the clinic's async engine needs it: ``sqlite:///x.db`` →
    ``sqlite+aiosqlite:///x.db``, ``postgres://`` / ``postgresql://`` →
    ``postgresql+asyncpg://`` (with ``sslmode=`` spelt as asyncpg's ``ssl=``); anything
    else is refused with the forms that work."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError(
            f"DATABASE_URL {url!r} is not a URL: use sqlite:///path.db or postgresql://user@host/db"
        )
    driver = _ASYNC_DRIVERS.get(scheme.lower())
    if driver is None:
        raise SettingsError(
            f"DATABASE_URL scheme {scheme!r} is not supported: use sqlite:///path.db or "
            "postgresql://user:password@host/db"
        )
    if driver.startswith("postgresql") and "sslmode=" in rest:
        rest = rest.replace("sslmode=", "ssl=")
    return f"{driver}://{rest}"


def _number(env: Mapping[str, str], name: str, default: N, lo: N, hi: N) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise SettingsError(f"{name} must be {noun}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value
