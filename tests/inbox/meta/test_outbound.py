"""Replies on Messenger and Instagram through the Send API (a loopback Graph server records the JSON): RESPONSE
inside the 24-hour window, HUMAN_AGENT when a person answers within 7 days, refused after that; Graph's permanent
errors fail the message, its temporary ones leave it for the outbox to retry."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from myhibachi.inbox import commands
from myhibachi.inbox.channels import Outgoing
from myhibachi.inbox.commands import WindowClosed
from myhibachi.inbox.meta import MetaSendApi
from myhibachi.inbox.models import Channel, Conversation, Message
from tests.inbox.conftest import deliver_pending
from tests.inbox.meta.conftest import PAGE_TOKEN, batch, message, post_signed


async def thread_of(client, db, person: str = "PSID-1", *, instagram: bool = False) -> int:  # noqa: ANN001
    response = await post_signed(client, batch(message("m_in", person=person), instagram=instagram))
    assert response.status_code == 200, response.text
    async with db.transaction(write=False) as session:
        return await session.scalar(select(Conversation.id))


async def reply(runtime, principal, conversation_id: int, body: str = "We are free on the 20th!",  # noqa: ANN001
                **options: bool) -> Message:
    async with runtime.jobs.unit_of_work() as session:
        queued = await commands.reply(session, principal, conversation_id, body, **options)
    async with runtime.db.transaction(write=False) as session:
        return await session.get(Message, queued.id)


@pytest.mark.parametrize("instagram", [False, True], ids=["messenger", "instagram"])
async def test_a_reply_inside_the_window_goes_as_a_response(client, db, runtime, station, admin_principal, graph,
                                                             instagram):
    person = "IGSID-5" if instagram else "PSID-5"
    conversation_id = await thread_of(client, db, person, instagram=instagram)

    sent = await reply(runtime, admin_principal, conversation_id)

    assert graph.requests == [("/v21.0/me/messages", {
        "recipient": {"id": person},
        "message": {"text": "We are free on the 20th!", "metadata": f"myhibachi:{sent.id}"},
        "messaging_type": "RESPONSE", "access_token": PAGE_TOKEN})]
    assert (sent.delivery, sent.provider_message_id, sent.tag) == ("sent", "m_sent_1", None)


async def test_after_24_hours_only_a_human_agent_reply_goes_within_7_days(client, db, runtime, station,
                                                                          admin_principal, graph, clock):
    conversation_id = await thread_of(client, db)
    clock.shift(timedelta(hours=25))

    with pytest.raises(WindowClosed) as plain:
        await reply(runtime, admin_principal, conversation_id)
    tagged = await reply(runtime, admin_principal, conversation_id, human_agent=True)

    assert (plain.value.status, plain.value.code) == (409, "window_closed") and "human agent" in plain.value.detail
    assert len(graph.requests) == 1
    wire = graph.requests[0][1]
    assert (wire["messaging_type"], wire["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert (tagged.delivery, tagged.tag) == ("sent", "HUMAN_AGENT")


async def test_after_7_days_even_a_human_agent_reply_is_refused(client, db, runtime, station, admin_principal,
                                                                graph, clock):
    conversation_id = await thread_of(client, db)
    clock.shift(timedelta(days=7, minutes=1))

    with pytest.raises(WindowClosed) as refused:
        await reply(runtime, admin_principal, conversation_id, human_agent=True)

    assert refused.value.code == "window_closed" and "7 days" in refused.value.detail
    assert graph.requests == []
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Message).where(Message.direction == "out")) is None


async def test_a_permanent_graph_error_fails_the_message_with_metas_reason(client, db, runtime, station,
                                                                           admin_principal, graph):
    conversation_id = await thread_of(client, db)
    graph.answers.append((400, {"error": {
        "message": "(#10) This message is sent outside of allowed window.", "type": "OAuthException", "code": 10,
        "error_subcode": 2018278, "fbtrace_id": "A1b2"}}))

    failed = await reply(runtime, admin_principal, conversation_id)

    assert failed.delivery == "failed" and failed.provider_message_id is None
    assert "outside of allowed window" in failed.delivery_error and "2018278" in failed.delivery_error
    assert await deliver_pending(runtime) == 0 and len(graph.requests) == 1  # not retried


async def test_a_graph_server_error_is_retried_by_the_outbox(client, db, runtime, station, admin_principal, graph,
                                                              clock):
    conversation_id = await thread_of(client, db)
    graph.answers.append((503, {"error": {"message": "Service temporarily unavailable", "code": 2}}))

    queued = await reply(runtime, admin_principal, conversation_id)
    assert queued.delivery == "queued" and len(graph.requests) == 1
    clock.shift(timedelta(minutes=1))  # past the outbox's backoff
    assert await deliver_pending(runtime) == 1

    async with db.transaction(write=False) as session:
        sent = await session.get(Message, queued.id)
    assert (sent.delivery, sent.provider_message_id) == ("sent", "m_sent_1") and len(graph.requests) == 2


async def test_an_unreachable_graph_api_is_temporary_not_a_refusal():
    closed = MetaSendApi("http://127.0.0.1:1/v21.0", PAGE_TOKEN)  # nothing listens on port 1
    outgoing = Outgoing(message_id=1, conversation_id=1, channel=Channel.messenger, to="PSID-1", body="Hello")

    with pytest.raises(httpx.ConnectError):
        await closed.send(outgoing)


async def test_the_api_refuses_a_plain_reply_after_24_hours_and_sends_a_human_agent_one(
        client, db, station, admin, login, graph, clock):
    conversation_id = await thread_of(client, db)
    clock.shift(timedelta(hours=30))
    admin = await login("admin@example.com")  # the earlier access token has expired by now
    url = f"/api/v1/conversations/{conversation_id}/messages"

    plain = await client.post(url, json={"body": "Still interested?"}, headers=admin)
    tagged = await client.post(url, json={"body": "Still interested?", "human_agent": True}, headers=admin)

    assert plain.status_code == 409 and plain.json()["code"] == "window_closed"
    assert "human agent" in plain.json()["detail"]
    assert tagged.status_code == 201, tagged.text
    assert [(w["messaging_type"], w.get("tag")) for _, w in graph.requests] == [("MESSAGE_TAG", "HUMAN_AGENT")]
