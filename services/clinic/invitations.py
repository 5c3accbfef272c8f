"""A booked video call as a calendar entry (iCalendar, RFC 5545) and as an e-mail to the
patient with that entry attached: when it is booked, moved or cancelled.

The entry carries no join link: links are short-lived and personal, and a calendar is
shared and synced. It points at the patient's plan (``/clinic/today``), where the call's
"Join" button asks for a fresh link at the time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.clinic.mailer import Mailer, MailError
from services.clinic.models import ClinicSession, User

log = logging.getLogger(__name__)

CALL_LENGTH = timedelta(minutes=30)
Change = Literal["booked", "moved", "cancelled"]


def _escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Content lines are folded at 75 octets (RFC 5545 3.1), never inside a character."""
    out: list[str] = []
    current = ""
    for char in line:
        if len((current + char).encode()) > (75 if not out else 74):
            out.append(current)
            current = ""
        current += char
    out.append(current)
    return "\r\n ".join(out)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_entry(
    row: ClinicSession,
    therapist_name: str,
    base_url: str,
    *,
    cancelled: bool = False,
    now: datetime | None = None,
) -> bytes:
    """The call as an iCalendar file: one event, a stable UID per session, the session's
    SEQUENCE (one up with every change), METHOD:CANCEL when it is called off."""
    now = now or datetime.now(UTC)
    host = urlparse(base_url).hostname or "telerehab"
    start = row.scheduled_at
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//telerehab//video calls//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:session-{row.id}@{host}",
        f"SEQUENCE:{row.calendar_sequence}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(start)}",
        f"DTEND:{_stamp(start + CALL_LENGTH)}",
        f"SUMMARY:{_escape(f'Video call with {therapist_name} (facial therapy)')}",
        "DESCRIPTION:"
        + _escape(
            "Open your exercise plan a few minutes before the call and press 'Join the call'. "
            "Have your camera on, your face well lit and facing the light."
        ),
        f"URL:{base_url.rstrip('/')}/clinic/today",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()


def local_time(moment: datetime, timezone: str) -> str:
    """The call's time as the patient reads it, in their own time zone."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local:%A %d %B %Y at %H:%M} ({zone.key})"


async def tell_patient(
    mailer: Mailer, patient: User, therapist_name: str, row: ClinicSession, change: Change, base_url: str
) -> bool | None:
    """E-mail the patient about their call, with the calendar entry attached. True when
    sent, False when the SMTP server refused (logged), None when no SMTP is configured."""
    if not mailer.configured:
        return None
    at = local_time(row.scheduled_at, patient.timezone)
    subject, first = {
        "booked": (
            "Your video call is booked",
            f"{therapist_name} has booked a video call with you on {at}.",
        ),
        "moved": ("Your video call has moved", f"{therapist_name} has moved your video call to {at}."),
        "cancelled": (
            "Your video call is cancelled",
            f"{therapist_name} has cancelled your video call on {at}.",
        ),
    }[change]
    after = (
        "You do not need to do anything."
        if change == "cancelled"
        else "On the day, open your exercise plan and press 'Join the call':\n\n"
        f"{base_url.rstrip('/')}/clinic/today"
    )
    text = (
        f"Hello {patient.name},\n\n{first}\n\n{after}\n\n"
        "The attached calendar file adds the call to your calendar (or updates it).\n"
    )
    entry = calendar_entry(row, therapist_name, base_url, cancelled=change == "cancelled")
    try:
        await mailer.send(patient.email, subject, text, attachment=("video-call.ics", "text/calendar", entry))
    except MailError as exc:
        log.warning("call %s e-mail for session %d not sent: %s", change, row.id, exc)
        return False
    log.info("call %s e-mail sent to patient %d for session %d", change, patient.id, row.id)
    return True
