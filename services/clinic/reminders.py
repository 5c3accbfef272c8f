"""Reminders at the programme's times: listed for the app, and e-mailed when SMTP is
configured (a loop in the clinic app, every ``TELEREHAB_REMINDER_INTERVAL_S``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clinic.context import CLINICAL, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.mailer import Mailer, MailError
from services.clinic.models import Programme, ReminderSent, User
from services.clinic.programme import local_today, reminder_times

log = logging.getLogger(__name__)

# A reminder is e-mailed if the loop sees it within this long after it fell due.
SEND_WINDOW = timedelta(minutes=30)


def reminders_on(patient: User, data: dict[str, Any], day: date) -> list[datetime]:
    tz = ZoneInfo(patient.timezone)
    return [
        datetime.combine(day, time.fromisoformat(hhmm), tzinfo=tz).astimezone(ZoneInfo("UTC"))
        for hhmm in reminder_times(data)
    ]


async def list_reminders(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    day = ctx.date_query("date") or local_today(patient)
    row = (
        await ctx.db.execute(
            select(Programme)
            .where(Programme.patient_id == patient.id)
            .order_by(Programme.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    ctx.audit("read", "reminders", patient.id)
    now = utcnow()
    tz = ZoneInfo(patient.timezone)
    out = []
    for due in reminders_on(patient, row.data, day) if row else []:
        out.append(
            {
                "at": due,
                "local_time": due.astimezone(tz).strftime("%H:%M"),
                "status": "due" if due <= now < due + SEND_WINDOW else ("past" if due <= now else "upcoming"),
            }
        )
    return json_response(
        {"date": day, "timezone": patient.timezone, "email": ctx.services.mailer.configured, "reminders": out}
    )


async def send_due_reminders(
    sessions: async_sessionmaker[AsyncSession], mailer: Mailer, base_url: str, now: datetime | None = None
) -> int:
    """E-mail every reminder that fell due in the last ``SEND_WINDOW`` and was not sent
    yet (a unique row per patient and time makes that exactly once, across clinics too).
    Returns how many were sent."""
    now = now or utcnow()
    sent = 0
    async with sessions() as db:
        latest: dict[int, Programme] = {}
        for programme in (await db.execute(select(Programme).order_by(Programme.version))).scalars():
            latest[programme.patient_id] = programme
        patients = {
            u.id: u for u in (await db.execute(select(User).where(User.id.in_(list(latest))))).scalars()
        }
    for pid, programme in latest.items():
        patient = patients.get(pid)
        if patient is None:
            continue
        day = local_today(patient, now)
        for due in reminders_on(patient, programme.data, day) + reminders_on(
            patient, programme.data, day - timedelta(days=1)
        ):
            if not due <= now < due + SEND_WINDOW:
                continue
            try:
                async with sessions() as db, db.begin():
                    db.add(ReminderSent(patient_id=pid, due_at=due))
                    await db.flush()
                    await mailer.send(
                        patient.email,
                        "Time for your facial exercises",
                        f"Hello {patient.name},\n\nIt is time for your exercises and self-care. "
                        f"Your plan for today: {base_url.rstrip('/')}/clinic/today\n",
                    )
            except IntegrityError:
                continue  # already sent
            except MailError as exc:
                log.warning("reminder for patient %d not sent: %s", pid, exc)
                continue
            sent += 1
            log.info("reminder sent to patient %d", pid)
    return sent


async def reminder_loop(
    sessions: async_sessionmaker[AsyncSession], mailer: Mailer, base_url: str, interval_s: float
) -> None:
    while True:
        try:
            await send_due_reminders(sessions, mailer, base_url)
        except Exception:
            log.exception("reminder round failed; trying again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)


ROUTES = [
    Route(
        "GET",
        "/api/patients/{pid}/reminders",
        list_reminders,
        "Today's reminder times and their state",
        CLINICAL,
        "programme",
        query=("date",),
    ),
]
