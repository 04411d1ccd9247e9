"""Booking API shapes (SPEC §4): creating a booking, what staff and customers see, and the actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from myhibachi.bookings.actions import BookingAction
from myhibachi.bookings.models import BookingStatus, Occasion
from myhibachi.contacts.schemas import Phone
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.text import Email, multi_line, single_line
from myhibachi.pricing.rules import HHMM
from myhibachi.pricing.schemas import PROTEINS_DESCRIPTION, Choices, Count, QuoteRead

Text = single_line(200)
LocalDate = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY, examples=["2026-12-24"])]
SlotTimeText = Annotated[str, Field(pattern=HHMM, description="A start time of the station, local HH:MM.",
                                    examples=["18:00"])]


def phone_digits(text: str) -> str:
    """The digits a typed phone number is found by among the stored E.164 ones, however it was written: a whole
    number as its E.164 digits ("(510) 555-0142" → 15105550142, as `Phone` stores it), a part as typed (555-0142)."""
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).removeprefix("+")
    return "".join(char for char in text if char.isdigit())


def _answered(value: str) -> str:
    if not value.strip():
        raise ValueError('tell us about allergies, or write "none"')
    return value.strip()


class Venue(BaseModel):
    line1: Text
    line2: single_line(200, min_length=0) | None = None
    city: single_line(100)
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    zip_code: Annotated[str, Field(pattern=r"^\d{5}$")]


class CustomerContact(BaseModel):
    name: single_line(120)
    email: Email
    phone: Phone


class PartyChange(BaseModel):
    """A change of the party: only the fields sent change (counts: guest-change window; choices: menu window)."""

    adults: Count | None = None
    children: Count | None = None
    toddlers: Count | None = None
    upgrades: Choices | None = None
    extra_proteins: Choices | None = None
    addons: Choices | None = None
    proteins: Choices | None = Field(None, description=PROTEINS_DESCRIPTION + " A change of guests that breaks the "
                                     "total chosen is refused (`protein_count`) unless the proteins are sent too; "
                                     "`{}` clears them.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"adults": 14, "addons": {"gyoza": 2}}, {"proteins": {"chicken": 20, "shrimp": 13}}]})


class BookingCreate(BaseModel):
    station_id: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
    zip_code: Annotated[str | None, Field(pattern=r"^\d{5}$", description="Optional: the venue's ZIP code.")] = None
    adults: Count
    children: Count = 0
    toddlers: Count = 0
    upgrades: Choices = Field(default_factory=dict)
    extra_proteins: Choices = Field(default_factory=dict)
    addons: Choices = Field(default_factory=dict)
    proteins: Choices = Field(default_factory=dict, description=PROTEINS_DESCRIPTION)
    event_date: LocalDate
    slot_time: SlotTimeText
    venue: Venue
    customer: CustomerContact
    allergies: Annotated[multi_line(1000), AfterValidator(_answered),
                         Field(description='Required; "none" is an answer, blank is not.')]
    notes: multi_line(2000) | None = None
    occasion: Occasion | None = Field(None, description="Optional: what the party celebrates (birthday or "
                                      "anniversary); a subscriber may get a note before the date comes round.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "station_id": 1, "adults": 12, "children": 4, "toddlers": 1, "upgrades": {"filet_mignon": 3},
        "extra_proteins": {}, "addons": {"gyoza": 1}, "proteins": {"chicken": 12, "ny_strip": 10, "shrimp": 11},
        "event_date": "2026-12-24", "slot_time": "18:00",
        "venue": {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"},
        "customer": {"name": "Dana Lee", "email": "dana@example.com", "phone": "+1 510 555 0142"},
        "allergies": "none", "notes": "Backyard, gate code 1234", "occasion": "birthday"}]})


class Reschedule(BaseModel):
    event_date: LocalDate
    slot_time: SlotTimeText

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"event_date": "2026-12-31", "slot_time": "15:00"}]})


class Reason(BaseModel):
    reason: multi_line(1000, min_length=1)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "Family emergency"}]})


class OptionalReason(BaseModel):
    reason: multi_line(1000) | None = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "Plans changed"}]})


class ChefAssignment(BaseModel):
    chef_id: Annotated[int, Field(ge=1, le=2**63 - 1, strict=True)]

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"chef_id": 3}]})


_QUOTE_EXAMPLE = QuoteRead.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


class BookingCreated(BaseModel):
    id: int
    reference: str
    status: BookingStatus
    event_start: datetime = Field(description="Station-local start with its UTC offset.")
    quote: QuoteRead
    deposit_due_by: datetime = Field(description="When the hold lapses unless the deposit is paid (local).")
    manage_token: str = Field(description="The customer's credential for `/manage/{token}`; keep it secret.")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 42, "reference": "MH-7K3Q9D", "status": "pending_deposit", "event_start": "2026-12-24T18:00:00-08:00",
        "quote": _QUOTE_EXAMPLE, "deposit_due_by": "2026-11-26T09:30:00-08:00",
        "manage_token": "q8J0tC2vXy5bN9wLr3TzK7aP1mE4sD6fGhU0iOyR2Wc"}]})


class Party(BaseModel):
    adults: int
    children: int
    toddlers: int
    upgrades: dict[str, int]
    extra_proteins: dict[str, int]
    addons: dict[str, int]
    proteins: dict[str, int] = Field(description="Base protein choices; `{}` until the customer chooses them.")


class VenueRead(BaseModel):
    line1: str
    line2: str | None
    city: str
    state: str
    zip_code: str


class CancelRequestRead(BaseModel):
    requested_at: datetime
    requested_by_user_id: int | None
    reason: str | None


class HistoryEntry(BaseModel):
    occurred_at: datetime
    action: str
    actor_user_id: int | None = Field(description="The staff member; null for the customer or the system.")
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


_BOOKING_EXAMPLE: dict[str, Any] = {
    "id": 42, "reference": "MH-7K3Q9D", "station_id": 1, "timezone": "America/Los_Angeles",
    "status": "confirmed", "event_date": "2026-12-24", "slot_time": "18:00",
    "event_start": "2026-12-24T18:00:00-08:00", "event_end": "2026-12-24T20:30:00-08:00",
    "party": {"adults": 12, "children": 4, "toddlers": 1, "upgrades": {"filet_mignon": 3}, "extra_proteins": {},
              "addons": {"gyoza": 1}, "proteins": {"chicken": 12, "ny_strip": 10, "shrimp": 11}},
    "quote": _QUOTE_EXAMPLE, "fees_cents": 0, "total_due_cents": 89541, "paid_cents": 10000,
    "balance_due_cents": 79541,
    "venue": {"line1": "4100 Mowry Ave", "line2": None, "city": "Fremont", "state": "CA", "zip_code": "94538"},
    "customer": {"name": "Dana Lee", "email": "dana@example.com", "phone": "+15105550142"},
    "allergies": "none", "notes": None, "chef_id": 3, "hold_expires_at": None,
    "confirmed_at": "2026-11-25T18:02:11Z", "reschedule_count": 0, "cancel_request": None, "cancelled_at": None,
    "cancel_reason": None, "refund_owed_cents": None, "created_at": "2026-11-25T17:30:00Z",
}


class CustomerRead(BaseModel):
    name: str
    email: str
    phone: str


class _EventFacts(BaseModel):
    """Which event, when (station-local) and for how many: the start of every staff view of a booking."""

    id: int
    reference: str
    station_id: int
    timezone: str
    status: BookingStatus
    event_date: date
    slot_time: str
    event_start: datetime = Field(description="Station-local, with its UTC offset.")
    event_end: datetime
    party: Party


class _BookingFacts(_EventFacts):
    """What every reader of a booking sees: the event, the party, the price and the people."""

    quote: QuoteRead
    venue: VenueRead
    customer: CustomerRead
    allergies: str
    notes: str | None
    chef_id: int | None
    hold_expires_at: datetime | None
    confirmed_at: datetime | None
    reschedule_count: int
    cancel_request: CancelRequestRead | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_at: datetime


class BookingRead(_BookingFacts):
    """The view of those who may read payments: the facts and the money owed, paid and owed back."""

    fees_cents: int = Field(description="Reschedule fees added to the balance.")
    total_due_cents: int = Field(description="The quote's total plus fees.")
    paid_cents: int = Field(description="Paid so far, less refunds (from the payment ledger).")
    balance_due_cents: int = Field(description="Still to pay; 0 once the booking is closed.")
    refund_owed_cents: int | None = Field(description="The refund owed under policy at cancellation.")

    model_config = ConfigDict(json_schema_extra={"examples": [_BOOKING_EXAMPLE]})


_CHEF_BOOKING_EXAMPLE = {k: v for k, v in _BOOKING_EXAMPLE.items()
                         if k not in ("fees_cents", "total_due_cents", "paid_cents", "refund_owed_cents")}


class ChefBookingRead(_BookingFacts):
    """The view of those who may not read payments (a chef): no payments, refunds, amounts paid or owed back."""

    balance_due_cents: int | None = Field(description=(
        "What to collect at the event; null unless the station's chefs collect balances."))

    model_config = ConfigDict(json_schema_extra={"examples": [_CHEF_BOOKING_EXAMPLE]})


_HISTORY_EXAMPLE = [{"occurred_at": "2026-11-25T17:30:00Z", "action": "bookings.create", "actor_user_id": None,
                     "before": None, "after": {"status": "pending_deposit"}, "reason": None}]
BOOKING_DETAIL_EXAMPLES = {  # the two shapes of GET /bookings/{id}, for its documentation
    "payments_reader": {"summary": "A reader who may read payments",
                        "value": {**_BOOKING_EXAMPLE, "history": _HISTORY_EXAMPLE}},
    "chef": {"summary": "A chef (no payments.read): no payment fields",
             "value": {**_CHEF_BOOKING_EXAMPLE, "history": _HISTORY_EXAMPLE}},
}


class BookingDetail(BookingRead):
    history: list[HistoryEntry]

    model_config = ConfigDict(json_schema_extra={"examples": [BOOKING_DETAIL_EXAMPLES["payments_reader"]["value"]]})


class ChefBookingDetail(ChefBookingRead):
    history: list[HistoryEntry] = Field(description="The changes, without their amounts of money.")

    model_config = ConfigDict(json_schema_extra={"examples": [BOOKING_DETAIL_EXAMPLES["chef"]["value"]]})


class BookingPage(BaseModel):
    items: list[BookingRead | ChefBookingRead] = Field(
        description="Without payment fields (`ChefBookingRead`) at stations where you may not read payments.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_BOOKING_EXAMPLE], "next_cursor": None}]})


class ActionTermsRead(BaseModel):
    allowed: bool
    message: str = Field(description="What happens, or why it is no longer possible.")
    until: datetime | None = Field(None, description="Until when it is possible on these terms (local).")
    fee_cents: int = 0
    refund_cents: int = 0


class StaffActionRead(ActionTermsRead):
    """One action on a booking for the signed-in staff member, now: the booking's terms for it (the commands
    enforce the same), whether their role may take it, and whether it is worth a button."""

    action: BookingAction = Field(description="Also the action's path: `POST /bookings/{id}/<action>` (`party`: "
                                              "`PATCH /bookings/{id}`; `payment`: `POST /bookings/{id}/payments`).")
    permitted: bool = Field(description="Your role at the booking's station holds the action's permission.")
    offered: bool = Field(description="Permitted, allowed now, and not a lesser form of another action you hold.")
    not_yours: str | None = Field(None, description="Possible now but not for your role: who may.")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "assign-chef", "permitted": True, "offered": True, "not_yours": None, "allowed": True,
         "message": "", "until": None, "fee_cents": 0, "refund_cents": 0},
        {"action": "confirm", "permitted": False, "offered": False,
         "not_yours": "Only an admin can record payments.", "allowed": True, "message": "", "until": None,
         "fee_cents": 0, "refund_cents": 0}]})


class ManageActions(BaseModel):
    reschedule: ActionTermsRead
    change_guests: ActionTermsRead
    change_menu: ActionTermsRead
    cancel: ActionTermsRead


class PaymentLineRead(BaseModel):
    purpose: str = Field(examples=["deposit"])
    method: str = Field(examples=["card"])
    amount_cents: int
    refunded_cents: int
    received_at: datetime | None


class ManageView(BaseModel):
    reference: str
    status: BookingStatus
    station_name: str
    timezone: str
    event_date: date
    slot_time: str
    event_start: datetime
    event_end: datetime
    party: Party
    venue: VenueRead
    customer: CustomerRead
    allergies: str
    notes: str | None
    quote: QuoteRead
    fees_cents: int
    total_due_cents: int
    paid_cents: int = Field(description="Paid so far, less refunds.")
    balance_due_cents: int
    deposit_due_by: datetime | None
    payments: list[PaymentLineRead] = Field(description="Payments received (card, cash, …), oldest first.")
    refund_owed_cents: int | None
    actions: ManageActions

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "reference": "MH-7K3Q9D", "status": "pending_deposit", "station_name": "Fremont",
        "timezone": "America/Los_Angeles", "event_date": "2026-12-24", "slot_time": "18:00",
        "event_start": "2026-12-24T18:00:00-08:00", "event_end": "2026-12-24T20:30:00-08:00",
        "party": _BOOKING_EXAMPLE["party"], "venue": _BOOKING_EXAMPLE["venue"],
        "customer": _BOOKING_EXAMPLE["customer"], "allergies": "none", "notes": None, "quote": _QUOTE_EXAMPLE,
        "fees_cents": 0, "total_due_cents": 89541, "paid_cents": 0, "balance_due_cents": 89541,
        "deposit_due_by": "2026-11-26T09:30:00-08:00", "payments": [], "refund_owed_cents": None,
        "actions": {
            "reschedule": {"allowed": True, "message": "Your first reschedule is free until 24 hours before the "
                                                       "event.", "until": "2026-12-23T18:00:00-08:00",
                           "fee_cents": 0, "refund_cents": 0},
            "change_guests": {"allowed": True, "message": "Guest counts can change until 24 hours before.",
                              "until": "2026-12-23T18:00:00-08:00", "fee_cents": 0, "refund_cents": 0},
            "change_menu": {"allowed": True, "message": "The menu can change until 12 hours before.",
                            "until": "2026-12-24T06:00:00-08:00", "fee_cents": 0, "refund_cents": 0},
            "cancel": {"allowed": True, "message": "Nothing has been paid yet; cancelling costs nothing.",
                       "until": None, "fee_cents": 0, "refund_cents": 0}}}]})


class AvailabilitySlot(BaseModel):
    time: str = Field(examples=["18:00"])
    available: bool
    remaining: int


class AvailabilityDay(BaseModel):
    date: date
    slots: list[AvailabilitySlot]


class Availability(BaseModel):
    station_id: int
    timezone: str
    days: list[AvailabilityDay]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "station_id": 1, "timezone": "America/Los_Angeles", "days": [{"date": "2026-12-24", "slots": [
            {"time": "12:00", "available": True, "remaining": 2}, {"time": "15:00", "available": True, "remaining": 1},
            {"time": "18:00", "available": False, "remaining": 0},
            {"time": "21:00", "available": True, "remaining": 2}]}]}]})


class PrepCount(BaseModel):
    code: str
    label: str
    quantity: int


class PrepProtein(BaseModel):
    """One protein across the day: the base servings chosen, the upgrades to it, the extras of it, and their sum."""

    code: str
    label: str
    chosen: int
    upgrades: int
    extras: int
    total: int


class PrepEvent(BaseModel):
    booking_id: int
    reference: str
    slot_time: str
    adults: int
    children: int
    toddlers: int
    chef_id: int | None
    proteins: dict[str, int]
    unchosen_servings: int = Field(description="Base proteins not chosen yet (the whole entitlement, or none).")
    allergies: str
    notes: str | None


class PrepList(BaseModel):
    """What to buy and prepare for a station's local day, summed over its events that hold a chef."""

    station_id: int
    station_name: str
    timezone: str
    day: date
    events: list[PrepEvent]
    proteins: list[PrepProtein]
    upgrades: list[PrepCount]
    sides: list[PrepCount]
    guests: int
    unchosen_servings: int
    swapped_servings: int = Field(description=(
        "Base servings the upgrades swap for a premium protein: the chosen ones total the party's entitlement, so "
        "cook this many fewer of them (the customer's choice says which)."))


class ScheduledEvent(_EventFacts):
    """An event as the station's team works it (the day's and week's run sheet, a chef's card, a search result):
    when, where, for whom, who cooks, what to watch for and, only where the station's chefs collect balances, what
    to collect. Nothing else about money: every reader of the event may see this much."""

    guests: int
    venue: VenueRead
    customer_name: str
    customer_phone: str
    allergies: str
    notes: str | None
    chef_id: int | None
    chef_name: str | None
    to_collect_cents: int | None = Field(description=(
        "The balance to collect at the event; null unless the station's chefs collect balances."))
    currency: str
