"""A text received through Twilio's webhook: signed by Twilio's own validator or refused with nothing stored, stored
once per MessageSid (also two deliveries at once), an unknown number made a contact and a lead, a known one joined
to its contact, and answered with empty TwiML."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.contacts.models import Contact
from myhibachi.inbox.models import Channel, Conversation, Direction, Message
from myhibachi.leads.models import Lead, LeadSource
from tests.inbox.sms.conftest import CUSTOMER, SMS_PATH, inbound_form, signed, text_in


async def count(db, model) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_text_from_an_unknown_number_makes_a_contact_a_lead_and_a_thread(client, db, station):
    response = await text_in(client, "SM1", "Hi! Price for 12 people on the 20th?")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response" in response.text and "<Message" not in response.text  # Twilio answers nothing by itself
    async with db.transaction(write=False) as session:
        message = await session.scalar(select(Message))
        conversation = await session.get(Conversation, message.conversation_id)
        contact = await session.get(Contact, conversation.contact_id)
        lead = await session.scalar(select(Lead))
    assert (message.channel, message.direction, message.provider_message_id) == ("sms", Direction.inbound, "SM1")
    assert message.body == "Hi! Price for 12 people on the 20th?"
    assert (conversation.station_id, conversation.channel, conversation.unread) == (station.id, Channel.sms, 1)
    assert contact.phone == CUSTOMER
    assert (lead.contact_id, lead.source, conversation.lead_id) == (contact.id, LeadSource.inbox, lead.id)


async def test_a_text_from_a_known_phone_joins_its_contact(client, db, station):
    async with db.transaction() as session:
        known = await find_or_create_contact(session, Identity(phone=CUSTOMER), name="Kim Lee")

    assert (await text_in(client, "SM1", "Is Saturday free?")).status_code == 200
    assert (await text_in(client, "SM2", "For 14 people")).status_code == 200

    async with db.transaction(write=False) as session:
        conversations = (await session.scalars(select(Conversation))).all()
    assert [(c.contact_id, c.unread) for c in conversations] == [(known.id, 2)]
    assert await count(db, Lead) == 0 and await count(db, Contact) == 1


async def test_a_bad_or_missing_signature_is_refused_and_stores_nothing(client, db, station):
    form = inbound_form("SM1", "STOP")
    forged = signed(SMS_PATH, form, token="not-the-auth-token")  # noqa: S106
    tampered = signed(SMS_PATH, {**form, "Body": "Hello"})  # signed for another body
    wrong_url = {"X-Twilio-Signature": signed("/api/v1/webhooks/twilio/other", form)["X-Twilio-Signature"]}

    for headers in (forged, tampered, wrong_url, {}):
        response = await client.post(SMS_PATH, data=form, headers=headers)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_signature"
    assert (await count(db, Message), await count(db, Contact), await count(db, Lead)) == (0, 0, 0)


async def test_a_signed_form_missing_the_sender_or_with_a_bad_one_is_a_validation_problem(client, db, station):
    for form, field in (({"MessageSid": "SM1", "Body": "Hi"}, "body.From"),
                        ({"MessageSid": "SM1", "From": "not a phone", "Body": "Hi"}, "body.From"),
                        ({"From": CUSTOMER, "Body": "Hi"}, "body.MessageSid")):
        response = await client.post(SMS_PATH, data=form, headers=signed(SMS_PATH, form))
        assert response.status_code == 422, response.text
        assert [error["field"] for error in response.json()["errors"]] == [field]
    assert await count(db, Message) == 0


async def test_a_redelivered_text_is_stored_once(client, db, station):
    first = await text_in(client, "SM-again", "Do you bring the grill?")
    again = await text_in(client, "SM-again", "Do you bring the grill?")

    assert (first.status_code, again.status_code) == (200, 200)
    assert "<Response" in again.text
    assert (await count(db, Message), await count(db, Lead)) == (1, 1)
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Conversation.unread)) == 1


async def test_two_deliveries_of_one_text_at_once_store_it_once(client, db, station):
    responses = await asyncio.gather(text_in(client, "SM-twice", "Hello?"), text_in(client, "SM-twice", "Hello?"))

    assert [response.status_code for response in responses] == [200, 200], [r.text for r in responses]
    assert (await count(db, Message), await count(db, Conversation), await count(db, Contact)) == (1, 1, 1)


async def test_an_oversized_body_is_refused_before_it_is_read(client, db, station):
    form = inbound_form("SM1", "x" * 70_000)
    response = await client.post(SMS_PATH, data=form, headers=signed(SMS_PATH, form))

    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert await count(db, Message) == 0
