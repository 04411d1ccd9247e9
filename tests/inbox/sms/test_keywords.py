"""Twilio's keywords texted in: STOP and its synonyms withdraw SMS marketing in the consent ledger, START / YES /
UNSTOP grant and confirm it, HELP / INFO are answered in the thread (through Twilio), a stop request in other words
flags the thread for a person; the text itself is in the thread every time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from myhibachi.consent.models import ConsentAction, ConsentChannel, ConsentEvent
from myhibachi.consent.queries import consent_state
from myhibachi.inbox.models import Conversation, ConversationLabel, DeliveryState, Direction, Message, Sender
from myhibachi.inbox.sms import OPT_OUT_LABEL, Keyword, asks_to_stop, keyword_of
from tests.inbox.sms.conftest import CUSTOMER, text_in


async def ledger(db) -> list[tuple[str, str, str, str, str]]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        events = (await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))).all()
    return [(e.channel, e.purpose, e.action, e.source, e.detail or "") for e in events]


async def thread(db) -> list[Message]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


@pytest.mark.parametrize("body", ["STOP", " stop ", "StopAll", "UNSUBSCRIBE", "cancel", "End", "QUIT"])
async def test_a_stop_keyword_withdraws_sms_marketing_and_stays_in_the_thread(client, db, station, fake_twilio, body):
    assert (await text_in(client, "SM1", body)).status_code == 200

    (event,) = await ledger(db)
    assert event[:4] == ("sms", "marketing", "withdrawn", "sms_keyword")
    assert body.strip().upper() in event[4] and "SM1" in event[4]
    assert [(m.direction, m.body) for m in await thread(db)] == [(Direction.inbound, body)]  # as texted
    assert fake_twilio.calls == []  # no answer of ours: Twilio confirms an opt-out itself


async def test_start_after_stop_grants_and_confirms_again(client, db, station):
    await text_in(client, "SM1", "STOP")
    await text_in(client, "SM2", "unstop")

    assert [event[2] for event in await ledger(db)] == ["withdrawn", "granted", "confirmed"]
    async with db.transaction(write=False) as session:
        contact_id = (await session.scalar(select(Conversation))).contact_id
        texts = await consent_state(session, contact_id, ConsentChannel.sms)
        emails = await consent_state(session, contact_id, ConsentChannel.email)
    assert (texts, emails) == (ConsentAction.confirmed, None)  # texts only: email consent is another matter
    assert [m.body for m in await thread(db)] == ["STOP", "unstop"]


async def test_help_is_answered_in_the_thread_through_twilio(client, db, station, fake_twilio):
    assert (await text_in(client, "SM1", "help")).status_code == 200

    inbound, answer = await thread(db)
    assert (inbound.direction, inbound.body) == (Direction.inbound, "help")
    assert (answer.direction, answer.sender, answer.delivery) == (Direction.outbound, Sender.bot, DeliveryState.sent)
    assert station.name in answer.body and "STOP" in answer.body
    (call,) = fake_twilio.calls
    assert (call.form["To"], call.form["Body"], answer.provider_message_id) == (CUSTOMER, answer.body, f"SM{1:032x}")
    assert await ledger(db) == []  # HELP changes no consent


@pytest.mark.parametrize("body", ["Please stop texting me", "don't text me again", "Remove me from your list",
                                  "stop. I booked elsewhere", "No more messages please"])
async def test_a_stop_request_in_other_words_flags_the_thread_and_changes_no_consent(client, db, station, body):
    assert (await text_in(client, "SM1", body)).status_code == 200
    assert (await text_in(client, "SM2", "really, " + body)).status_code == 200  # flagged once

    async with db.transaction(write=False) as session:
        labels = (await session.execute(select(ConversationLabel.label))).scalars().all()
    assert labels == [OPT_OUT_LABEL]
    assert await ledger(db) == []
    assert [m.body for m in await thread(db)] == [body, "really, " + body]


async def test_an_ordinary_text_is_neither_keyword_nor_flag(client, db, station, fake_twilio):
    assert (await text_in(client, "SM1", "Yes please, Saturday at 6 works")).status_code == 200

    async with db.transaction(write=False) as session:
        assert (await session.execute(select(ConversationLabel))).first() is None
    assert await ledger(db) == [] and fake_twilio.calls == []


def test_only_the_whole_text_is_a_keyword():
    assert [keyword_of(text) for text in ("yes", " INFO\n", "Stop all", "yes please", "")] == [
        Keyword.start, Keyword.help, None, None, None]
    assert asks_to_stop("Stop all") and not asks_to_stop("STOP")  # the keyword itself is acted on, not flagged
    assert not asks_to_stop("Don't stop the music at the party!")
