"""Meta's webhook (Messenger and Instagram): the subscription handshake, the signature over the raw body checked
before anything is read, a person's messages joined to one contact, lead and thread per channel, stored once when
redelivered or posted twice at once, our page's echoes, and delivery and read receipts."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select

from myhibachi.contacts.models import Contact, ContactHandle
from myhibachi.inbox import commands
from myhibachi.inbox.models import Conversation, DeliveryState, Direction, Message, Sender
from myhibachi.leads.models import Lead, LeadSource
from tests.inbox.meta.conftest import (
    NOW_MS,
    VERIFY_TOKEN,
    WEBHOOK,
    batch,
    delivery,
    echo,
    message,
    post_signed,
    read,
    sign,
)


async def count(db, model) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model))


async def messages(db) -> list[Message]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(Message).order_by(Message.id)))


def handshake(token: str, mode: str = "subscribe") -> dict[str, str]:
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}


# --- the handshake and the signature -------------------------------------------------------------------------------


async def test_the_handshake_echoes_the_challenge_for_our_verify_token(client):
    response = await client.get(WEBHOOK, params=handshake(VERIFY_TOKEN))

    assert response.status_code == 200 and response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


async def test_the_handshake_with_another_token_or_mode_is_refused(client):
    wrong = await client.get(WEBHOOK, params=handshake(VERIFY_TOKEN + "x"))
    unsubscribe = await client.get(WEBHOOK, params=handshake(VERIFY_TOKEN, mode="unsubscribe"))

    for response in (wrong, unsubscribe):
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "verify_token_mismatch" and "1158201444" not in response.text


async def test_a_post_without_a_valid_signature_is_refused_and_stores_nothing(client, db, station):
    body = json.dumps(batch(message("m_1"))).encode()
    unsigned = await client.post(WEBHOOK, content=body, headers={"Content-Type": "application/json"})
    other_secret = await post_signed(client, body, signature=sign(body, "someone-elses-secret"))
    tampered = await post_signed(client, body.replace(b"12 people", b"99 people"), signature=sign(body))

    for response in (unsigned, other_secret, tampered):
        assert response.status_code == 403 and response.json()["code"] == "invalid_signature"
    assert await count(db, Message) == 0 and await count(db, Contact) == 0


async def test_a_signed_body_that_is_not_an_event_batch_is_a_400_and_stores_nothing(client, db, station):
    not_json = await post_signed(client, b"{not json")
    not_a_batch = await post_signed(client, {"object": "page"})

    assert not_json.status_code == 400 and not_json.json()["code"] == "invalid_payload"
    assert not_a_batch.status_code == 400
    assert await count(db, Message) == 0


async def test_a_body_past_the_cap_is_refused(client, db, station):
    huge = json.dumps(batch(message("m_1", "x" * 1_100_000))).encode()

    response = await post_signed(client, huge)

    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert await count(db, Message) == 0


# --- a person's messages -------------------------------------------------------------------------------------------


async def test_a_messenger_message_makes_a_contact_a_lead_and_a_thread(client, db, station):
    response = await post_signed(client, batch(message("m_1", person="PSID-42")))

    assert response.status_code == 200, response.text
    assert response.json() == {"events": 1, "stored": 1, "duplicates": 0, "ignored": 0}
    async with db.transaction(write=False) as session:
        conversation = await session.scalar(select(Conversation))
        handle = await session.scalar(select(ContactHandle).where(ContactHandle.kind == "messenger"))
        lead = await session.scalar(select(Lead))
        stored = await session.scalar(select(Message))
    assert (conversation.channel, conversation.station_id, conversation.unread) == ("messenger", station.id, 1)
    assert handle.value == "PSID-42" and handle.contact_id == conversation.contact_id
    assert lead.source == LeadSource.inbox and lead.contact_id == conversation.contact_id
    assert conversation.lead_id == lead.id
    assert (stored.direction, stored.sender, stored.provider_message_id) == ("in", "contact", "m_1")
    assert stored.body == "Hi! Price for 12 people on Dec 20?" and stored.at.timestamp() * 1000 == NOW_MS
    assert conversation.last_inbound_at == stored.at


async def test_every_instagram_dm_of_one_person_joins_one_contact_and_one_thread(client, db, station):
    first = await post_signed(client, batch(message("ig_1", "hello", person="IGSID-7"), instagram=True))
    second = await post_signed(client, batch(message("ig_2", "are you free on the 20th?", person="IGSID-7",
                                                     at_ms=NOW_MS + 60_000), instagram=True))

    assert first.status_code == second.status_code == 200
    assert await count(db, Contact) == 1 and await count(db, Lead) == 1
    async with db.transaction(write=False) as session:
        conversation = await session.scalar(select(Conversation))
        bodies = list(await session.scalars(select(Message.body).where(
            Message.conversation_id == conversation.id).order_by(Message.at)))
    assert await count(db, Conversation) == 1 and conversation.channel == "instagram" and conversation.unread == 2
    assert bodies == ["hello", "are you free on the 20th?"]


async def test_attachments_are_described_for_staff(client, db, station):
    photo = message("m_photo", None, attachments=[{"type": "image", "payload": {"url": "https://cdn.example/1"}},
                                                  {"type": "image", "payload": {"url": "https://cdn.example/2"}}])
    captioned = message("m_video", "our backyard", attachments=[{"type": "video", "payload": {}}])

    await post_signed(client, batch(photo, captioned))

    assert [m.body for m in await messages(db)] == ["[sent 2 attachments: image]",
                                                    "our backyard\n[sent 1 attachment: video]"]


async def test_a_redelivery_is_stored_once(client, db, station):
    payload = batch(message("m_same"))

    first = await post_signed(client, payload)
    again = await post_signed(client, payload)

    assert first.json()["stored"] == 1 and again.status_code == 200 and again.json()["duplicates"] == 1
    assert await count(db, Message) == 1


async def test_two_posts_of_one_message_at_once_store_it_once(client, db, station):
    payload = batch(message("m_twice", "first message", person="PSID-new"))

    responses = await asyncio.gather(post_signed(client, payload), post_signed(client, payload))

    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(r.json()["stored"] for r in responses) == [0, 1]
    assert [m.provider_message_id for m in await messages(db)] == ["m_twice"]
    assert await count(db, Contact) == 1 and await count(db, Lead) == 1


async def test_unknown_event_kinds_and_malformed_events_are_ignored_with_a_200(client, db, station):
    postback = {"sender": {"id": "PSID-1"}, "recipient": {"id": "P"}, "timestamp": NOW_MS,
                "postback": {"title": "Get started", "payload": "START"}}
    no_sender = {"recipient": {"id": "P"}, "timestamp": NOW_MS, "message": {"mid": "m_x", "text": "hi"}}

    response = await post_signed(client, batch(postback, no_sender, message("m_ok")))

    assert response.status_code == 200 and response.json() == {"events": 3, "stored": 1, "duplicates": 0, "ignored": 2}
    assert [m.provider_message_id for m in await messages(db)] == ["m_ok"]


# --- our page's echoes and the receipts ----------------------------------------------------------------------------


async def test_an_echo_of_a_message_sent_from_metas_inbox_is_stored_once_as_staffs(client, db, station):
    await post_signed(client, batch(message("m_1")))

    await post_signed(client, batch(echo("m_echo", "Yes, we are free that day!")))
    again = await post_signed(client, batch(echo("m_echo", "Yes, we are free that day!")))

    assert again.json()["duplicates"] == 1
    stored = await messages(db)
    assert [(m.direction, m.sender, m.body) for m in stored] == [
        ("in", "contact", "Hi! Price for 12 people on Dec 20?"), ("out", "staff", "Yes, we are free that day!")]
    assert stored[1].conversation_id == stored[0].conversation_id and stored[1].delivery == DeliveryState.sent
    assert await count(db, Contact) == 1 and await count(db, Lead) == 1


async def test_an_echo_to_someone_without_a_thread_makes_no_contact(client, db, station):
    response = await post_signed(client, batch(echo("m_echo", "Hello there", person="PSID-stranger")))

    assert response.status_code == 200 and response.json()["duplicates"] == 1
    assert await count(db, Message) == 0 and await count(db, Contact) == 0


async def test_the_echo_of_our_own_send_api_message_is_not_stored_again(client, db, station):
    await post_signed(client, batch(message("m_1")))

    response = await post_signed(client, batch(echo("m_sent_1", "Sure!", metadata="myhibachi:12")))

    assert response.json()["ignored"] == 1 and await count(db, Message) == 1


async def reply_sent(runtime, admin_principal, body: str = "Happy to help!") -> Message:  # noqa: ANN001
    """A staff reply in the thread of the only conversation, delivered through the loopback Graph API."""
    async with runtime.jobs.unit_of_work() as session:
        conversation_id = await session.scalar(select(Conversation.id))
        reply = await commands.reply(session, admin_principal, conversation_id, body)
    async with runtime.db.transaction(write=False) as session:
        return await session.get(Message, reply.id)


async def test_delivery_and_read_receipts_move_our_messages_forward(client, db, runtime, station, admin_principal,
                                                                     clock, graph):
    await post_signed(client, batch(message("m_1")))
    first = await reply_sent(runtime, admin_principal, "First answer")
    clock.shift(60)
    second = await reply_sent(runtime, admin_principal, "Second answer")
    assert (first.delivery, first.provider_message_id) == ("sent", "m_sent_1")

    delivered = await post_signed(client, batch(delivery("m_sent_1", "m_sent_2")))
    seen = await post_signed(client, batch(read(watermark=NOW_MS + 1000)))  # after the first, before the second

    assert delivered.json()["stored"] == 1 and seen.json()["stored"] == 1
    states = {m.id: m.delivery for m in await messages(db) if m.direction == Direction.outbound}
    assert states == {first.id: "read", second.id: "delivered"}


async def test_an_instagram_read_receipt_names_the_last_message_seen(client, db, runtime, station, admin_principal,
                                                                      clock, graph):
    await post_signed(client, batch(message("ig_1", person="IGSID-3"), instagram=True))
    first = await reply_sent(runtime, admin_principal, "First answer")
    clock.shift(60)
    second = await reply_sent(runtime, admin_principal, "Second answer")

    await post_signed(client, batch(read(mid=first.provider_message_id, person="IGSID-3"), instagram=True))

    states = {m.id: (m.sender, m.delivery) for m in await messages(db) if m.direction == Direction.outbound}
    assert states == {first.id: (Sender.staff, "read"), second.id: (Sender.staff, "sent")}
