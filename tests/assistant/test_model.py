"""The optional model (LLM_BASE_URL), against a local fake endpoint: it picks whitelisted tools and may phrase the
answer, but a phrased answer with a number no tool gave is not used; an unknown tool or bad arguments are ignored;
an error, a timeout or a refusal leaves the answer to the built-in assistant."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from starlette.responses import Response

from myhibachi.assistant.faq import answer_faq
from myhibachi.assistant.tools import TOOLS
from myhibachi.auth.models import User
from myhibachi.bookings.models import Booking
from myhibachi.core.money import format_money
from myhibachi.pricing.queries import get_rules, quote_for_station
from myhibachi.pricing.quote import PartyOrder
from tests.assistant.conftest import Chat
from tests.assistant.fake_model import after, calls, completion, fails, says, use_model

QUESTION = "how much for 12 adults in 94538?"


async def site_quote(db, station):  # noqa: ANN001, ANN201
    async with db.transaction(write=False) as session:
        return await quote_for_station(session, station.id, "94538", PartyOrder(adults=12))


async def test_the_models_tool_choice_is_honoured_and_its_wording_used_when_its_numbers_are_the_tools(
        chat: Chat, runtime, fake_model):  # noqa: ANN001
    use_model(runtime, fake_model, llm_api_key="sk-test")
    fake_model.script = [calls(("availability", {"event_date": "2026-12-12"})),
                         says("Good news: on Saturday, December 12 a chef is free at 12:00 and 18:00.")]

    reply = await chat.say(QUESTION)

    assert reply.endswith("Good news: on Saturday, December 12 a chef is free at 12:00 and 18:00.")
    assert "Total" not in reply  # the model chose availability, not the quote
    first, second = fake_model.requests
    assert {tool["function"]["name"] for tool in first["tools"]} == set(TOOLS)
    assert first["messages"][-1] == {"role": "user", "content": QUESTION}
    [tool_answer] = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool_answer["tool_call_id"] == "call_0" and "December 12 a chef is free at 12:00, 15:00" in tool_answer[
        "content"]


async def test_a_phrased_answer_with_a_number_no_tool_gave_is_not_used(chat: Chat, runtime, fake_model, db,
                                                                       station):  # noqa: ANN001
    use_model(runtime, fake_model)
    fake_model.script = [calls(("quote", {"adults": 12, "zip_code": "94538"})),
                         says("For 12 adults it is only $99.00 in all!")]

    reply = await chat.say(QUESTION)

    quote = await site_quote(db, station)
    assert "$99.00" not in reply
    assert format_money(quote.total_cents) in reply and "12 adults" in reply


async def test_an_unknown_tool_and_bad_arguments_are_ignored(chat: Chat, runtime, fake_model, db,
                                                             station):  # noqa: ANN001
    use_model(runtime, fake_model)
    fake_model.script = [calls(("create_user", {"email": "evil@example.com", "role": "super_admin"}),
                               ("quote", {"adults": -3, "zip_code": "94538"}),
                               ("quote", "{not json"),
                               ("answer_from_rules", {"question": "how much is the deposit?"})),
                         says("")]  # no wording: the tools' own text

    reply = await chat.say("deposit?")

    async with db.transaction(write=False) as session:
        rules = await get_rules(session, station.id)
        assert await session.scalar(select(func.count()).select_from(User).where(
            User.email == "evil@example.com")) == 0
    assert answer_faq("how much is the deposit", rules, station).answer in reply
    assert "Total" not in reply
    answers = [m for m in fake_model.requests[1]["messages"] if m["role"] == "tool"]
    assert [a["content"].startswith("ignored") for a in answers] == [True, True, True, False]


async def built_in_reply(db, station) -> str:  # noqa: ANN001
    """What the built-in assistant answers the question (the same words, the same rules)."""
    quote = await site_quote(db, station)
    return format_money(quote.total_cents)


async def test_an_error_from_the_endpoint_leaves_the_answer_to_the_built_in_assistant(
        chat: Chat, runtime, fake_model, db, station):  # noqa: ANN001
    use_model(runtime, fake_model)
    fake_model.script = [fails(500)]

    reply = await chat.say(QUESTION)

    assert len(fake_model.requests) == 1
    assert await built_in_reply(db, station) in reply


async def test_a_slow_endpoint_is_not_waited_for(chat: Chat, runtime, fake_model, db, station):  # noqa: ANN001
    use_model(runtime, fake_model, llm_timeout_seconds=0.3)
    fake_model.script = [after(lambda: asyncio.sleep(2), calls(("availability", {})))]

    reply = await chat.say(QUESTION)

    assert len(fake_model.requests) == 1
    assert await built_in_reply(db, station) in reply and "free" not in reply


async def test_a_refusal_or_no_tool_leaves_the_answer_to_the_built_in_assistant(
        chat: Chat, runtime, fake_model, db, station):  # noqa: ANN001
    use_model(runtime, fake_model)

    async def refused(_body: dict) -> Response:
        return completion({"content": None, "refusal": "I can't help with that."})

    fake_model.script = [refused, says("Sure, it is $5.")]

    first = await chat.say(QUESTION)
    second = await chat.say("how much for 20 adults in 94538?")

    assert await built_in_reply(db, station) in first
    assert "$5." not in second and "20 adults" in second


async def test_the_model_cannot_hold_a_date_the_visitor_did_not_confirm(chat: Chat, runtime, fake_model, db):  # noqa: ANN001
    for said in ("book 10 adults in 94538 on Dec 12 at 6pm", "4100 Mowry Ave, Fremont, CA", "none", "Dana Lee",
                 "dana@example.com", "510-555-0142", "no, not yet"):  # every detail given, the hold declined
        await chat.say(said)
    use_model(runtime, fake_model)
    fake_model.script = [calls(("hold", {}), ("answer_from_rules", {"question": "deposit"})), says("")]

    await chat.say("what is the deposit?")

    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 0
    [answer] = [m for m in fake_model.requests[1]["messages"] if m["role"] == "tool" and m["tool_call_id"] == "call_0"]
    assert "not confirmed" in answer["content"]


async def test_a_booking_being_put_together_is_the_built_in_dialogues(chat: Chat, runtime, fake_model):  # noqa: ANN001
    use_model(runtime, fake_model)
    fake_model.script = [calls(("answer_from_rules", {"question": "menu"})), says("")]
    await chat.say("what's on the menu?")  # a free question: the model's

    asked = await chat.say("I'd like to book a party")
    answered = await chat.say("14")

    assert len(fake_model.requests) == 2  # the two calls of the first message only
    assert "How many adults" in asked and "ZIP code" in answered


async def test_a_reply_composed_before_another_was_posted_is_composed_again_from_the_new_memory(
        chat: Chat, runtime, fake_model, db, station):  # noqa: ANN001
    first_go, second_go = asyncio.Event(), asyncio.Event()
    use_model(runtime, fake_model)
    fake_model.script = [after(first_go.wait, calls(("answer_from_rules", {"question": "menu"}))),
                         after(second_go.wait, calls(("answer_from_rules", {"question": "deposit"}))),
                         says(""), says("")]

    first = asyncio.create_task(chat.send("we are 14 adults, what's on the menu?"))
    await fake_model.wait_for_requests(1)
    second = asyncio.create_task(chat.send("how much in 94538?"))  # composed while the first is still composing
    await fake_model.wait_for_requests(2)
    first_go.set()
    await first  # the first reply is posted: the memory now has the party
    second_go.set()
    await second

    [_, answer] = [m.body for m in await chat.bot_messages()]
    quote = await quote_for_station_14(db, station)
    assert format_money(quote.total_cents) in answer and "14 adults" in answer  # composed again, with the party
    assert "deposit holds your date" not in answer  # the model's pick for the stale draft is not used


async def quote_for_station_14(db, station):  # noqa: ANN001, ANN201
    async with db.transaction(write=False) as session:
        return await quote_for_station(session, station.id, "94538", PartyOrder(adults=14))
