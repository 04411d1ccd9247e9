"""The quote and deposit link sent inside a thread (SPEC §7): staff price a party with the site's quote function and
send it as their reply; with a date and a start time the bookings domain places a hold for the conversation's
person and the reply carries the deposit link. The conversation, the person's open lead and the booking are linked,
and the lead moves to `quoted` (the deposit, once paid, wins it: leads.jobs)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import P
from myhibachi.auth.principal import Principal
from myhibachi.bookings.commands import Actor, create_booking
from myhibachi.bookings.models import Booking
from myhibachi.bookings.notifications import manage_link
from myhibachi.bookings.schemas import BookingCreate, LocalDate, SlotTimeText, Venue
from myhibachi.contacts.models import Contact, ContactHandle, HandleKind
from myhibachi.core.errors import ValidationFailed
from myhibachi.core.money import format_money
from myhibachi.core.text import multi_line
from myhibachi.inbox import commands
from myhibachi.inbox.models import Conversation, Message
from myhibachi.leads.commands import Inquiry, capture_lead, update_lead
from myhibachi.leads.models import NEXT_STATUS, Lead, LeadSource, LeadStatus
from myhibachi.leads.schemas import LeadUpdate
from myhibachi.pricing.queries import quote_for_station
from myhibachi.pricing.quote import PartyOrder, Quote
from myhibachi.pricing.schemas import Count
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station

T = TypeVar("T")


class ThreadQuote(BaseModel):
    """A party to price in the thread; with `event_date` and `slot_time` a hold too, which needs the venue and the
    allergies answer as a booking does."""

    zip_code: Annotated[str, Field(pattern=r"^\d{5}$", description="Venue ZIP code (5 digits).")]
    adults: Count
    children: Count = 0
    toddlers: Count = 0
    event_date: LocalDate | None = None
    slot_time: SlotTimeText | None = None
    venue: Venue | None = Field(None, description="Required with a date: where the chef cooks.")
    allergies: multi_line(1000) | None = Field(None, description='Required with a date; "none" is an answer.')

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"zip_code": "94538", "adults": 10, "children": 2},
        {"zip_code": "94538", "adults": 10, "event_date": "2026-12-24", "slot_time": "18:00", "allergies": "none",
         "venue": {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"}}]})

    @property
    def holds(self) -> bool:
        return self.event_date is not None or self.slot_time is not None

    def order(self) -> PartyOrder:
        return PartyOrder(adults=self.adults, children=self.children, toddlers=self.toddlers)


class ThreadQuoteSent(BaseModel):
    message_id: int
    body: str
    lead_id: int
    booking_id: int | None
    booking_reference: str | None
    deposit_link: str | None
    total_cents: int
    deposit_cents: int

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "message_id": 31, "body": "Your hibachi party with Fremont for 10 adults at ZIP code 94538: …", "lead_id": 12,
        "booking_id": 42, "booking_reference": "MH-7K3Q9D", "deposit_link": "https://example.com/manage/q8J0…/pay",
        "total_cents": 59538, "deposit_cents": 10000}]})


@dataclass(frozen=True)
class SentQuote:
    message: Message
    priced: PricedInThread  # its lead as the quote left it: `quoted`


async def send_quote(session: AsyncSession, settings: Settings, principal: Principal, conversation_id: int,
                     data: ThreadQuote) -> SentQuote:
    """Prices the party (the domains' own 422s: unknown ZIP, outside the area, party size), places the hold if a
    date is given (the bookings domain's own checks: `bookings.write`, notice, 409 `slot_unavailable`), links the
    lead and the booking to the conversation, moves the lead to `quoted` and sends the reply. Any refusal leaves
    everything as it was (the request's transaction rolls back), so nothing is sent."""
    conversation = await commands.find_conversation(session, principal, conversation_id)
    customer = None
    if data.holds:
        principal.authorize(P.bookings_write, conversation.station_id, missing="No such conversation.")
        customer = await _contact_as_customer(session, conversation)
    priced = await price_in_thread(session, settings, conversation, data, customer=customer,
                                   actor=Actor.staff(principal), source=LeadSource.inbox)
    lead = await _move_to_quoted(session, principal, priced.lead)
    await session.flush()  # before `reply` reloads the conversation
    message = await commands.reply(session, principal, conversation.id, priced.body)
    return SentQuote(message, replace(priced, lead=lead))


@dataclass(frozen=True)
class PricedInThread:
    body: str  # the reply as the person reads it (quote_text)
    quote: Quote
    lead: Lead
    booking: Booking | None
    deposit_link: str | None


async def price_in_thread(session: AsyncSession, settings: Settings, conversation: Conversation, data: ThreadQuote,
                          *, customer: dict[str, str | None] | None, actor: Actor,
                          source: LeadSource) -> PricedInThread:
    """What staff's quote and the assistant's hold share: the party priced, the hold placed by `actor` for
    `customer` (name, email, phone) when `data` has a date, the person's open lead told of it (`source` if it is
    new) and linked with the booking to the conversation, and the reply's text. Sends nothing."""
    station = await get_station(session, conversation.station_id)
    quote = await quote_for_station(session, station.id, data.zip_code, data.order())
    booking, token = None, None
    if data.holds:
        booking, token = await _hold(session, settings, conversation, data, customer or {}, actor)
    lead = await _open_lead(session, conversation, data, source)
    conversation.lead_id = lead.id
    if booking is not None:
        conversation.booking_id = lead.booking_id = booking.id
    await session.flush()
    link = f"{manage_link(settings, token)}/pay" if token else None
    return PricedInThread(quote_text(station, data, quote, booking, link), quote, lead, booking, link)


def quote_text(station: Station, data: ThreadQuote, quote: Quote, booking: Booking | None, link: str | None) -> str:
    """The reply as the person reads it: the party, the total with what it includes, the deposit, and with a hold
    its date, reference and the link to pay the deposit."""
    money = lambda cents: format_money(cents, quote.currency)  # noqa: E731
    party = f"{data.adults} adult{'s' * (data.adults != 1)}"
    if data.children:
        party += f", {data.children} child{'ren' * (data.children != 1)}"
    if data.toddlers:
        party += f", {data.toddlers} toddler{'s' * (data.toddlers != 1)}"
    food = quote.food_subtotal_cents + quote.minimum_adjustment_cents
    lines = [f"Your hibachi party with {station.name} for {party} at ZIP code {data.zip_code}:",
             f"Food {money(food)}" + (" (our party minimum)" if quote.minimum_adjustment_cents else ""),
             f"Travel {money(quote.travel_fee_cents)} ({quote.travel_miles} miles)",
             f"Tax {money(quote.tax_cents)}",
             f"Total {money(quote.total_cents)}; a {money(quote.deposit_cents)} deposit holds the date and comes "
             "off the total."]
    if booking is not None and link is not None:
        zone = ZoneInfo(station.timezone)
        start, until = booking.event_start.astimezone(zone), booking.hold_expires_at.astimezone(zone)
        lines.append(f"We are holding {start:%A, %B} {start.day} at {start:%H:%M} for you (booking "
                     f"{booking.reference}) until {until:%B} {until.day}, {until:%H:%M}. Pay the deposit here "
                     f"to confirm it: {link}")
    return "\n".join(lines)


async def _contact_as_customer(session: AsyncSession, conversation: Conversation) -> dict[str, str | None]:
    """Staff hold a date for the conversation's person as stored: their contact's name, email and phone."""
    contact = await session.get_one(Contact, conversation.contact_id)
    missing = [name for name, value in (("email", contact.email), ("phone", contact.phone)) if not value]
    if missing:
        raise ValidationFailed.on("body.event_date", f"To hold a date the contact needs {' and '.join(missing)} "
                                  "(the booking's emails and reminders go there): add it to the contact first.")
    return {"name": contact.name, "email": contact.email, "phone": contact.phone}


async def _hold(session: AsyncSession, settings: Settings, conversation: Conversation, data: ThreadQuote,
                customer: dict[str, str | None], actor: Actor) -> tuple[Booking, str]:
    """The bookings domain's hold for the person, as the site's booking form places it."""
    try:
        request = BookingCreate(
            station_id=conversation.station_id, zip_code=data.zip_code, adults=data.adults, children=data.children,
            toddlers=data.toddlers, event_date=_required(data.event_date, "event_date"),
            slot_time=_required(data.slot_time, "slot_time"), venue=_required(data.venue, "venue"),
            customer=customer, allergies=_required(data.allergies, "allergies"))
    except ValidationError as invalid:
        error = invalid.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ValidationFailed.on(f"body.{where}", error["msg"]) from None
    created = await create_booking(session, settings, request, actor=actor)
    return created.booking, created.token


def _required(value: T | None, name: str) -> T:
    if value is None:
        raise ValidationFailed.on(f"body.{name}", "Required to hold a date (with event_date and slot_time).")
    return value


async def _open_lead(session: AsyncSession, conversation: Conversation, data: ThreadQuote,
                     source: LeadSource) -> Lead:
    """The person's open lead at the station (made now if they have none), told what was quoted."""
    contact = await session.get_one(Contact, conversation.contact_id)
    handle = None
    if not contact.email and not contact.phone:  # a Messenger or Instagram person is found by their handle
        row = (await session.execute(select(ContactHandle.kind, ContactHandle.value)
                                     .where(ContactHandle.contact_id == contact.id).limit(1))).first()
        handle = (HandleKind(row.kind), row.value) if row else None
    return await capture_lead(session, Inquiry(
        station_id=conversation.station_id, source=source, name=contact.name, email=contact.email,
        phone=contact.phone, handle=handle, event_date=data.event_date,
        guests=data.adults + data.children + data.toddlers, zip_code=data.zip_code,
        message=f"Quoted in the {conversation.channel.replace('_', ' ')} thread"))


async def _move_to_quoted(session: AsyncSession, principal: Principal, lead: Lead) -> Lead:
    """Through the pipeline's own moves (new → contacted → qualified → quoted, each audited): a quote sent means
    the person was contacted and qualified on the way."""
    while (following := NEXT_STATUS.get(LeadStatus(lead.status))) is not None:
        lead = await update_lead(session, principal, lead.id, LeadUpdate(status=following))
    return lead


def sent_view(sent: SentQuote) -> ThreadQuoteSent:
    return ThreadQuoteSent(
        message_id=sent.message.id, body=sent.message.body, lead_id=sent.priced.lead.id,
        booking_id=sent.priced.booking.id if sent.priced.booking else None,
        booking_reference=sent.priced.booking.reference if sent.priced.booking else None,
        deposit_link=sent.priced.deposit_link, total_cents=sent.priced.quote.total_cents,
        deposit_cents=sent.priced.quote.deposit_cents)

