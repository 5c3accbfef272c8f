"""E-mail (magic links, reminders) over SMTP when ``TELEREHAB_SMTP_HOST`` is set.

smtplib runs in a thread with a time-out; callers log recipient ids, never addresses.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from shared.settings import Settings, smtp_transport_problem

SMTP_TIMEOUT_S = 10.0


class MailError(Exception):
    pass


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    async def send(
        self, to: str, subject: str, text: str, attachment: tuple[str, str, bytes] | None = None
    ) -> None:
        """Send ``text``; ``attachment``: (file name, MIME type, content), e.g. a calendar entry."""
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        if attachment is not None:
            name, mime, data = attachment
            maintype, subtype = mime.split("/", 1)
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        try:
            await asyncio.to_thread(self._send, message)
        except ssl.SSLCertVerificationError:
            raise MailError(
                "the SMTP server's certificate could not be verified (TELEREHAB_SMTP_CA_FILE?)"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"the SMTP server did not take the message ({type(exc).__name__})") from None

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        problem = smtp_transport_problem(s.smtp_host, s.smtp_tls)
        if problem:
            raise smtplib.SMTPException(problem)
        # A verifying context: smtplib's own default for STARTTLS checks no certificate.
        context = ssl.create_default_context(cafile=s.smtp_ca_file)
        smtp: smtplib.SMTP
        if s.smtp_tls == "tls":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT_S, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT_S)
        with smtp:
            if s.smtp_tls == "starttls":
                smtp.starttls(context=context)
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(message)
