"""What the email channel's tests share (on top of ../conftest.py): inbound email on, replies sent to a real SMTP
server on loopback (aiosmtpd), a mail provider posting raw messages, and readers of the stored threads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from email.policy import SMTP
from http.cookiejar import CookieJar, DefaultCookiePolicy

import pytest
from httpx import ASGITransport, AsyncClient, Response
from pydantic import SecretStr
from sqlalchemy import select

from myhibachi.core.db import Database
from myhibachi.inbox import email as _email_channel  # noqa: F401 - registers the channel (tasks.py does in the app)
from myhibachi.inbox.models import Conversation, Message
from myhibachi.settings import Settings
from tests.smtp import SmtpServer

INBOUND = "/api/v1/webhooks/email/inbound"
INBOUND_SECRET = "inbound-secret-for-the-inbox-0123"  # noqa: S105 - the test's own
DATE = "Tue, 01 Dec 2026 15:00:00 +0000"  # an hour before the frozen clock's NOW


@pytest.fixture
def settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return settings.model_copy(update={"inbound_email_secret": SecretStr(INBOUND_SECRET), "smtp_url": smtp_server.url,
                                       "mail_from": "MyHibachi <hello@myhibachi.test>"})


@pytest.fixture
async def provider(app) -> AsyncIterator[AsyncClient]:  # noqa: ANN001
    """The mail provider's server posting what it received: no Origin, no cookies kept."""
    transport = ASGITransport(app=app, client=("198.51.100.25", 41000))
    async with AsyncClient(transport=transport, base_url="http://testserver",
                           cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))) as http:
        yield http


def inbound_headers(secret: str = INBOUND_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"}


@pytest.fixture
def post_email(provider: AsyncClient) -> Callable[[bytes], Awaitable[Response]]:
    async def post(raw: bytes) -> Response:
        return await provider.post(INBOUND, content=raw, headers=inbound_headers())

    return post


def raw_email(text: str | None = "Do you cater for 20 people on May 8?", *, html: str | None = None,
              sender: str = "Dana Reyes <Dana@Example.com>", subject: str = "Party in May?",
              message_id: str | None = "<m1@mail.example.com>", in_reply_to: str | None = None,
              references: str | None = None, date: str = DATE) -> bytes:
    """A message as a mail client writes it (CRLF, MIME)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "MyHibachi <hello@myhibachi.test>"
    message["Subject"] = subject
    message["Date"] = date
    for name, value in (("Message-ID", message_id), ("In-Reply-To", in_reply_to), ("References", references)):
        if value:
            message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    return message.as_bytes(policy=SMTP)


async def conversations(db: Database) -> list[Conversation]:
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(Conversation).order_by(Conversation.id)))


async def messages(db: Database, conversation_id: int | None = None) -> list[Message]:
    async with db.transaction(write=False) as session:
        query = select(Message).order_by(Message.id)
        if conversation_id is not None:
            query = query.where(Message.conversation_id == conversation_id)
        return list(await session.scalars(query))
