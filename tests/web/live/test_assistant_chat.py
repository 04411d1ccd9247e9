"""The website assistant over /ws/chat on a real server: a visitor's question, a quote and a hold ending with the
deposit link in the chat; silence once a person took the chat, even when they take it while the assistant is still
composing; and the assistant back once the chat is handed back."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from myhibachi.bookings.models import Booking
from myhibachi.core.money import format_money
from myhibachi.core.security import hash_token
from myhibachi.inbox.commands import HANDED_BACK
from myhibachi.inbox.models import Conversation, Message
from myhibachi.pricing.queries import quote_for_station
from myhibachi.pricing.quote import PartyOrder
from myhibachi.settings import Settings
from tests.assistant.fake_model import calls, fake_model, says, use_model  # noqa: F401
from tests.bookings.conftest import add_chefs  # noqa: F401
from tests.web.live.conftest import acked_and_answered, events_until, next_event

API = "/api/v1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A conversation of a dozen messages within the sockets' limits."""
    return settings.model_copy(update={"ws_messages_per_window": 50, "chat_messages_per_ip": 50})


async def ask(ws, body: str, n: int) -> str:  # noqa: ANN001
    """The visitor's message; the assistant's answer to it."""
    await ws.send(json.dumps({"type": "message", "body": body, "id": f"q{n}"}))
    events = await events_until(ws, acked_and_answered)
    answers = [e for e in events if e["type"] == "message" and e["sender"] == "bot"]
    assert len(answers) == 1, events
    answer = answers[0]
    return answer["body"]


async def acked(ws, body: str, n: int) -> list[dict[str, Any]]:  # noqa: ANN001
    """The visitor's message acknowledged and echoed, and whatever else came meanwhile."""
    await ws.send(json.dumps({"type": "message", "body": body, "id": f"q{n}"}))
    return await events_until(ws, lambda seen: any(e["type"] == "ack" for e in seen) and any(
        e["type"] == "message" and e["sender"] == "visitor" for e in seen))


async def test_a_question_a_quote_and_a_hold_end_with_the_deposit_link_in_the_chat(
        open_socket, visitor_cookie, fre, add_chefs, db, settings):  # noqa: ANN001, F811
    await add_chefs(fre, 2)
    day = datetime.now(ZoneInfo(fre.timezone)).date() + timedelta(days=10)
    async with open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as ws:
        await next_event(ws)  # the empty history
        asked = await ask(ws, "What's the deposit?", 1)
        quoted = await ask(ws, "how much for 12 adults in 94538?", 2)
        flow = [await ask(ws, said, n) for n, said in enumerate([
            f"great, I'd like to book {day:%B} {day.day} at 6pm", "4100 Mowry Ave, Fremont, CA", "none", "Dana Lee",
            "dana@example.com", "510-555-0142"], start=3)]
        held = await ask(ws, "yes", 9)

    async with db.transaction(write=False) as session:
        quote = await quote_for_station(session, fre.id, "94538", PartyOrder(adults=12))
        booking = await session.scalar(select(Booking))
        conversation = await session.scalar(select(Conversation))
    assert "automated assistant" in asked and "$100.00 deposit" in asked
    assert format_money(quote.total_cents) in quoted
    assert "address of the party" in flow[0] and "Shall I hold" in flow[-1]
    assert booking is not None and booking.status == "pending_deposit" and conversation.booking_id == booking.id
    assert booking.reference in held
    link = next(word for word in held.split() if word.startswith(f"{settings.base_url}/manage/"))
    token = link.removeprefix(f"{settings.base_url}/manage/").removesuffix("/pay")
    assert link.endswith("/pay") and hash_token(token) == booking.manage_token_hash


async def test_silence_after_a_take_over_and_the_assistant_back_after_the_hand_back(
        open_socket, visitor_cookie, fre, client, login, db):  # noqa: ANN001
    bearer = await login("admin@example.com")
    async with open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as ws:
        await next_event(ws)
        await ask(ws, "hello", 1)
        conversation_id = (await client.get(f"{API}/conversations", headers=bearer)).json()["items"][0]["id"]
        taken = await client.post(f"{API}/conversations/{conversation_id}/take-over", headers=bearer)
        assert taken.status_code == 200, taken.text
        assert await next_event(ws) == {"type": "handoff"}

        after_take_over = await acked(ws, "what's the deposit?", 2)

        back = await client.post(f"{API}/conversations/{conversation_id}/hand-back", headers=bearer)
        assert back.status_code == 200, back.text
        told = await next_event(ws)
        answered = await ask(ws, "is there a minimum?", 3)

    assert not any(e["type"] in ("message", "typing") and e.get("sender") != "visitor" for e in after_take_over)
    assert (told["sender"], told["body"]) == ("bot", HANDED_BACK)
    assert "minimum" in answered
    async with db.transaction(write=False) as session:
        senders = list(await session.scalars(select(Message.sender).order_by(Message.id)))
    assert senders == ["contact", "bot", "contact", "bot", "contact", "bot"]  # no answer to the second question


async def test_a_take_over_while_the_assistant_composes_drops_its_reply(
        open_socket, visitor_cookie, fre, client, login, db, runtime, fake_model):  # noqa: ANN001, F811
    bearer = await login("admin@example.com")
    go_on = asyncio.Event()
    use_model(runtime, fake_model)

    async def slow_pick(body: dict[str, Any]):  # noqa: ANN202
        await go_on.wait()  # the model takes its time…
        return await calls(("answer_from_rules", {"question": "deposit"}))(body)

    fake_model.script = [slow_pick, says("A deposit holds your date.")]
    async with open_socket("/ws/chat", cookies={"mh_chat": await visitor_cookie()}) as ws:
        await next_event(ws)
        await ws.send(json.dumps({"type": "message", "body": "what's the deposit?", "id": "r1"}))
        await asyncio.wait_for(fake_model.asked.wait(), 10)  # …and meanwhile a person takes the chat
        conversation_id = (await client.get(f"{API}/conversations", headers=bearer)).json()["items"][0]["id"]
        taken = await client.post(f"{API}/conversations/{conversation_id}/take-over", headers=bearer)
        go_on.set()
        events = await events_until(ws, lambda seen: any(e["type"] == "ack" for e in seen) and any(
            e["type"] == "message" and e["sender"] == "visitor" for e in seen))

    assert taken.status_code == 200, taken.text
    assert {"type": "handoff"} in events
    assert not any(e["type"] == "message" and e["sender"] == "bot" for e in events)
    assert len(fake_model.requests) == 2  # it composed its answer, which was dropped
    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(Message.sender))) == ["contact"]
