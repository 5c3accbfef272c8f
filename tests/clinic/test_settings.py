"""The clinic's settings from the environment."""

from __future__ import annotations

import pytest

from shared.settings import Settings, SettingsError


def test_clinic_settings_come_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "TELEREHAB_CLINIC": "0",
            "TELEREHAB_CLINIC_PORT": "9000",
            "TELEREHAB_GATEWAY_URL": "http://gw:8080/",
            "TELEREHAB_SMTP_HOST": "mail",
            "TELEREHAB_SMTP_PORT": "2525",
            "TELEREHAB_SMTP_TLS": "TLS",
            "TELEREHAB_SMTP_PASSWORD": "hunter2",
            "TELEREHAB_STATE_DIR": "/var/lib/telerehab",
            "TELEREHAB_MAGIC_LINK_TTL_S": "3600",
        }
    )
    assert not s.clinic_enabled and s.clinic_port == 9000 and s.clinic_gateway_url == "http://gw:8080"
    assert (s.smtp_host, s.smtp_port, s.smtp_tls) == ("mail", 2525, "tls")
    assert s.state_dir == "/var/lib/telerehab" and s.magic_link_ttl_s == 3600
    assert "hunter2" not in repr(s)
    d = Settings.from_env({})
    assert d.clinic_enabled and d.smtp_host == "" and d.clinic_gateway_url == "http://127.0.0.1:8080"
    assert d.smtp_tls == "starttls"  # protected unless said otherwise


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TELEREHAB_CLINIC", "maybe"),
        ("TELEREHAB_SMTP_PORT", "0"),
        ("TELEREHAB_SMTP_TLS", "sometimes"),
        ("TELEREHAB_LANDMARKER", "dlib"),
    ],
)
def test_bad_clinic_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_mail_in_clear_is_only_allowed_to_a_relay_on_this_machine() -> None:
    with pytest.raises(SettingsError, match="in clear"):
        Settings.from_env({"TELEREHAB_SMTP_HOST": "mail.example.org", "TELEREHAB_SMTP_TLS": "off"})
    local = Settings.from_env({"TELEREHAB_SMTP_HOST": "localhost", "TELEREHAB_SMTP_TLS": "off"})
    assert local.smtp_tls == "off"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///clinic.db", "sqlite+aiosqlite:///clinic.db"),
        ("sqlite:////var/lib/telerehab/clinic.db", "sqlite+aiosqlite:////var/lib/telerehab/clinic.db"),
        ("postgres://u:p@db:5432/clinic", "postgresql+asyncpg://u:p@db:5432/clinic"),
        ("postgresql://u@db/clinic?sslmode=require", "postgresql+asyncpg://u@db/clinic?ssl=require"),
        ("postgresql+psycopg2://u@db/clinic", "postgresql+asyncpg://u@db/clinic"),
        ("postgresql+asyncpg://u@db/clinic", "postgresql+asyncpg://u@db/clinic"),
    ],
)
def test_database_url_in_its_common_forms_is_mapped_to_the_async_drivers(given: str, used: str) -> None:
    assert Settings.from_env({"DATABASE_URL": given}).database_url == used


@pytest.mark.parametrize("given", ["mysql://u@db/clinic", "clinic.db", "mongodb://db"])
def test_an_unsupported_database_url_is_refused_with_the_forms_that_work(given: str) -> None:
    with pytest.raises(SettingsError, match="sqlite:///path.db"):
        Settings.from_env({"DATABASE_URL": given})
