"""Who answers a web chat (SPEC §7 "Chat"): the assistant until a person takes it over; the first of two people
taking at once wins; a person's reply takes it too; staff can hand it back; a request for a person shows in the
list with its reason."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.inbox import commands
from myhibachi.inbox.models import Conversation, HandoffReason, Message
from myhibachi.inbox.web_chat import receive_visitor_message
from tests.inbox.conftest import API
from tests.inbox.test_api import text


async def chat(db, station, visitor: str = "visitor-1", body: str = "Hello?") -> int:  # noqa: ANN001
    async with db.transaction() as session:
        received = await receive_visitor_message(session, visitor, None, body, station_id=station.id)
        assert received is not None
        return received.conversation.id


async def read(client, headers, conversation_id: int) -> dict:  # noqa: ANN001
    response = await client.get(f"{API}/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_web_chat_starts_with_the_assistant_and_a_request_for_a_person_shows_with_its_reason(
        client, db, station, admin):  # noqa: ANN001
    conversation_id = await chat(db, station)
    quiet_id = await chat(db, station, visitor="visitor-2")
    assert (await read(client, admin, conversation_id))["handled_by"] == "bot"

    async with db.transaction() as session:
        assert await commands.request_handoff(session, conversation_id, HandoffReason.refund) is True
        assert await commands.request_handoff(session, conversation_id, HandoffReason.asked) is False  # once

    listed = (await client.get(f"{API}/conversations", headers=admin)).json()["items"]
    [row] = [item for item in listed if item["id"] == conversation_id]
    assert (row["handled_by"], row["handoff_reason"]) == ("bot", "refund")
    assert row["handoff_requested_at"] is not None
    wanting = (await client.get(f"{API}/conversations", params={"wants_person": "true"}, headers=admin)).json()
    assert [item["id"] for item in wanting["items"]] == [conversation_id]
    assert quiet_id in {item["id"] for item in listed}


async def test_the_first_of_two_people_taking_at_once_wins(client, db, station, admin, make_user, login):  # noqa: ANN001
    await make_user("second@example.com", Role.support, station, name="Sue Second")
    second = await login("second@example.com")
    conversation_id = await chat(db, station)

    answers = await asyncio.gather(*(client.post(f"{API}/conversations/{conversation_id}/take-over", headers=who)
                                     for who in (admin, second)))

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 409], [answer.text for answer in answers]
    [lost] = [answer for answer in answers if answer.status_code == 409]
    assert lost.json()["code"] == "already_taken"
    [won] = [answer.json() for answer in answers if answer.status_code == 200]
    async with db.session() as session:
        row = await session.get(Conversation, conversation_id)
        assert (row.handled_by, row.assignee_id) == ("human", won["assignee_id"])
        assert await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "inbox.take_over", AuditEntry.target_id == str(conversation_id))) == 1
    # the winner taking again changes nothing
    again = [who for who, answer in zip((admin, second), answers, strict=True) if answer.status_code == 200][0]
    repeat = await client.post(f"{API}/conversations/{conversation_id}/take-over", headers=again)
    assert repeat.status_code == 200 and repeat.json()["assignee_id"] == won["assignee_id"]


async def test_a_persons_reply_takes_the_chat_and_handing_back_tells_the_visitor(client, db, station,
                                                                                 admin):  # noqa: ANN001
    conversation_id = await chat(db, station)
    async with db.transaction() as session:
        await commands.request_handoff(session, conversation_id, HandoffReason.asked)

    reply = await client.post(f"{API}/conversations/{conversation_id}/messages", headers=admin,
                              json={"body": "Hi, Ada here."})
    assert reply.status_code == 201, reply.text
    taken = await read(client, admin, conversation_id)
    assert (taken["handled_by"], taken["handoff_requested_at"], taken["handoff_reason"]) == ("human", None, None)
    assert taken["assignee_id"] is not None

    back = await client.post(f"{API}/conversations/{conversation_id}/hand-back", headers=admin)
    assert back.status_code == 200, back.text
    assert (back.json()["handled_by"], back.json()["assignee_id"]) == ("bot", taken["assignee_id"])
    last = (await read(client, admin, conversation_id))["messages"][-1]
    assert (last["sender"], last["body"]) == ("bot", commands.HANDED_BACK)

    again = await client.post(f"{API}/conversations/{conversation_id}/hand-back", headers=admin)
    assert (again.status_code, again.json()["code"]) == (409, "not_taken")


async def test_only_a_web_chat_goes_back_to_the_assistant_and_other_stations_chats_do_not_exist(
        client, db, station, admin, make_station, make_user, login):  # noqa: ANN001
    sms_id = await text(db, "SM-handoff-1", "+15105550101")
    refused = await client.post(f"{API}/conversations/{sms_id}/hand-back", headers=admin)
    assert refused.status_code == 422, refused.text

    other = await make_station("OAK")
    await make_user("oak@example.com", Role.admin, other)
    stranger = await login("oak@example.com")
    conversation_id = await chat(db, station)
    hidden = await client.post(f"{API}/conversations/{conversation_id}/take-over", headers=stranger)
    assert hidden.status_code == 404
    async with db.session() as session:
        assert (await session.get(Conversation, conversation_id)).handled_by == "bot"
        assert await session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id == conversation_id)) == 1
