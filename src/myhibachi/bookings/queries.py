"""Reading bookings: availability, the capacity of one window, and the staff's station-scoped lists."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import Select, String, and_, bindparam, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import NullType

from myhibachi.audit.models import AuditEntry
from myhibachi.audit.queries import history_of
from myhibachi.auth.permissions import Permission, who_may
from myhibachi.auth.principal import Principal
from myhibachi.bookings.actions import DOING, BookingAction
from myhibachi.bookings.capacity import (
    NOTHING_HELD,
    ChefOnDuty,
    DayCapacity,
    DayLoad,
    EventShape,
    EventTimes,
    HeldLoad,
    HeldSpan,
    HeldWindow,
    local_start,
    local_starts,
)
from myhibachi.bookings.ledger import BookingLedger, booking_ledger, booking_ledgers
from myhibachi.bookings.models import (
    DATES_REACHED,
    HELD_STATUSES,
    Booking,
    BookingStatus,
    booking_day_tag,
    bookings_tag,
)
from myhibachi.bookings.policy import (
    Terms,
    as_next_command_finds,
    assign_chef_terms,
    balance_due_cents,
    cancel_request_terms,
    cancel_terms,
    close_terms,
    confirm_terms,
    decline_cancellation_terms,
    guest_change_terms,
    menu_change_terms,
    party_change_terms,
    payment_terms,
    reschedule_terms,
    total_due_cents,
    unassign_chef_terms,
)
from myhibachi.bookings.schemas import (
    ActionTermsRead,
    Availability,
    AvailabilityDay,
    AvailabilitySlot,
    BookingDetail,
    BookingRead,
    CancelRequestRead,
    ChefBookingDetail,
    ChefBookingRead,
    CustomerRead,
    HistoryEntry,
    ManageActions,
    ManageView,
    Party,
    PaymentLineRead,
    PrepCount,
    PrepEvent,
    PrepList,
    PrepProtein,
    ScheduledEvent,
    StaffActionRead,
    VenueRead,
    phone_digits,
)
from myhibachi.chefs.models import CHEFS_TAG, Chef, chefs_tag
from myhibachi.chefs.queries import duty_between
from myhibachi.contacts.models import Contact
from myhibachi.core.cache import session_cache
from myhibachi.core.cursors import decode_cursor, encode_cursor
from myhibachi.core.db import utcnow
from myhibachi.core.errors import NotFound, ValidationFailed
from myhibachi.core.text import normalize_email
from myhibachi.pricing.models import calendar_rules_tag
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import PartyOrder, label_of, menu_choices
from myhibachi.pricing.rules import BusinessRules
from myhibachi.pricing.schemas import QuoteRead
from myhibachi.stations.models import STATIONS_TAG, Station
from myhibachi.stations.queries import find_public_station, get_station
from myhibachi.stations.schemas import StationPublic

MAX_AVAILABILITY_DAYS = 92


class InsufficientNotice(ValidationFailed):
    code = "insufficient_notice"


class BeyondHorizon(ValidationFailed):
    code = "beyond_horizon"


def holds_a_chef(now: datetime):  # noqa: ANN201 - a SQL condition
    """Confirmed bookings, and pending ones whose hold has not lapsed (expired and cancelled free their chef).
    The status list is the predicate of the index of held bookings (migrations 0017, 0019), spelled so the planner
    matches it: written into the SQL, not bound, since PostgreSQL's generic plan of a prepared statement (the driver
    prepares each) cannot prove a partial index's predicate from parameters, and without the index the held-spans
    read took 8 ms instead of 2."""
    return and_(Booking.status.in_([literal(status, literal_execute=True) for status in HELD_STATUSES]), or_(
        Booking.status == BookingStatus.confirmed.value,
        and_(Booking.status == BookingStatus.pending_deposit.value, Booking.hold_expires_at > now)))


def bookable_starts(rules: BusinessRules, zone: ZoneInfo, now: datetime) -> tuple[datetime, date]:
    """The earliest start the minimum notice allows, and the last local date the horizon allows."""
    return now + timedelta(hours=rules.min_notice_hours), now.astimezone(zone).date() + timedelta(
        days=rules.max_days_ahead)


def lead_time_problem(rules: BusinessRules, zone: ZoneInfo, start: datetime, now: datetime) -> ValidationFailed | None:
    """Inside the minimum notice, or further ahead than the horizon (in the station's calendar)."""
    earliest, last_date = bookable_starts(rules, zone, now)
    if start < earliest:
        return InsufficientNotice.on("body.event_date", f"We need at least {rules.min_notice_hours} hours' notice.")
    if start.astimezone(zone).date() > last_date:
        return BeyondHorizon.on("body.event_date", f"We take bookings up to {rules.max_days_ahead} days ahead.")
    return None


@dataclass
class CapacityView:
    """Everything needed to answer "how many more events fit here?" for a range of local dates."""

    rules: BusinessRules
    zone: ZoneInfo
    roster: dict[date, list[ChefOnDuty]]
    load: HeldLoad
    now: datetime
    held: list[HeldWindow] = field(default_factory=list)  # each held event: read only for chef-level checks
    lapses: dict[date, datetime] = field(default_factory=dict)  # per date, its first hold to lapse (with spans only)
    _shapes: dict[int, EventShape] = field(default_factory=dict, repr=False)

    def window(self, day: date, slot: time, guests: int) -> EventTimes | None:
        start = local_start(self.zone, day, slot)
        return self._shape(guests).at(start) if start is not None else None

    def _shape(self, guests: int) -> EventShape:
        """Its durations, worked out once per party size (an answer asks for every slot of its range)."""
        if (shape := self._shapes.get(guests)) is None:
            shape = self._shapes[guests] = EventShape.of(self.rules, guests)
        return shape

    def day(self, day: date) -> DayCapacity:
        return self.load.day(self.roster.get(day, []), day)

    def remaining(self, day: date, slot: time, guests: int) -> int:
        times = self.window(day, slot, guests)
        if times is None or not self.bookable(times.start):
            return 0
        return self.day(day).remaining(times)

    def remaining_each(self, day: date, guests: int) -> list[int]:
        """`remaining` of each slot time of a date (a calendar's question), the date's part worked out once."""
        earliest, last_date = self._bookable
        if day > last_date:  # (a start's local date is its date: no conversion per start)
            return [0] * len(self.rules.slot_times)
        capacity, shape = self.day(day), self._shape(guests)
        return [capacity.remaining(shape.at(start)) if start is not None and start >= earliest else 0
                for start in local_starts(self.zone, day, self.rules.slot_times)]

    @cached_property
    def _bookable(self) -> tuple[datetime, date]:
        return bookable_starts(self.rules, self.zone, self.now)

    def bookable(self, start: datetime) -> bool:
        """Neither inside the minimum notice nor past the horizon (`lead_time_problem`, its bounds computed once)."""
        earliest, last_date = self._bookable
        return start >= earliest and start.astimezone(self.zone).date() <= last_date

    def next_change(self, first_day: date, last_day: date) -> datetime:
        """When time alone changes what this view answers for `first_day`..`last_day`: a hold near them lapses, a
        start time comes inside the minimum notice, or the next local day begins (the horizon moves)."""
        midnight = self._next_midnight
        moments = [midnight]
        near = range(-DATES_REACHED, (last_day - first_day).days + DATES_REACHED + 1)
        moments += [lapse for offset in near if (lapse := self.lapses.get(first_day + timedelta(days=offset)))]
        # No start of the range comes inside the notice before the next midnight when its first day begins later
        # than that by the notice (an hour more: a DST change at midnight): most dates of a calendar.
        closes_after_midnight = datetime.combine(first_day, time(), tzinfo=self.zone) - timedelta(
            hours=self.rules.min_notice_hours + 1) >= midnight
        if not closes_after_midnight and (closing := self._next_start_inside_notice(first_day, last_day)) is not None:
            moments.append(closing)
        return min(moments)

    @cached_property
    def _next_midnight(self) -> datetime:
        tomorrow = self.now.astimezone(self.zone).date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(), tzinfo=self.zone).astimezone(UTC)

    def _next_start_inside_notice(self, first_day: date, last_day: date) -> datetime | None:
        """The moment the first start time of the range still outside the minimum notice comes inside it."""
        earliest, _ = self._bookable
        day = max(first_day, earliest.astimezone(self.zone).date() - timedelta(days=1))
        while day <= last_day:
            starts = [start for slot in self.rules.slot_times
                      if (start := local_start(self.zone, day, slot)) is not None and start >= earliest]
            if starts:
                return min(starts) - timedelta(hours=self.rules.min_notice_hours)
            day += timedelta(days=1)
        return None


async def capacity_view(session: AsyncSession, station: Station | StationPublic, first_day: date, last_day: date, *,
                        now: datetime | None = None, exclude_booking_id: int | None = None,
                        each_event: bool = True) -> CapacityView:
    """Rules, roster and held windows for `first_day`..`last_day`: one query whatever the range (rules and
    roster are cached; a cold cache adds their reads). With `each_event` every held event is read (`held`, for
    checks about one chef or one booking); without it only a few spans per date (`load`: all a count needs), kept
    per date when read for the present moment."""
    live = now is None
    now = now or utcnow()
    rules = await get_rules(session, station.id)
    zone = ZoneInfo(station.timezone)
    roster = await duty_between(session, station.id, first_day, last_day, shape=lambda chef: ChefOnDuty(
        chef.id, chef.daily_limit(rules.chef_max_events_per_day)))
    reach = timedelta(days=DATES_REACHED)
    if each_event:
        near = {"station_id": station.id, "now": now, "exclude_id": exclude_booking_id, "first_date": first_day - reach,
                "last_date": last_day + reach, **_busy_bounds(zone, first_day, last_day)}
        stmt = _held_statement(each_event=True, on_postgresql=_on_postgresql(session),
                               excluding=exclude_booking_id is not None)
        held = [HeldWindow(*row) for row in (await session.execute(stmt, near)).all()]
        return CapacityView(rules=rules, zone=zone, roster=roster, load=HeldLoad.of_events(held), now=now, held=held)
    dates = _dates(first_day - reach, last_day + reach)  # windows of neighbouring days can reach into the range

    async def read(wanted: list[date]) -> dict[date, DayLoad]:
        return await _day_loads(session, station.id, zone, min(wanted), max(wanted), now, exclude_booking_id)

    cache = session_cache(session, [bookings_tag(station.id)]) if live and exclude_booking_id is None else None
    if cache is None:
        days = await read(dates)
    else:
        days = await cache.near_each("bookings.held_load", dates, key=lambda day: f"{station.id}:{day}",
                                     tags_of=lambda day: [booking_day_tag(station.id, day)],
                                     still_valid=lambda load: load.lapse is None or utcnow() < load.lapse,
                                     compute=read)
    load = HeldLoad({day: days[day] for day in dates})
    lapses = {day: days[day].lapse for day in dates if days[day].lapse is not None}
    return CapacityView(rules=rules, zone=zone, roster=roster, load=load, now=now, lapses=lapses)


def _busy_bounds(zone: ZoneInfo, first_day: date, last_day: date) -> dict[str, datetime]:
    """Moments every busy window of the local dates `first_day`..`last_day` lies within (for the index)."""
    return {"since": datetime.combine(first_day - timedelta(days=1), time(), tzinfo=zone),
            "until": datetime.combine(last_day + timedelta(days=2), time(), tzinfo=zone)}


def _on_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _day_loads(session: AsyncSession, station_id: int, zone: ZoneInfo, first_day: date, last_day: date,
                     now: datetime, exclude_booking_id: int | None) -> dict[date, DayLoad]:
    """The `DayLoad` of each date of `first_day`..`last_day`, whole (each of their held events, wherever its window
    reaches), read as spans in one query."""
    near = {"station_id": station_id, "now": now, "exclude_id": exclude_booking_id, "first_date": first_day,
            "last_date": last_day, **_busy_bounds(zone, first_day, last_day)}
    stmt = _held_statement(each_event=False, on_postgresql=_on_postgresql(session),
                           excluding=exclude_booking_id is not None)
    spans: defaultdict[date, list[HeldSpan]] = defaultdict(list)
    lapses: dict[date, datetime] = {}
    for day, start, end, chefs, unassigned, lapse in (await session.execute(stmt, near)).all():
        spans[day].append(HeldSpan(day, start, end, _chef_ids(chefs), unassigned))
        if lapse is not None and (day not in lapses or lapse < lapses[day]):  # confirmed ones: None
            lapses[day] = lapse
    return {day: DayLoad.of(spans[day], lapses.get(day)) if day in spans else NOTHING_HELD
            for day in _dates(first_day, last_day)}


@cache
def _held_statement(*, each_event: bool, on_postgresql: bool, excluding: bool) -> Select[Any]:
    """The held bookings near a range (each one, or grouped into spans), built once per process with its values as
    parameters (building it took a tenth of a computed availability answer)."""
    # An event's date and its busy window bound each other (`_busy_bounds`): the date bounds let the index on
    # (station, date) find them, whatever the station holds in other years.
    near = [Booking.station_id == bindparam("station_id"), holds_a_chef(bindparam("now")),
            Booking.event_date.between(bindparam("first_date"), bindparam("last_date")),
            Booking.busy_start < bindparam("until"), Booking.busy_end > bindparam("since")]
    if excluding:
        near.append(Booking.id != bindparam("exclude_id"))
    if each_event:
        return select(Booking.id, Booking.chef_id, Booking.event_date, Booking.busy_start, Booking.busy_end
                      ).where(*near)
    window = (Booking.event_date, Booking.busy_start, Booking.busy_end)
    return select(*window, _chef_ids_of_span(on_postgresql), func.count() - func.count(Booking.chef_id),
                  func.min(Booking.hold_expires_at)).where(*near).group_by(*window)


def _chef_ids_of_span(on_postgresql: bool):  # noqa: ANN202 - a SQL aggregate
    """The assigned chefs of a span: an array of integers on PostgreSQL (its driver decodes them, where parsing a
    list of a few thousand numbers per request was a third of the read; typed as nothing, so SQLAlchemy hands the
    driver's list on instead of copying every array item by item), a comma-separated list elsewhere."""
    if on_postgresql:
        return func.array_agg(Booking.chef_id, type_=NullType()).filter(Booking.chef_id.is_not(None))
    return func.aggregate_strings(cast(Booking.chef_id, String), ",")


def _chef_ids(aggregated: list[int] | str | None) -> tuple[int, ...]:
    if not aggregated:  # no chef assigned (the aggregate of nothing is NULL)
        return ()
    return tuple(aggregated) if isinstance(aggregated, list) else tuple(map(int, aggregated.split(",")))


async def bookable_station(session: AsyncSession, station_id: int, *, body_field: str | None = None) -> Station:
    """An active station: 404 when named in the path, a 422 on `body_field` when named in a request body."""
    station = await session.get(Station, station_id)
    if station is None or not station.is_active:
        raise ValidationFailed.on(body_field, "No such station.") if body_field else NotFound("No such station.")
    return station


@dataclass(frozen=True)
class KeptDate:
    """One date of an availability answer as JSON, and the moment time alone changes it."""

    body: bytes
    valid_until: datetime  # UTC


AVAILABILITY_JSON = TypeAdapter(Availability)
AVAILABILITY_DAY_JSON = TypeAdapter(AvailabilityDay)


async def station_availability(session: AsyncSession, station_id: int, first_day: date, last_day: date,
                               guests: int, *, moving_booking_id: int | None = None) -> Availability:
    """Free start times; for a booking being moved, its own chef time counts as free (it is given up)."""
    if moving_booking_id is not None:  # one booking's own view: computed for it alone, never kept
        _check_range(first_day, last_day)
        station = await find_public_station(session, station_id)
        view = await capacity_view(session, station, first_day, last_day, exclude_booking_id=moving_booking_id,
                                   each_event=False)
        return Availability(station_id=station.id, timezone=station.timezone,
                            days=_free_start_times(view, _dates(first_day, last_day), guests))
    document = await availability_document(session, station_id, first_day, last_day, guests)
    return AVAILABILITY_JSON.validate_json(document)


async def availability_document(session: AsyncSession, station_id: int, first_day: date, last_day: date,
                                guests: int) -> bytes:
    """`station_availability` as the JSON the API sends, each date kept in this process (every visitor of the
    calendar asks the same) until a booking within `DATES_REACHED` of it, the roster, the station's rules or the
    station change — here at commit, in another process through the change feed — or time alone changes it (a hold
    near it lapses, a start comes inside the notice, a new local day moves the horizon). Party sizes of one event
    length share it."""
    _check_range(first_day, last_day)
    station = await find_public_station(session, station_id)
    minutes = (await get_rules(session, station_id)).event_length_minutes(guests)
    shared_tags = [STATIONS_TAG, calendar_rules_tag(station_id), chefs_tag(station_id), CHEFS_TAG]

    async def compute(missing: list[date]) -> dict[date, KeptDate]:
        view = await capacity_view(session, station, min(missing), max(missing), each_event=False)
        return {day: KeptDate(AVAILABILITY_DAY_JSON.dump_json(answer), view.next_change(day, day))
                for day, answer in zip(missing, _free_start_times(view, missing, guests), strict=True)}

    dates = _dates(first_day, last_day)
    if (cache := session_cache(session, [*shared_tags, bookings_tag(station_id)])) is None:
        kept = await compute(dates)
    else:
        kept = await cache.near_each("bookings.availability", dates, key=lambda day: f"{station_id}:{day}:{minutes}",
                                     tags_of=lambda day: [*shared_tags, booking_day_tag(station_id, day)],
                                     still_valid=lambda kept_date: utcnow() < kept_date.valid_until, compute=compute)
    head = f'{{"station_id":{station.id},"timezone":{json.dumps(station.timezone)},"days":['.encode()
    return head + b",".join(kept[day].body for day in dates) + b"]}"


def _dates(first_day: date, last_day: date) -> list[date]:
    return [first_day + timedelta(days=offset) for offset in range((last_day - first_day).days + 1)]


def _check_range(first_day: date, last_day: date) -> None:
    if last_day < first_day:
        raise ValidationFailed.on("query.end", "end must not be before start")
    if (last_day - first_day).days + 1 > MAX_AVAILABILITY_DAYS:
        raise ValidationFailed.on("query.end", f"ask for at most {MAX_AVAILABILITY_DAYS} days at a time")


def _free_start_times(view: CapacityView, dates: list[date], guests: int) -> list[AvailabilityDay]:
    labels = [slot.strftime("%H:%M") for slot in view.rules.slot_times]
    return [AvailabilityDay(date=day, slots=[
        AvailabilitySlot(time=label, available=remaining > 0, remaining=remaining)
        for label, remaining in zip(labels, view.remaining_each(day, guests), strict=True)]) for day in dates]


# --- staff reads ------------------------------------------------------------------------------------------------

def _readable(principal: Principal):  # noqa: ANN201 - a SQL condition, or None for "everything"
    """The station-scoping choke point for bookings: `bookings.read` stations, plus a chef's own events."""
    full = principal.stations_with(Permission.bookings_read)
    if full is None:
        return None
    own_stations = principal.stations_with(Permission.bookings_read_own) or set()
    own = Booking.chef_id.in_(select(Chef.id).where(Chef.user_id == principal.user_id,
                                                    Chef.station_id.in_(sorted(own_stations))))
    return or_(Booking.station_id.in_(sorted(full)), own) if own_stations else Booking.station_id.in_(sorted(full))


async def authorize_action(session: AsyncSession, principal: Principal, action: BookingAction,
                           booking_id: int) -> Booking:
    """The booking, once `principal` holds `action`'s permission at its station (no role there: 404, as if it
    did not exist; a role without it: 403). The commands' check, for a page to make before showing the action."""
    booking = await session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such booking.")
    principal.authorize(action.permission, booking.station_id, missing="No such booking.")
    return booking


def reads_whole_station(principal: Principal, station_id: int | None = None) -> bool:
    """Whether the reader sees every booking of the station (of some station, for None), or only their own events
    (a chef)."""
    if station_id is None:
        return principal.has_anywhere(Permission.bookings_read)
    return principal.can(Permission.bookings_read, station_id)


def reads_own_events(principal: Principal, station_id: int) -> bool:
    """Whether the reader sees only their own events at the station (a chef)."""
    return not reads_whole_station(principal, station_id) and principal.can(Permission.bookings_read_own, station_id)


def authorize_reading(principal: Principal, station_id: int | None) -> None:
    """Who may list bookings at all: `bookings.read`, or a chef's `bookings.read_own`."""
    if station_id is not None and principal.role_at(station_id) is None:
        principal.authorize(Permission.bookings_read, station_id)  # logs and answers 404
    readable = (principal.can(Permission.bookings_read, station_id) or
                principal.can(Permission.bookings_read_own, station_id)) if station_id is not None else (
        principal.has_anywhere(Permission.bookings_read) or principal.has_anywhere(Permission.bookings_read_own))
    if not readable:
        raise principal.deny(Permission.bookings_read, station_id, "Your role does not allow reading bookings.")


@dataclass(frozen=True)
class BookingFilter:
    station_id: int | None = None
    status: BookingStatus | None = None
    date_from: date | None = None  # station-local event dates, inclusive
    date_to: date | None = None


async def list_bookings(session: AsyncSession, principal: Principal, filters: BookingFilter, *,
                        cursor: str | None, limit: int) -> tuple[list[Booking], str | None]:
    """By event start, then id; keyset-paginated so pages stay stable while bookings are added."""
    authorize_reading(principal, filters.station_id)
    stmt = select(Booking)
    if (scope := _readable(principal)) is not None:
        stmt = stmt.where(scope)
    conditions = [
        Booking.station_id == filters.station_id if filters.station_id is not None else None,
        Booking.status == filters.status.value if filters.status else None,
        Booking.event_date >= filters.date_from if filters.date_from else None,
        Booking.event_date <= filters.date_to if filters.date_to else None,
    ]
    if cursor:
        after_start, after_id = decode_cursor(cursor)
        conditions.append(or_(Booking.event_start > after_start,
                              and_(Booking.event_start == after_start, Booking.id > after_id)))
    stmt = stmt.where(*[c for c in conditions if c is not None])
    rows = list(await session.scalars(stmt.order_by(Booking.event_start, Booking.id).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].event_start, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def find_readable_booking(session: AsyncSession, principal: Principal, booking_id: int) -> Booking:
    stmt = select(Booking).where(Booking.id == booking_id)
    if (scope := _readable(principal)) is not None:
        stmt = stmt.where(scope)
    booking = await session.scalar(stmt)
    if booking is None:
        station_id = await session.scalar(select(Booking.station_id).where(Booking.id == booking_id))
        if station_id is not None:  # it exists, but not for this reader
            raise principal.hide(Permission.bookings_read, station_id, "No such booking.")
        raise NotFound("No such booking.")
    return booking


async def references_of(session: AsyncSession, principal: Principal, booking_ids: set[int]) -> dict[int, str]:
    """The references of the bookings of `booking_ids` the reader may read (others are simply absent): to name
    them."""
    stmt = select(Booking.id, Booking.reference).where(Booking.id.in_(booking_ids))
    if (scope := _readable(principal)) is not None:
        stmt = stmt.where(scope)
    return dict((await session.execute(stmt)).all())


async def booking_history(session: AsyncSession, booking_id: int) -> list[AuditEntry]:
    return await history_of(session, "booking", booking_id)


async def find_booking_by_token(session: AsyncSession, token_hash: str) -> Booking:
    booking = await session.scalar(select(Booking).where(Booking.manage_token_hash == token_hash))
    if booking is None:
        raise NotFound("This link is not valid. Check the latest email we sent you.")
    return booking


# --- the station's run sheet and the staff's search ----------------------------------------------------------------

# What a run sheet shows: events that happen or happened (a lapsed hold, a cancellation or an expiry is no event).
ON_THE_SCHEDULE = (BookingStatus.confirmed.value, BookingStatus.completed.value, BookingStatus.no_show.value)
SEARCH_LIMIT = 25  # of the upcoming events, and again of the past ones
SHORTEST_SEARCH, LONGEST_SEARCH = 2, 100
SHORTEST_PHONE = 4  # digits: fewer would find most numbers
LIKE_SPECIALS = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def _on_the_schedule(now: datetime):  # noqa: ANN202 - a SQL condition
    """Confirmed, completed and no-show events, and pending ones still holding their date."""
    return or_(Booking.status.in_(ON_THE_SCHEDULE),
               and_(Booking.status == BookingStatus.pending_deposit.value, Booking.hold_expires_at > now))


async def scheduled_events(session: AsyncSession, principal: Principal,
                           bookings: list[Booking]) -> list[ScheduledEvent]:
    """The bookings as their team works them, with each chef's name, in a few queries; what to collect comes from
    the reader's own view of the booking (`read_bookings_for`) and shows only where chefs collect balances."""
    reads = {r.id: r for r in await read_bookings_for(session, principal, bookings)}
    stations = {s.id: s for s in await session.scalars(
        select(Station).where(Station.id.in_({b.station_id for b in bookings})))}
    chef_ids = {b.chef_id for b in bookings if b.chef_id is not None}
    chefs = dict((await session.execute(select(Chef.id, Chef.name).where(Chef.id.in_(chef_ids)))).all()) \
        if chef_ids else {}
    events = []
    for booking in bookings:
        read, station = reads[booking.id], stations[booking.station_id]
        events.append(ScheduledEvent(
            id=read.id, reference=read.reference, station_id=read.station_id, timezone=read.timezone,
            status=read.status, event_date=read.event_date, slot_time=read.slot_time, event_start=read.event_start,
            event_end=read.event_end, party=read.party, guests=booking.guests, venue=read.venue,
            customer_name=read.customer.name, customer_phone=read.customer.phone, allergies=read.allergies,
            notes=read.notes, chef_id=read.chef_id, chef_name=chefs.get(read.chef_id) if read.chef_id else None,
            to_collect_cents=read.balance_due_cents if station.chefs_collect_balance else None,
            currency=read.quote.currency))
    return events


async def event_schedule(session: AsyncSession, principal: Principal, station_id: int, first_day: date,
                         last_day: date, *, now: datetime | None = None) -> list[ScheduledEvent]:
    """A station's events of the local dates `first_day`..`last_day`, by start: all of them for who reads the
    station's bookings, a chef's own for a chef."""
    authorize_reading(principal, station_id)
    stmt = select(Booking).where(Booking.station_id == station_id, Booking.event_date >= first_day,
                                 Booking.event_date <= last_day, _on_the_schedule(now or utcnow()))
    if (scope := _readable(principal)) is not None:
        stmt = stmt.where(scope)
    rows = list(await session.scalars(stmt.order_by(Booking.event_start, Booking.id)))
    return await scheduled_events(session, principal, rows)


@dataclass(frozen=True)
class SearchResult:
    """The bookings a search found among those the reader may read: the upcoming ones soonest first, then the past
    ones latest first; `more` when either list was cut at SEARCH_LIMIT."""

    text: str
    upcoming: list[ScheduledEvent]
    past: list[ScheduledEvent]
    more: bool
    too_short: bool = False


def _contains(text: str) -> str:
    return f"%{text.translate(LIKE_SPECIALS)}%"


def _matching(text: str):  # noqa: ANN202 - a SQL condition
    """A booking whose reference, contact or customer name, email or phone contains what was typed: a reference
    with or without its dash, a phone number however it was written."""
    conditions = [Booking.contact_name.ilike(_contains(text), escape="\\"),
                  Contact.name.ilike(_contains(text), escape="\\"),
                  Contact.email.like(_contains(normalize_email(text)), escape="\\")]
    compact = "".join(char for char in text if char.isalnum()).upper()
    if len(compact) >= 3:
        conditions.append(func.upper(func.replace(Booking.reference, "-", "")).like(_contains(compact),
                                                                                     escape="\\"))
    if len(digits := phone_digits(text)) >= SHORTEST_PHONE:
        conditions += [Booking.contact_phone.like(f"%{digits}%"), Contact.phone.like(f"%{digits}%")]
    return or_(*conditions)


async def search_bookings(session: AsyncSession, principal: Principal, text: str, *,
                          now: datetime | None = None) -> SearchResult:
    """Bookings by reference, customer name, email or phone, among those the reader may read (the scoping choke
    point: another station's bookings, and another chef's events, are never found)."""
    authorize_reading(principal, None)
    text = " ".join(text.split())[:LONGEST_SEARCH]
    if len(text) < SHORTEST_SEARCH:
        return SearchResult(text, [], [], more=False, too_short=bool(text))
    now = now or utcnow()
    stmt = select(Booking).join(Contact, Contact.id == Booking.customer_id).where(_matching(text))
    if (scope := _readable(principal)) is not None:
        stmt = stmt.where(scope)
    upcoming = list(await session.scalars(stmt.where(Booking.event_end >= now).order_by(
        Booking.event_start, Booking.id).limit(SEARCH_LIMIT + 1)))
    past = list(await session.scalars(stmt.where(Booking.event_end < now).order_by(
        Booking.event_start.desc(), Booking.id.desc()).limit(SEARCH_LIMIT + 1)))
    more = len(upcoming) > SEARCH_LIMIT or len(past) > SEARCH_LIMIT
    found = await scheduled_events(session, principal, upcoming[:SEARCH_LIMIT] + past[:SEARCH_LIMIT])
    return SearchResult(text, found[:len(upcoming[:SEARCH_LIMIT])], found[len(upcoming[:SEARCH_LIMIT]):], more)


# --- shaping for the API ----------------------------------------------------------------------------------------

def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


def _party(booking: Booking) -> Party:
    return Party(adults=booking.adults, children=booking.children, toddlers=booking.toddlers,
                 upgrades=booking.upgrades, extra_proteins=booking.extra_proteins, addons=booking.addons,
                 proteins=booking.proteins)


def _venue(booking: Booking) -> VenueRead:
    return VenueRead(line1=booking.venue_line1, line2=booking.venue_line2, city=booking.venue_city,
                     state=booking.venue_state, zip_code=booking.venue_zip)


def _contact(booking: Booking) -> CustomerRead:
    """The booking's own contact details (never the contact record's): what was typed when it was made."""
    return CustomerRead(name=booking.contact_name, email=booking.contact_email, phone=booking.contact_phone)


def _shape(booking: Booking, station: Station, ledger: BookingLedger) -> BookingRead:
    zone = ZoneInfo(station.timezone)
    request = None
    if booking.cancel_requested_at is not None:
        request = CancelRequestRead(requested_at=booking.cancel_requested_at,
                                    requested_by_user_id=booking.cancel_requested_by_user_id,
                                    reason=booking.cancel_request_reason)
    return BookingRead(
        id=booking.id, reference=booking.reference, station_id=booking.station_id, timezone=station.timezone,
        status=BookingStatus(booking.status), event_date=booking.event_date, slot_time=booking.slot_time,
        event_start=booking.event_start.astimezone(zone), event_end=booking.event_end.astimezone(zone),
        party=_party(booking), quote=QuoteRead.model_validate(booking.quote), fees_cents=booking.fees_cents,
        total_due_cents=total_due_cents(booking), paid_cents=ledger.net_paid_cents,
        balance_due_cents=balance_due_cents(booking, ledger.net_paid_cents), venue=_venue(booking),
        customer=_contact(booking),
        allergies=booking.allergies, notes=booking.notes, chef_id=booking.chef_id,
        hold_expires_at=booking.hold_expires_at, confirmed_at=booking.confirmed_at,
        reschedule_count=booking.reschedule_count, cancel_request=request, cancelled_at=booking.cancelled_at,
        cancel_reason=booking.cancel_reason, refund_owed_cents=booking.refund_owed_cents,
        created_at=booking.created_at)


async def read_bookings(session: AsyncSession, bookings: list[Booking]) -> list[BookingRead]:
    """Staff views of bookings, with their stations and ledgers loaded in a few queries."""
    stations = {s.id: s for s in await session.scalars(
        select(Station).where(Station.id.in_({b.station_id for b in bookings})))}
    ledgers = await booking_ledgers(session, [b.id for b in bookings])
    return [_shape(b, stations[b.station_id], ledgers[b.id]) for b in bookings]


async def read_bookings_for(session: AsyncSession, principal: Principal,
                            bookings: list[Booking]) -> list[BookingRead | ChefBookingRead]:
    """The bookings as this reader may see them: without payment fields where they may not read payments (a chef),
    who see what is due only at stations whose chefs collect balances."""
    reads = await read_bookings(session, bookings)
    hidden = {r.station_id for r in reads if not principal.can(Permission.payments_read, r.station_id)}
    if not hidden:
        return list(reads)
    collecting = set(await session.scalars(select(Station.id).where(
        Station.id.in_(hidden), Station.chefs_collect_balance.is_(True))))
    return [_need_to_know(r, collects=r.station_id in collecting) if r.station_id in hidden else r for r in reads]


def _need_to_know(read: BookingRead, *, collects: bool) -> ChefBookingRead:
    facts = {name: getattr(read, name) for name in ChefBookingRead.model_fields if name != "balance_due_cents"}
    return ChefBookingRead(**facts, balance_due_cents=read.balance_due_cents if collects else None)


def _without_money(entry: HistoryEntry) -> HistoryEntry:
    """A history entry without the amounts of money it recorded (fees, totals, refunds) or its payment."""
    def keep(side: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if side is None else {k: v for k, v in side.items()
                                          if not k.endswith("_cents") and k != "by_payment"}
    return entry.model_copy(update={"before": keep(entry.before), "after": keep(entry.after)})


async def booking_detail(session: AsyncSession, principal: Principal,
                         booking_id: int) -> BookingDetail | ChefBookingDetail:
    booking = await find_readable_booking(session, principal, booking_id)
    (read,) = await read_bookings_for(session, principal, [booking])
    history = [HistoryEntry(occurred_at=e.occurred_at, action=e.action, actor_user_id=e.actor_user_id,
                            before=e.before, after=e.after, reason=e.reason)
               for e in await booking_history(session, booking.id)]
    if isinstance(read, ChefBookingRead):
        return ChefBookingDetail(**dict(read), history=[_without_money(e) for e in history])
    return BookingDetail(**dict(read), history=history)


def _terms(terms: Terms, zone: ZoneInfo) -> ActionTermsRead:
    return ActionTermsRead(allowed=terms.allowed, message=terms.message, until=_local(terms.until, zone),
                           fee_cents=terms.fee_cents, refund_cents=terms.refund_cents)


async def manage_view(session: AsyncSession, booking: Booking) -> ManageView:
    """The booking as its customer sees it, with what each action would cost or refund right now."""
    station = await get_station(session, booking.station_id)
    rules = await get_rules(session, station.id)
    zone, now = ZoneInfo(station.timezone), utcnow()
    ledger = await booking_ledger(session, booking.id)
    paid = ledger.net_paid_cents
    return ManageView(
        reference=booking.reference, status=BookingStatus(booking.status), station_name=station.name,
        timezone=station.timezone, event_date=booking.event_date, slot_time=booking.slot_time,
        event_start=booking.event_start.astimezone(zone), event_end=booking.event_end.astimezone(zone),
        party=_party(booking), venue=_venue(booking),
        customer=_contact(booking),
        allergies=booking.allergies, notes=booking.notes, quote=QuoteRead.model_validate(booking.quote),
        fees_cents=booking.fees_cents, total_due_cents=total_due_cents(booking), paid_cents=paid,
        balance_due_cents=balance_due_cents(booking, paid),
        deposit_due_by=_local(booking.hold_expires_at, zone) if booking.status == BookingStatus.pending_deposit
        else None,
        payments=[PaymentLineRead(**vars(line)) for line in ledger.payments],
        refund_owed_cents=booking.refund_owed_cents,
        actions=ManageActions(reschedule=_terms(reschedule_terms(rules, booking, now), zone),
                              change_guests=_terms(guest_change_terms(rules, booking, now), zone),
                              change_menu=_terms(menu_change_terms(rules, booking, now), zone),
                              cancel=_terms(cancel_terms(rules, booking, now, paid), zone)))


# --- what the staff may do with a booking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionState:
    """One action on one booking, for one staff member, at one moment."""

    action: BookingAction
    permitted: bool  # their role at the booking's station holds the action's permission
    terms: Terms  # what the booking's state allows now: what it costs or refunds, or why it cannot be done
    offered: bool  # worth a button: permitted, allowed now, and not a lesser form of another one they hold
    # Possible now, but not for this role: who may, from the permission table ("Only an admin can record
    # payments."). None when it is theirs to do, not possible now, or a lesser form of another action.
    not_yours: str | None = None

    @property
    def why_not(self) -> str | None:
        return None if self.terms.allowed else self.terms.message


async def staff_actions(session: AsyncSession, principal: Principal, booking: Booking,
                        now: datetime) -> dict[BookingAction, ActionState]:
    """Every staff action on `booking` for `principal` at `now`, from the predicates the commands enforce."""
    rules = await get_rules(session, booking.station_id)
    paid = (await booking_ledger(session, booking.id)).net_paid_cents
    booking = as_next_command_finds(booking, now)
    a = BookingAction
    terms = {
        a.record_payment: payment_terms(booking, paid), a.confirm: confirm_terms(booking),
        a.assign_chef: assign_chef_terms(booking), a.unassign_chef: unassign_chef_terms(booking),
        a.reschedule: reschedule_terms(rules, booking, now), a.change_party: party_change_terms(rules, booking, now),
        a.complete: close_terms(booking, now), a.no_show: close_terms(booking, now),
        a.cancel: cancel_terms(rules, booking, now, paid),
        a.decline_cancellation: decline_cancellation_terms(booking),
        a.request_cancellation: cancel_request_terms(booking),
    }
    may = {action: principal.can(action.permission, booking.station_id) for action in terms}
    # Support asks for a cancellation; whoever may cancel just cancels.
    lesser = {a.request_cancellation: a.cancel}
    # Who reads the whole station is told who may do what they may not; a chef's page is about the event alone.
    tells = reads_whole_station(principal, booking.station_id)

    def not_yours(action: BookingAction, t: Terms) -> str | None:
        if may[action] or not t.allowed or not tells or action in lesser:
            return None
        return f"Only {who_may(action.permission)} can {DOING[action]}."

    return {action: ActionState(action, may[action], t, may[action] and t.allowed and not may.get(lesser.get(action)),
                                not_yours(action, t))
            for action, t in terms.items()}


# --- the kitchen's prep list ---------------------------------------------------------------------------------------


def _summed(bookings: list[Booking], group: str) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for booking in bookings:
        for code, quantity in getattr(booking, group).items():
            total[code] += quantity
    return total


def _in_order(known: list[str], counts: dict[str, int]) -> list[str]:
    """The codes counted, in the rules' order, then any the rules no longer name."""
    return [code for code in known if counts.get(code)] + sorted(c for c in counts if c not in known and counts[c])


async def prep_list(session: AsyncSession, principal: Principal, station_id: int, day: date, *,
                    now: datetime | None = None) -> PrepList:
    """A station's local day for the kitchen, over its events that hold a chef: per protein the base servings
    chosen, the upgrades and the extras summed; the upgrades and the sides; and each event with its allergies.
    Readers of the station's bookings see every event, a chef only their own."""
    authorize_reading(principal, station_id)
    station = await get_station(session, station_id)
    rules = await get_rules(session, station_id)
    stmt = select(Booking).where(Booking.station_id == station_id, Booking.event_date == day,
                                 holds_a_chef(now or utcnow()))
    if (scope := _readable(principal)) is not None:
        stmt = stmt.where(scope)
    bookings = list(await session.scalars(stmt.order_by(Booking.event_start, Booking.id)))
    chosen, upgrades = _summed(bookings, "proteins"), _summed(bookings, "upgrades")
    extras, sides = _summed(bookings, "extra_proteins"), _summed(bookings, "addons")
    catalogue = menu_choices(rules)

    def named(group: str, code: str) -> str:
        choice = catalogue[group].get(code)
        return choice.label if choice else label_of(code)

    protein_codes = _in_order([*rules.base_proteins, *rules.protein_upgrades],
                              {code: chosen[code] + upgrades[code] + extras[code]
                               for code in {*chosen, *upgrades, *extras}})
    events = []
    for b in bookings:
        servings = PartyOrder(b.adults, b.children, b.toddlers).protein_servings
        events.append(PrepEvent(booking_id=b.id, reference=b.reference, slot_time=b.slot_time, adults=b.adults,
                                children=b.children, toddlers=b.toddlers, chef_id=b.chef_id, proteins=b.proteins,
                                unchosen_servings=0 if any(b.proteins.values()) else servings,
                                allergies=b.allergies, notes=b.notes))
    return PrepList(
        station_id=station.id, station_name=station.name, timezone=station.timezone, day=day, events=events,
        proteins=[PrepProtein(code=code, label=label_of(code), chosen=chosen[code], upgrades=upgrades[code],
                              extras=extras[code], total=chosen[code] + upgrades[code] + extras[code])
                  for code in protein_codes],
        upgrades=[PrepCount(code=code, label=named("upgrades", code), quantity=upgrades[code])
                  for code in _in_order(list(rules.protein_upgrades), upgrades)],
        sides=[PrepCount(code=code, label=named("addons", code), quantity=sides[code])
               for code in _in_order(list(rules.addons), sides)],
        guests=sum(b.guests for b in bookings), unchosen_servings=sum(e.unchosen_servings for e in events),
        swapped_servings=sum(upgrades.values()))


async def staff_actions_read(session: AsyncSession, principal: Principal, booking_id: int) -> list[StaffActionRead]:
    """`staff_actions` of a booking the principal may read (else 404), its moments in the station's time."""
    booking = await find_readable_booking(session, principal, booking_id)
    zone = ZoneInfo((await get_station(session, booking.station_id)).timezone)
    states = await staff_actions(session, principal, booking, utcnow())
    return [StaffActionRead(action=state.action, permitted=state.permitted, offered=state.offered,
                            not_yours=state.not_yours, **_terms(state.terms, zone).model_dump())
            for state in states.values()]
