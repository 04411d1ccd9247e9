"""Email transport: SMTP via aiosmtplib, or (the embedded default) .eml files under ./var/mail/."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

import aiosmtplib
import structlog
from anyio import Path as AsyncPath  # resolved now, not lazily at the first send
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.outbox import OutboxContext, OutboxMessage, add_outbox_message, outbox_handler

log = structlog.get_logger(__name__)


def new_message_id() -> str:
    return make_msgid(domain="myhibachi.local")


def build_message(*, sender: str, to: str, subject: str, text: str, html: str | None = None,
                  message_id: str | None = None, attachments: list[dict[str, str]] | None = None,
                  headers: dict[str, str] | None = None) -> EmailMessage:
    """`headers`: more of them, e.g. a marketing email's List-Unsubscribe pair (RFC 8058)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or new_message_id()
    message["Date"] = formatdate(usegmt=True)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for attachment in attachments or []:  # text attachments, e.g. an .ics invite
        maintype, subtype = attachment["content_type"].split("/", 1)
        if maintype != "text":
            raise ValueError("only text attachments are supported")
        message.add_attachment(attachment["content"], subtype=subtype, filename=attachment["filename"])
    return message


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class FileMailTransport:
    """Writes each message to a file so a developer can open it; nothing leaves the machine."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        await AsyncPath(self.directory).mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_").replace("/", "_")
        path = self.directory / f"{name}.eml"
        await AsyncPath(path).write_bytes(bytes(message))
        log.info("email_written", path=str(path), subject=message["Subject"])


class SmtpMailTransport:
    """`smtp://user:pass@host:port` (STARTTLS when offered, `?starttls=require` to insist) or `smtps://`."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        self.use_tls = parsed.scheme == "smtps"
        self.hostname = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (465 if self.use_tls else 25)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.start_tls = True if query.get("starttls") == ["require"] else None
        self.timeout = float(query.get("timeout", ["30"])[0])

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            tls_context=ssl.create_default_context() if self.use_tls else None,
            timeout=self.timeout,
        )
        log.info("email_sent", subject=message["Subject"], host=self.hostname)


def mail_transport(smtp_url: str | None, mail_dir: Path) -> MailTransport:
    return SmtpMailTransport(smtp_url) if smtp_url else FileMailTransport(mail_dir)


SEND_EMAIL_TOPIC = "email.send"


async def queue_email(session: AsyncSession, *, to: str, subject: str, text: str, html: str | None = None,
                      attachments: list[dict[str, str]] | None = None, about: str | None = None,
                      headers: dict[str, str] | None = None) -> None:
    """Send an email once this unit of work commits (never for a rolled-back change).

    `attachments`: [{"filename", "content_type" (text/*), "content"}]. `about`: what the email concerns (a
    booking's reference), so staff can see what was sent about it. `headers`: more of them (List-Unsubscribe).

    Its Message-ID is chosen now, once: a process that dies after the SMTP server took the email but before its
    job committed sends it again, and only the same Message-ID lets the receiving side drop that copy."""
    await add_outbox_message(session, SEND_EMAIL_TOPIC, {"to": to, "subject": subject, "text": text, "html": html,
                                                         "attachments": attachments or [], "about": about,
                                                         "headers": headers or {}, "message_id": new_message_id()})


@dataclass(frozen=True)
class SentEmail:
    queued_at: datetime
    to: str
    subject: str
    sent_at: datetime | None  # None: still waiting (or failing) to go out


async def emails_about(session: AsyncSession, about: str) -> list[SentEmail]:
    """The emails queued about one thing (a booking's reference), oldest first."""
    rows = await session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == SEND_EMAIL_TOPIC, OutboxMessage.payload["about"].as_string() == about)
        .order_by(OutboxMessage.id))
    return [SentEmail(m.created_at, m.payload["to"], m.payload["subject"], m.processed_at) for m in rows]


@outbox_handler(SEND_EMAIL_TOPIC)
async def _send_email(_: AsyncSession, payload: dict[str, Any], context: OutboxContext) -> None:
    message = build_message(sender=context.settings.mail_from, to=payload["to"], subject=payload["subject"],
                            text=payload["text"], html=payload.get("html"),
                            attachments=payload.get("attachments"), headers=payload.get("headers"),
                            message_id=payload.get("message_id"))  # absent in emails queued before it was stored
    await context.mail.send(message)
