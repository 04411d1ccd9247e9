"""Booking routes: public availability and booking, the customer's manage link, and the staff API."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status

from myhibachi.auth.dependencies import CurrentPrincipal
from myhibachi.bookings import commands, queries
from myhibachi.bookings.calendar import booking_calendar
from myhibachi.bookings.commands import CUSTOMER, Actor
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.notifications import manage_link
from myhibachi.bookings.schemas import (
    BOOKING_DETAIL_EXAMPLES,
    Availability,
    BookingCreate,
    BookingCreated,
    BookingDetail,
    BookingPage,
    BookingRead,
    ChefAssignment,
    ChefBookingDetail,
    ManageView,
    OptionalReason,
    PartyChange,
    Reason,
    Reschedule,
    StaffActionRead,
)
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.errors import DomainError, problem_responses
from myhibachi.core.web import DbSession, PathId, RuntimeDep, reading
from myhibachi.pricing.schemas import QuoteRead
from myhibachi.stations.queries import get_station

public = APIRouter(tags=["bookings"])
manage = APIRouter(prefix="/manage/{token}", tags=["manage"])
staff = APIRouter(prefix="/bookings", tags=["bookings"])

QueryDate = Annotated[date, Query(ge=EARLIEST_DAY, le=LATEST_DAY, examples=["2026-12-24"])]
Token = Annotated[
    str,
    Path(
        min_length=20,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The manage token from the booking email.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe creation: same key and body, same booking.",
    ),
]


# --- public ---------------------------------------------------------------------------------------------------------


@public.get(
    "/stations/{station_id}/availability",
    summary="Start times a chef can make",
    response_model=Availability,
    responses=problem_responses(404, 422),
)
async def availability(
    station_id: PathId,
    start: QueryDate,
    end: QueryDate,
    runtime: RuntimeDep,
    guests: Annotated[int, Query(ge=1, le=1000, description="Party size (sets the event length); default 1.")] = 1,
) -> Response:
    """For each station-local date from `start` to `end` (at most 92 days), each start time with how many more
    parties a chef can take then. A time is available when a chef on duty that day is free for the whole busy
    window (travel and setup before, clean-up after; longer for big parties), under their daily limit, and the
    time is inside the minimum notice and the booking horizon. Held and confirmed bookings count."""
    async with reading(runtime) as session:
        document = await queries.availability_document(session, station_id, start, end, guests)
    return Response(document, media_type="application/json")  # its dates encoded once, kept


def _created(result: commands.CreatedBooking) -> BookingCreated:
    local = ZoneInfo(result.station.timezone)
    booking = result.booking
    due = booking.hold_expires_at or booking.created_at  # a replay of a booking confirmed since: no hold left
    return BookingCreated(
        id=booking.id,
        reference=booking.reference,
        status=BookingStatus(booking.status),
        event_start=booking.event_start.astimezone(local),
        quote=QuoteRead.model_validate(booking.quote),
        deposit_due_by=due.astimezone(local),
        manage_token=result.token,
    )


@public.post(
    "/bookings",
    summary="Book an event",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingCreated,
    responses=problem_responses(409, 422, 429),
)
async def create_booking(
    body: BookingCreate,
    session: DbSession,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BookingCreated:
    """Holds a chef for the chosen start time until the deposit is paid (status `pending_deposit`; the hold
    lasts the station's `hold_hours`). The price is the quote for the same party and venue. Sends the customer
    an email with their manage link. 409 `slot_unavailable` when no chef is free any more; 422
    `insufficient_notice` / `beyond_horizon` outside the booking window. With an `Idempotency-Key`, a retry of
    the same request returns the same booking (header `Idempotent-Replayed: true`); the key with another body
    is 422 `idempotency_key_reused`. A client (IP) may place `BOOKING_HOLDS_PER_IP` holds per
    `BOOKING_HOLD_WINDOW_SECONDS` (429 `rate_limited` with Retry-After): unpaid holds keep chefs from others."""
    try:
        result = await commands.create_public_booking(session, runtime, body, idempotency_key=idempotency_key)
    except DomainError as refusal:
        if await commands.record_refusal(session, body, refusal):
            refusal.keeps_changes = True  # the refused booking is undone; the note of it for the leads is kept
        raise
    if not result.created:
        response.headers["Idempotent-Replayed"] = "true"
    return _created(result)


# --- customer self-service ------------------------------------------------------------------------------------------


@manage.get("", summary="See my booking", response_model=ManageView, responses=problem_responses(404, 422))
async def view_booking(token: Token, session: DbSession) -> ManageView:
    """The booking as its customer sees it: party, price, payments, balance, and what rescheduling, changing
    guests or the menu, or cancelling would cost or refund right now. Unknown token: 404."""
    return await queries.manage_view(session, await commands.booking_for_token(session, token))


@manage.patch(
    "", summary="Change guests or menu", response_model=ManageView, responses=problem_responses(404, 409, 422)
)
async def change_my_party(token: Token, body: PartyChange, session: DbSession, runtime: RuntimeDep) -> ManageView:
    """Guest counts change until the guest-change window closes, the menu (and the base `proteins`) until the menu
    window closes (409 `illegal_transition` with the reason after that). The booking is re-quoted. Proteins that do
    not add up to the party's entitlement, or new guest counts that break the total already chosen without new
    proteins, are 422 `protein_count`."""
    booking = await commands.booking_for_token(session, token)
    booking = await commands.change_party(session, runtime.settings, CUSTOMER, booking.id, body)
    return await queries.manage_view(session, booking)


@manage.post(
    "/reschedule", summary="Move my booking", response_model=ManageView, responses=problem_responses(404, 409, 422)
)
async def reschedule_my_booking(token: Token, body: Reschedule, session: DbSession, runtime: RuntimeDep) -> ManageView:
    """To another start time a chef can make. The first move ≥ 24 hours ahead is free; later or later-than-that
    moves add the reschedule fee to the balance (see `actions.reschedule` of the booking)."""
    booking = await commands.booking_for_token(session, token)
    booking = await commands.reschedule_booking(
        session, runtime.settings, CUSTOMER, booking.id, event_date=body.event_date, slot_time=body.slot_time
    )
    return await queries.manage_view(session, booking)


@manage.post(
    "/cancel", summary="Cancel my booking", response_model=ManageView, responses=problem_responses(404, 409, 422)
)
async def cancel_my_booking(token: Token, body: OptionalReason, session: DbSession, runtime: RuntimeDep) -> ManageView:
    """The deposit is refunded in full when cancelled at least 96 hours before the event, forfeited after; the
    refund owed is in `refund_owed_cents`."""
    booking = await commands.booking_for_token(session, token)
    booking = await commands.cancel_booking(session, runtime.settings, CUSTOMER, booking.id, reason=body.reason)
    return await queries.manage_view(session, booking)


@manage.get(
    "/calendar.ics",
    summary="My booking as a calendar event",
    response_class=Response,
    responses={
        200: {
            "content": {"text/calendar": {"example": "BEGIN:VCALENDAR\r\n…\r\nEND:VCALENDAR\r\n"}},
            "description": "An iCalendar file.",
        },
        **problem_responses(404, 422),
    },
)
async def my_calendar(token: Token, session: DbSession, runtime: RuntimeDep) -> Response:
    """An .ics file with the event at its local time and time zone."""
    booking = await commands.booking_for_token(session, token)
    station = await get_station(session, booking.station_id)
    body = booking_calendar(runtime.settings, station, booking, manage_link(runtime.settings, token))
    return Response(
        body,
        media_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{booking.reference}.ics"'},
    )


# --- staff ----------------------------------------------------------------------------------------------------------


async def _read(session: DbSession, booking: Booking) -> BookingRead:
    (read,) = await queries.read_bookings(session, [booking])
    return read


@staff.get("", summary="List bookings", response_model=BookingPage, responses=problem_responses(401, 403, 404, 422))
async def list_bookings(
    principal: CurrentPrincipal,
    session: DbSession,
    station_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status_: Annotated[BookingStatus | None, Query(alias="status")] = None,
    from_: Annotated[
        date | None,
        Query(alias="from", ge=EARLIEST_DAY, le=LATEST_DAY, description="First station-local event date."),
    ] = None,
    to: Annotated[
        date | None,
        Query(ge=EARLIEST_DAY, le=LATEST_DAY, description="Last station-local event date (inclusive)."),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> BookingPage:
    """Bookings of the stations you may read (a chef: the events assigned to them), by event start; without
    payment fields where you may not read payments. Keyset-paginated: pass `next_cursor` back as `cursor`."""
    filters = queries.BookingFilter(station_id=station_id, status=status_, date_from=from_, date_to=to)
    rows, next_cursor = await queries.list_bookings(session, principal, filters, cursor=cursor, limit=limit)
    return BookingPage(items=await queries.read_bookings_for(session, principal, rows), next_cursor=next_cursor)


@staff.get(
    "/{booking_id}",
    summary="A booking and its history",
    response_model=BookingDetail | ChefBookingDetail,
    responses={200: {"content": {"application/json": {"examples": BOOKING_DETAIL_EXAMPLES}}},
               **problem_responses(401, 403, 404, 422)},
)
async def get_booking(booking_id: PathId, principal: CurrentPrincipal,
                      session: DbSession) -> BookingDetail | ChefBookingDetail:
    """Everything about the booking, with its audited history (who changed what, when). Where you may not read
    payments (a chef): no payments, refunds or amounts paid or owed back (`ChefBookingDetail`)."""
    return await queries.booking_detail(session, principal, booking_id)


@staff.get("/{booking_id}/actions", summary="What you may do with a booking now",
           response_model=list[StaffActionRead], responses=problem_responses(401, 404, 422))
async def booking_actions(booking_id: PathId, principal: CurrentPrincipal, session: DbSession) -> list[StaffActionRead]:
    """Each staff action on the booking, now, for you: whether the booking's state allows it and on what terms
    (what it costs or refunds, until when, or why not: the commands enforce the same), whether your role may take it
    (and if not, who may), and whether it is worth offering as a button. A booking you may not read: 404."""
    return await queries.staff_actions_read(session, principal, booking_id)


def _staff_actor(principal: CurrentPrincipal) -> Actor:
    return Actor.staff(principal)


# Who acts on `/bookings/{booking_id}/…`: each command authorizes its own permission at the booking's station (no
# role there: 404, as if the booking did not exist).
StaffActor = Annotated[Actor, Depends(_staff_actor)]
ACTION_ERRORS = problem_responses(401, 403, 404, 409, 422)


@staff.post("/{booking_id}/confirm", summary="Confirm without a recorded payment", response_model=BookingRead,
            responses=ACTION_ERRORS)
async def confirm(booking_id: PathId, actor: StaffActor, session: DbSession, runtime: RuntimeDep) -> BookingRead:
    """Confirms without a payment on the ledger (a waived or otherwise settled deposit); money received is
    recorded with `POST /bookings/{id}/payments`, which confirms by itself. `pending_deposit` (or a lapsed hold,
    only while a chef is still free: else 409 `slot_unavailable`) → `confirmed`; emails the confirmation with
    the calendar invite. Needs `payments.record`."""
    return await _read(session, await commands.confirm_booking(session, runtime.settings, actor, booking_id))


@staff.post("/{booking_id}/reschedule", summary="Reschedule", response_model=BookingRead, responses=ACTION_ERRORS)
async def reschedule(booking_id: PathId, body: Reschedule, actor: StaffActor, session: DbSession,
                     runtime: RuntimeDep) -> BookingRead:
    """Same policy as the customer's: the first move ≥ 24 hours ahead is free, otherwise the fee is added. The
    assigned chef stays when free at the new time. 409 `slot_unavailable` when no chef is free."""
    return await _read(session, await commands.reschedule_booking(
        session, runtime.settings, actor, booking_id, event_date=body.event_date, slot_time=body.slot_time))


@staff.patch("/{booking_id}", summary="Change guests or menu", response_model=BookingRead, responses=ACTION_ERRORS)
async def change_party(booking_id: PathId, body: PartyChange, actor: StaffActor, session: DbSession,
                       runtime: RuntimeDep) -> BookingRead:
    """Re-quoted; refused (409 `illegal_transition`) inside the guest-change or menu-change window. The base
    `proteins` follow the menu's window and must add up to the party's entitlement (422 `protein_count`, also for
    new guest counts that break the total already chosen unless new proteins come with them)."""
    return await _read(session, await commands.change_party(session, runtime.settings, actor, booking_id, body))


@staff.post("/{booking_id}/assign-chef", summary="Assign a chef", response_model=BookingRead,
            responses=ACTION_ERRORS)
async def assign_chef(booking_id: PathId, body: ChefAssignment, actor: StaffActor, session: DbSession,
                      runtime: RuntimeDep) -> BookingRead:
    """The chef must be on duty that day, free for the whole busy window and under their daily limit (409
    `chef_unavailable` otherwise)."""
    return await _read(session, await commands.assign_chef(session, runtime.settings, actor, booking_id,
                                                           body.chef_id))


@staff.post("/{booking_id}/unassign-chef", summary="Unassign the chef", response_model=BookingRead,
            responses=ACTION_ERRORS)
async def unassign_chef(booking_id: PathId, actor: StaffActor, session: DbSession,
                        runtime: RuntimeDep) -> BookingRead:
    """The booking keeps its capacity unit; any free chef can take it."""
    return await _read(session, await commands.unassign_chef(session, runtime.settings, actor, booking_id))


@staff.post("/{booking_id}/cancel", summary="Cancel", response_model=BookingRead, responses=ACTION_ERRORS)
async def cancel(booking_id: PathId, body: Reason, actor: StaffActor, session: DbSession,
                 runtime: RuntimeDep) -> BookingRead:
    """With a reason (also how an admin approves a support request). The deposit refund owed under policy is
    recorded in `refund_owed_cents` for the payments to execute; the customer is emailed."""
    return await _read(session, await commands.cancel_booking(session, runtime.settings, actor, booking_id,
                                                              reason=body.reason))


@staff.post("/{booking_id}/cancel-request", summary="Ask an admin to cancel", response_model=BookingRead,
            responses=ACTION_ERRORS)
async def request_cancellation(booking_id: PathId, body: Reason, actor: StaffActor, session: DbSession,
                               runtime: RuntimeDep) -> BookingRead:
    """Support's way to cancel: the request waits in `cancel_request` until an admin cancels or declines."""
    return await _read(session, await commands.request_cancellation(session, runtime.settings, actor, booking_id,
                                                                    reason=body.reason))


@staff.post("/{booking_id}/cancel-request/decline", summary="Decline a cancellation request",
            response_model=BookingRead, responses=ACTION_ERRORS)
async def decline_cancellation(booking_id: PathId, actor: StaffActor, session: DbSession,
                               runtime: RuntimeDep) -> BookingRead:
    """The booking stays; the request is cleared (and kept in the history)."""
    return await _read(session, await commands.decline_cancellation(session, runtime.settings, actor, booking_id))


@staff.post("/{booking_id}/complete", summary="Mark completed", response_model=BookingRead, responses=ACTION_ERRORS)
async def complete(booking_id: PathId, actor: StaffActor, session: DbSession, runtime: RuntimeDep) -> BookingRead:
    """After the event has started: `confirmed` → `completed`."""
    return await _read(session, await commands.close_booking(session, runtime.settings, actor, booking_id,
                                                             outcome=BookingStatus.completed))


@staff.post("/{booking_id}/no-show", summary="Mark no-show", response_model=BookingRead, responses=ACTION_ERRORS)
async def no_show(booking_id: PathId, actor: StaffActor, session: DbSession, runtime: RuntimeDep) -> BookingRead:
    """After the event has started: `confirmed` → `no_show`."""
    return await _read(session, await commands.close_booking(session, runtime.settings, actor, booking_id,
                                                             outcome=BookingStatus.no_show))
