"""The FAQ: retrieval of the entry a question asks about (hand-picked examples), answers filled in with the
station's rules (every number in an answer is one of them), and the rules read from the database on both passes."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from myhibachi.assistant.faq import FAQ, answer_faq, faq_answers
from myhibachi.auth.principal import SYSTEM
from myhibachi.inbox.canned import PLACEHOLDERS
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.rules import DEFAULT_RULES, BusinessRules
from myhibachi.stations.queries import get_station

STATION = SimpleNamespace(name="Station FRE")  # what a placeholder reads of a station: its name
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@pytest.mark.parametrize(("question", "topic"), [
    ("how much is the deposit?", "deposit"),
    ("is there a minimum", "minimum"),
    ("do you charge for travel", "travel"),
    ("do u guys come out to san jose", "service_area"),
    ("what proteins can we pick", "menu"),
    ("what do kids cost", "kids_prices"),
    ("whats ur cancelation policy", "cancellation"),
    ("can i get my money back", "refund"),
    ("can we postpone if it rains", "reschedule"),
    ("my daughter is allergic to shellfish", "allergies"),
    ("what's included in the price", "included"),
    ("how long does the party last", "duration"),
    ("what do we need to provide, tables?", "host_provides"),
    ("do you take venmo or cash", "payment"),
    ("what times can we start", "times"),
    ("what's the biggest party you can do", "party_size"),
])
def test_a_question_finds_its_entry(question: str, topic: str):
    found = answer_faq(question, DEFAULT_RULES, STATION)
    assert found is not None and found.topic == topic


def test_a_message_with_no_faq_question_has_no_answer():
    assert answer_faq("hello there", DEFAULT_RULES, STATION) is None
    assert answer_faq("I'm Dana, dana@example.com", DEFAULT_RULES, STATION) is None


def test_several_questions_find_several_entries_best_first():
    topics = [answer.topic for answer in faq_answers("what's the deposit and is it refundable if we cancel?",
                                                     DEFAULT_RULES, STATION)]
    assert {"deposit", "refund", "cancellation"} <= set(topics)


def rule_values(rules: BusinessRules, station: object) -> str:
    """Every placeholder of the rules as it reads, one text to look numbers up in."""
    return " | ".join(value(rules, station) for value in PLACEHOLDERS.values())


def test_templates_write_no_number_of_their_own_and_every_number_of_an_answer_is_a_rule():
    unusual = DEFAULT_RULES.model_copy(update={"deposit_cents": 12345, "travel_free_miles": 17,
                                               "event_minutes": 105, "hold_hours": 36})
    for entry in FAQ:
        assert not NUMBER.search(entry.answer), entry.topic
        answer = answer_faq(entry.questions[0], unusual, STATION)
        assert answer is not None and answer.topic == entry.topic
        assert set(NUMBER.findall(answer.answer)) <= set(NUMBER.findall(rule_values(unusual, STATION))), entry.topic


async def test_every_answer_renders_with_a_stations_rules_from_the_database_and_follows_a_change(db, make_station):
    station = await make_station("FRE")
    async with db.transaction(write=False) as session:
        rules, stored = await get_rules(session, station.id), await get_station(session, station.id)
    before = {entry.topic: answer_faq(entry.questions[0], rules, stored) for entry in FAQ}

    async with db.transaction() as session:
        await update_rules(session, SYSTEM, station.id, rules.model_copy(update={
            "deposit_cents": 15000, "travel_free_miles": 25, "party_minimum_cents": 60000,
            "deposit_refund_min_hours": 72}))
    async with db.transaction(write=False) as session:
        changed = await get_rules(session, station.id)
    after = {entry.topic: answer_faq(entry.questions[0], changed, stored) for entry in FAQ}

    assert all(answer is not None and "{" not in answer.answer for answer in before.values())
    assert "$100.00 deposit" in before["deposit"].answer and "$150.00 deposit" in after["deposit"].answer
    assert "within 30 miles" in before["travel"].answer and "within 25 miles" in after["travel"].answer
    assert "$550.00" in before["minimum"].answer and "$600.00" in after["minimum"].answer
    assert "96 hours" in before["cancellation"].answer and "72 hours" in after["cancellation"].answer
    assert "Station FRE" in after["service_area"].answer
