"""E-mail (magic links, reminders) over SMTP when ``TELEREHAB_SMTP_HOST`` is set.

smtplib runs in a thread with a time-out; callers log recipient ids, never addresses.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from shared.settings import Settings

SMTP_TIMEOUT_S = 10.0


class MailError(Exception):
    pass


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    async def send(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"the SMTP server did not take the message ({type(exc).__name__})") from None

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(message)
