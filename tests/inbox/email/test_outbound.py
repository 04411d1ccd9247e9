"""Email replies (SPEC §7): staff's reply reaches the customer's mail server with the headers that thread it
(In-Reply-To, References, one "Re:"), our Message-ID is stored so the customer's answer threads back; a suppressed
address or a permanent refusal fails the message, a temporary one leaves it to the outbox's retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest

from myhibachi.consent.models import Suppression
from myhibachi.inbox.channels import Outgoing
from myhibachi.inbox.commands import Inbound, receive, reply
from myhibachi.inbox.email import EmailAdapter, reply_subject
from myhibachi.inbox.models import Channel
from myhibachi.settings import Settings
from tests.inbox.email.conftest import messages, raw_email
from tests.smtp import EphemeralPortController, SmtpServer


async def dana_thread(db, station, subject: str = "Re: Re: Party in May?") -> int:  # noqa: ANN001
    async with db.transaction() as session:
        received = await receive(session, Inbound(
            channel=Channel.email, provider_message_id="<m1@mail.example.com>", body="Do you cater in May?",
            name="Dana Reyes", email="dana@example.com", station_id=station.id, subject=subject,
            references="<older@mail.example.com>", at=datetime(2026, 12, 1, 15, tzinfo=UTC)))
    assert received is not None
    return received.conversation.id


async def send_reply(runtime, principal, conversation_id: int, body: str = "We have May 8 open.") -> int:  # noqa: ANN001
    async with runtime.jobs.unit_of_work() as session:  # delivered once committed
        message = await reply(session, principal, conversation_id, body)
    return message.id


async def test_a_reply_arrives_threaded_and_the_customers_answer_threads_back(
        runtime, db, station, admin_principal, smtp_server, post_email, make_station):
    conversation_id = await dana_thread(db, station)

    message_id = await send_reply(runtime, admin_principal, conversation_id)

    assert await asyncio.to_thread(smtp_server.wait_for_messages, 1)
    [sent] = smtp_server.messages
    assert (sent["To"], sent["Subject"]) == ("dana@example.com", "Re: Party in May?")
    assert sent["In-Reply-To"] == "<m1@mail.example.com>"
    assert sent["References"] == "<older@mail.example.com> <m1@mail.example.com>"
    assert sent.get_content().strip() == "We have May 8 open."
    [stored] = [m for m in await messages(db) if m.id == message_id]
    assert (stored.delivery, stored.provider_message_id) == ("sent", sent["Message-ID"])

    await make_station("OAK")  # a newer thread of Dana's elsewhere must not take her answer
    async with db.transaction() as session:
        await receive(session, Inbound(channel=Channel.email, provider_message_id="<x@mail.example.com>",
                                       body="Hello Oakland", email="dana@example.com", station_id=station.id + 1))
    answer = await post_email(raw_email("Great, booking it.", message_id="<m2@mail.example.com>",
                                        subject="Re: Party in May?", in_reply_to=sent["Message-ID"]))
    assert answer.status_code == 201 and answer.json()["conversation_id"] == conversation_id


async def test_a_suppressed_address_gets_nothing_and_the_message_fails(
        runtime, db, station, admin_principal, smtp_server):
    conversation_id = await dana_thread(db, station)
    async with db.transaction() as session:
        session.add(Suppression(email="dana@example.com", reason="hard_bounce", source="dsn"))

    message_id = await send_reply(runtime, admin_principal, conversation_id)

    [stored] = [m for m in await messages(db) if m.id == message_id]
    assert stored.delivery == "failed" and "suppressed" in stored.delivery_error
    assert smtp_server.messages == []


class RefusingServer(SmtpServer):
    """Answers every RCPT with `reply`."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    async def handle_RCPT(self, *_: Any) -> str:  # noqa: N802 - aiosmtpd hook
        return self.reply


@pytest.mark.parametrize(("answer", "delivery"), [("550 5.1.1 No such user", "failed"),
                                                   ("451 4.3.0 Try again later", "queued")])
async def test_a_permanent_refusal_fails_the_message_and_a_temporary_one_is_retried(
        runtime, db, station, admin_principal, answer: str, delivery: str):
    server = RefusingServer(answer)
    controller = EphemeralPortController(server, hostname="127.0.0.1", port=0, ready_timeout=5)
    controller.start()
    try:
        runtime.settings.smtp_url = f"smtp://127.0.0.1:{controller.port}?timeout=5"
        conversation_id = await dana_thread(db, station)
        message_id = await send_reply(runtime, admin_principal, conversation_id)
    finally:
        controller.stop()

    [stored] = [m for m in await messages(db) if m.id == message_id]
    assert stored.delivery == delivery
    assert (stored.delivery_error or "").startswith("The mail server refused dana@example.com: 5.1.1") == \
        (delivery == "failed")


async def test_without_smtp_the_reply_is_written_as_an_eml_file(settings: Settings, tmp_path):  # noqa: ANN001
    adapter = EmailAdapter(settings.model_copy(update={"smtp_url": None, "mail_dir": tmp_path / "mail"}))

    sent = await adapter.send(Outgoing(message_id=7, conversation_id=3, channel=Channel.email,
                                       to="dana@example.com", body="Hi Dana", subject="FW: Re: Party",
                                       in_reply_to="<m1@x>", references="<m0@x> <m1@x>"))

    [path] = (tmp_path / "mail").glob("*.eml")
    written = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert (written["Message-ID"], written["Subject"], written["In-Reply-To"], written["References"]) == \
        (sent.provider_message_id, "Re: Party", "<m1@x>", "<m0@x> <m1@x>")
    assert sent.provider_message_id.startswith("<inbox.7.") and sent.provider_message_id.endswith("@myhibachi.test>")
    again = await adapter.send(Outgoing(message_id=7, conversation_id=3, channel=Channel.email,
                                        to="dana@example.com", body="Hi Dana"))
    assert again == sent  # a retried send keeps its Message-ID


def test_the_reply_subject_has_one_re(settings: Settings) -> None:
    assert [reply_subject(s, settings) for s in ("Party", "Re: Party", "RE: re:Party", "Fwd: Re: Party", "", None)] \
        == ["Re: Party"] * 4 + ["Re: Your message to MyHibachi"] * 2
