"""The SMS channel with its settings unset (the embedded default): a reply is written as a file under
OUTBOX_DIR/sms/ instead of going to Twilio, and the webhook refuses texts it cannot verify."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from myhibachi.inbox import commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel, DeliveryState, Message
from myhibachi.settings import Settings
from tests.inbox.sms.conftest import CUSTOMER, text_in


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"twilio_account_sid": None, "twilio_auth_token": None, "twilio_from": None,
                                       "twilio_api_base": None})


async def test_a_reply_is_written_under_the_outbox_folder(db, runtime, settings, station, admin_principal,
                                                          fake_twilio):
    async with db.transaction() as session:
        received = await commands.receive(session, Inbound(channel=Channel.sms, provider_message_id="SM1",
                                                           body="Hi", phone=CUSTOMER))
    async with runtime.jobs.unit_of_work() as session:
        message = await commands.reply(session, admin_principal, received.conversation.id, "Hello from FRE")

    written = json.loads((settings.outbox_dir / "sms" / f"{message.id}.json").read_text())
    assert (written["to"], written["body"], written["channel"]) == (CUSTOMER, "Hello from FRE", "sms")
    async with db.transaction(write=False) as session:
        stored = await session.get(Message, message.id)
    assert (stored.delivery, stored.provider_message_id) == (DeliveryState.sent, f"file-{message.id}")
    assert fake_twilio.calls == []


async def test_the_webhook_refuses_texts_while_the_auth_token_is_unset(client, db, station):
    response = await text_in(client, "SM1", "Hi")

    assert response.status_code == 403 and response.json()["code"] == "sms_disabled"
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
