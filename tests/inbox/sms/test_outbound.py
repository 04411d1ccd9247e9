"""A reply in an SMS thread goes out through the official Twilio SDK to the loopback stand-in (From, To, Body and the
StatusCallback as posted), Twilio's refusal fails the message for good, its outage leaves it for a retry, and the
signed status callback moves the delivery forward."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import select

from myhibachi.core.outbox import OutboxMessage
from myhibachi.inbox import commands
from myhibachi.inbox.models import Conversation, DeliveryState, Message
from tests.inbox.conftest import deliver_pending
from tests.inbox.sms.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CUSTOMER,
    SENDER,
    STATUS_PATH,
    signed,
    text_in,
)


async def conversation_id(client, db) -> int:  # noqa: ANN001
    assert (await text_in(client, "SM-in", "Can you do 12 people?")).status_code == 200
    async with db.transaction(write=False) as session:
        return await session.scalar(select(Conversation.id))


async def reply(runtime, principal, conversation: int, body: str) -> int:  # noqa: ANN001
    """Staff's reply, in a unit of work that delivers what it queued once committed (as a request does)."""
    async with runtime.jobs.unit_of_work() as session:
        message = await commands.reply(session, principal, conversation, body)
    return message.id


async def stored(db, message_id: int) -> Message:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.get(Message, message_id)


async def test_a_reply_is_sent_through_the_twilio_sdk(client, db, runtime, station, admin_principal, fake_twilio):
    message_id = await reply(runtime, admin_principal, await conversation_id(client, db), "$60 a person, see you!")

    (call,) = fake_twilio.calls
    assert call.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert call.form == {"To": CUSTOMER, "From": SENDER, "Body": "$60 a person, see you!",
                         "StatusCallback": "http://testserver/api/v1/webhooks/twilio/status"}
    assert call.authorization == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    message = await stored(db, message_id)
    assert (message.delivery, message.provider_message_id) == (DeliveryState.sent, f"SM{1:032x}")


async def test_twilio_refusing_the_number_fails_the_message_for_good(client, db, runtime, station, admin_principal,
                                                                     fake_twilio, clock):
    conversation = await conversation_id(client, db)
    fake_twilio.refuse_next(400, 21211, "The 'To' number +15105550100 is not a valid phone number.")

    message = await stored(db, await reply(runtime, admin_principal, conversation, "Hello?"))

    assert message.delivery == DeliveryState.failed
    assert "21211" in message.delivery_error and "not a valid phone number" in message.delivery_error
    clock.shift(timedelta(hours=2))
    assert await deliver_pending(runtime) == 0  # nothing left to retry
    assert len(fake_twilio.calls) == 1


async def test_a_twilio_outage_leaves_the_message_queued_for_a_retry(client, db, runtime, station, admin_principal,
                                                                    fake_twilio, clock):
    conversation = await conversation_id(client, db)
    fake_twilio.refuse_next(503, 20503, "Service unavailable")

    message_id = await reply(runtime, admin_principal, conversation, "Hello?")

    assert (await stored(db, message_id)).delivery == DeliveryState.queued
    async with db.transaction(write=False) as session:
        outbox = await session.scalar(select(OutboxMessage).where(OutboxMessage.topic == commands.DELIVER_TOPIC))
    assert outbox.processed_at is None and "503" in outbox.last_error
    clock.shift(timedelta(hours=2))  # past the outbox's backoff
    assert await deliver_pending(runtime) == 1
    message = await stored(db, message_id)
    assert (message.delivery, message.provider_message_id, len(fake_twilio.calls)) == (
        DeliveryState.sent, f"SM{1:032x}", 2)


async def status(client, sid: str, state: str, **extra: str):  # noqa: ANN201, ANN001
    form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": state, **extra}
    return await client.post(STATUS_PATH, data=form, headers=signed(STATUS_PATH, form))


async def test_the_status_callback_moves_the_delivery_forward_only(client, db, runtime, station, admin_principal,
                                                                   fake_twilio):
    message_id = await reply(runtime, admin_principal, await conversation_id(client, db), "Deposit link coming up")
    sid = (await stored(db, message_id)).provider_message_id

    assert (await status(client, sid, "delivered")).status_code == 204
    assert (await stored(db, message_id)).delivery == DeliveryState.delivered
    assert (await status(client, sid, "sent")).status_code == 204  # late and out of order: changes nothing
    assert (await stored(db, message_id)).delivery == DeliveryState.delivered
    assert (await status(client, "SM-unknown", "delivered")).status_code == 204


async def test_an_undelivered_status_keeps_twilios_error_code(client, db, runtime, station, admin_principal,
                                                              fake_twilio):
    message_id = await reply(runtime, admin_principal, await conversation_id(client, db), "Hello")
    sid = (await stored(db, message_id)).provider_message_id

    assert (await status(client, sid, "undelivered", ErrorCode="30003")).status_code == 204

    message = await stored(db, message_id)
    assert (message.delivery, message.delivery_error) == (DeliveryState.failed, "Twilio error 30003")


async def test_an_unsigned_status_callback_changes_nothing(client, db, runtime, station, admin_principal,
                                                          fake_twilio):
    message_id = await reply(runtime, admin_principal, await conversation_id(client, db), "Hello")
    sid = (await stored(db, message_id)).provider_message_id
    form = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30007"}

    response = await client.post(STATUS_PATH, data=form, headers={"X-Twilio-Signature": "bm90IGl0"})

    assert response.status_code == 403 and response.json()["code"] == "invalid_signature"
    assert (await stored(db, message_id)).delivery == DeliveryState.sent
