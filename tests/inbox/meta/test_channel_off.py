"""Without META_PAGE_TOKEN the Messenger and Instagram channels are off: replies are written under
outbox_dir/<channel>/ instead of going to Meta, so the embedded default works offline."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from myhibachi.inbox import commands
from myhibachi.inbox.models import Conversation, Message
from tests.inbox.meta.conftest import batch, message, post_signed


@pytest.fixture
def page_token() -> None:
    return None


async def test_a_reply_on_an_off_channel_is_written_to_a_file(client, db, runtime, settings, station,
                                                               admin_principal, graph):
    await post_signed(client, batch(message("m_in", person="PSID-8")))
    async with runtime.jobs.unit_of_work() as session:
        conversation_id = await session.scalar(select(Conversation.id))
        queued = await commands.reply(session, admin_principal, conversation_id, "Thanks, we'll call you!")

    written = json.loads((settings.outbox_dir / "messenger" / f"{queued.id}.json").read_text())
    assert (written["to"], written["body"], written["channel"]) == ("PSID-8", "Thanks, we'll call you!", "messenger")
    assert graph.requests == []
    async with db.transaction(write=False) as session:
        sent = await session.get(Message, queued.id)
    assert (sent.delivery, sent.provider_message_id) == ("sent", f"file-{queued.id}")
