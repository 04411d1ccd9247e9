"""Receiving on any channel (the foundation every channel's webhook calls): stored once per provider message id, a
known person joins their thread, an unknown one becomes a contact and a lead, a resolved thread reopens; replies,
private notes, deliveries through the channel adapter (a file while the channel is off) and delivery reports."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.contacts.models import HandleKind
from myhibachi.core.errors import NotFound
from myhibachi.inbox import commands
from myhibachi.inbox.commands import Inbound, WindowClosed
from myhibachi.inbox.models import Channel, Conversation, ConversationStatus, DeliveryState, Message
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import Lead, LeadSource


def sms(sid: str, body: str = "Hi, price for 12 people?", phone: str = "+15105550100") -> Inbound:
    return Inbound(channel=Channel.sms, provider_message_id=sid, body=body, phone=phone)


async def count(db, model) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_an_unknown_sender_becomes_a_contact_a_lead_and_a_thread(db, station):
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1"))

    assert received is not None and received.created_contact
    async with db.transaction(write=False) as session:
        conversation = await session.get(Conversation, received.conversation.id)
        lead = await session.scalar(select(Lead).where(Lead.contact_id == conversation.contact_id))
    assert (conversation.station_id, conversation.channel, conversation.unread) == (station.id, "sms", 1)
    assert lead.source == LeadSource.inbox and conversation.lead_id == lead.id and lead.phone == "+15105550100"


async def test_a_known_person_joins_their_contact_and_thread(db, station):
    async with db.transaction() as session:
        known = await find_or_create_contact(session, Identity(phone="+15105550100"), name="Kim")
    async with db.transaction() as session:
        first = await commands.receive(session, sms("SM1"))
    async with db.transaction() as session:
        second = await commands.receive(session, sms("SM2", "And for 14?"))

    assert not first.created_contact and first.conversation.contact_id == known.id
    assert second.conversation.id == first.conversation.id and second.conversation.unread == 2
    assert await count(db, Lead) == 0  # a known person writing is not a new lead here


async def test_a_redelivery_is_stored_once_also_when_two_arrive_at_once(db, station):
    async def receive() -> object:
        async with db.transaction() as session:
            return await commands.receive(session, sms("SM-same"))

    results = await asyncio.gather(receive(), receive(), return_exceptions=True)
    async with db.transaction() as session:
        again = await commands.receive(session, sms("SM-same"))

    assert again is None and await count(db, Message) == 1
    assert sum(1 for r in results if r is not None and not isinstance(r, BaseException)) == 1


async def test_a_resolved_thread_reopens_when_the_person_writes(db, station, admin_principal):
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1"))
    async with db.transaction() as session:
        await commands.update_conversation(session, admin_principal, received.conversation.id,
                                           status=ConversationStatus.resolved)
    async with db.transaction() as session:
        again = await commands.receive(session, sms("SM2", "One more thing"))

    assert again.conversation.status == ConversationStatus.open


async def test_a_reply_on_an_off_channel_is_written_as_a_file(db, runtime, station, settings, admin_principal):
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1"))
    async with runtime.jobs.unit_of_work() as session:
        reply = await commands.reply(session, admin_principal, received.conversation.id, "From $550 for 10 adults.")

    written = json.loads((settings.outbox_dir / "sms" / f"{reply.id}.json").read_text())
    assert (written["to"], written["body"]) == ("+15105550100", "From $550 for 10 adults.")
    async with db.transaction(write=False) as session:
        stored = await session.get(Message, reply.id)
        conversation = await session.get(Conversation, received.conversation.id)
    assert (stored.delivery, stored.provider_message_id) == (DeliveryState.sent, f"file-{reply.id}")
    assert conversation.status == ConversationStatus.pending and conversation.unread == 0
    assert conversation.assignee_id == admin_principal.user_id


async def test_a_private_note_goes_nowhere(db, runtime, station, settings, admin_principal):
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1"))
    async with runtime.jobs.unit_of_work() as session:
        note = await commands.reply(session, admin_principal, received.conversation.id, "Asked about a birthday",
                                    private=True)

    assert note.private and note.delivery is None and not (settings.outbox_dir / "sms").exists()


async def test_delivery_reports_move_forward_only(db, runtime, station, admin_principal):
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1"))
    async with runtime.jobs.unit_of_work() as session:
        reply = await commands.reply(session, admin_principal, received.conversation.id, "Hello!")
    provider_id = f"file-{reply.id}"

    async with db.transaction() as session:
        assert await commands.record_delivery(session, Channel.sms, provider_id, DeliveryState.delivered)
        assert await commands.record_delivery(session, Channel.sms, provider_id, DeliveryState.sent)  # late, older
        assert not await commands.record_delivery(session, Channel.sms, "SM-unknown", DeliveryState.delivered)
    async with db.transaction(write=False) as session:
        assert (await session.get(Message, reply.id)).delivery == DeliveryState.delivered


async def test_meta_window(db, runtime, station, clock, admin_principal):  # noqa: ANN001
    handle = (HandleKind.messenger, "psid-1")
    async with db.transaction() as session:
        received = await commands.receive(session, Inbound(channel=Channel.messenger, provider_message_id="m1",
                                                           body="hi", handle=handle))
    conversation_id = received.conversation.id

    clock.shift(timedelta(hours=25))
    with pytest.raises(WindowClosed, match="24-hour"):
        async with db.transaction() as session:
            await commands.reply(session, admin_principal, conversation_id, "Still there?")
    async with runtime.jobs.unit_of_work() as session:
        tagged = await commands.reply(session, admin_principal, conversation_id, "Still there?", human_agent=True)
    assert tagged.tag == "HUMAN_AGENT"

    clock.shift(timedelta(days=7))
    with pytest.raises(WindowClosed, match="7 days"):
        async with db.transaction() as session:
            await commands.reply(session, admin_principal, conversation_id, "Hello?", human_agent=True)


async def test_a_customer_writing_first_on_a_channel_lands_at_the_station_they_booked_with(
        db, station, make_station, add_chefs, book):
    other = await make_station("SJC")
    await add_chefs(other)
    await book(other.id)  # Dana's phone: (510) 555-0142
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1", phone="+15105550142"))

    assert not received.created_contact and received.conversation.station_id == other.id


async def test_a_lead_writing_first_on_a_channel_lands_at_the_station_they_asked(db, station, make_station):
    other = await make_station("SJC")
    async with db.transaction() as session:
        await capture_lead(session, Inquiry(station_id=other.id, source=LeadSource.contact_form, name="Kim",
                                            email="kim@example.com", phone="+15105550100"))
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1"))

    assert received.conversation.station_id == other.id and await count(db, Lead) == 1


async def test_a_thread_on_the_channel_outranks_a_booking_elsewhere(db, station, make_station, add_chefs, book):
    other = await make_station("SJC")
    await add_chefs(other)
    async with db.transaction() as session:
        first = await commands.receive(session, sms("SM1", phone="+15105550142"))  # a stranger: the first station
    await book(other.id)  # then Dana books at SJC, from the same phone
    async with db.transaction() as session:
        again = await commands.receive(session, sms("SM2", "Still there?", phone="+15105550142"))

    assert first.conversation.station_id == station.id and again.conversation.id == first.conversation.id


async def test_another_stations_conversation_is_not_found(db, station, make_station, make_user):
    from myhibachi.auth.permissions import Role
    from myhibachi.auth.principal import Principal

    other = await make_station("SJC")
    user_id = await make_user("sjc@example.com", Role.admin, other)
    stranger = Principal(user_id=user_id, email="sjc@example.com", name="S", is_super_admin=False,
                         roles={other.id: Role.admin})
    async with db.transaction() as session:
        received = await commands.receive(session, sms("SM1"))

    with pytest.raises(NotFound):
        async with db.transaction() as session:
            await commands.reply(session, stranger, received.conversation.id, "Hi")


async def test_a_contact_merge_joins_their_threads(db, station, admin_principal):
    from myhibachi.leads.people import merge_contacts

    async with db.transaction() as session:
        one = await commands.receive(session, sms("SM1", "Hi from my cell", phone="+15105550101"))
        two = await commands.receive(session, sms("SM2", "Hi from work", phone="+15105550102"))
        mail = await commands.receive(session, Inbound(channel=Channel.email, provider_message_id="<a@x>",
                                                       body="Hello", email="kim@example.com"))
    async with db.transaction() as session:
        await merge_contacts(session, admin_principal, one.conversation.contact_id, two.conversation.contact_id)
    async with db.transaction() as session:
        await merge_contacts(session, admin_principal, one.conversation.contact_id, mail.conversation.contact_id)

    async with db.transaction(write=False) as session:
        threads = list(await session.scalars(select(Conversation).order_by(Conversation.id)))
        bodies = list(await session.scalars(select(Message.body).where(
            Message.conversation_id == one.conversation.id).order_by(Message.id)))
    assert [(t.id, t.channel, t.contact_id, t.unread) for t in threads] == [
        (one.conversation.id, "sms", one.conversation.contact_id, 2),
        (mail.conversation.id, "email", one.conversation.contact_id, 1)]
    assert bodies == ["Hi from my cell", "Hi from work"]
