"""/ws/chat: the visitor's cookie and Origin, history and resume, the per-connection limits and heartbeats."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select

from myhibachi.contacts.models import ContactHandle, HandleKind
from myhibachi.inbox.models import Conversation, Message
from tests.web.live.conftest import acked_and_answered, closed_code, events_until, next_event, refused_status


async def test_the_session_endpoint_gives_a_signed_httponly_cookie_and_keeps_it(client, fre):
    first = await client.get("/api/v1/chat/session")
    again = await client.get("/api/v1/chat/session")

    assert first.status_code == 200 and first.json() == {"socket": "/ws/chat", "new_visitor": True}
    header = first.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert again.json()["new_visitor"] is False
    assert again.cookies["mh_chat"] == first.cookies["mh_chat"]


async def test_a_socket_without_a_good_cookie_or_from_another_site_is_refused(open_socket, visitor_cookie, fre):
    cookie = await visitor_cookie()
    visitor, mac = cookie.rsplit(".", 1)
    forged = f"{visitor}x.{mac}"

    assert await refused_status(open_socket, "/ws/chat") == 403
    assert await refused_status(open_socket, "/ws/chat", cookies={"mh_chat": forged}) == 403
    assert await refused_status(open_socket, "/ws/chat", cookies={"mh_chat": "garbage"}) == 403
    assert await refused_status(open_socket, "/ws/chat", cookies={"mh_chat": cookie},
                                origin="http://evil.example") == 403
    assert await refused_status(open_socket, "/ws/chat", cookies={"mh_chat": cookie}, origin=None) == 403
    async with open_socket("/ws/chat", cookies={"mh_chat": cookie}) as ws:  # the same cookie, from our page
        assert await next_event(ws) == {"type": "history", "messages": []}


async def test_a_message_is_stored_once_and_the_reconnected_visitor_reads_it_in_the_history(
        open_socket, visitor_cookie, fre, db):
    cookie = await visitor_cookie()
    async with open_socket("/ws/chat", cookies={"mh_chat": cookie}) as ws:
        await next_event(ws)  # the empty history
        await ws.send(json.dumps({"type": "message", "body": "  Do you come to Oakland?  ", "id": "m-1"}))
        first = await events_until(ws, acked_and_answered)

    ack = next(event for event in first if event["type"] == "ack")
    echo = next(event for event in first if event["type"] == "message" and event["sender"] == "visitor")
    answer = next(event for event in first if event["type"] == "message" and event["sender"] == "bot")
    assert ack == {"type": "ack", "id": "m-1", "message_id": ack["message_id"], "duplicate": False}
    assert echo["id"] == ack["message_id"] and echo["sender"] == "visitor" and echo["body"] == "Do you come to Oakland?"
    assert {"type": "typing", "sender": "bot"} in first and "automated assistant" in answer["body"]

    async with open_socket("/ws/chat", cookies={"mh_chat": cookie}) as ws:
        history = await next_event(ws)
        await ws.send(json.dumps({"type": "message", "body": "Do you come to Oakland?", "id": "m-1"}))  # resent
        resent = await next_event(ws)

    assert history == {"type": "history", "messages": [echo, answer]}
    assert resent == {"type": "ack", "id": "m-1", "message_id": None, "duplicate": True}
    async with db.transaction(write=False) as session:  # the message once, and the assistant's one reply
        assert list(await session.scalars(select(Message.sender).order_by(Message.id))) == ["contact", "bot"]
        conversation = await session.scalar(select(Conversation))
        handle = await session.scalar(select(ContactHandle).where(ContactHandle.kind == HandleKind.web_chat.value))
    assert conversation.channel == "web_chat" and conversation.station_id == fre.id
    assert handle.contact_id == conversation.contact_id and cookie.startswith(handle.value + ".")


async def test_a_bad_message_is_answered_with_an_error_and_stores_nothing(open_socket, visitor_cookie, fre, db):
    async with open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as ws:
        await next_event(ws)
        await ws.send(json.dumps({"type": "message", "body": "   "}))
        blank = await next_event(ws)
        await ws.send(json.dumps({"type": "message", "body": "hi", "id": "no spaces allowed"}))
        bad_id = await next_event(ws)
        await ws.send(json.dumps({"type": "dance"}))
        unknown = await next_event(ws)

    assert (blank["type"], blank["code"]) == ("error", "validation_error")
    assert (bad_id["type"], bad_id["code"]) == ("error", "validation_error")
    assert (unknown["type"], unknown["code"]) == ("error", "unknown_type")
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_an_oversized_frame_is_an_error_and_going_on_closes_the_socket(open_socket, visitor_cookie, fre, db):
    big = json.dumps({"type": "message", "body": "x" * 2000})
    async with open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as ws:
        await next_event(ws)
        await ws.send(big)
        first = await next_event(ws)
        await ws.send(big)
        second = await next_event(ws)
        await ws.send(big)
        code = await closed_code(ws)

    assert first["code"] == second["code"] == "too_large"
    assert code == 1008
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_too_many_frames_in_the_window_are_refused_then_the_socket_closes(open_socket, visitor_cookie, fre):
    async with open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as ws:
        await next_event(ws)
        for _ in range(5):  # the window's allowance (answers to heartbeats count too)
            await ws.send(json.dumps({"type": "pong"}))
        await ws.send(json.dumps({"type": "message", "body": "one too many", "id": "m-6"}))
        refused = await next_event(ws)
        await ws.send(json.dumps({"type": "pong"}))
        again = await next_event(ws)
        await ws.send(json.dumps({"type": "pong"}))
        code = await closed_code(ws)

    assert refused["code"] == again["code"] == "rate_limited"
    assert code == 1008


async def test_the_server_pings_and_drops_a_silent_client(app, open_socket, visitor_cookie, fre):
    settings = app.state.runtime.settings
    app.state.runtime.settings = settings.model_copy(update={"ws_heartbeat_seconds": 0.2, "ws_idle_seconds": 1.0})
    try:
        async with open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as ws:
            await next_event(ws)
            ping = await next_event(ws, skip=())
            await ws.send(json.dumps({"type": "pong"}))  # answering keeps it open past the idle limit
            await asyncio.sleep(0.6)
            await ws.send(json.dumps({"type": "pong"}))
            await asyncio.sleep(0.6)
            await ws.send(json.dumps({"type": "pong"}))
            code = await closed_code(ws)  # then silence
    finally:
        app.state.runtime.settings = settings

    assert ping == {"type": "ping"}
    assert code == 1001


async def test_one_client_address_sends_only_so_many_messages_whatever_its_cookies(open_socket, visitor_cookie, fre,
                                                                                   db):
    first, second = await visitor_cookie(), await visitor_cookie()
    async with open_socket("/ws/chat", cookies={"mh_chat": first}) as one, \
            open_socket("/ws/chat", cookies={"mh_chat": second}) as other:
        await next_event(one), await next_event(other)
        for n, ws in enumerate([one, other, one]):
            await ws.send(json.dumps({"type": "message", "body": f"Hello {n}", "id": f"n{n}"}))
            assert (await next_event(ws, skip=("ping", "message", "typing")))["type"] == "ack"
        await other.send(json.dumps({"type": "message", "body": "One more", "id": "n3"}))
        refused = await next_event(other, skip=("ping", "message", "typing"))

    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    async with db.transaction(write=False) as session:  # three received (each answered), the fourth not
        senders = list(await session.scalars(select(Message.sender)))
    assert (senders.count("contact"), senders.count("bot")) == (3, 3)


async def test_the_chat_on_a_stations_page_starts_its_thread_there(open_socket, visitor_cookie, make_station, fre,
                                                                   db):
    oak = await make_station("OAK")
    cookie = await visitor_cookie()
    async with open_socket("/ws/chat?station=oak", cookies={"mh_chat": cookie}) as ws:
        await next_event(ws)
        await ws.send(json.dumps({"type": "message", "body": "Do you come to Berkeley?", "id": "o1"}))
        assert (await next_event(ws, skip=("ping", "message", "typing")))["type"] == "ack"

    assert await refused_status(open_socket, "/ws/chat?station=NOPE", cookies={"mh_chat": cookie}) == 403
    assert await refused_status(open_socket, "/ws/chat?station=%00", cookies={"mh_chat": cookie}) == 403
    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(Conversation.station_id))) == [oak.id]
