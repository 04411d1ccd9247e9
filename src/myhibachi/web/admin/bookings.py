"""Admin pages for bookings: a station's list and its week and month calendars (a chef's "My events"), a booking's
page with its quote, payments and history, and each action as a page that shows its consequence under the station's
policies before it is confirmed. Every rule is the bookings and payments domains' own: these routes read the form,
call the same commands and queries as the JSON API and render what they answer."""

from __future__ import annotations

import calendar
import re
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from myhibachi.auth.models import User
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.bookings import commands, queries
from myhibachi.bookings.commands import Actor, ChefUnavailable, SlotUnavailable
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.policy import cancel_terms, guest_change_terms, menu_change_terms, reschedule_terms
from myhibachi.bookings.queries import BookingFilter, list_bookings, read_bookings_for
from myhibachi.bookings.schemas import (
    BookingDetail,
    BookingRead,
    ChefBookingDetail,
    ChefBookingRead,
    HistoryEntry,
    PartyChange,
    Reason,
    Reschedule,
)
from myhibachi.chefs.queries import find_station_chef, on_duty_roster
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY, parse_day
from myhibachi.core.db import MAX_ID, utcnow
from myhibachi.core.email import emails_about
from myhibachi.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from myhibachi.core.money import format_money
from myhibachi.core.web import DbSession, RuntimeDep, discard_changes
from myhibachi.payments import commands as payment_commands
from myhibachi.payments import queries as payment_queries
from myhibachi.payments.gateway import card_gateway
from myhibachi.payments.models import MANUAL_METHODS, Payment, PaymentMethod, PaymentStatus
from myhibachi.payments.schemas import ManualPaymentCreate, PaymentDetail, RefundCreate
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import Quote, label_of, menu_catalog
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station
from myhibachi.web.admin.render import admin_page, refusal_page, staff_stations
from myhibachi.web.admin.session import Staff, checked_form, chosen_station
from myhibachi.web.forms import FormRejected, field_errors
from myhibachi.web.site.calendar import MonthOfSlots, month_of_slots, navigate, slot_errors
from myhibachi.web.site.common import clock

router = APIRouter(include_in_schema=False)
P = Permission
VIEWS = ("list", "week", "month")
PAGE_SIZE, MAX_PAGE_SIZE = 25, 100
# The accepted years less a month at each end, so a calendar's previous and next month stay inside them.
FIRST_DAY, LAST_DAY = EARLIEST_DAY + timedelta(days=31), LATEST_DAY - timedelta(days=31)
CALENDAR_BATCH, CALENDAR_BATCHES = 200, 10  # a calendar shows at most 2,000 events of a station
WHOLE = re.compile(r"[0-9]{1,6}")  # a count typed in a form
RECORD_ID = re.compile(r"[0-9]{1,19}")
AMOUNT = re.compile(r"\$?([0-9]{1,7})(?:\.([0-9]{1,2}))?")
CENTS_IN_TEXT = re.compile(r"\b([0-9]+) cents\b")
KEY = re.compile(r"[A-Za-z0-9_-]{8,100}")
GUEST_FIELDS = ("adults", "children", "toddlers")
MENU_GROUPS = ("upgrades", "extra_proteins", "addons")
WHEN_FIELDS = ("month", "event_date", "slot_time")
FORM_NAMES = {"amount_cents": "amount"}  # the domain's field -> this page's
DONE = {
    "confirmed": "The booking is confirmed and the customer has been emailed.",
    "chef_assigned": "The chef is assigned.",
    "chef_unassigned": "The chef is unassigned: the event needs a chef again.",
    "rescheduled": "The booking has moved; the customer has been emailed the new date with an updated invite.",
    "party": "The party has changed and has been re-quoted.",
    "payment": "The payment is recorded and the customer has been emailed.",
    "refund": "The refund is recorded and the customer has been emailed.",
    "cancelled": "The booking is cancelled and the customer has been emailed. The refund owed is below.",
    "cancel_requested": "Cancellation requested: an admin of the station will approve or decline it.",
    "cancel_declined": "The cancellation request is declined; the booking stays as it is.",
    "completed": "The event is marked completed.",
    "no_show": "The event is marked as a no-show.",
}
ACTION_WORDS = {
    "bookings.create": "Booked", "bookings.confirm": "Confirmed", "bookings.reschedule": "Rescheduled",
    "bookings.change_party": "Party changed", "bookings.assign_chef": "Chef assigned",
    "bookings.unassign_chef": "Chef unassigned", "bookings.cancel": "Cancelled",
    "bookings.cancel_request": "Cancellation requested", "bookings.cancel_request_decline": "Cancellation declined",
    "bookings.complete": "Completed", "bookings.no_show": "No-show", "bookings.expire": "Hold expired",
}
FIELD_WORDS = {"event_date": "date", "slot_time": "start time", "chef_id": "chef", "extra_proteins": "extra proteins",
               "total_cents": "total", "fees_cents": "fees", "refund_owed_cents": "refund owed",
               "by_payment": "by a payment", "request_reason": "request's reason"}


# --- shared pieces -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """Who asks, and what every page of theirs needs."""

    request: Request
    runtime: Any
    session: Any
    principal: Principal


@dataclass
class Target:
    """The booking an action page is about: the staff view (scoped to the reader), its row, station and rules."""

    detail: BookingDetail | ChefBookingDetail  # the money is there only for those who may read payments
    booking: Booking
    station: Station
    rules: BusinessRules

    @property
    def url(self) -> str:
        return f"/admin/bookings/{self.detail.id}"

    @property
    def currency(self) -> str:
        return self.detail.quote.currency

    @property
    def due_cents(self) -> int:
        """What may still be recorded as paid (what a closed booking still owes counts too)."""
        assert isinstance(self.detail, BookingDetail)  # payment pages need payments.read, which gives the money
        return max(0, self.detail.total_due_cents - self.detail.paid_cents)


class Refused(Exception):
    """A form this page refuses before asking the domain (a blank or malformed field): nothing was changed."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or {}


def _number(text: str) -> int:
    """A booking id from the path, or 404 for anything else (never a 422 or a 500 for a typed URL)."""
    if not RECORD_ID.fullmatch(text) or not 0 < int(text) <= MAX_ID:
        raise NotFound("No such booking.")
    return int(text)


def _words(status: str) -> str:
    return status.replace("_", " ")


def _when(moment: datetime) -> str:
    """A station-local moment as staff read it: Thu, Dec 10, 2026, 6:00 PM."""
    return f"{moment:%a, %b} {moment.day}, {moment.year}, {clock(f'{moment:%H:%M}')}"


def _in_money(text: str, currency: str) -> str:
    """The domain counts in cents ("At most 79541 cents ..."); people read money."""
    return CENTS_IN_TEXT.sub(lambda match: format_money(int(match.group(1)), currency), text)


def _errors_of(exc: DomainError, currency: str, conflict_field: str | None = None) -> dict[str, str]:
    if isinstance(exc, ValidationFailed) and exc.errors:
        return {name: _in_money(message, currency) for name, message in field_errors(exc, FORM_NAMES).items()}
    if conflict_field and isinstance(exc, SlotUnavailable | ChefUnavailable):
        return {conflict_field: exc.detail}
    return {}


def _message_of(exc: DomainError, currency: str) -> str:
    if exc.code == "idempotency_key_reused":
        return "This form was sent before with other values. Open the form again to record another one."
    return _in_money(exc.detail, currency)


def _cents(text: str) -> int | None:
    """ "1,250.5" or "$100" as cents; None for anything that is not an amount of money."""
    match = AMOUNT.fullmatch(text.replace(",", "").replace(" ", ""))
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _amount_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _key(form: dict[str, str]) -> str | None:
    """The form's own idempotency key: sending the same form twice records one payment or refund."""
    key = form.get("key", "")
    return key if KEY.fullmatch(key) else None


async def _chef_names(session: Any, station_id: int, chef_ids: set[int | None]) -> dict[int, str]:
    names = {}
    for chef_id in sorted(i for i in chef_ids if i is not None):
        try:
            names[chef_id] = (await find_station_chef(session, station_id, chef_id)).name
        except NotFound:  # a chef removed since: say who by number
            names[chef_id] = f"Chef #{chef_id}"
    return names


async def _staff_names(session: Any, user_ids: set[int | None]) -> dict[int, str]:
    """Who acted, by name: staff of the booking's station, whom its readers work with."""
    wanted = sorted(i for i in user_ids if i is not None)
    if not wanted:
        return {}
    return dict((await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))).all())


async def _target(session: Any, principal: Principal, booking_id: str, permission: Permission | None) -> Target:
    """The booking as this reader may see it (404 outside their scope), then `permission` at its station (403)."""
    number = _number(booking_id)
    detail = await queries.booking_detail(session, principal, number)
    if permission is None:
        booking = await session.get_one(Booking, number)
    else:
        booking = await commands.staff_booking(session, principal, number, permission)
    station = await session.get_one(Station, booking.station_id)
    return Target(detail, booking, station, await get_rules(session, station.id))


async def _refusal(visit: Visit, exc: DomainError) -> HTMLResponse:
    return await refusal_page(visit.request, visit.runtime, visit.session, visit.principal, exc)


def _switched_away(request: Request, t: Target) -> Response | None:
    """The station switcher used on a booking's page: that station's bookings, not this booking again."""
    wanted = request.query_params.get("station")
    if wanted and wanted != str(t.station.id):
        return RedirectResponse("/admin/bookings?" + urlencode({"station": wanted[:20]}), status_code=303)
    return None


# --- the list and the calendars -----------------------------------------------------------------------------------


def _status(text: str | None) -> BookingStatus | None:
    try:
        return BookingStatus(text) if text else None
    except ValueError:
        return None


def _sane_day(text: str | None) -> date | None:
    """A date typed in a URL, within the years the API accepts (so a calendar never steps off the end of time)."""
    day = parse_day((text or "")[:10])
    return day if day is not None and FIRST_DAY <= day <= LAST_DAY else None


def _day_param(params: Any, name: str, default: date | None) -> date | None:
    """Absent: the default; present but blank: no limit (the field was cleared); nonsense: the default."""
    if name not in params:
        return default
    text = params[name].strip()
    return None if not text else (_sane_day(text) or default)


def _page_size(text: str | None) -> int:
    return min(int(text), MAX_PAGE_SIZE) if text and WHOLE.fullmatch(text) and int(text) > 0 else PAGE_SIZE


def _link(station: Station, **params: Any) -> str:
    query = {"station": station.id, **{k: v for k, v in params.items() if v is not None}}
    return "/admin/bookings?" + urlencode(query)


async def _events_between(session: Any, principal: Principal, station: Station, first: date, last: date,
                          status: BookingStatus | None) -> list[BookingRead | ChefBookingRead]:
    """Every event of the dates a calendar shows, through the same scoped, paginated query as the list."""
    rows: list[Booking] = []
    cursor = None
    for _ in range(CALENDAR_BATCHES):
        batch, cursor = await list_bookings(session, principal, BookingFilter(
            station_id=station.id, status=status, date_from=first, date_to=last), cursor=cursor, limit=CALENDAR_BATCH)
        rows += batch
        if cursor is None:
            break
    return await read_bookings_for(session, principal, rows)


def _by_day(items: list[BookingRead | ChefBookingRead]) -> dict[date, list[BookingRead | ChefBookingRead]]:
    days: dict[date, list[BookingRead | ChefBookingRead]] = defaultdict(list)
    for item in items:  # in start order already; event_date is the station-local date the customer chose
        days[item.event_date].append(item)
    return days


async def _list_view(visit: Visit, station: Station, status: BookingStatus | None, today: date) -> dict[str, Any]:
    params = visit.request.query_params
    first, last = _day_param(params, "from", today), _day_param(params, "to", None)
    if first and last and last < first:
        first, last = last, first
    size, cursor = _page_size(params.get("limit")), (params.get("cursor") or "")[:200] or None
    filters = BookingFilter(station_id=station.id, status=status, date_from=first, date_to=last)
    message = None
    try:
        rows, next_cursor = await list_bookings(visit.session, visit.principal, filters, cursor=cursor, limit=size)
    except ValidationFailed:  # a cursor we never gave out: the first page instead
        message, cursor = "That page link no longer works, so this is the first page.", None
        rows, next_cursor = await list_bookings(visit.session, visit.principal, filters, cursor=None, limit=size)
    items = await read_bookings_for(visit.session, visit.principal, rows)
    keep = {"view": "list", "status": status.value if status else "", "from": first.isoformat() if first else "",
            "to": last.isoformat() if last else "", "limit": size if size != PAGE_SIZE else None}
    return {"items": items, "message": message, "date_from": first, "date_to": last,
            "chefs": await _chef_names(visit.session, station.id, {i.chef_id for i in items}),
            "next_url": _link(station, **keep, cursor=next_cursor) if next_cursor else None,
            "first_url": _link(station, **keep) if cursor else None}


async def _week_view(visit: Visit, station: Station, status: BookingStatus | None, today: date) -> dict[str, Any]:
    day = _sane_day(visit.request.query_params.get("day")) or today
    start = day - timedelta(days=day.isoweekday() % 7)  # weeks start on Sunday, as in the booking calendar
    days = [start + timedelta(days=n) for n in range(7)]
    items = await _events_between(visit.session, visit.principal, station, days[0], days[-1], status)
    state = status.value if status else None
    return {"days": days, "by_day": _by_day(items), "items": items,
            "chefs": await _chef_names(visit.session, station.id, {i.chef_id for i in items}),
            "previous_url": _link(station, view="week", day=(start - timedelta(days=7)).isoformat(), status=state),
            "next_url": _link(station, view="week", day=(start + timedelta(days=7)).isoformat(), status=state),
            "current_url": _link(station, view="week", status=state)}


def _month_param(text: str | None, today: date) -> date:
    return (_sane_day(f"{text}-01") or today).replace(day=1)


def _months_later(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def _month_view(visit: Visit, station: Station, status: BookingStatus | None, today: date) -> dict[str, Any]:
    month = _month_param(visit.request.query_params.get("month", "")[:7], today)
    last = _months_later(month, 1) - timedelta(days=1)
    items = await _events_between(visit.session, visit.principal, station, month, last, status)
    state = status.value if status else None
    return {"month": month, "weeks": calendar.Calendar(firstweekday=6).monthdatescalendar(month.year, month.month),
            "by_day": _by_day(items), "items": items,
            "chefs": await _chef_names(visit.session, station.id, {i.chef_id for i in items}),
            "previous_url": _link(station, view="month", month=f"{_months_later(month, -1):%Y-%m}", status=state),
            "next_url": _link(station, view="month", month=f"{_months_later(month, 1):%Y-%m}", status=state),
            "current_url": _link(station, view="month", status=state)}


VIEW_BUILDERS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "list": _list_view, "week": _week_view, "month": _month_view}


@router.get("/admin/bookings", response_class=HTMLResponse)
async def bookings_index(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    visit = Visit(request, runtime, session, principal)
    station = chosen_station(request, principal, await staff_stations(session, principal))
    view = request.query_params.get("view", "list")
    view = view if view in VIEWS else "list"
    context: dict[str, Any] = {"view": view, "status_filter": None, "message": None, "today": None}
    if station is None:
        return await admin_page(request, runtime, session, principal, "bookings/index.html", title="Bookings",
                                heading="Bookings", station=None, **context)
    status = _status(request.query_params.get("status"))
    today = utcnow().astimezone(ZoneInfo(station.timezone)).date()
    try:
        context.update(await VIEW_BUILDERS[view](visit, station, status, today))
    except (PermissionDenied, NotFound) as exc:
        return await _refusal(visit, exc)
    heading = "Bookings" if principal.can(P.bookings_read, station.id) else "My events"
    context.update(status_filter=status, today=today, statuses=list(BookingStatus),
                   view_urls={v: _link(station, view=v) for v in VIEWS})
    return await admin_page(request, runtime, session, principal, "bookings/index.html", title=heading,
                            heading=heading, station=station, words=_words, **context)


# --- a booking's page ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    slug: str
    button: str  # its link on the booking's page
    permission: Permission


ACTIONS = (
    Action("payment", "Record a payment", P.payments_record),
    Action("confirm", "Confirm without a payment", P.payments_record),
    Action("assign-chef", "Assign a chef", P.chefs_manage),
    Action("unassign-chef", "Unassign the chef", P.chefs_manage),
    Action("reschedule", "Reschedule", P.bookings_write),
    Action("party", "Change guests or menu", P.bookings_write),
    Action("complete", "Mark completed", P.bookings_write),
    Action("no-show", "Mark no-show", P.bookings_write),
    Action("cancel", "Cancel the booking", P.bookings_cancel),
    Action("decline-cancellation", "Decline the cancellation request", P.bookings_cancel),
    Action("cancel-request", "Ask an admin to cancel", P.bookings_cancel_request),
)
ACTION_BY_SLUG = {action.slug: action for action in ACTIONS}


def why_not(slug: str, t: Target, now: datetime) -> str | None:
    """Why the booking's state rules the action out now (None: it may go ahead). The domain checks again when it
    is confirmed; the policy terms come from the domain's own functions."""
    b, booking, status = t.detail, t.booking, t.detail.status.value
    if slug == "confirm":
        if t.detail.status.awaits_deposit:
            return None
        return f"Only a booking awaiting its deposit can be confirmed; this one is {_words(status)}."
    if slug == "payment":
        if status in (BookingStatus.cancelled.value, BookingStatus.no_show.value):
            return f"A {_words(status)} booking takes no payments; refund instead."
        return None if t.due_cents > 0 else "Nothing is due on this booking."
    if slug == "assign-chef":
        return None if booking.is_open else f"A {_words(status)} booking cannot get a chef."
    if slug == "unassign-chef":
        if not booking.is_open:
            return f"A {_words(status)} booking keeps the chef who was on it."
        return None if b.chef_id is not None else "No chef is assigned to this booking."
    if slug == "reschedule":
        terms = reschedule_terms(t.rules, booking, now)
        return None if terms.allowed else terms.message
    if slug == "party":
        guests, menu = guest_change_terms(t.rules, booking, now), menu_change_terms(t.rules, booking, now)
        return None if guests.allowed or menu.allowed else f"{guests.message} {menu.message}"
    if slug in ("complete", "no-show"):
        if status != BookingStatus.confirmed.value:
            return f"Only a confirmed booking can be closed; this one is {_words(status)}."
        return None if now >= booking.event_start else f"The event has not started yet (it starts " \
                                                        f"{_when(b.event_start)})."
    if slug == "cancel":
        terms = cancel_terms(t.rules, booking, now, b.paid_cents)
        return None if terms.allowed else terms.message
    if slug == "cancel-request":
        if not booking.is_open:
            return f"A {_words(status)} booking cannot be cancelled."
        return None if b.cancel_request is None else "A cancellation has already been requested for this booking."
    if slug == "decline-cancellation":
        return None if b.cancel_request and booking.is_open else "There is no open cancellation request."
    raise ValueError(slug)


def _offered(t: Target, principal: Principal, now: datetime) -> list[tuple[str, str]]:
    """The action links this role may use on this booking now: (href, label)."""
    station_id, links = t.station.id, []
    for action in ACTIONS:
        if not principal.can(action.permission, station_id) or why_not(action.slug, t, now) is not None:
            continue
        if action.slug == "cancel-request" and principal.can(P.bookings_cancel, station_id):
            continue  # who may cancel does not ask
        label = action.button
        if action.slug == "assign-chef" and t.detail.chef_id is not None:
            label = "Change the chef"
        if action.slug == "cancel" and t.detail.cancel_request is not None:
            label = "Approve the cancellation"
        links.append((f"{t.url}/{action.slug}", label))
    return links


async def _payments(session: Any, principal: Principal, t: Target) -> list[PaymentDetail] | None:
    """The booking's payments with their refunds, for those who may read payments (None for the others)."""
    if not principal.can(P.payments_read, t.station.id):
        return None
    ids = await session.scalars(select(Payment.id).where(Payment.booking_id == t.detail.id).order_by(Payment.id))
    return [await payment_queries.payment_detail(session, principal, payment_id) for payment_id in ids]


@dataclass(frozen=True)
class Change:
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class HistoryRow:
    when: str
    what: str
    who: str
    changes: list[Change]
    reason: str | None


def _shown(name: str, value: Any, currency: str, chefs: dict[int, str]) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name.endswith("_cents") and isinstance(value, int):
        return format_money(value, currency)
    if name == "chef_id" and isinstance(value, int):
        return chefs.get(value, f"Chef #{value}")
    if name == "status":
        return _words(str(value))
    if name == "slot_time":
        return clock(str(value))
    if isinstance(value, dict):
        return ", ".join(f"{label_of(code)} × {qty}" for code, qty in value.items() if qty) or "none"
    return str(value)


def _history_row(entry: HistoryEntry, zone: ZoneInfo, currency: str, chefs: dict[int, str],
                 names: dict[int, str]) -> HistoryRow:
    before, after = entry.before or {}, dict(entry.after or {})
    by = after.pop("by", None)
    who = names.get(entry.actor_user_id, f"Staff member #{entry.actor_user_id}") if entry.actor_user_id else \
        {"customer": "The customer", "system": "The system"}.get(str(by), "—")
    keys = list(after) + [k for k in before if k not in after]
    changes = [Change(FIELD_WORDS.get(k, k.replace("_", " ")),
                      _shown(k, before[k], currency, chefs) if k in before else None,
                      _shown(k, after[k], currency, chefs) if k in after else None) for k in keys]
    return HistoryRow(_when(entry.occurred_at.astimezone(zone)), ACTION_WORDS.get(entry.action, entry.action),
                      who, changes, entry.reason)


def _chef_ids_in(history: list[HistoryEntry]) -> set[int | None]:
    found: set[int | None] = set()
    for entry in history:
        for side in (entry.before or {}, entry.after or {}):
            if isinstance(side.get("chef_id"), int):
                found.add(side["chef_id"])
    return found


@router.get("/admin/bookings/{booking_id}", response_class=HTMLResponse)
async def booking_page(booking_id: str, request: Request, principal: Staff, session: DbSession,
                       runtime: RuntimeDep) -> Response:
    visit = Visit(request, runtime, session, principal)
    try:
        t = await _target(session, principal, booking_id, None)
        payments = await _payments(session, principal, t)
    except (PermissionDenied, NotFound) as exc:
        return await _refusal(visit, exc)
    if switched := _switched_away(request, t):
        return switched
    b, zone, now = t.detail, ZoneInfo(t.station.timezone), utcnow()
    chefs = await _chef_names(session, t.station.id, {b.chef_id} | _chef_ids_in(b.history))
    people = {e.actor_user_id for e in b.history} | {p.recorded_by_user_id for p in payments or []} | \
        {r.requested_by_user_id for p in payments or [] for r in p.refunds}
    if b.cancel_request:
        people.add(b.cancel_request.requested_by_user_id)
    names = await _staff_names(session, people)
    history = [_history_row(e, zone, t.currency, chefs, names) for e in reversed(b.history)]
    # The customer's emails tell of payments and refunds: not for readers without the money (a chef).
    messages = await emails_about(session, b.reference) if isinstance(b, BookingDetail) else None
    return await admin_page(request, runtime, session, principal, "bookings/detail.html", messages=messages,
                            title=f"Booking {b.reference}", station=t.station, b=b, t=t,
                            chef=chefs.get(b.chef_id) if b.chef_id else None, names=names, payments=payments,
                            history=history, actions=_offered(t, principal, now), words=_words, when=_when,
                            local=lambda moment: moment.astimezone(zone), label=label_of,
                            notice=DONE.get(request.query_params.get("done", "")),
                            can_refund=principal.can(P.payments_refund, t.station.id))


# --- action pages: preview, then confirm -------------------------------------------------------------------------

Render = Callable[..., Awaitable[Response]]


async def _action_page(visit: Visit, t: Target, template: str, title: str, *, status: int = 200,
                       message: str | None = None, errors: dict[str, str] | None = None,
                       values: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    zone = ZoneInfo(t.station.timezone)
    return await admin_page(visit.request, visit.runtime, visit.session, visit.principal, f"bookings/{template}",
                            title=f"{title} — {t.detail.reference}", heading=title, status=status, station=t.station,
                            b=t.detail, t=t, currency=t.currency, message=message,
                            errors=errors or {}, values=values or {}, when=_when, words=_words, label=label_of,
                            local=lambda moment: moment.astimezone(zone), **context)


async def _open(visit: Visit, booking_id: str, permission: Permission,
                render: Render) -> Response:
    """GET of an action: the booking, then its page with the consequence; nothing changes."""
    try:
        t = await _target(visit.session, visit.principal, booking_id, permission)
    except (PermissionDenied, NotFound) as exc:
        return await _refusal(visit, exc)
    return _switched_away(visit.request, t) or await render(visit, t, {})


async def _confirm(visit: Visit, booking_id: str, permission: Permission, *, render: Render,
                   act: Callable[[Visit, Target, dict[str, str]], Awaitable[Any]], done: str,
                   steps: Callable[[Visit, Target, dict[str, str]], Awaitable[Response | None]] | None = None,
                   conflict_field: str | None = None) -> Response:
    """POST of an action: `go=confirm` runs the command; anything else (a calendar step, a preview) only shows.
    A refusal by the domain is undone and shown beside the form, which keeps what was typed."""
    session = visit.session
    try:
        t = await _target(session, visit.principal, booking_id, permission)
    except (PermissionDenied, NotFound) as exc:
        await discard_changes(session)
        return await _refusal(visit, exc)
    try:
        form = await checked_form(visit.request)
    except FormRejected as rejected:
        return await render(visit, t, rejected.form, status=rejected.status, message=rejected.message)
    if steps is not None and (shown := await steps(visit, t, form)) is not None:
        return shown
    if form.get("go") != "confirm":
        return await render(visit, t, form)
    try:
        await act(visit, t, form)
    except Refused as refused:
        return await render(visit, t, form, status=refused.status, message=refused.message, errors=refused.errors)
    except DomainError as exc:
        await discard_changes(session)
        if isinstance(exc, PermissionDenied | NotFound):
            return await _refusal(visit, exc)
        t = await _target(session, visit.principal, booking_id, permission)  # the rollback expired what was loaded
        return await render(visit, t, form, status=exc.status, message=_message_of(exc, t.currency),
                            errors=_errors_of(exc, t.currency, conflict_field))
    return RedirectResponse(f"{t.url}?done={done}", status_code=303)


def _actor(visit: Visit) -> Actor:
    return Actor.staff(visit.principal)


# --- actions that need only a confirmation ------------------------------------------------------------------------


def _confirm_consequences(t: Target, now: datetime) -> list[str]:
    paid = format_money(t.detail.paid_cents, t.currency)
    lines = [f"The booking becomes confirmed with {paid} paid so far, as for a waived or otherwise settled "
             "deposit. When money came in, record it as a payment instead: that confirms the booking too.",
             "The customer is emailed the confirmation with the calendar invite."]
    if t.booking.hold_lapsed(now):
        lines.insert(0, "The hold has lapsed: it is confirmed only if a chef is still free at that time.")
    return lines


def _unassign_consequences(t: Target, chef: str) -> list[str]:
    return [f"{chef} no longer cooks this event and no longer sees it under My events.",
            "The event keeps its place in the day's capacity; any free chef can take it."]


def _decline_consequences(t: Target, asked_by: str) -> list[str]:
    request = t.detail.cancel_request
    assert request is not None
    return [f"The request by {asked_by} (“{request.reason}”) is cleared; it stays in the history.",
            "The booking stays as it is. The customer is not emailed."]


def _close_consequences(t: Target, completed: bool) -> list[str]:
    due, paid = t.due_cents, format_money(t.detail.paid_cents, t.currency)
    if completed:
        owed = f"{format_money(due, t.currency)} of the total is unpaid: record it as a payment if it was paid at " \
               "the event." if due else "It is paid in full."
        return ["The event is marked completed and leaves the open bookings.", owed]
    return ["The event is marked as a no-show and leaves the open bookings.",
            f"Nothing is refunded: the {paid} paid is kept, and no further payment can be recorded on it."]


@dataclass(frozen=True)
class Simple:
    """An action that needs only a confirmation: its words, its command and the notice afterwards."""

    title: str
    button: str
    done: str
    consequences: Callable[[Target, datetime, dict[str, str]], list[str]]
    command: Callable[[Visit, Target], Awaitable[Any]]


async def _names_for_page(session: Any, t: Target) -> dict[str, str]:
    chef = (await _chef_names(session, t.station.id, {t.detail.chef_id})).get(t.detail.chef_id or 0, "The chef")
    request = t.detail.cancel_request
    asker = (await _staff_names(session, {request.requested_by_user_id} if request else set()))
    asked_by = asker.get(request.requested_by_user_id or 0, "support") if request else "support"
    return {"chef": chef, "asked_by": asked_by}


SIMPLE = {
    "confirm": Simple("Confirm the booking", "Confirm the booking", "confirmed",
                      lambda t, now, n: _confirm_consequences(t, now),
                      lambda v, t: commands.confirm_booking(v.session, v.runtime.settings, _actor(v), t.detail.id)),
    "unassign-chef": Simple("Unassign the chef", "Unassign the chef", "chef_unassigned",
                            lambda t, now, n: _unassign_consequences(t, n["chef"]),
                            lambda v, t: commands.unassign_chef(v.session, v.runtime.settings, _actor(v),
                                                                t.detail.id)),
    "decline-cancellation": Simple(
        "Decline the cancellation request", "Decline the request", "cancel_declined",
        lambda t, now, n: _decline_consequences(t, n["asked_by"]),
        lambda v, t: commands.decline_cancellation(v.session, v.runtime.settings, _actor(v), t.detail.id)),
    "complete": Simple("Mark the event completed", "Mark completed", "completed",
                       lambda t, now, n: _close_consequences(t, completed=True),
                       lambda v, t: commands.close_booking(v.session, v.runtime.settings, _actor(v), t.detail.id,
                                                           outcome=BookingStatus.completed)),
    "no-show": Simple("Mark the event a no-show", "Mark no-show", "no_show",
                      lambda t, now, n: _close_consequences(t, completed=False),
                      lambda v, t: commands.close_booking(v.session, v.runtime.settings, _actor(v), t.detail.id,
                                                          outcome=BookingStatus.no_show)),
}


def _simple_render(slug: str) -> Render:
    simple = SIMPLE[slug]

    async def render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                     message: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
        now = utcnow()
        blocked = why_not(slug, t, now)
        consequences = [] if blocked else simple.consequences(t, now, await _names_for_page(visit.session, t))
        return await _action_page(visit, t, "simple.html", simple.title, status=status, message=message,
                                  errors=errors, slug=slug, blocked=blocked, consequences=consequences,
                                  button=simple.button)

    return render


def _simple_act(slug: str) -> Callable[[Visit, Target, dict[str, str]], Awaitable[Any]]:
    async def act(visit: Visit, t: Target, form: dict[str, str]) -> None:
        await SIMPLE[slug].command(visit, t)

    return act


# --- assigning a chef ---------------------------------------------------------------------------------------------


async def _assign_render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                         message: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    b, zone = t.detail, ZoneInfo(t.station.timezone)
    roster = await on_duty_roster(visit.session, visit.principal, t.station.id, b.event_date)
    same_day, _ = await list_bookings(visit.session, visit.principal, BookingFilter(
        station_id=t.station.id, date_from=b.event_date, date_to=b.event_date), cursor=None, limit=200)
    busy: dict[int, list[str]] = defaultdict(list)
    for other in same_day:
        if other.chef_id is not None and other.id != b.id and other.is_open:
            busy[other.chef_id].append(f"{clock(other.slot_time)} ({other.reference})")
    window = (f"{clock(f'{t.booking.busy_start.astimezone(zone):%H:%M}')} to "
              f"{clock(f'{t.booking.busy_end.astimezone(zone):%H:%M}')}")
    current = (await _chef_names(visit.session, t.station.id, {b.chef_id})).get(b.chef_id or 0)
    return await _action_page(visit, t, "assign.html", "Assign a chef", status=status, message=message,
                              errors=errors, values={"chef_id": form.get("chef_id", str(b.chef_id or ""))},
                              roster=roster, busy=busy, window=window, current=current,
                              blocked=why_not("assign-chef", t, utcnow()))


async def _assign_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    chef_id = form.get("chef_id", "")
    if not RECORD_ID.fullmatch(chef_id) or not 0 < int(chef_id) <= MAX_ID:
        raise Refused(422, "Please choose a chef.", {"chef_id": "Please choose a chef from the list."})
    await commands.assign_chef(visit.session, visit.runtime.settings, _actor(visit), t.detail.id, int(chef_id))


# --- rescheduling -------------------------------------------------------------------------------------------------


def _when_values(form: dict[str, str]) -> dict[str, str]:
    return {name: form[name][:20] for name in WHEN_FIELDS if form.get(name)}


async def _calendar(visit: Visit, t: Target, values: dict[str, str]) -> MonthOfSlots:
    """The month shown: the one navigated to, else the chosen day's, else the booking's."""
    chosen = parse_day(values.get("event_date"))
    month = parse_day(values.get("month", "") + "-01") or chosen or t.detail.event_date
    return await month_of_slots(visit.session, t.station.id, t.station.timezone, t.rules, t.booking.guests, month,
                                moving_booking_id=t.booking.id)


async def _reschedule_render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                             message: str | None = None, errors: dict[str, str] | None = None,
                             preview: bool = False) -> HTMLResponse:
    values = _when_values(form)
    terms = reschedule_terms(t.rules, t.booking, utcnow())
    cal = None if preview or not terms.allowed else await _calendar(visit, t, values)
    return await _action_page(visit, t, "reschedule.html", "Reschedule", status=status, message=message,
                              errors=errors, values=values, terms=terms, cal=cal, preview=preview,
                              chosen_day=parse_day(values.get("event_date")))


async def _reschedule_steps(visit: Visit, t: Target, form: dict[str, str]) -> Response | None:
    """Calendar navigation and the preview of the chosen time; None when it is the confirmation."""
    go = form.get("go", "preview")
    if go == "confirm":
        return None
    values = _when_values(form)
    if go.startswith(("day:", "month:")):
        navigate(values, go)
        return await _reschedule_render(visit, t, values)
    terms = reschedule_terms(t.rules, t.booking, utcnow())
    if not terms.allowed:
        return await _reschedule_render(visit, t, values, status=409, message=terms.message)
    if errors := await slot_errors(values, lambda _day: _calendar(visit, t, values)):
        return await _reschedule_render(visit, t, values, status=422, errors=errors,
                                        message="Please choose a free date and start time.")
    return await _reschedule_render(visit, t, values, preview=True)


async def _reschedule_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    terms = reschedule_terms(t.rules, t.booking, utcnow())
    if terms.allowed and form.get("fee_cents") != str(terms.fee_cents):
        raise Refused(409, f"The terms have changed since the preview: {terms.message} Choose the time again.")
    try:
        body = Reschedule.model_validate({"event_date": form.get("event_date"), "slot_time": form.get("slot_time")})
    except ValidationError as exc:
        raise Refused(422, "Please choose a date and a start time.", field_errors(exc)) from None
    await commands.reschedule_booking(visit.session, visit.runtime.settings, _actor(visit), t.detail.id,
                                      event_date=body.event_date, slot_time=body.slot_time)


# --- guests and menu ----------------------------------------------------------------------------------------------


def _current_party(t: Target) -> dict[str, str]:
    catalog = menu_catalog(t.rules)
    values = {name: str(getattr(t.booking, name)) for name in GUEST_FIELDS}
    for group in MENU_GROUPS:
        chosen = getattr(t.booking, group)
        values.update({f"{group}.{code}": str(chosen.get(code, 0)) for code in catalog[group]})
    return values


def _posted_party(t: Target, form: dict[str, str]) -> dict[str, str]:
    """The booking's party with the posted fields over it (a closed window's fields are disabled, so not sent)."""
    return {name: (form[name][:10] or "0") if name in form else value for name, value in _current_party(t).items()}


def _party_change(t: Target, values: dict[str, str]) -> PartyChange:
    """Only what differs from the booking: a window matters only when its fields change."""
    if errors := {name: "Please enter a whole number." for name, value in values.items() if not WHOLE.fullmatch(value)}:
        raise Refused(422, "Please check the fields marked below.", errors)
    data: dict[str, Any] = {name: int(values[name]) for name in GUEST_FIELDS
                            if int(values[name]) != getattr(t.booking, name)}
    for group in MENU_GROUPS:
        prefix = f"{group}."
        chosen = {name.removeprefix(prefix): int(qty) for name, qty in values.items()
                  if name.startswith(prefix) and int(qty) > 0}
        if chosen != {code: qty for code, qty in getattr(t.booking, group).items() if qty > 0}:
            data[group] = chosen
    try:
        change = PartyChange.model_validate(data)
    except ValidationError as exc:
        raise Refused(422, "Please check the fields marked below.", field_errors(exc)) from None
    if not change.model_fields_set:
        raise Refused(422, "Nothing has changed yet: change a number, then preview the new price.")
    return change


def _planned_party(t: Target, values: dict[str, str]) -> tuple[PartyChange, Quote]:
    """The change and its new price, under the change windows the domain's policy gives now."""
    change = _party_change(t, values)
    now = utcnow()
    for fields, terms in ((GUEST_FIELDS, guest_change_terms(t.rules, t.booking, now)),
                          (MENU_GROUPS, menu_change_terms(t.rules, t.booking, now))):
        if change.model_fields_set & set(fields) and not terms.allowed:
            raise Refused(409, terms.message)
    try:
        return change, commands.requote(t.rules, t.booking, change)
    except ValidationFailed as exc:
        raise Refused(422, "Please check the fields marked below.", field_errors(exc)) from None


async def _party_render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                        message: str | None = None, errors: dict[str, str] | None = None,
                        quote: Quote | None = None) -> HTMLResponse:
    now = utcnow()
    values = _posted_party(t, form)
    return await _action_page(visit, t, "party.html", "Change guests or menu", status=status, message=message,
                              errors=errors, values=values, quote=quote, catalog=menu_catalog(t.rules),
                              guest_terms=guest_change_terms(t.rules, t.booking, now),
                              menu_terms=menu_change_terms(t.rules, t.booking, now),
                              carried=[(k, v) for k, v in values.items()] if quote else [])


async def _party_steps(visit: Visit, t: Target, form: dict[str, str]) -> Response | None:
    go = form.get("go", "preview")
    if go == "confirm":
        return None
    if go == "edit":
        return await _party_render(visit, t, form)
    try:
        _, quote = _planned_party(t, _posted_party(t, form))
    except Refused as refused:
        return await _party_render(visit, t, form, status=refused.status, message=refused.message,
                                   errors=refused.errors)
    return await _party_render(visit, t, form, quote=quote)


async def _party_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    change, quote = _planned_party(t, _posted_party(t, form))
    if form.get("total_cents") != str(quote.total_cents):
        raise Refused(409, "The price has changed since the preview; please preview it again.")
    await commands.change_party(visit.session, visit.runtime.settings, _actor(visit), t.detail.id, change)


# --- recording a payment ------------------------------------------------------------------------------------------


def _deposit_due(t: Target) -> int:
    awaiting = t.detail.status.awaits_deposit
    return max(0, t.detail.quote.deposit_cents - t.detail.paid_cents) if awaiting else 0


async def _payment_render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                          message: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    deposit_due = _deposit_due(t)
    values = {"method": form.get("method", "zelle"), "reference": form.get("reference", "")[:200],
              "amount": form.get("amount", _amount_text(deposit_due or t.due_cents))[:20],
              "key": _key(form) or secrets.token_urlsafe(16)}
    return await _action_page(visit, t, "payment.html", "Record a payment", status=status, message=message,
                              errors=errors, values=values, methods=[m.value for m in MANUAL_METHODS],
                              deposit_due=deposit_due, blocked=why_not("payment", t, utcnow()))


async def _payment_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    cents = _cents(form.get("amount", ""))
    if cents is None or cents <= 0:
        raise Refused(422, "Please check the amount.", {"amount": "Enter an amount in dollars, like 100.00."})
    try:
        data = ManualPaymentCreate.model_validate({"method": form.get("method"), "amount_cents": cents,
                                                   "reference": form.get("reference", "")})
    except ValidationError as exc:
        raise Refused(422, "Please check the fields marked below.", field_errors(exc, FORM_NAMES)) from None
    await payment_commands.record_manual_payment(visit.session, visit.runtime.settings, visit.principal,
                                                 t.detail.id, data, idempotency_key=_key(form))


# --- refunding a payment ------------------------------------------------------------------------------------------


async def _refundable(visit: Visit, t: Target) -> list[PaymentDetail]:
    payments = await _payments(visit.session, visit.principal, t) or []
    return [p for p in payments if p.status is PaymentStatus.succeeded and p.amount_cents > p.refunded_cents]


async def _chosen_payment(visit: Visit, t: Target, text: str | None) -> PaymentDetail | None:
    """The payment named (it must be this booking's: another is 404), else the only one left to refund."""
    if text:
        if not RECORD_ID.fullmatch(text) or not 0 < int(text) <= MAX_ID:
            raise NotFound("No such payment.")
        payment = await payment_queries.find_readable_payment(visit.session, visit.principal, int(text),
                                                              P.payments_refund)
        if payment.booking_id != t.detail.id:
            raise NotFound("No such payment.")
        return await payment_queries.payment_detail(visit.session, visit.principal, payment.id)
    refundable = await _refundable(visit, t)
    return refundable[0] if len(refundable) == 1 else None


async def _refund_render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                         message: str | None = None, errors: dict[str, str] | None = None) -> Response:
    try:
        payment = await _chosen_payment(visit, t, form.get("payment_id") or visit.request.query_params.get("payment"))
    except (NotFound, PermissionDenied) as exc:
        return await _refusal(visit, exc)
    left = payment.amount_cents - payment.refunded_cents if payment else 0
    values = {"amount": form.get("amount", _amount_text(left))[:20], "reason": form.get("reason", "")[:500],
              "method": form.get("method", payment.method.value if payment else ""),
              "key": _key(form) or secrets.token_urlsafe(16)}
    return await _action_page(visit, t, "refund.html", "Refund a payment", status=status, message=message,
                              errors=errors, values=values, payment=payment, left=left,
                              choices=[] if payment else await _refundable(visit, t),
                              methods=[m.value for m in MANUAL_METHODS],
                              cards_on=visit.runtime.settings.card_payments_enabled)


async def _refund_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    payment = await _chosen_payment(visit, t, form.get("payment_id"))
    if payment is None:
        raise Refused(422, "Please choose the payment to refund.")
    cents = _cents(form.get("amount", ""))
    if cents is None or cents <= 0:
        raise Refused(422, "Please check the amount.", {"amount": "Enter an amount in dollars, like 50.00."})
    method = None if payment.method is PaymentMethod.card else form.get("method") or None
    try:
        data = RefundCreate.model_validate({"amount_cents": cents, "reason": form.get("reason", ""),
                                            "method": method})
    except ValidationError as exc:
        raise Refused(422, "Please check the fields marked below.", field_errors(exc, FORM_NAMES)) from None
    await payment_commands.refund_payment(visit.session, visit.runtime.settings, card_gateway(visit.runtime.settings),
                                          visit.principal, payment.id, data, idempotency_key=_key(form))


# --- cancelling ---------------------------------------------------------------------------------------------------


async def _cancel_render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                         message: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    terms = cancel_terms(t.rules, t.booking, utcnow(), t.detail.paid_cents)
    request = t.detail.cancel_request
    asked_by = (await _names_for_page(visit.session, t))["asked_by"] if request else None
    reason = form.get("reason", request.reason if request and request.reason else "")[:1000]
    return await _action_page(visit, t, "cancel.html", "Approve the cancellation" if request else "Cancel the booking",
                              status=status, message=message, errors=errors, values={"reason": reason}, terms=terms,
                              asked_by=asked_by)


async def _cancel_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    terms = cancel_terms(t.rules, t.booking, utcnow(), t.detail.paid_cents)
    if terms.allowed and form.get("refund_cents") != str(terms.refund_cents):
        raise Refused(409, f"The terms have changed since this page was opened: {terms.message} "
                           "Please read them again before cancelling.")
    reason = _reason(form)
    await commands.cancel_booking(visit.session, visit.runtime.settings, _actor(visit), t.detail.id, reason=reason)


def _reason(form: dict[str, str]) -> str:
    try:
        return Reason.model_validate({"reason": form.get("reason", "")}).reason
    except ValidationError:
        raise Refused(422, "Please give a reason.", {"reason": "Please say why, for the history."}) from None


async def _cancel_request_render(visit: Visit, t: Target, form: dict[str, str], *, status: int = 200,
                                 message: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    terms = cancel_terms(t.rules, t.booking, utcnow(), t.detail.paid_cents)
    return await _action_page(visit, t, "cancel_request.html", "Ask an admin to cancel", status=status,
                              message=message, errors=errors, values={"reason": form.get("reason", "")[:1000]},
                              terms=terms, blocked=why_not("cancel-request", t, utcnow()))


async def _cancel_request_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    await commands.request_cancellation(visit.session, visit.runtime.settings, _actor(visit), t.detail.id,
                                        reason=_reason(form))


# --- the routes of the actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    permission: Permission
    render: Render
    act: Callable[[Visit, Target, dict[str, str]], Awaitable[Any]]
    done: str
    steps: Callable[[Visit, Target, dict[str, str]], Awaitable[Response | None]] | None = None
    conflict_field: str | None = None


FLOWS: dict[str, Flow] = {
    **{slug: Flow(ACTION_BY_SLUG[slug].permission, _simple_render(slug), _simple_act(slug), simple.done)
       for slug, simple in SIMPLE.items()},
    "assign-chef": Flow(P.chefs_manage, _assign_render, _assign_act, "chef_assigned", conflict_field="chef_id"),
    "reschedule": Flow(P.bookings_write, _reschedule_render, _reschedule_act, "rescheduled",
                       steps=_reschedule_steps, conflict_field="slot_time"),
    "party": Flow(P.bookings_write, _party_render, _party_act, "party", steps=_party_steps),
    "payment": Flow(P.payments_record, _payment_render, _payment_act, "payment"),
    "refund": Flow(P.payments_refund, _refund_render, _refund_act, "refund"),
    "cancel": Flow(P.bookings_cancel, _cancel_render, _cancel_act, "cancelled"),
    "cancel-request": Flow(P.bookings_cancel_request, _cancel_request_render, _cancel_request_act,
                           "cancel_requested"),
}


@router.get("/admin/bookings/{booking_id}/{action}", response_class=HTMLResponse)
async def action_page(booking_id: str, action: str, request: Request, principal: Staff, session: DbSession,
                      runtime: RuntimeDep) -> Response:
    visit = Visit(request, runtime, session, principal)
    flow = FLOWS.get(action)
    if flow is None:
        return await _refusal(visit, NotFound("No such page."))
    return await _open(visit, booking_id, flow.permission, flow.render)


@router.post("/admin/bookings/{booking_id}/{action}", response_class=HTMLResponse)
async def action_confirm(booking_id: str, action: str, request: Request, principal: Staff, session: DbSession,
                         runtime: RuntimeDep) -> Response:
    visit = Visit(request, runtime, session, principal)
    flow = FLOWS.get(action)
    if flow is None:
        return await _refusal(visit, NotFound("No such page."))
    return await _confirm(visit, booking_id, flow.permission, render=flow.render, act=flow.act, done=flow.done,
                          steps=flow.steps, conflict_field=flow.conflict_field)
