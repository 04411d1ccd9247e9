"""Email transports against a real SMTP server on loopback, the .eml fallback, and the reset email end to end."""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote

import aiosmtplib
import pytest
from sqlalchemy import func, select

from myhibachi.auth.models import PasswordToken
from myhibachi.auth.permissions import Role
from myhibachi.core.email import (
    FileMailTransport,
    SmtpMailTransport,
    build_message,
    mail_transport,
    queue_email,
)
from myhibachi.core.outbox import OutboxContext, process_outbox_message, take_pending_ids
from myhibachi.settings import Settings
from tests.conftest import PASSWORD, mail_files
from tests.smtp import SmtpServer


async def _wait_for_messages(server: SmtpServer, count: int) -> None:
    assert await asyncio.to_thread(server.wait_for_messages, count), f"fewer than {count} messages arrived"


def _message(subject: str = "Your booking", text: str = "See you on Saturday.") -> object:
    return build_message(sender="MyHibachi <bookings@myhibachi.local>", to="guest@example.com",
                         subject=subject, text=text)


def test_smtp_url_parsing():
    transport = SmtpMailTransport("smtp://mailer:s3cret%2Fp%40ss@mail.example.com:2525?starttls=require&timeout=7")
    assert (transport.hostname, transport.port) == ("mail.example.com", 2525)
    assert (transport.username, transport.password) == ("mailer", "s3cret/p@ss")
    assert transport.use_tls is False
    assert transport.start_tls is True
    assert transport.timeout == 7.0

    plain = SmtpMailTransport("smtp://relay.internal")
    assert (plain.hostname, plain.port, plain.username, plain.password) == ("relay.internal", 25, None, None)
    assert plain.start_tls is None  # opportunistic: STARTTLS only when offered

    implicit_tls = SmtpMailTransport("smtps://user:pw@smtp.example.com")
    assert implicit_tls.use_tls is True
    assert implicit_tls.port == 465


def test_transport_choice(tmp_path: Path):
    assert isinstance(mail_transport(None, tmp_path), FileMailTransport)
    assert isinstance(mail_transport("smtp://127.0.0.1:2525", tmp_path), SmtpMailTransport)


async def test_smtp_transport_delivers_to_a_real_server(smtp_server: SmtpServer):
    message = build_message(sender="MyHibachi <bookings@myhibachi.local>", to="guest@example.com",
                            subject="Your booking on Saturday", text="Chef Chen arrives at 5:30 pm.",
                            html="<p>Chef Chen arrives at <b>5:30 pm</b>.</p>")
    await SmtpMailTransport(smtp_server.url).send(message)
    await _wait_for_messages(smtp_server, 1)

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert smtp_server.envelopes[0].rcpt_tos == ["guest@example.com"]
    assert smtp_server.envelopes[0].mail_from == "bookings@myhibachi.local"
    assert received["Subject"] == "Your booking on Saturday"
    assert received["Message-ID"] == message["Message-ID"]
    assert received.get_body(("plain",)).get_content().strip() == "Chef Chen arrives at 5:30 pm."
    assert "<b>5:30 pm</b>" in received.get_body(("html",)).get_content()
    assert smtp_server.logins == []  # no credentials in the URL, no AUTH


async def test_smtp_transport_authenticates_with_url_credentials(smtp_server: SmtpServer):
    url = f"smtp://mailer:s3cret%2Fp%40ss@127.0.0.1:{smtp_server.port}?timeout=5"
    await SmtpMailTransport(url).send(_message(subject="Authenticated"))
    await _wait_for_messages(smtp_server, 1)
    assert smtp_server.logins == [("mailer", "s3cret/p@ss")]
    assert smtp_server.messages[0]["Subject"] == "Authenticated"


async def test_smtp_transport_surfaces_rejected_credentials(smtp_server: SmtpServer):
    url = f"smtp://mailer:wrong@127.0.0.1:{smtp_server.port}?timeout=5"
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await SmtpMailTransport(url).send(_message())
    assert smtp_server.messages == []


async def test_file_transport_writes_a_parseable_eml(tmp_path: Path):
    directory = tmp_path / "mail"
    message = build_message(sender="MyHibachi <bookings@myhibachi.local>", to="Zoë <zoe@example.com>",
                            subject="Deposit received — thank you", text="We received $100.00.\nSee you soon!")
    await FileMailTransport(directory).send(message)

    files = list(directory.glob("*.eml"))
    assert len(files) == 1
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Deposit received — thank you"
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.com"
    assert parsed["To"].addresses[0].display_name == "Zoë"
    assert parsed["Message-ID"] == message["Message-ID"]
    assert parsed.get_content().strip() == "We received $100.00.\nSee you soon!"


@pytest.fixture
def settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    """This module's app sends through the loopback SMTP server."""
    return settings.model_copy(update={"smtp_url": smtp_server.url})


async def test_password_reset_email_over_smtp(client, db, settings: Settings, smtp_server: SmtpServer,
                                              make_station, make_user):
    station = await make_station("FRE")
    await make_user("sunny@example.com", Role.support, station, name="Sunny Support")

    unknown = await client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert unknown.status_code == 202
    response = await client.post("/api/v1/auth/password-reset", json={"email": "Sunny@Example.com"})
    assert response.status_code == 202
    await _wait_for_messages(smtp_server, 1)

    assert len(smtp_server.messages) == 1  # only the real account got one
    received = smtp_server.messages[0]
    assert smtp_server.envelopes[0].rcpt_tos == ["sunny@example.com"]
    assert received["Subject"] == "Reset your MyHibachi password"
    body = received.get_body(("plain",)).get_content()
    assert "Sunny Support" in body
    match = re.search(r"http://testserver/admin/set-password\?token=([\w%-]+)", body)
    assert match, body
    assert mail_files(settings) == []  # SMTP configured: no .eml fallback

    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(PasswordToken)) == 1

    # The emailed token is the real one: it sets the password once.
    token = unquote(match.group(1))
    new_password = "a-brand-new-password"
    assert new_password != PASSWORD
    set_password = await client.post("/api/v1/auth/password", json={"token": token, "new_password": new_password})
    assert set_password.status_code == 204, set_password.text
    login = await client.post("/api/v1/auth/login", json={"email": "sunny@example.com", "password": new_password})
    assert login.status_code == 200
    await _wait_for_messages(smtp_server, 2)
    assert smtp_server.messages[1]["Subject"] == "Your MyHibachi password was changed"


class _DiesAfterSending:
    """The SMTP server takes the email, then the process dies before the job commits (a SIGKILL at that moment)."""

    def __init__(self, transport: SmtpMailTransport) -> None:
        self.transport = transport

    async def send(self, message: EmailMessage) -> None:
        await self.transport.send(message)
        raise ConnectionResetError("the worker died before it recorded the email as sent")


async def test_an_email_sent_again_after_a_crash_keeps_its_message_id(db, settings: Settings,
                                                                      smtp_server: SmtpServer):
    async with db.transaction() as session:
        await queue_email(session, to="guest@example.com", subject="We're holding your date", text="See you.")
        [message_id] = take_pending_ids(session)
    transport = SmtpMailTransport(smtp_server.url)

    dying = OutboxContext(settings=settings, mail=_DiesAfterSending(transport))
    assert await process_outbox_message(db, dying, message_id) is False  # not recorded: it goes out again
    assert await process_outbox_message(db, OutboxContext(settings=settings, mail=transport), message_id) is True
    await _wait_for_messages(smtp_server, 2)

    first, again = smtp_server.messages
    assert again["Subject"] == first["Subject"] == "We're holding your date"
    assert again["Message-ID"] == first["Message-ID"]  # the receiving side can drop the copy
