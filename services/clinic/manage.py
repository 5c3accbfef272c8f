"""Commands for operators: ``telerehab db upgrade|downgrade|current`` and ``telerehab
clinic create-admin``. Each opens its own engine on ``DATABASE_URL``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from argon2 import PasswordHasher

from services.clinic.db import create_engine, resolve_url, sessionmaker
from services.clinic.errors import HttpError
from services.clinic.migrate import current, downgrade, upgrade
from services.clinic.models import User
from services.clinic.people import create_user
from shared.settings import Settings


async def db_command(settings: Settings, action: str, revision: str | None) -> str | None:
    engine = create_engine(resolve_url(settings))
    try:
        if action == "upgrade":
            await upgrade(engine, revision or "head")
        elif action == "downgrade":
            await downgrade(engine, revision or "-1")
        return await current(engine)
    finally:
        await engine.dispose()


async def create_admin(
    settings: Settings, email: str, name: str, password: str, hasher: PasswordHasher | None = None
) -> int:
    """Create an admin (after bringing the database up to date); returns the user id."""
    if len(password) < 10:
        raise ValueError("the password needs at least 10 characters")
    engine = create_engine(resolve_url(settings))
    try:
        await upgrade(engine)
        async with sessionmaker(engine)() as db, db.begin():
            password_hash = (hasher or PasswordHasher()).hash(password)
            user: User = await create_user(
                db, role="admin", email=email, name=name, password_hash=password_hash
            )
            return user.id
    finally:
        await engine.dispose()


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password for the new admin: ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def command(settings: Settings, args: argparse.Namespace) -> int:
    """``telerehab db …`` and ``telerehab clinic [create-admin]``."""
    if args.command == "db":
        revision = asyncio.run(db_command(settings, args.action, args.revision))
        print(f"telerehab: clinic database at revision {revision or 'base (empty)'}")
        return 0
    if args.clinic_command == "create-admin":
        try:
            user_id = asyncio.run(create_admin(settings, args.email, args.name, _read_password()))
        except (ValueError, HttpError) as exc:
            print(f"telerehab: {exc}", file=sys.stderr)
            return 1
        print(f"telerehab: admin {user_id} created")
        return 0
    from services.clinic.app import run

    run(settings)
    return 0
