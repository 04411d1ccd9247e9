"""/ws/staff: the admin sign-in and its Origin, the viewer's stations only, ending with the sign-in; and the chat
live end to end: a visitor's message reaching staff, staff's reply (through the outbox) reaching the visitor."""

from __future__ import annotations

import json

from myhibachi.auth.commands import revoke_station_role, set_station_role
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.contacts.models import HandleKind
from myhibachi.inbox.commands import Inbound, receive
from myhibachi.inbox.live import announce_handoff
from myhibachi.inbox.models import Channel, Conversation
from tests.web.browserless import admin_csrf
from tests.web.live.conftest import (
    acked_and_answered,
    bot_reply_sent,
    closed_code,
    events_until,
    next_event,
    refused_status,
)


async def test_a_socket_without_a_sign_in_from_another_site_or_without_the_inbox_is_refused(
        open_socket, staff_cookie, make_user, fre):
    await make_user("chef@example.com", Role.chef, fre)
    admin = await staff_cookie("admin@example.com")
    chef = await staff_cookie("chef@example.com")

    assert await refused_status(open_socket, "/ws/staff") == 403
    assert await refused_status(open_socket, "/ws/staff", cookies={"mh_admin": admin[:-3] + "abc"}) == 403
    assert await refused_status(open_socket, "/ws/staff", cookies={"mh_admin": admin},
                                origin="https://evil.example") == 403
    assert await refused_status(open_socket, "/ws/staff", cookies={"mh_chat": admin}) == 403  # not the sign-in's
    assert await refused_status(open_socket, "/ws/staff", cookies={"mh_admin": chef}) == 403  # a chef has no inbox
    async with open_socket("/ws/staff", cookies={"mh_admin": admin}) as ws:
        assert await next_event(ws) == {"type": "ready", "station_ids": [fre.id]}


async def test_a_visitor_and_staff_talk_live(open_socket, staff_cookie, visitor_cookie, login, client, fre):
    bearer = await login("admin@example.com")
    visitor = await visitor_cookie()
    async with open_socket("/ws/staff", cookies={"mh_admin": await staff_cookie("admin@example.com")}) as staff, \
            open_socket("/ws/chat", cookies={"mh_chat": visitor}) as chat:
        await next_event(staff)  # ready
        await next_event(chat)  # the empty history
        await chat.send(json.dumps({"type": "message", "body": "Is June 5 free?", "id": "a1"}))
        # the ack and echo of theirs, the assistant typing, then its answer
        await events_until(chat, acked_and_answered)
        # the message and the thread, then the assistant's answer: queued (and the thread pending), then sent
        staff_heard = await events_until(staff, bot_reply_sent)
        heard = {event["type"]: event for event in staff_heard[:2]}
        conversation_id = heard["message"]["conversation_id"]

        reply = await client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=bearer,
                                  json={"body": "It is! Shall I hold it?"})
        assert reply.status_code == 201, reply.text
        # a person answering takes the chat from the assistant: the handoff, then the reply
        to_visitor = [await next_event(chat) for _ in range(2)]
        staff_saw = [await next_event(staff) for _ in range(3)]  # queued (and the thread pending), then sent

    message = heard["message"]
    assert message["station_id"] == fre.id and message["channel"] == "web_chat"
    assert (message["message"]["body"], message["message"]["direction"], message["message"]["sender"]) == \
        ("Is June 5 free?", "in", "contact")
    assert heard["conversation"]["conversation_id"] == conversation_id and heard["conversation"]["unread"] == 1
    assert [e["message"]["sender"] for e in staff_heard if e["type"] == "message"] == ["contact", "bot", "bot"]
    assert to_visitor[0] == {"type": "handoff"}
    answer = to_visitor[-1]
    assert (answer["type"], answer["sender"], answer["body"], answer["id"]) == \
        ("message", "staff", "It is! Shall I hold it?", reply.json()["id"])
    states = [(e["message"]["id"], e["message"]["delivery"]) for e in staff_saw if e["type"] == "message"]
    assert states == [(reply.json()["id"], "queued"), (reply.json()["id"], "sent")]  # the outbox delivered it
    assert [(e["status"], e["handled_by"]) for e in staff_saw if e["type"] == "conversation"] == [("pending", "human")]


async def test_staff_hear_only_their_own_stations(open_socket, staff_cookie, visitor_cookie, make_station, make_user,
                                                  db, fre):
    oak = await make_station("OAK")
    await make_user("oak@example.com", Role.support, oak)
    async with open_socket("/ws/staff", cookies={"mh_admin": await staff_cookie("oak@example.com")}) as ws, \
            open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as chat:
        assert await next_event(ws) == {"type": "ready", "station_ids": [oak.id]}
        await next_event(chat)
        await chat.send(json.dumps({"type": "message", "body": "Hello FRE", "id": "f1"}))  # the first station's
        await next_event(chat)
        async with db.transaction() as session:  # then something at OAK
            await receive(session, Inbound(channel=Channel.messenger, provider_message_id="mid.1", body="Hello OAK",
                                           handle=(HandleKind.messenger, "PSID-9"), station_id=oak.id))
        first = await next_event(ws)

    assert first["station_id"] == oak.id  # FRE's message never came


async def test_the_socket_closes_when_the_staff_member_signs_out(open_socket, staff_cookie, client, fre):
    cookie = await staff_cookie("admin@example.com")
    async with open_socket("/ws/staff", cookies={"mh_admin": cookie}) as ws:
        await next_event(ws)
        signed_out = await client.post("/admin/logout", data={"csrf_token": await admin_csrf(client)})
        code = await closed_code(ws)

    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/admin/login?bye=1"
    assert code == 1008


async def test_the_socket_closes_when_the_role_is_removed(open_socket, staff_cookie, make_user, db, fre):
    user_id = await make_user("support@example.com", Role.support, fre)
    async with open_socket("/ws/staff", cookies={"mh_admin": await staff_cookie("support@example.com")}) as ws:
        await next_event(ws)
        async with db.transaction() as session:
            await revoke_station_role(session, SYSTEM, station_id=fre.id, user_id=user_id, reason="left")
        code = await closed_code(ws)

    assert code == 1008


async def test_the_visitor_sees_staff_typing_and_the_handoff(open_socket, staff_cookie, visitor_cookie, make_station,
                                                             make_user, db, fre):
    oak = await make_station("OAK")
    await make_user("oak@example.com", Role.support, oak)
    other_station = await staff_cookie("oak@example.com")
    async with open_socket("/ws/staff", cookies={"mh_admin": await staff_cookie("admin@example.com")}) as staff, \
            open_socket("/ws/staff", cookies={"mh_admin": other_station}) as stranger, \
            open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as chat:
        await next_event(staff), await next_event(stranger), await next_event(chat)
        await chat.send(json.dumps({"type": "message", "body": "Anyone there?", "id": "t1"}))
        conversation_id = (await next_event(staff))["conversation_id"]
        await events_until(chat, acked_and_answered)  # ack, echo, the assistant typing and its answer
        await stranger.send(json.dumps({"type": "typing", "conversation_id": conversation_id}))
        refused = await next_event(stranger)
        await staff.send(json.dumps({"type": "typing", "conversation_id": conversation_id}))
        typing = await next_event(chat)
        async with db.transaction() as session:
            await announce_handoff(session, await session.get(Conversation, conversation_id))
        handoff = await next_event(chat)

    assert refused["code"] == "not_found"  # another station's thread: as if it did not exist
    assert typing == {"type": "typing", "sender": "staff"}
    assert handoff == {"type": "handoff"}


async def test_staff_see_the_visitor_typing_once_there_is_a_chat(open_socket, staff_cookie, visitor_cookie,
                                                                 make_station, make_user, fre):
    oak = await make_station("OAK")
    await make_user("oak@example.com", Role.support, oak)
    async with open_socket("/ws/staff", cookies={"mh_admin": await staff_cookie("admin@example.com")}) as staff, \
            open_socket("/ws/staff", cookies={"mh_admin": await staff_cookie("oak@example.com")}) as stranger, \
            open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as chat:
        await next_event(staff), await next_event(stranger), await next_event(chat)
        await chat.send(json.dumps({"type": "typing"}))  # no chat yet: nobody to tell, and no error
        await chat.send(json.dumps({"type": "message", "body": "Hello?", "id": "v1"}))
        await events_until(chat, acked_and_answered)
        await chat.send(json.dumps({"type": "typing"}))
        seen = await events_until(staff, lambda events: any(e["type"] == "typing" for e in events))
        await chat.send(json.dumps({"type": "ping-me"}))
        unknown = await next_event(chat)
        await stranger.send(json.dumps({"type": "typing", "conversation_id": conversation_id(seen)}))
        stranger_saw = await next_event(stranger)  # the answer to its own frame: nothing of FRE's came before it

    assert [e for e in seen if e["type"] == "typing"] == [{
        "type": "typing", "conversation_id": conversation_id(seen), "station_id": fre.id, "channel": "web_chat",
        "sender": "visitor"}]
    assert unknown["code"] == "unknown_type"
    assert (stranger_saw["type"], stranger_saw["code"]) == ("error", "not_found")


def conversation_id(seen: list[dict]) -> int:
    return next(e["conversation_id"] for e in seen if e["type"] == "message")


async def test_a_station_whose_role_was_removed_goes_quiet_and_the_others_go_on(open_socket, staff_cookie, make_station,
                                                                               make_user, db, fre):
    oak = await make_station("OAK")
    user_id = await make_user("both@example.com", Role.support, fre)
    async with db.transaction() as session:
        await set_station_role(session, SYSTEM, station_id=oak.id, user_id=user_id, role=Role.support)
    async with open_socket("/ws/staff", cookies={"mh_admin": await staff_cookie("both@example.com")}) as ws:
        assert await next_event(ws) == {"type": "ready", "station_ids": [fre.id, oak.id]}
        async with db.transaction() as session:
            await revoke_station_role(session, SYSTEM, station_id=fre.id, user_id=user_id, reason="moved")
        for n, station in enumerate([fre, oak]):  # FRE's first, then OAK's
            async with db.transaction() as session:
                await receive(session, Inbound(channel=Channel.messenger, provider_message_id=f"mid.{n}",
                                               body="Hi", handle=(HandleKind.messenger, f"PSID-{n}"),
                                               station_id=station.id))
        first = await next_event(ws)

    assert first["station_id"] == oak.id
