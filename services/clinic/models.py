"""The clinic's tables. Free-form clinical detail lives in validated JSON documents
(``data``, ``summary``, ``answers``) beside the columns that queries need.

Keep ``migrations/versions`` in step: ``tests/clinic/test_migrations.py`` compares them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.clinic.db import UTCDateTime, utcnow

ROLES = ("admin", "therapist", "patient")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class User(Base):
    """A therapist, a patient (owned by one therapist) or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(255))  # encrypted (services.clinic.auth)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None]  # the last 30-s step a code was used in (no replays)
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)  # switched off by an admin


class AuthToken(Base):
    """A magic link (single use) or a bearer login; only the SHA-256 of the token is kept."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "magic" | "login"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who read or changed which clinical record, when. Never the content."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # read | create | update | delete | denied
    resource: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    resource_id: Mapped[int | None] = mapped_column(Integer)


class Intake(Base):
    __tablename__ = "intakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    onset_date: Mapped[date] = mapped_column(Date)
    diagnosis: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class PatientIntake(Base):
    """What the patient told the clinic before the visit, in their own words (the intake
    form on their plan): the therapist reviews it into the intake proper."""

    __tablename__ = "patient_intakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    data: Mapped[dict[str, Any]]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]


class Assessment(Base):
    """A Sunnybrook grading (with sub-scores) and/or House–Brackmann grade.

    ``source`` is ``therapist`` (the record) or ``estimate`` (the analyzer's, from a
    session summary): estimates sit beside the therapist's scores, never replace them.
    """

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    assessed_at: Mapped[datetime]
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resting: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    voluntary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    synkinesis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    composite: Mapped[int | None]
    house_brackmann: Mapped[int | None]
    notes: Mapped[str] = mapped_column(Text, default="")


class Programme(Base):
    """One version of a patient's home programme; a change is a new version."""

    __tablename__ = "programmes"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict[str, Any]]


class CheckOff(Base):
    """The patient ticked off one self-care item once on a day (their local date)."""

    __tablename__ = "checkoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date, index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderSent(Base):
    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("patient_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClinicSession(Base):
    """A live session with the therapist, or the patient's home practice.

    ``gateway_sid`` is the gateway room (join links are issued for it on demand, never
    stored); ``summary`` is the analyzer's SessionSummary as JSON; ``notes`` are the
    therapist's notes on the session.
    """

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(8))  # live | home
    status: Mapped[str] = mapped_column(String(16))  # scheduled | ended
    scheduled_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    gateway_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    gateway_expires: Mapped[int | None]
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The therapist's own session notes (shown to therapists only; never logged).
    notes: Mapped[str | None] = mapped_column(Text)
    notes_updated_at: Mapped[datetime | None]
    # A booked call's calendar entry: one up with every change e-mailed (RFC 5545
    # SEQUENCE), so the patient's calendar takes the latest.
    calendar_sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    # Manual treatment the therapist gave in the session (massage, stretches, taping...):
    # [{"kind", "minutes", "note"}], therapists only, like the notes.
    treatments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class QuestionnaireResponse(Base):
    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # face | saq | fdi
    answers: Mapped[dict[str, Any]]
    scores: Mapped[dict[str, Any]]
    answered_at: Mapped[datetime]
    entered_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class EducationRead(Base):
    """The patient marked an education item of their programme as read (once per key)."""

    __tablename__ = "education_reads"
    __table_args__ = (UniqueConstraint("patient_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class Goal(Base):
    """A goal agreed with the patient: in their words, and where it can be, tied to a
    measure with a target (``services.clinic.goals``), so progress shows against it and
    it is reviewed at re-assessment."""

    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    measure: Mapped[str | None] = mapped_column(String(32))
    target: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | achieved | dropped
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str] = mapped_column(Text, default="")


class ReferralFlag(Base):
    """A rule's suggestion for the therapist to accept or dismiss; never acted on alone."""

    __tablename__ = "referral_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    specialty: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | accepted | dismissed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
