"""E-mail through a real local SMTP server (aiosmtpd): magic links and reminders."""

from __future__ import annotations

import asyncio
import email
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from services.clinic.app import sessions_key
from services.clinic.mailer import Mailer, MailError
from services.clinic.models import ReminderSent
from services.clinic.reminders import send_due_reminders
from shared.settings import Settings
from testkit.clinic_records import PROGRAMME
from testkit.net import free_port
from tests.clinic.conftest import Clinic, serve


@dataclass
class Inbox:
    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    inbox = Inbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def clinic_settings(database_url: str, tmp_path: Path, smtp: Inbox) -> Settings:
    return Settings(
        public_url="http://telerehab.test",
        secret="mail-test",
        database_url=database_url,
        state_dir=str(tmp_path / "state"),
        reminder_interval_s=0,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="clinic@telerehab.test",
        smtp_tls="off",  # a relay on this machine
    )


@pytest.fixture
def mailed_link(smtp: Inbox) -> Callable[[str], str]:
    def link(address: str) -> str:
        text = body(smtp.to(address)[-1])
        return "http" + text.split("http", 1)[1].split()[0]

    return link


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def test_invitations_are_emailed_and_the_link_signs_the_patient_in(clinic: Clinic, smtp: Inbox) -> None:
    # The fixture's two patients were invited by e-mail: no link came back to the therapist.
    made = await clinic.ok(
        "POST", "/clinic/api/patients", "therapist", {"email": "new@example.test", "name": "New Patient"}, 201
    )
    assert made["invite"] == {"sent": True}
    [message] = smtp.to("new@example.test")
    assert message["From"] == "clinic@telerehab.test"
    text = body(message)
    assert "New Patient" in text
    token = text.split("#token=", 1)[1].split()[0]
    signed = await clinic.ok("POST", "/clinic/api/auth/magic", None, {"token": token})
    assert signed["user"]["id"] == made["patient"]["id"]


def calendar_of(message: Message) -> tuple[str, str]:
    """(the text, the attached calendar entry) of a mail about a call."""
    text, entry = "", ""
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        if part.get_content_type() == "text/calendar":
            assert part.get_filename() == "video-call.ics"
            entry = payload.decode()
        elif part.get_content_type() == "text/plain":
            text = payload.decode()
    return text, entry


async def test_a_booked_call_is_emailed_with_a_calendar_entry_that_follows_it(
    clinic: Clinic, smtp: Inbox
) -> None:
    pid = clinic.ids["patient"]  # Europe/London
    at = (datetime.now(UTC) + timedelta(days=4)).replace(hour=9, minute=15, second=0, microsecond=0)
    before = len(smtp.to("patient@example.test"))
    booked = await clinic.ok(
        "POST",
        f"/clinic/api/patients/{pid}/sessions",
        "therapist",
        {"kind": "live", "scheduled_at": at.isoformat()},
        201,
    )
    assert booked["patient_told"] == {"sent": True}
    [mail] = smtp.to("patient@example.test")[before:]
    assert mail["Subject"] == "Your video call is booked"
    text, entry = calendar_of(mail)
    local = at.astimezone(ZoneInfo("Europe/London"))
    assert f"{local:%H:%M} (Europe/London)" in text and "Therapist" in text, text
    assert "/clinic/today" in text and "#token=" not in text
    uid = next(line for line in entry.splitlines() if line.startswith("UID:"))
    assert f"DTSTART:{at:%Y%m%dT%H%M%S}Z" in entry and "SEQUENCE:0" in entry

    later = at + timedelta(days=1, hours=2)
    await clinic.ok(
        "PATCH", f"/clinic/api/sessions/{booked['id']}", "therapist", {"scheduled_at": later.isoformat()}
    )
    await clinic.ok("POST", f"/clinic/api/sessions/{booked['id']}/cancel", "therapist")
    moved, cancelled = smtp.to("patient@example.test")[before + 1 :]
    assert moved["Subject"] == "Your video call has moved"
    _, entry = calendar_of(moved)
    assert uid in entry and f"DTSTART:{later:%Y%m%dT%H%M%S}Z" in entry and "SEQUENCE:1" in entry
    assert cancelled["Subject"] == "Your video call is cancelled"
    _, entry = calendar_of(cancelled)
    assert uid in entry and "METHOD:CANCEL" in entry and "SEQUENCE:2" in entry
    # Lines end CRLF and none is longer than 75 octets (RFC 5545 3.1).
    raw = entry.encode()
    assert b"\r\n" in raw and all(len(line) <= 75 for line in raw.split(b"\r\n"))


async def test_reminders_follow_the_programme_times_and_go_once(clinic: Clinic, smtp: Inbox) -> None:
    pid = clinic.ids["patient"]  # Europe/London
    await clinic.ok("PUT", f"/clinic/api/patients/{pid}/programme", "therapist", PROGRAMME, 201)
    london = ZoneInfo("Europe/London")
    today = datetime.now(london).date()
    at_0835 = datetime(today.year, today.month, today.day, 8, 35, tzinfo=london).astimezone(UTC)
    sessions = clinic.app[sessions_key]
    mailer = Mailer(clinic.settings)
    before = len(smtp.to("patient@example.test"))
    assert await send_due_reminders(sessions, mailer, "http://telerehab.test", now=at_0835) == 1
    assert await send_due_reminders(sessions, mailer, "http://telerehab.test", now=at_0835) == 0  # once
    # 17:00 is between the 08:30 and 18:00 reminders: nothing due.
    assert (
        await send_due_reminders(
            sessions, mailer, "http://telerehab.test", now=at_0835 + timedelta(hours=8, minutes=25)
        )
        == 0
    )
    assert (
        await send_due_reminders(
            sessions, mailer, "http://telerehab.test", now=at_0835 + timedelta(hours=9, minutes=30)
        )
        == 1
    )  # 18:05
    mails = smtp.to("patient@example.test")[before:]
    assert len(mails) == 2 and all("exercises" in m["Subject"] for m in mails)
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(ReminderSent)) == 2


async def test_a_dead_smtp_server_is_reported_not_crashed(clinic: Clinic, smtp: Inbox) -> None:
    dead = Settings(smtp_host="127.0.0.1", smtp_port=free_port())
    with pytest.raises(MailError):
        await Mailer(dead).send("x@example.test", "s", "t")


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no system CA vouches for, and its key."""
    cert, key = folder / "relay.pem", folder / "relay.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_mail_goes_over_starttls_only_to_a_relay_whose_certificate_checks_out(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    inbox = Inbox(port=free_port())
    relay = Controller(inbox, hostname="127.0.0.1", port=inbox.port, tls_context=tls, require_starttls=True)
    relay.start()
    try:
        relay_settings = Settings(smtp_host="127.0.0.1", smtp_port=inbox.port)  # STARTTLS by default
        with pytest.raises(MailError, match="certificate"):
            await Mailer(relay_settings).send("x@example.test", "s", "t")  # unknown CA: refused
        trusted = replace(relay_settings, smtp_ca_file=str(cert))
        await Mailer(trusted).send("x@example.test", "sign in", "the link")
        assert [m["Subject"] for m in inbox.to("x@example.test")] == ["sign in"]
        clear = replace(relay_settings, smtp_tls="off")  # the relay insists on STARTTLS
        with pytest.raises(MailError):
            await Mailer(clear).send("x@example.test", "s", "t")
    finally:
        relay.stop()
    far = Settings(smtp_host="mail.example.org", smtp_tls="off")
    with pytest.raises(MailError):
        await Mailer(far).send("x@example.test", "s", "t")  # never in clear across a network


async def test_the_reminder_loop_lives_and_dies_with_the_app(
    database_url: str, tmp_path: Path, smtp: Inbox
) -> None:
    s = Settings(
        database_url=database_url,
        state_dir=str(tmp_path),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="off",
        reminder_interval_s=1,
    )
    server, _ = await serve(s)
    try:
        await asyncio.sleep(0.2)
        [task] = [t for t in asyncio.all_tasks() if t.get_name() == "clinic-reminders"]
        assert not task.done()
    finally:
        await server.close()
    assert task.done()


async def test_an_unknown_time_zone_is_refused(clinic: Clinic) -> None:
    reply = await clinic.call(
        "POST",
        "/clinic/api/patients",
        "therapist",
        {"email": "tz@example.test", "name": "Z", "timezone": "Mars/Base"},
    )
    assert reply.status == 400 and "time zone" in reply.body["error"]["message"]


async def test_a_patient_asks_for_a_fresh_link_and_nobody_learns_who_is_a_patient(
    clinic: Clinic, smtp: Inbox
) -> None:
    address = "patient@example.test"
    before = len(smtp.to(address))
    replies = []
    for asked in (address, "nobody@example.test", "therapist@clinic.test", address.upper()):
        replies.append(await clinic.ok("POST", "/clinic/api/auth/magic/request", None, {"email": asked}))
    assert all(r == replies[0] for r in replies) and replies[0]["requested"] is True  # one answer for all
    mails = smtp.to(address)[before:]
    assert len(mails) == 2 and smtp.to("nobody@example.test") == [] and smtp.to("therapist@clinic.test") == []
    text = body(mails[-1])
    assert "You asked for a new sign-in link" in text and "ignore this e-mail" in text
    first, second = (body(m).split("#token=", 1)[1].split()[0] for m in mails)
    # Asking does not void a link already sent (anyone may ask in a patient's name).
    for token in (first, second):
        signed = await clinic.ok("POST", "/clinic/api/auth/magic", None, {"token": token})
        assert signed["user"]["id"] == clinic.ids["patient"]
    # The invitation and these two make three links this hour: no more mail for now.
    await clinic.ok("POST", "/clinic/api/auth/magic/request", None, {"email": address})
    assert len(smtp.to(address)[before:]) == 2
    bad = await clinic.call("POST", "/clinic/api/auth/magic/request", None, {"email": "not an address"})
    assert bad.status == 422  # not an e-mail address: said so
