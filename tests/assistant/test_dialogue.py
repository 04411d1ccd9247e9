"""The built-in assistant in a web chat (SPEC §7 "Chat"): it says it is automated once; its answers agree with the
station's rules, the quote function and availability; details make a lead; a hold made over several turns is a
held booking with its deposit link; each handoff rule asks for a person; a reply is posted once and never after a
person took the chat."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from myhibachi.assistant import dialogue
from myhibachi.assistant.faq import answer_faq
from myhibachi.assistant.jobs import answer_lost_replies, answer_message
from myhibachi.assistant.models import AssistantMemory
from myhibachi.auth.principal import SYSTEM
from myhibachi.bookings.models import Booking
from myhibachi.bookings.queries import station_availability
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.contacts.models import Contact, ContactHandle
from myhibachi.core.money import format_money
from myhibachi.core.security import hash_token
from myhibachi.inbox import commands
from myhibachi.inbox.models import Message
from myhibachi.inbox.web_chat import receive_visitor_message
from myhibachi.leads.models import Lead, LeadActivity
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import get_rules, quote_for_station
from myhibachi.pricing.quote import PartyOrder
from tests.assistant.conftest import Chat

HANDED = "asked a person from our team to join"


async def test_the_first_reply_says_it_is_automated_and_only_the_first(chat: Chat, settings):  # noqa: ANN001
    first = await chat.say("hello!")
    second = await chat.say("hi again")

    assert "automated assistant" in first and "Ask for a person" in first
    assert "automated" not in second
    assert [m.sender for m in await chat.bot_messages()] == ["bot", "bot"]


async def test_an_faq_answer_is_the_stations_rules_and_follows_a_change(chat: Chat, db, station):  # noqa: ANN001
    question = "how much is the deposit?"
    async with db.transaction() as session:
        rules = await get_rules(session, station.id)
        expected = answer_faq(question, rules, station)
        await update_rules(session, SYSTEM, station.id, rules.model_copy(update={"deposit_cents": 15000}))
    assert expected is not None and "$100.00" in expected.answer

    reply = await chat.say(question)

    assert "$150.00" in reply and "$100.00" not in reply


async def test_several_questions_in_one_message_get_one_reply_answering_each(chat: Chat, db, station):  # noqa: ANN001
    reply = await chat.say("What's the deposit, and what is your cancellation policy?")

    async with db.transaction(write=False) as session:
        rules = await get_rules(session, station.id)
    assert answer_faq("what is the deposit", rules, station).answer in reply
    assert answer_faq("what is your cancellation policy", rules, station).answer in reply
    assert len(await chat.bot_messages()) == 1


async def test_a_quotes_numbers_are_the_quote_functions(chat: Chat, db, station):  # noqa: ANN001
    reply = await chat.say("how much for 14 adults and 2 kids in 94538?")

    async with db.transaction(write=False) as session:
        quote = await quote_for_station(session, station.id, "94538", PartyOrder(adults=14, children=2))
    for cents in (quote.total_cents, quote.tax_cents, quote.travel_fee_cents, quote.deposit_cents):
        assert format_money(cents) in reply
    assert "14 adults, 2 children" in reply


async def test_a_price_question_without_the_party_asks_for_it_and_a_bare_answer_gives_it(chat: Chat, db, station):  # noqa: ANN001
    first = await chat.say("how much would it cost?")
    second = await chat.say("18")
    third = await chat.say("94538")

    assert "How many adults" in first
    assert "ZIP code" in second
    async with db.transaction(write=False) as session:
        quote = await quote_for_station(session, station.id, "94538", PartyOrder(adults=18))
    assert format_money(quote.total_cents) in third and "18 adults" in third


async def test_availability_lists_the_times_a_chef_is_free_in_the_stations_time(chat: Chat, db, station):  # noqa: ANN001
    reply = await chat.say("are you available on Dec 12?")

    async with db.transaction(write=False) as session:
        found = await station_availability(session, station.id, date(2026, 12, 12), date(2026, 12, 12), 1)
    times = [slot.time for slot in found.days[0].slots if slot.available]
    assert times and "Saturday, December 12" in reply
    assert all(time in reply for time in times)


async def test_a_date_inside_the_notice_gives_the_next_free_dates(chat: Chat):
    reply = await chat.say("are you free tomorrow?")  # the clock is Tuesday, December 1: 48 hours' notice

    assert "On Wednesday, December 2 no chef is free" in reply
    assert "Thursday, December 3 at 12:00, 15:00, 18:00 and 21:00" in reply


async def test_details_go_on_the_chat_contact_and_a_lead(chat: Chat, db):  # noqa: ANN001
    reply = await chat.say("I'm Dana Lee, dana@example.com or 510-555-0142")

    conversation = await chat.conversation()
    async with db.transaction(write=False) as session:
        contact = await session.get(Contact, conversation.contact_id)
        lead = await session.get(Lead, conversation.lead_id)
        said = list(await session.scalars(select(LeadActivity.body).where(LeadActivity.lead_id == lead.id)))
    assert "Thank you, Dana Lee" in reply
    assert (contact.name, contact.email, contact.phone) == ("Dana Lee", "dana@example.com", "+15105550142")
    assert lead.contact_id == contact.id
    assert any(body.startswith("Website chat") for body in said)


async def test_a_hold_asked_for_over_several_turns_is_a_held_booking_with_its_deposit_link(
        chat: Chat, db, settings, station):  # noqa: ANN001
    turns = [
        ("I'd like to book a hibachi party", "How many adults"),
        ("14", "ZIP code"),
        ("94538", "Which date"),
        ("Saturday Dec 12", "Which start time"),
        ("6", "address of the party"),
        ("4100 Mowry Ave, Fremont, CA", "food allergy"),
        ("one guest is allergic to shellfish", "What name"),  # the answer to our question: no handoff
        ("Dana Lee", "email"),
        ("dana@example.com", "phone number"),
        ("(510) 555-0142", "Shall I hold Saturday, December 12 at 18:00 at 4100 Mowry Ave, Fremont"),
    ]
    for said, asked in turns:
        reply = await chat.say(said)
        assert asked in reply, (said, reply)
    held = await chat.say("yes please")

    async with db.transaction(write=False) as session:
        booking = await session.scalar(select(Booking))
        quote = await quote_for_station(session, station.id, "94538", PartyOrder(adults=14))
    conversation = await chat.conversation()
    assert booking is not None and booking.status == "pending_deposit"
    assert (booking.adults, booking.venue_zip, booking.allergies) == (14, "94538", "one guest is allergic to shellfish")
    assert (booking.contact_name, booking.contact_email, booking.contact_phone) == (
        "Dana Lee", "dana@example.com", "+15105550142")
    assert conversation.booking_id == booking.id and conversation.handoff_reason is None
    assert booking.reference in held and format_money(quote.total_cents) in held
    link = next(word for word in held.split() if word.startswith(f"{settings.base_url}/manage/"))
    assert link.endswith("/pay")
    token = link.removeprefix(f"{settings.base_url}/manage/").removesuffix("/pay")
    assert hash_token(token) == booking.manage_token_hash

    for said in ("book again for Dec 19 at 6pm", "none"):  # the same party, address and details, another date
        await chat.say(said)
    again = await chat.say("yes")
    assert f"This chat holds a date already (booking {booking.reference})" in again
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 1


async def test_the_name_with_the_details_in_one_answer_and_a_state_without_its_comma(chat: Chat, db):  # noqa: ANN001
    turns = [
        ("how much for 14 people in 94538 on Saturday Dec 12?", "Total"),
        ("book it for 6pm", "address of the party"),
        ("123 Main St, Fremont CA", "food allergy"),
        ("no allergies", "What name"),
        ("yes", "What name"),  # a yes is no name: asked again
        ("Kim Lee, kim@example.com, 510-555-0199", "Shall I hold Saturday, December 12 at 18:00 at 123 Main St, "
                                                   "Fremont for you?"),
    ]
    for said, asked in turns:
        reply = await chat.say(said)
        assert asked in reply, (said, reply)
    assert "Thank you, Kim Lee" in reply
    await chat.say("yes")
    async with db.transaction(write=False) as session:
        booking = await session.scalar(select(Booking))
    assert (booking.contact_name, booking.venue_line1, booking.venue_city, booking.venue_state) == (
        "Kim Lee", "123 Main St", "Fremont", "CA")


async def test_a_time_taken_before_the_confirmation_is_asked_again(chat: Chat, db, station, book):  # noqa: ANN001
    for said in ("book 10 adults in 94538 on Dec 12 at 6pm", "4100 Mowry Ave, Fremont, CA", "none",
                 "Dana Lee", "dana@example.com", "510-555-0142"):
        await chat.say(said)
    await book(station.id, "2026-12-12", "18:00", email="a@example.com")
    await book(station.id, "2026-12-12", "18:00", email="b@example.com")  # both chefs at 18:00

    reply = await chat.say("yes")

    assert "I could not hold it" in reply and "Which other time" in reply
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 2


@pytest.mark.parametrize(("said", "reason"), [
    ("can I talk to a real person please", "asked"),
    ("I want a refund for my deposit", "refund"),
    ("the chef showed up an hour late, terrible", "complaint"),
    ("can you cook for someone with a peanut allergy?", "allergy"),
    ("we'll be 45 people in 94538", "large_party"),
    ("how much for 12 people in 10001?", "outside_area"),
])
async def test_each_rule_asks_for_a_person(chat: Chat, said: str, reason: str):
    reply = await chat.say(said)

    conversation = await chat.conversation()
    assert HANDED in reply
    assert (conversation.handled_by, conversation.handoff_reason) == ("bot", reason)
    assert conversation.handoff_requested_at is not None


async def test_the_large_party_limit_is_a_setting(chat: Chat, runtime, settings):  # noqa: ANN001
    runtime.settings = runtime.jobs.settings = settings.model_copy(update={"chat_handoff_guests": 60})

    reply = await chat.say("we'll be 45 people in 94538, how much?")

    assert HANDED not in reply and "45 adults" in reply


async def test_two_answers_in_a_row_that_did_not_help_ask_for_a_person(chat: Chat):
    first = await chat.say("blorf zzgrk")
    second = await chat.say("qwop wibble")

    assert "did not understand" in first and HANDED not in first
    assert HANDED in second
    assert (await chat.conversation()).handoff_reason == "not_understood"


async def test_while_a_person_is_on_the_way_a_reply_it_cannot_place_is_no_miss(chat: Chat):
    await chat.say("i want a refund for my last party")
    for said in ("ok", "hmm"):
        reply = await chat.say(said)
        assert dialogue.PERSON_COMING in reply and dialogue.NOT_UNDERSTOOD not in reply
    assert (await chat.conversation()).handoff_reason == "refund"  # still the first reason: no second request


async def test_a_reply_is_posted_once_however_often_its_job_runs(chat: Chat, runtime):  # noqa: ANN001
    await chat.say("how much is the deposit?")

    assert await answer_message(runtime.jobs, chat.said[-1]) is None
    assert len(await chat.bot_messages()) == 1


async def test_the_assistant_says_nothing_once_a_person_took_the_chat_and_answers_again_when_handed_back(
        chat: Chat, db, runtime, admin_principal):  # noqa: ANN001
    await chat.say("hello")
    async with db.transaction() as session:
        await commands.take_over(session, admin_principal, chat.conversation_id)

    await chat.send("what's the deposit?")
    assert len(await chat.bot_messages()) == 1  # silence

    async with db.transaction() as session:
        await commands.hand_back(session, admin_principal, chat.conversation_id)
    reply = await chat.say("and is there a minimum?")
    assert "minimum" in reply and "automated" not in reply


async def test_a_reply_lost_with_its_job_is_sent_by_the_sweep(chat: Chat, db, runtime, station, clock):  # noqa: ANN001
    async with db.transaction() as session:  # received, but its reply job never ran
        received = await receive_visitor_message(session, "visitor-2", None, "what's your minimum?",
                                                 station_id=station.id)
    assert await answer_lost_replies(runtime.jobs) == 0  # not yet: its job may still be running

    clock.shift(timedelta(seconds=40))
    assert await answer_lost_replies(runtime.jobs) == 1
    assert await answer_lost_replies(runtime.jobs) == 0

    async with db.transaction(write=False) as session:
        replies = list(await session.scalars(select(Message.body).where(
            Message.conversation_id == received.conversation.id, Message.sender == "bot")))
        memory = await session.get(AssistantMemory, received.conversation.id)
    assert len(replies) == 1 and "minimum" in replies[0]
    assert memory.answered_message_id == received.message.id


async def test_no_hold_without_a_yes(chat: Chat, db):  # noqa: ANN001
    for said in ("book 10 adults in 94538 on Dec 12 at 6pm", "4100 Mowry Ave, Fremont, CA", "none",
                 "Dana Lee", "dana@example.com"):
        await chat.say(said)
    confirm = await chat.say("510-555-0142")
    declined = await chat.say("no, not yet")

    assert "Shall I hold" in confirm
    assert "I will not hold it" in declined
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 0


async def test_asking_to_be_called_keeps_the_number_and_asks_for_a_person(chat: Chat, db):  # noqa: ANN001
    reply = await chat.say("can someone call me at 510-555-0199?")

    conversation = await chat.conversation()
    async with db.transaction(write=False) as session:
        contact = await session.get(Contact, conversation.contact_id)
    assert HANDED in reply and conversation.handoff_reason == "asked"
    assert contact.phone == "+15105550199"


async def test_an_email_another_contact_has_stays_theirs_and_their_lead_hears_of_the_chat(chat: Chat, db, station):  # noqa: ANN001
    async with db.transaction() as session:
        known = await find_or_create_contact(session, Identity(email="dana@example.com"), name="Dana Known")

    await chat.say("hi, it's dana@example.com")

    conversation = await chat.conversation()
    async with db.transaction(write=False) as session:
        chat_contact = await session.get(Contact, conversation.contact_id)
        lead = await session.get(Lead, conversation.lead_id)
        owner = await session.scalar(select(ContactHandle.contact_id).where(ContactHandle.value == "dana@example.com"))
        kept = await session.get(Contact, known.id)
    assert chat_contact.id != known.id and chat_contact.email is None
    assert owner == known.id and kept.name == "Dana Known"
    assert lead.contact_id == known.id and lead.station_id == station.id
