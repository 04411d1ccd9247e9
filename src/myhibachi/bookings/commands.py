"""Booking use-cases: hold a date, then move the booking through its life under the station's policies.

Every change takes the locks of `locks.py` first (the station days it touches, then the booking's row), is
audited in the same transaction, and queues its customer email through the outbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.principal import Principal
from myhibachi.bookings import notifications
from myhibachi.bookings.actions import CUSTOMER_ACTIONS, BookingAction
from myhibachi.bookings.capacity import (
    ChefOnDuty,
    EventTimes,
    HeldWindow,
    chef_is_free,
    event_times,
    local_start,
    remaining_capacity,
    stranded_bookings,
)
from myhibachi.bookings.ledger import booking_ledger
from myhibachi.bookings.locks import booking_days, lock_booking, lock_station_days
from myhibachi.bookings.models import Booking, BookingIdempotencyKey, BookingStatus
from myhibachi.bookings.policy import (
    Terms,
    assign_chef_terms,
    cancel_request_terms,
    cancel_terms,
    close_terms,
    confirm_terms,
    decline_cancellation_terms,
    guest_change_terms,
    menu_change_terms,
    reschedule_terms,
    unassign_chef_terms,
)
from myhibachi.bookings.queries import (
    authorize_action,
    bookable_station,
    capacity_view,
    find_booking_by_token,
    lead_time_problem,
)
from myhibachi.bookings.schemas import BookingCreate, PartyChange
from myhibachi.chefs.queries import find_station_chef
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core.context import current_request_meta
from myhibachi.core.db import utcnow
from myhibachi.core.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from myhibachi.core.outbox import add_outbox_message, forget_pending_ids
from myhibachi.core.runtime import Runtime
from myhibachi.core.security import hash_token
from myhibachi.core.text import normalize_email
from myhibachi.pricing.queries import get_rules, order_refused, quote_for_station
from myhibachi.pricing.quote import ORDER_CHOICES, OrderProblem, PartyOrder, Quote, quote_event
from myhibachi.pricing.rules import BusinessRules
from myhibachi.pricing.schemas import QuoteRead
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station

BOOKING_CANCELLED = "bookings.cancelled"  # outbox topic, handled by the payments domain
BOOKING_CONFIRMED = "bookings.confirmed"  # outbox topic: the deposit is in (the leads domain wins the lead)
BOOKING_REFUSED = "bookings.refused"  # outbox topic: a visitor who could not book (the leads domain makes a lead)
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud over the phone


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class ChefUnavailable(Conflict):
    code = "chef_unavailable"


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"


class WindowClosed(IllegalTransition):
    """A customer action the policy no longer allows (window passed, booking closed)."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member, the customer holding the manage link, or the system (jobs, webhooks)."""

    kind: str  # "staff" | "customer" | "system"
    principal: Principal | None = None

    @classmethod
    def staff(cls, principal: Principal) -> Actor:
        return cls("staff", principal)

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None


CUSTOMER = Actor("customer")
SYSTEM_ACTOR = Actor("system")


# --- the manage link ----------------------------------------------------------------------------------------


def manage_token(settings: Settings, booking: Booking) -> str:
    """HMAC of the booking's reference and nonce: unguessable, re-derivable for every email, revocable by nonce."""
    mac = hmac.new(
        settings.secret_key.encode(), f"manage:{booking.reference}:{booking.manage_nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


async def booking_for_token(session: AsyncSession, token: str) -> Booking:
    return await find_booking_by_token(session, hash_token(token))


async def _new_reference(session: AsyncSession) -> str:
    while True:
        reference = "MH-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        if await session.scalar(select(Booking.id).where(Booking.reference == reference)) is None:
            return reference


# --- helpers shared by the commands -----------------------------------------------------------------------------


PARTY_FIELDS = ("adults", "children", "toddlers", "upgrades", "extra_proteins", "addons", "proteins")
GUEST_COUNTS = ("adults", "children", "toddlers")


def _party_of(fields: dict[str, Any]) -> dict[str, Any]:
    """The party fields to store: base proteins without the ones chosen zero times ({}: none chosen yet)."""
    if "proteins" in fields:
        fields["proteins"] = {code: qty for code, qty in fields["proteins"].items() if qty}
    return fields


def _party_fields(booking: Booking) -> dict[str, Any]:
    return {field: getattr(booking, field) for field in PARTY_FIELDS}


def _snapshot(booking: Booking) -> dict[str, Any]:
    return {"status": booking.status, "event_date": booking.event_date.isoformat(), "slot_time": booking.slot_time,
            "chef_id": booking.chef_id, **_party_fields(booking), "total_cents": booking.quote["total_cents"],
            "fees_cents": booking.fees_cents}


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


async def _audit(
    session: AsyncSession,
    actor: Actor,
    booking: Booking,
    action: str,
    before: dict[str, Any] | None,
    *,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    after = _snapshot(booking)
    if before is not None:
        before, after = _changed(before, after)
    await record_audit(
        session,
        actor_user_id=actor.user_id,
        action=action,
        target_type="booking",
        target_id=booking.id,
        station_id=booking.station_id,
        before=before,
        after={**after, **(extra or {}), "by": actor.kind},
        reason=reason,
    )


def _days_touched(zone: ZoneInfo, day: date, times: EventTimes) -> set[date]:
    return {day, times.busy_start.astimezone(zone).date(), times.busy_end.astimezone(zone).date()}


def _slot(rules: BusinessRules, slot_text: str) -> time:
    slot = time.fromisoformat(slot_text)
    if slot not in rules.slot_times:
        offered = ", ".join(t.strftime("%H:%M") for t in rules.slot_times)
        raise ValidationFailed.on("body.slot_time", f"Choose one of the start times: {offered}.")
    return slot


def _event_window(rules: BusinessRules, zone: ZoneInfo, day: date, slot: time, guests: int) -> EventTimes:
    start = local_start(zone, day, slot)
    if start is None:
        raise ValidationFailed.on("body.slot_time", "That time does not exist on that date (clocks change).")
    return event_times(rules, start, guests)


def _place(booking: Booking, day: date, slot: time, times: EventTimes) -> None:
    booking.event_date, booking.slot_time = day, slot.strftime("%H:%M")
    booking.event_start, booking.event_end = times.start, times.end
    booking.busy_start, booking.busy_end = times.busy_start, times.busy_end


async def _flush_capacity_checked(session: AsyncSession) -> None:
    """The triggers of migration 0004 are the backstop behind the capacity check: map their refusal to 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "chef_double_booked" in str(exc.orig):
            raise ChefUnavailable("That chef already has an event at that time.") from None
        raise SlotUnavailable("No chef is free for that time any more; choose another.") from None


async def _expire_lapsed_holds(
    session: AsyncSession, settings: Settings, station: Station, days: set[date], now: datetime,
    spare_booking_id: int | None = None,
) -> int:
    """Lapsed holds on days about to be written release their chef now rather than at the job's next run
    (except `spare_booking_id`: the hold whose late deposit is being confirmed)."""
    zone = ZoneInfo(station.timezone)
    since = datetime.combine(min(days), time(), tzinfo=zone)
    until = datetime.combine(max(days) + timedelta(days=1), time(), tzinfo=zone)
    query = select(Booking).where(
        Booking.station_id == station.id,
        Booking.status == BookingStatus.pending_deposit.value,
        Booking.hold_expires_at <= now,
        Booking.busy_start < until,
        Booking.busy_end > since,
    )
    if spare_booking_id is not None:
        query = query.where(Booking.id != spare_booking_id)
    lapsed = await session.scalars(query)
    expired = 0
    for booking in lapsed:
        await _expire(session, settings, station, booking)
        expired += 1
    return expired


async def _expire(session: AsyncSession, settings: Settings, station: Station, booking: Booking) -> None:
    before = _snapshot(booking)
    booking.status, booking.closed_at = BookingStatus.expired.value, utcnow()
    await session.flush()
    await _audit(session, SYSTEM_ACTOR, booking, "bookings.expire", before)
    await notifications.hold_expired(session, settings, station, booking)


def request_hash(data: BaseModel) -> str:
    """A fingerprint of a request body: an `Idempotency-Key` replayed with another body is refused."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _order_of(booking: Booking, change: PartyChange | None = None) -> PartyOrder:
    fields = _party_fields(booking)
    if change is not None:
        fields.update({k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None})
    return PartyOrder(**fields)


def _quote_document(quote: Quote) -> dict[str, Any]:
    return QuoteRead.of(quote).model_dump(mode="json")


# --- creating a booking -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedBooking:
    booking: Booking
    station: Station
    token: str
    created: bool  # False: an idempotent replay of an earlier request


async def create_public_booking(
    session: AsyncSession, runtime: Runtime, data: BookingCreate, *, idempotency_key: str | None = None
) -> CreatedBooking:
    """A booking asked for by a visitor (the API's POST /bookings, the site's booking form): unpaid holds keep
    chefs from others, so each client address may place `BOOKING_HOLDS_PER_IP` per window. The hold is counted in
    the step that admits it (simultaneous requests cannot all pass a check first) and given back when nothing new
    was held: an idempotent replay, a time taken meanwhile, a request refused."""
    hold = await runtime.booking_holds_by_ip.reserve(current_request_meta().ip or "unknown")
    try:
        result = await create_booking(session, runtime.settings, data, idempotency_key=idempotency_key)
    except BaseException:
        await hold.release()
        raise
    if not result.created:
        await hold.release()
    return result


async def create_booking(
    session: AsyncSession,
    settings: Settings,
    data: BookingCreate,
    *,
    idempotency_key: str | None = None,
    actor: Actor = CUSTOMER,
) -> CreatedBooking:
    """Hold a chef for the chosen window until the deposit arrives (status `pending_deposit`)."""
    station = await bookable_station(session, data.station_id, body_field="body.station_id")
    if data.zip_code is not None and data.zip_code != data.venue.zip_code:
        raise ValidationFailed.on("body.zip_code", "The quote's ZIP code differs from the venue's.")
    rules = await get_rules(session, station.id)
    zone = ZoneInfo(station.timezone)
    slot = _slot(rules, data.slot_time)
    party = _party_of(data.model_dump(include=set(PARTY_FIELDS)))
    order = PartyOrder(**party)
    quote = await quote_for_station(session, station.id, data.venue.zip_code, order)
    times = _event_window(rules, zone, data.event_date, slot, order.guests)
    await lock_station_days(session, station.id, _days_touched(zone, data.event_date, times))

    body_hash = request_hash(data)
    if idempotency_key is not None and (replay := await _replay(session, idempotency_key, body_hash)):
        return CreatedBooking(replay, station, manage_token(settings, replay), created=False)

    now = utcnow()
    if problem := lead_time_problem(rules, zone, times.start, now):
        raise problem
    await _expire_lapsed_holds(session, settings, station, _days_touched(zone, data.event_date, times), now)
    view = await capacity_view(session, station, data.event_date, data.event_date, now=now)
    if view.remaining(data.event_date, slot, order.guests) < 1:
        raise SlotUnavailable("No chef is free for that time any more; choose another.")

    customer = await find_or_create_contact(
        session, Identity(email=str(data.customer.email), phone=data.customer.phone), name=data.customer.name)
    booking = Booking(
        reference=await _new_reference(session),
        station_id=station.id,
        customer_id=customer.id,
        status=BookingStatus.pending_deposit.value,
        chef_id=None,
        **party,
        quote=_quote_document(quote),
        fees_cents=0,
        venue_line1=data.venue.line1,
        venue_line2=data.venue.line2,
        venue_city=data.venue.city,
        venue_state=data.venue.state,
        venue_zip=data.venue.zip_code,
        contact_name=data.customer.name,
        contact_email=normalize_email(str(data.customer.email)),
        contact_phone=data.customer.phone,
        allergies=data.allergies,
        notes=data.notes or None,
        occasion=data.occasion.value if data.occasion else None,
        manage_nonce=secrets.token_hex(16),
        manage_token_hash="",
        hold_expires_at=now + timedelta(hours=rules.hold_hours),
        reschedule_count=0,
        created_at=now,
        updated_at=now,
    )
    _place(booking, data.event_date, slot, times)
    token = manage_token(settings, booking)
    booking.manage_token_hash = hash_token(token)
    session.add(booking)
    await _flush_capacity_checked(session)
    if idempotency_key is not None:
        session.add(BookingIdempotencyKey(key=idempotency_key, request_hash=body_hash, booking_id=booking.id))
        await session.flush()
    await _audit(session, actor, booking, "bookings.create", None)
    await notifications.booking_received(session, settings, station, booking, customer.email, token)
    return CreatedBooking(booking, station, token, created=True)


# A visitor refused for these reasons still wants a party: they become a lead (SPEC §7).
LEAD_REFUSALS = frozenset({SlotUnavailable.code, "outside_service_area"})


async def record_refusal(session: AsyncSession, data: BookingCreate, refusal: DomainError) -> bool:
    """After a public booking was refused for a reason in `LEAD_REFUSALS`: undo what the refused command wrote, then
    write the refusal (who, what they wanted, why not) to the outbox, for the leads domain. The caller commits it.
    False (and nothing done) for any other refusal."""
    if refusal.code not in LEAD_REFUSALS:
        return False
    await session.rollback()
    forget_pending_ids(session)
    guests = data.adults + data.children + data.toddlers
    await add_outbox_message(session, BOOKING_REFUSED, {
        "station_id": data.station_id, "code": refusal.code, "name": data.customer.name,
        "email": str(data.customer.email), "phone": data.customer.phone, "event_date": data.event_date.isoformat(),
        "guests": guests, "zip_code": data.venue.zip_code,
        "message": f"Asked to book {data.event_date:%A, %B} {data.event_date.day}, {data.event_date.year} at "
                   f"{data.slot_time} for {guests} guests at ZIP code {data.venue.zip_code}; refused: "
                   f"{refusal.detail}"})
    return True


async def _replay(session: AsyncSession, key: str, body_hash: str) -> Booking | None:
    row = await session.scalar(select(BookingIdempotencyKey).where(BookingIdempotencyKey.key == key))
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise IdempotencyKeyReused.on(
            "header.Idempotency-Key", "This Idempotency-Key was used for a different booking request."
        )
    return await session.get_one(Booking, row.booking_id)


# --- loading a booking for a change -------------------------------------------------------------------------------


async def _claim_days(
    session: AsyncSession, settings: Settings, station: Station, days: set[date], spare_booking_id: int | None = None
) -> int:
    """Lock station days before writing to them, then release their lapsed holds (the triggers count by status).
    Returns how many holds lapsed."""
    await lock_station_days(session, station.id, days)
    return await _expire_lapsed_holds(session, settings, station, days, utcnow(), spare_booking_id)


async def _authorized(session: AsyncSession, actor: Actor, action: BookingAction, booking_id: int) -> Booking:
    """The booking, once `actor` may take `action` on it (before any lock is taken for it): staff need the action's
    permission at its station (no role there: 404, as if it did not exist); the manage link (its holder already
    proven) takes only the customer's actions; the system acts where the rules say (a deposit, a lapsing hold)."""
    if actor.principal is not None:
        return await authorize_action(session, actor.principal, action, booking_id)
    if actor.kind == "customer" and action not in CUSTOMER_ACTIONS:
        raise PermissionDenied("The manage link cannot do this.")
    booking = await session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such booking.")
    return booking


async def _locked(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    action: BookingAction,
    booking_id: int,
    extra_days: set[date] | None = None,
    *,
    spare_own_hold: bool = False,
) -> tuple[Booking, Station]:
    """Authorize, then lock the booking (its station days plus `extra_days`, then its row), then release lapsed
    holds on those days. `spare_own_hold` keeps this booking's own lapsed hold from being expired by the claim (a
    late deposit)."""
    await _authorized(session, actor, action, booking_id)
    booking = await lock_booking(session, booking_id, extra_days or ())
    station = await get_station(session, booking.station_id)
    days = booking_days(ZoneInfo(station.timezone), booking) | (extra_days or set())
    await _expire_lapsed_holds(session, settings, station, days, utcnow(), booking_id if spare_own_hold else None)
    return booking, station


def _require(terms: Terms, refusal: type[IllegalTransition] = IllegalTransition) -> Terms:
    if not terms.allowed:
        raise refusal(terms.message)
    return terms


# --- lifecycle ------------------------------------------------------------------------------------------------------


async def confirm_booking(
    session: AsyncSession, settings: Settings, actor: Actor, booking_id: int, *, receipt: str | None = None
) -> Booking:
    """The deposit is in (`receipt`: the payment that brought it, for the email). A lapsed or expired hold is
    confirmed only while its chef capacity is still free: SlotUnavailable otherwise."""
    booking, station = await _locked(session, settings, actor, BookingAction.confirm, booking_id, spare_own_hold=True)
    _require(confirm_terms(booking))
    now = utcnow()
    if booking.hold_lapsed(now):
        view = await capacity_view(
            session, station, booking.event_date, booking.event_date, now=now, exclude_booking_id=booking.id
        )
        if view.remaining(booking.event_date, time.fromisoformat(booking.slot_time), booking.guests) < 1:
            raise SlotUnavailable("The hold lapsed and the date has been taken since; refund or rebook.")
    before = _snapshot(booking)
    booking.status, booking.confirmed_at, booking.hold_expires_at = BookingStatus.confirmed.value, now, None
    booking.closed_at = None
    await _flush_capacity_checked(session)
    await _audit(session, actor, booking, "bookings.confirm", before, extra={"by_payment": receipt is not None})
    await add_outbox_message(session, BOOKING_CONFIRMED, {"booking_id": booking.id})
    await notifications.booking_confirmed(session, settings, station, booking, manage_token(settings, booking),
                                          receipt=receipt)
    return booking


async def reschedule_booking(
    session: AsyncSession, settings: Settings, actor: Actor, booking_id: int, *, event_date: date, slot_time: str
) -> Booking:
    """Move to another start time with a free chef: the first move ≥ 24 h ahead is free, later ones add the fee."""
    current = await _authorized(session, actor, BookingAction.reschedule, booking_id)
    station = await get_station(session, current.station_id)
    rules = await get_rules(session, station.id)
    zone = ZoneInfo(station.timezone)
    slot = _slot(rules, slot_time)
    times = _event_window(rules, zone, event_date, slot, current.guests)
    booking, _ = await _locked(session, settings, actor, BookingAction.reschedule, booking_id,
                               _days_touched(zone, event_date, times))
    now = utcnow()
    terms = _require(reschedule_terms(rules, booking, now), WindowClosed)
    if (event_date, slot.strftime("%H:%M")) == (booking.event_date, booking.slot_time):
        raise ValidationFailed.on("body.slot_time", "The booking is already at that time.")
    if problem := lead_time_problem(rules, zone, times.start, now):
        raise problem
    view = await capacity_view(session, station, event_date, event_date, now=now, exclude_booking_id=booking.id)
    if view.remaining(event_date, slot, booking.guests) < 1:
        raise SlotUnavailable("No chef is free for that time; choose another.")
    before, previous_start = _snapshot(booking), booking.event_start
    if booking.chef_id is not None:  # the assigned chef keeps the event only if free at the new time
        chef_day = next((c for c in view.roster.get(event_date, []) if c.id == booking.chef_id), None)
        if chef_day is None or not chef_is_free(chef_day, view.held, event_date, times):
            booking.chef_id = None
    _place(booking, event_date, slot, times)
    booking.reschedule_count += 1
    booking.fees_cents += terms.fee_cents
    booking.reminder_sent_at = None
    await _flush_capacity_checked(session)
    await _audit(session, actor, booking, "bookings.reschedule", before, extra={"fee_cents": terms.fee_cents})
    await notifications.booking_rescheduled(
        session,
        settings,
        station,
        booking,
        manage_token(settings, booking),
        previous_start=previous_start,
        fee_cents=terms.fee_cents,
    )
    return booking


async def change_party(
    session: AsyncSession, settings: Settings, actor: Actor, booking_id: int, change: PartyChange
) -> Booking:
    """New guest counts (until the guest-change window) or menu (until the menu window); re-quoted at the
    booking's travel distance. A party that grows into a longer event needs a chef free for the longer window."""
    changes = _party_of({k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None})
    if not changes:
        raise ValidationFailed.on("body", "Send at least one field to change.")
    booking, station = await _locked(session, settings, actor, BookingAction.change_party, booking_id)
    rules = await get_rules(session, station.id)
    now = utcnow()
    if changes.keys() & set(GUEST_COUNTS):
        _require(guest_change_terms(rules, booking, now), WindowClosed)
    if changes.keys() & set(ORDER_CHOICES):
        _require(menu_change_terms(rules, booking, now), WindowClosed)
    order = _order_of(booking, change)
    quote = requote(rules, booking, change)
    zone = ZoneInfo(station.timezone)
    times = _event_window(rules, zone, booking.event_date, time.fromisoformat(booking.slot_time), order.guests)
    if times.busy_end > booking.busy_end:
        await _claim_days(session, settings, station, _days_touched(zone, booking.event_date, times))
        await _check_longer_window(session, station, booking, times, now)
    before = _snapshot(booking)
    for field, value in changes.items():
        setattr(booking, field, value)
    booking.quote = _quote_document(quote)
    _place(booking, booking.event_date, time.fromisoformat(booking.slot_time), times)
    await _flush_capacity_checked(session)
    await _audit(session, actor, booking, "bookings.change_party", before)
    return booking


def _miles(booking: Booking) -> Decimal:
    return Decimal(str(booking.quote["travel_miles"]))


def requote(rules: BusinessRules, booking: Booking, change: PartyChange) -> Quote:
    """The booking's price with `change` applied, at its travel distance: what `change_party` charges, and what
    the manage page previews before the customer confirms. ValidationFailed for a party the rules refuse."""
    try:
        return quote_event(rules, _order_of(booking, change), travel_miles=_miles(booking))
    except OrderProblem as problem:
        raise order_refused(problem) from None


async def _check_longer_window(
    session: AsyncSession, station: Station, booking: Booking, times: EventTimes, now: datetime
) -> None:
    view = await capacity_view(
        session, station, booking.event_date, booking.event_date, now=now, exclude_booking_id=booking.id
    )
    if booking.chef_id is not None:
        chef_day = next((c for c in view.roster.get(booking.event_date, []) if c.id == booking.chef_id), None)
        if chef_day is None or not chef_is_free(chef_day, view.held, booking.event_date, times):
            raise ChefUnavailable("The assigned chef is not free for the longer event; unassign or reschedule.")
        return
    if remaining_capacity(view.roster.get(booking.event_date, []), view.held, booking.event_date, times) < 1:
        raise SlotUnavailable("A party this size needs a longer event and no chef is free for it.")


async def assign_chef(
    session: AsyncSession, settings: Settings, actor: Actor, booking_id: int, chef_id: int
) -> Booking:
    booking, station = await _locked(session, settings, actor, BookingAction.assign_chef, booking_id)
    _require(assign_chef_terms(booking))
    try:
        chef = await find_station_chef(session, station.id, chef_id)
    except NotFound:
        raise ValidationFailed.on("body.chef_id", "No such chef at this station.") from None
    now = utcnow()
    view = await capacity_view(
        session, station, booking.event_date, booking.event_date, now=now, exclude_booking_id=booking.id
    )
    on_duty: ChefOnDuty | None = next((c for c in view.roster.get(booking.event_date, []) if c.id == chef.id), None)
    if on_duty is None:
        raise ChefUnavailable(f"{chef.name} is not on duty that day.")
    times = EventTimes(booking.event_start, booking.event_end, booking.busy_start, booking.busy_end)
    if not chef_is_free(on_duty, view.held, booking.event_date, times):
        raise ChefUnavailable(f"{chef.name} already has an event then, or has reached the day's limit.")
    chefs, day = view.roster.get(booking.event_date, []), booking.event_date
    unassigned = HeldWindow(booking.id, None, day, booking.busy_start, booking.busy_end)
    assigned = HeldWindow(booking.id, chef.id, day, booking.busy_start, booking.busy_end)
    if stranded_bookings(chefs, [*view.held, assigned], day) - stranded_bookings(chefs, [*view.held, unassigned], day):
        raise ChefUnavailable(f"With {chef.name} on this event, another booking that day would have no chef left; "
                              "assign that one first or choose another chef.")
    before = _snapshot(booking)
    booking.chef_id = chef.id
    await _flush_capacity_checked(session)
    await _audit(session, actor, booking, "bookings.assign_chef", before)
    return booking


async def unassign_chef(session: AsyncSession, settings: Settings, actor: Actor, booking_id: int) -> Booking:
    booking, _ = await _locked(session, settings, actor, BookingAction.unassign_chef, booking_id)
    _require(unassign_chef_terms(booking))
    before = _snapshot(booking)
    booking.chef_id = None
    await session.flush()
    await _audit(session, actor, booking, "bookings.unassign_chef", before)
    return booking


async def cancel_booking(
    session: AsyncSession, settings: Settings, actor: Actor, booking_id: int, *, reason: str | None
) -> Booking:
    """Cancel an open booking; the deposit refund owed under policy is recorded for the payments to execute."""
    booking, station = await _locked(session, settings, actor, BookingAction.cancel, booking_id)
    rules = await get_rules(session, station.id)
    now = utcnow()
    paid = (await booking_ledger(session, booking.id)).net_paid_cents
    terms = _require(cancel_terms(rules, booking, now, paid))
    before = _snapshot(booking)
    booking.status, booking.cancelled_at = BookingStatus.cancelled.value, now
    booking.cancel_reason = reason or ("Cancelled by the customer" if actor.kind == "customer" else None)
    booking.refund_owed_cents = terms.refund_cents
    await session.flush()
    await _audit(
        session,
        actor,
        booking,
        "bookings.cancel",
        before,
        reason=booking.cancel_reason,
        extra={"refund_owed_cents": terms.refund_cents},
    )
    await notifications.booking_cancelled(session, settings, station, booking, refund_cents=terms.refund_cents,
                                          paid_cents=paid)
    # The payments domain (above this one) withdraws open card intents and pays back what is owed.
    await add_outbox_message(session, BOOKING_CANCELLED, {"booking_id": booking.id,
                                                          "refund_cents": terms.refund_cents})
    return booking


async def request_cancellation(
    session: AsyncSession, settings: Settings, actor: Actor, booking_id: int, *, reason: str
) -> Booking:
    """Support asks; an admin approves by cancelling (or declines)."""
    booking, _ = await _locked(session, settings, actor, BookingAction.request_cancellation, booking_id)
    _require(cancel_request_terms(booking))
    booking.cancel_requested_at, booking.cancel_requested_by_user_id = utcnow(), actor.user_id
    booking.cancel_request_reason = reason
    await session.flush()
    await _audit(session, actor, booking, "bookings.cancel_request", None, reason=reason)
    return booking


async def decline_cancellation(session: AsyncSession, settings: Settings, actor: Actor, booking_id: int) -> Booking:
    booking, _ = await _locked(session, settings, actor, BookingAction.decline_cancellation, booking_id)
    _require(decline_cancellation_terms(booking))
    reason = booking.cancel_request_reason
    booking.cancel_requested_at = booking.cancel_requested_by_user_id = booking.cancel_request_reason = None
    await session.flush()
    await _audit(session, actor, booking, "bookings.cancel_request_decline", None, extra={"request_reason": reason})
    return booking


async def close_booking(
    session: AsyncSession, settings: Settings, actor: Actor, booking_id: int, *, outcome: BookingStatus
) -> Booking:
    """After the event: `completed`, or `no_show` when nobody was there."""
    completed = outcome is BookingStatus.completed
    booking, _ = await _locked(session, settings, actor,
                               BookingAction.complete if completed else BookingAction.no_show, booking_id)
    now = utcnow()
    _require(close_terms(booking, now))
    before = _snapshot(booking)
    booking.status, booking.closed_at = outcome.value, now
    await session.flush()
    await _audit(session, actor, booking, "bookings.complete" if completed else "bookings.no_show", before)
    return booking


async def release_lapsed_holds_around(session: AsyncSession, settings: Settings, booking_id: int) -> int:
    """The hold-expiry job's step: claiming a lapsed booking's days expires it (and any other lapsed hold there)
    under the usual locks. Returns how many expired; 0 when another process got there first."""
    booking = await session.get(Booking, booking_id)
    if booking is None:
        return 0
    station = await get_station(session, booking.station_id)
    return await _claim_days(session, settings, station, booking_days(ZoneInfo(station.timezone), booking))
