"""The assistant's whitelist of tools (SPEC §7 "Chat"): the only things it can do, whoever picks them — the built-in
dialogue or an optional model. Each is an async function over one turn's context and its validated arguments, and
returns the text the visitor reads; every number in that text comes from the station's rules, the quote function or
availability, never from the caller.

Reading tools (answer_from_rules, quote, availability) run while a reply is composed; writing tools (take_details,
hold, hand_off) run only once the conversation is locked and still the assistant's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.assistant.faq import FAQ, faq_answers
from myhibachi.bookings.commands import CUSTOMER
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.queries import station_availability
from myhibachi.bookings.schemas import Venue
from myhibachi.contacts.commands import Identity, complete_contact
from myhibachi.contacts.models import HandleKind
from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError
from myhibachi.inbox.canned import render_body
from myhibachi.inbox.commands import request_handoff
from myhibachi.inbox.live import visitor_of
from myhibachi.inbox.models import Conversation, HandoffReason
from myhibachi.inbox.quotes import ThreadQuote, price_in_thread, quote_text
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import LeadSource
from myhibachi.pricing.queries import OutsideServiceArea, UnknownZipCode, quote_for_station
from myhibachi.pricing.quote import PartyOrder
from myhibachi.pricing.rules import BusinessRules
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

AVAILABILITY_DAYS = 14  # how far past the asked date the assistant looks for free dates
FREE_DATES_SHOWN = 3
# The details a hold needs, in the order the dialogue asks for them.
HOLD_NEEDS = ("adults", "zip_code", "event_date", "slot_time", "venue", "allergies", "name", "email", "phone")


@dataclass
class ChatState:
    """What the assistant knows of the chat (stored as `AssistantMemory`): slots, what it asked last, misses."""

    slots: dict[str, Any] = field(default_factory=dict)  # JSON values: dates ISO, times HH:MM
    asked: str | None = None
    misses: int = 0

    def get_date(self) -> date | None:
        return date.fromisoformat(self.slots["event_date"]) if self.slots.get("event_date") else None

    @property
    def guests(self) -> int:
        return sum(int(self.slots.get(name) or 0) for name in ("adults", "children", "toddlers"))

    def missing_for_hold(self) -> str | None:
        return next((need for need in HOLD_NEEDS if not self.slots.get(need)), None)


@dataclass
class Turn:
    """One turn's context: the reading or writing session, the conversation and its station's rules, the state."""

    session: AsyncSession
    settings: Settings
    conversation: Conversation
    station: Station
    rules: BusinessRules
    state: ChatState
    facts: list[str] = field(default_factory=list)  # every tool's text this turn: what a phrased answer may say

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.station.timezone)

    def today(self) -> date:
        return utcnow().astimezone(self.zone).date()


@dataclass(frozen=True)
class ToolResult:
    text: str
    handoff: HandoffReason | None = None  # the tool found a reason to ask for a person (outside the area)


# --- arguments (validated: an optional model's tool calls are these or nothing) -------------------------------------

class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RulesArgs(NoArgs):
    question: Annotated[str, Field(min_length=1, max_length=500, description="The visitor's question.")]


Count = Annotated[int, Field(ge=0, le=1000, strict=True)]
ZipCode = Annotated[str, Field(pattern=r"^\d{5}$")]


class QuoteArgs(NoArgs):
    adults: Annotated[int, Field(ge=1, le=1000, strict=True)]
    children: Count = 0
    toddlers: Count = 0
    zip_code: ZipCode


class AvailabilityArgs(NoArgs):
    event_date: date | None = Field(None, description="The date asked about (YYYY-MM-DD); none: the next dates.")
    guests: Annotated[int, Field(ge=1, le=1000, strict=True)] | None = None


class DetailsArgs(NoArgs):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", max_length=254)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+[1-9]\d{7,14}$")] | None = None


class HandOffArgs(NoArgs):
    reason: HandoffReason


# --- reading tools -------------------------------------------------------------------------------------------------

async def answer_from_rules(turn: Turn, args: RulesArgs, topics: frozenset[str] = frozenset()) -> ToolResult | None:
    """The FAQ's answers rendered from the station's rules: the entries of `topics` if given (the intents the
    dialogue read), else those the question names (at most three); None when it asks none."""
    if topics:
        texts = [render_body(entry.answer, turn.rules, turn.station) for entry in FAQ if entry.topic in topics]
    else:
        answers = faq_answers(args.question, turn.rules, turn.station)
        texts = [answer.answer for answer in answers if answer.score >= 1][:3] or [a.answer for a in answers[:1]]
    if not texts:
        return None
    return _fact(turn, ToolResult("\n".join(dict.fromkeys(texts))))


async def quote(turn: Turn, args: QuoteArgs) -> ToolResult:
    """The party priced by the site's quote function, in the words of staff's quote in a thread."""
    data = ThreadQuote(zip_code=args.zip_code, adults=args.adults, children=args.children, toddlers=args.toddlers)
    try:
        priced = await quote_for_station(turn.session, turn.station.id, args.zip_code, data.order())
    except OutsideServiceArea as outside:
        return _fact(turn, ToolResult(outside.detail, handoff=HandoffReason.outside_area))
    except DomainError as refused:
        return _fact(turn, ToolResult(refused.detail))
    return _fact(turn, ToolResult(quote_text(turn.station, data, priced, None, None)))


async def service_area(turn: Turn, zip_code: str) -> ToolResult | None:
    """None when the station cooks at that ZIP code; else why not (outside the area: a reason for a person)."""
    try:
        await quote_for_station(turn.session, turn.station.id, zip_code, PartyOrder(adults=1))
    except OutsideServiceArea as outside:
        return _fact(turn, ToolResult(outside.detail, handoff=HandoffReason.outside_area))
    except UnknownZipCode as unknown:
        return _fact(turn, ToolResult(f"{unknown.detail} Could you check it?"))
    return None


async def free_dates(turn: Turn, first: date, guests: int,
                     days: int = AVAILABILITY_DAYS) -> list[tuple[date, list[str]]]:
    """The dates from `first` with a chef free for the party, each with its free start times (station time)."""
    found = await station_availability(turn.session, turn.station.id, first, first + timedelta(days=days), guests)
    free = [(day.date, [slot.time for slot in day.slots if slot.available]) for day in found.days]
    return [(day, times) for day, times in free if times]


async def availability(turn: Turn, args: AvailabilityArgs) -> ToolResult:
    """The start times a chef can make on the date asked (station time), or the nearest dates that have some."""
    guests = args.guests or max(turn.state.guests, 1)
    first = max(args.event_date or turn.today(), turn.today())
    free = await free_dates(turn, first, guests)
    if args.event_date is not None and free and free[0][0] == args.event_date:
        return _fact(turn, ToolResult(f"On {day_words(args.event_date)} a chef is free at {listed(free[0][1])}."))
    shown = "; ".join(f"{day_words(day)} at {listed(times)}" for day, times in free[:FREE_DATES_SHOWN])
    if args.event_date is not None:
        head = f"On {day_words(args.event_date)} no chef is free"
        text = f"{head}. The nearest dates with a chef free: {shown}." if shown else \
            f"{head}, nor in the {AVAILABILITY_DAYS} days after it."
    else:
        text = f"The next dates with a chef free: {shown}." if shown else \
            f"No chef is free in the next {AVAILABILITY_DAYS} days."
    return _fact(turn, ToolResult(text))


# --- writing tools (under the conversation's lock, still the assistant's) -------------------------------------------

async def take_details(turn: Turn, args: DetailsArgs) -> ToolResult:
    """The visitor's name, email and phone: on their chat contact (filling what it lacks) and on their lead at the
    station (source chat), which the conversation links."""
    visitor = await visitor_of(turn.session, turn.conversation)
    handle = (HandleKind.web_chat, visitor) if visitor else None
    identity = Identity(email=args.email, phone=args.phone, handle=handle)
    await complete_contact(turn.session, turn.conversation.contact_id, identity, name=args.name)
    if args.email or args.phone or handle:
        slots = turn.state.slots
        lead = await capture_lead(turn.session, Inquiry(
            station_id=turn.station.id, source=LeadSource.chat, name=args.name or slots.get("name") or "Website chat",
            email=args.email, phone=args.phone, handle=handle, event_date=turn.state.get_date(),
            guests=turn.state.guests or None, zip_code=slots.get("zip_code"),
            message="Gave their details in the website chat"))
        turn.conversation.lead_id = lead.id
        await turn.session.flush()  # before posting the reply reloads the conversation
    return ToolResult(f"Thank you, {args.name}." if args.name else "Thank you, we have your details.")


async def hold(turn: Turn, _args: NoArgs) -> ToolResult:
    """A held booking placed as the visitor would on the site, and its deposit link; refused (a time just taken,
    too little notice), it says why and the dialogue asks again."""
    slots = turn.state.slots
    if (missing := turn.state.missing_for_hold()) is not None:
        return ToolResult(f"To hold a date I still need your {missing.replace('_', ' ')}.")
    if (unpaid := await _unpaid_hold(turn)) is not None:  # one unpaid hold per chat: holds keep chefs from others
        return ToolResult(f"This chat holds a date already (booking {unpaid.reference}) until its deposit is paid or "
                          "the hold lapses; ask for a person to hold another.")
    data = ThreadQuote(zip_code=slots["zip_code"], adults=slots["adults"], children=slots.get("children") or 0,
                       toddlers=slots.get("toddlers") or 0, event_date=turn.state.get_date(),
                       slot_time=slots["slot_time"], venue=Venue(**slots["venue"], zip_code=slots["zip_code"]),
                       allergies=slots["allergies"])
    customer = {"name": slots["name"], "email": slots["email"], "phone": slots["phone"]}
    try:
        async with turn.session.begin_nested():  # a refusal leaves nothing half-written
            priced = await price_in_thread(turn.session, turn.settings, turn.conversation, data, customer=customer,
                                           actor=CUSTOMER, source=LeadSource.chat)
    except DomainError as refused:
        slots.pop("slot_time", None)
        turn.state.asked = "slot_time"
        return ToolResult(f"I could not hold it: {refused.detail} Which other time would suit you?")
    slots["held"] = priced.booking.reference if priced.booking else None
    for done in ("booking", "event_date", "slot_time", "allergies"):  # another party starts from its date
        slots.pop(done, None)
    return ToolResult(priced.body)


async def _unpaid_hold(turn: Turn) -> Booking | None:
    if turn.conversation.booking_id is None:
        return None
    booking = await turn.session.get(Booking, turn.conversation.booking_id)
    unpaid = booking is not None and booking.status == BookingStatus.pending_deposit and \
        booking.hold_expires_at > utcnow()
    return booking if unpaid else None


async def hand_off(turn: Turn, args: HandOffArgs) -> ToolResult:
    """Asks the station's staff for a person; the visitor is told one will join."""
    await request_handoff(turn.session, turn.conversation.id, args.reason)
    return ToolResult("I have asked a person from our team to join this chat; they will answer you here.")


# --- the whitelist -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tool:
    run: Callable[..., Awaitable[ToolResult | None]]
    args: type[BaseModel]
    writes: bool
    description: str


TOOLS: dict[str, Tool] = {
    "answer_from_rules": Tool(answer_from_rules, RulesArgs, False,
                              "Answer a question about deposit, minimum, travel, menu, prices, cancellation, "
                              "reschedule or other terms from the station's own rules."),
    "quote": Tool(quote, QuoteArgs, False, "Price a party (adults, children 6-12, toddlers, venue ZIP code)."),
    "availability": Tool(availability, AvailabilityArgs, False,
                         "The start times a chef is free on a date, or the next dates with a chef free."),
    "take_details": Tool(take_details, DetailsArgs, True,
                         "Keep the visitor's name, email and phone so the team can reach them."),
    "hold": Tool(hold, NoArgs, True,
                 "Hold the date the visitor asked for and confirmed, and send the deposit link. Only after the "
                 "visitor confirmed."),
    "hand_off": Tool(hand_off, HandOffArgs, True, "Ask a person from the team to take over the chat."),
}


def tool_schemas() -> list[dict[str, Any]]:
    """The whitelist as OpenAI-compatible function tools."""
    return [{"type": "function", "function": {"name": name, "description": tool.description,
                                              "parameters": tool.args.model_json_schema()}}
            for name, tool in TOOLS.items()]


def _fact(turn: Turn, result: ToolResult) -> ToolResult:
    turn.facts.append(result.text)
    return result


def day_words(day: date) -> str:
    return f"{day:%A, %B} {day.day}"


def listed(times: list[str]) -> str:
    return times[0] if len(times) == 1 else f"{', '.join(times[:-1])} and {times[-1]}"
