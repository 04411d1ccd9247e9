"""The assistant's built-in policy, no model: the visitor's new message read with what the chat remembers (so a bare
"18", "94538" or "none" answers what was asked last) → the handoff rules → the tools to call → one reply that
answers each question the message asked and asks for the one thing a hold still needs."""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from myhibachi.assistant.lexicon import words
from myhibachi.assistant.tools import (
    AvailabilityArgs,
    DetailsArgs,
    HandOffArgs,
    NoArgs,
    QuoteArgs,
    RulesArgs,
    Turn,
    answer_from_rules,
    availability,
    day_words,
    free_dates,
    listed,
    quote,
    service_area,
)
from myhibachi.assistant.understand import Understanding, understand
from myhibachi.inbox.models import HandoffReason

MISSES_BEFORE_A_PERSON = 2
FREE_TEXT_ANSWERS = {"venue", "allergies", "name"}  # answers whose words are not read for other slots

INTRO = ("Hi! I am {brand}'s automated assistant. I can price your party, check dates, answer questions about our "
         "terms and hold a date for you. Ask for a person at any time and someone from our team will join.")
GREETING = "How can I help? Tell me about your party (guests, ZIP code, date) or ask about our terms."
WELCOME = "You are welcome! Anything else I can help with?"
NOTED = "Noted."
DECLINED = "No problem, I will not hold it. Anything else I can help with?"
PERSON_COMING = ("A person from our team will answer you here as soon as they can. Meanwhile I can still price a "
                 "party, check dates or answer questions about our terms.")
NOT_UNDERSTOOD = ("Sorry, I did not understand that. I can price a party, check dates, answer questions about the "
                  "deposit, minimum, travel, menu and our policies, or hold a date. You can also ask for a person.")
QUESTIONS = {
    "adults": "How many adults and children will there be?",
    "zip_code": "What is the ZIP code of the party's address?",
    "event_date": "Which date would you like?",
    "slot_time": "Which start time would you like? Parties start at {times}.",
    "venue": "What is the address of the party (street, city, state)?",
    "allergies": "Does anyone have a food allergy? If not, just say none.",
    "name": "What name should the booking be under?",
    "email": "What email address should we send the booking to?",
    "phone": "And a phone number the chef can reach you at on the day?",
}
# The intents the FAQ answers, by the FAQ topics that answer them.
FAQ_TOPICS = {"deposit": {"deposit"}, "minimum": {"minimum"}, "travel": {"travel"}, "menu": {"menu"},
              "cancellation": {"cancellation"}, "reschedule": {"reschedule"}}
RULE_HANDOFFS = (("human", HandoffReason.asked), ("refund", HandoffReason.refund),
                 ("complaint", HandoffReason.complaint), ("allergy", HandoffReason.allergy))
YES = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|ok|okay|please do|do it|go ahead|confirm\w*|book it|hold it|y|"
                 r"sounds good|perfect|correct)\b", re.I)
NO = re.compile(r"^\W*(?:no|nope|nah|not now|don't|do not|cancel|never mind|nevermind|n)\b", re.I)
NO_ALLERGIES = re.compile(r"^\W*(?:no|none|nope|nah|n/?a|nothing|no allerg\w*|none at all|not that i know)\W*$", re.I)
BARE_COUNT = re.compile(r"^\D{0,12}?(\d{1,3})\s*(?:people|guests|adults|ppl|of us|total)?\W*$", re.I)
BARE_HOUR = re.compile(r"^\D{0,8}?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\W*$", re.I)
ADDRESS = re.compile(r"^\s*(?P<line1>\d+[^,\n]{2,}?)\s*,\s*(?P<city>[A-Za-z][A-Za-z .'-]*?)\s*"
                     r"(?:(?:,\s*|\s+)(?P<state>[A-Za-z]{2})\b)?\s*(?:,?\s*\d{5}(?:-\d{4})?)?\W*$")
NAME = re.compile(r"^\s*([A-Za-z][A-Za-z'-]*(?:\s+[A-Za-z][A-Za-z'-]*){0,3})\W*$")


@dataclass
class Draft:
    """A reply being composed: text from the reading tools, the writing tools to run once the conversation is
    locked (their text follows), and the question that closes the reply."""

    parts: list[str] = field(default_factory=list)
    writes: list[tuple[str, BaseModel]] = field(default_factory=list)
    question: str | None = None
    phrased: str | None = None  # the optional model's wording of the parts (its numbers all from the tools)

    @property
    def helped(self) -> bool:
        return bool(self.parts or self.writes or self.question)


@dataclass(frozen=True)
class Reading:
    """The new message as understood with the chat's memory."""

    understood: Understanding
    answered: str | None  # the slot a bare answer filled ("adults" for "18")
    confirmed: bool | None  # the answer to "shall I hold it?", if that was asked
    new_zip: str | None


def menu_of(turn: Turn) -> tuple[str, ...]:
    return (*turn.rules.protein_upgrades, *turn.rules.addons)


def read_message(turn: Turn, text: str) -> Reading:
    """Understands the message and folds what it tells into the state (the latest said wins)."""
    state, slots = turn.state, turn.state.slots
    understood = understand(text, turn.today(), menu_of(turn))
    answered, confirmed = _bare_answer(turn, text, understood), None
    if state.asked == "confirm":
        confirmed = True if YES.match(text) else False if NO.match(text) else None
    old_zip = slots.get("zip_code")
    told = understood.slots
    if answered in FREE_TEXT_ANSWERS:  # "one guest is allergic to shellfish" tells no party size
        told = {name: value for name, value in told.items() if name in ("email", "phone", answered)}
    for name, value in told.items():
        if name == "event_date":
            slots[name] = value.isoformat()
        elif name == "slot_time":
            slots[name] = value.strftime("%H:%M")
        elif name == "upgrades":
            slots[name] = list(value)
        else:
            slots[name] = value
    if "book" in understood.intents:
        slots["booking"] = True
    new_zip = slots.get("zip_code") if slots.get("zip_code") != old_zip else None
    return Reading(understood, answered, confirmed, new_zip)


def _bare_answer(turn: Turn, text: str, understood: Understanding) -> str | None:
    """Fills the slot asked last from an answer that names it only by being the answer: "18", "6", "none", an
    address, a name. Which slot it filled, if any."""
    asked, slots = turn.state.asked, turn.state.slots
    if asked == "adults" and understood.adults is None and (count := BARE_COUNT.match(text)):
        slots["adults"] = int(count.group(1))
        return asked
    if asked == "slot_time" and understood.slot_time is None and (hour := BARE_HOUR.match(text)):
        slot = _start_time(turn, int(hour.group(1)), int(hour.group(2) or 0), (hour.group(3) or "").lower())
        if slot:
            slots["slot_time"] = slot
            return asked
    if asked == "venue" and (address := ADDRESS.match(text)):
        slots["venue"] = {"line1": address["line1"].strip(), "city": address["city"].strip().title(),
                          "state": (address["state"] or turn.station.state).upper()}
        return asked
    if asked == "allergies" and text.strip():
        slots["allergies"] = "none" if NO_ALLERGIES.match(text) else text.strip()[:1000]
        return asked
    if asked == "name" and understood.name is None and (name := _bare_name(text)):
        slots["name"] = name
        return asked
    if asked and understood.slots.get(asked) is not None:
        return asked
    return None


def _bare_name(text: str) -> str | None:
    """A name given as the answer to ours: the message, or its part before a comma ("Kim Lee, kim@example.com"),
    when it is one to four words that look like a name and not a yes or a no."""
    lead = re.split(r"[,;\n(]|\s-\s", text, maxsplit=1)[0]
    name = NAME.match(lead)
    if name is None or len(words(lead)) > 4 or YES.match(lead) or NO.match(lead):
        return None
    return " ".join(part[:1].upper() + part[1:] for part in name.group(1).split())


def _start_time(turn: Turn, hour: int, minute: int, half: str) -> str | None:
    """A bare hour as one of the station's start times: "6" is 18:00 when parties start at 18:00 and not at 6:00."""
    starts = {slot.strftime("%H:%M") for slot in turn.rules.slot_times}
    candidates = [hour + 12 if half == "pm" and hour < 12 else hour] if half else [hour, hour + 12]
    return next((f"{h:02d}:{minute:02d}" for h in candidates if f"{h:02d}:{minute:02d}" in starts), None)


def rule_handoff(turn: Turn, reading: Reading) -> HandoffReason | None:
    """A reason by rule to ask for a person: asked for, a refund, a complaint, an allergy question (not the answer to
    ours), more guests than CHAT_HANDOFF_GUESTS."""
    intents = reading.understood.intents
    for intent, reason in RULE_HANDOFFS:
        if intent in intents and not (intent == "allergy" and reading.answered == "allergies"):
            return reason
    if turn.state.guests > turn.settings.chat_handoff_guests:
        return HandoffReason.large_party
    return None


async def compose(turn: Turn, text: str, reading: Reading) -> Draft:
    """The built-in reply to a message read by `read_message`: the handoff rules, then an answer to each question
    and the next thing to ask."""
    draft = Draft()
    _take_details(turn, reading, draft)  # "call me at 510-555-0142" asks for a person and gives the number
    if (reason := rule_handoff(turn, reading)) is not None:
        return handed_off(turn, draft, reason)
    if reading.new_zip and (problem := await service_area(turn, reading.new_zip)) is not None:
        draft.parts.append(problem.text)
        if problem.handoff is not None:
            return handed_off(turn, draft, problem.handoff)
        turn.state.slots.pop("zip_code", None)
        draft.question, turn.state.asked = QUESTIONS["zip_code"], "zip_code"
        return draft
    slots = turn.state.slots
    if reading.confirmed is True:
        draft.writes.append(("hold", NoArgs()))
        turn.state.asked = None
        return draft
    if reading.confirmed is False:
        slots["booking"] = False
        draft.parts.append(DECLINED)
    await _answer_questions(turn, text, reading, draft)
    await _next_step(turn, draft)
    if not draft.helped:
        _missed(turn, draft, reading)
    else:
        turn.state.misses = 0
    return draft


def _take_details(turn: Turn, reading: Reading, draft: Draft) -> None:
    """The name, email or phone the message gave, for the contact and the lead."""
    understood = reading.understood
    details = {name: value for name in ("name", "email", "phone") if (value := getattr(understood, name))}
    if reading.answered == "name" and turn.state.slots.get("name"):
        details["name"] = turn.state.slots["name"]
    if details:
        with suppress(ValidationError):  # a name too long to keep, say: the dialogue goes on without it
            draft.writes.append(("take_details", DetailsArgs(**details)))


def handed_off(turn: Turn, draft: Draft, reason: HandoffReason) -> Draft:
    draft.writes.append(("hand_off", HandOffArgs(reason=reason)))
    turn.state.asked, turn.state.misses = None, 0
    turn.state.slots["booking"] = False
    return draft


async def _answer_questions(turn: Turn, text: str, reading: Reading, draft: Draft) -> None:
    """One answer for each question the message asks: the terms from the FAQ, a price, dates."""
    intents, slots = reading.understood.intents, turn.state.slots
    topics = frozenset().union(*(FAQ_TOPICS[intent] for intent in intents if intent in FAQ_TOPICS))
    if reading.understood.upgrades and "price_quote" not in intents:  # "can we do lobster?" asks the menu
        topics |= FAQ_TOPICS["menu"]
    if topics or (intents <= {"other"} and reading.answered is None):
        answer = await answer_from_rules(turn, RulesArgs(question=text[:500]), topics)
        if answer is not None:
            draft.parts.append(answer.text)
    if "price_quote" in intents or slots.get("want_quote"):
        if slots.get("adults") and slots.get("zip_code"):
            draft.parts.append((await quote(turn, _quote_args(slots))).text)
            slots.pop("want_quote", None)
        else:
            slots["want_quote"] = True
    if "availability" in intents:
        draft.parts.append((await availability(turn, AvailabilityArgs(event_date=turn.state.get_date()))).text)
    if not draft.parts and not draft.writes and reading.answered:
        draft.parts.append(NOTED)


async def _next_step(turn: Turn, draft: Draft) -> None:
    """The one thing to ask next: what a hold still needs (then the confirmation), or what a price needs."""
    state, slots = turn.state, turn.state.slots
    state.asked = None
    if slots.get("booking"):
        missing = state.missing_for_hold()
        if missing == "slot_time" and (day := state.get_date()):
            draft.parts.append((await availability(turn, AvailabilityArgs(event_date=day))).text)
        elif missing is None and not await _still_free(turn, draft):
            missing = "slot_time"
        if missing is None:
            draft.parts.append((await quote(turn, _quote_args(slots))).text)
            draft.question, state.asked = _confirmation(turn), "confirm"
            return
        draft.question, state.asked = _question(turn, missing), missing
        return
    if slots.get("want_quote"):
        missing = "adults" if not slots.get("adults") else "zip_code"
        draft.question, state.asked = _question(turn, missing), missing


async def _still_free(turn: Turn, draft: Draft) -> bool:
    """Whether a chef is free at the chosen date and time; if not, the times that are (and the time is asked again)."""
    day, slots = turn.state.get_date(), turn.state.slots
    assert day is not None
    free = await free_dates(turn, day, max(turn.state.guests, 1), days=0)
    if free and slots["slot_time"] in free[0][1]:
        return True
    draft.parts.append((await availability(turn, AvailabilityArgs(event_date=day))).text)
    slots.pop("slot_time", None)
    return False


def _confirmation(turn: Turn) -> str:
    slots, day = turn.state.slots, turn.state.get_date()
    assert day is not None
    venue = slots["venue"]
    return (f"Shall I hold {day_words(day)} at {slots['slot_time']} at {venue['line1']}, {venue['city']} for you? "
            "Reply yes to hold it; the deposit link follows.")


def _question(turn: Turn, slot: str) -> str:
    times = listed([slot_time.strftime("%H:%M") for slot_time in turn.rules.slot_times])
    return QUESTIONS[slot].format(times=times)


def _quote_args(slots: dict[str, Any]) -> QuoteArgs:
    return QuoteArgs(adults=int(slots["adults"]), children=int(slots.get("children") or 0),
                     toddlers=int(slots.get("toddlers") or 0), zip_code=str(slots["zip_code"]))


def _missed(turn: Turn, draft: Draft, reading: Reading) -> None:
    """A message the assistant could do nothing with: a greeting or thanks is answered; otherwise it says so, and
    the second such answer in a row asks for a person."""
    intents = reading.understood.intents
    if turn.conversation.handoff_requested_at is not None:  # a person is on the way: nothing to get wrong
        draft.parts.append(PERSON_COMING)
        return
    if "greeting" in intents or "thanks" in intents:
        draft.parts.append(WELCOME if "thanks" in intents else GREETING)
        turn.state.misses = 0
        return
    turn.state.misses += 1
    if turn.state.misses >= MISSES_BEFORE_A_PERSON:
        handed_off(turn, draft, HandoffReason.not_understood)
        return
    draft.parts.append(NOT_UNDERSTOOD)
