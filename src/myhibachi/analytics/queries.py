"""Payment analytics and KPIs, each one SQL statement, bucketed by each station's local calendar, and cached.

Money received and refunded is summed from the ledger's per-day totals (payments/day_totals.py), each kept on
the local day of its station's zone as payments and refunds are written: a report reads at most a row per day and
method of its range, whatever the number of payments, and a local day, ISO week or month is a group of whole local
days, exact across DST. Only the first and last payment's time come from the payments, two index probes a station.
Tests hold both to a plain-Python recomputation from the raw rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_core import to_json
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    String,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from myhibachi.analytics.schemas import (
    Granularity,
    KpiReport,
)
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.bookings.models import Booking, BookingStatus, bookings_tag
from myhibachi.core.cache import Cache
from myhibachi.core.db import UTCDateTime, utcnow
from myhibachi.core.errors import NotFound, ValidationFailed
from myhibachi.leads.queries import funnel_counts
from myhibachi.payments.day_totals import PaymentDayTotal
from myhibachi.payments.models import (
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    payments_tag,
)
from myhibachi.stations.models import STATIONS_TAG, Station

# How far one report may reach, and how many (station, period) cells it may add up (the work of one request).
MAX_DAYS = {Granularity.day: 1096, Granularity.week: 3660, Granularity.month: 3660}
MAX_BUCKET_ROWS = 8000


# --- local periods --------------------------------------------------------------------------------------------


def period_start(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.week:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.month:
        return day.replace(day=1)
    return day


def next_period(start: date, granularity: Granularity) -> date:
    if granularity is Granularity.week:
        return start + timedelta(days=7)
    if granularity is Granularity.month:
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=1)


def periods(start: date, end: date, granularity: Granularity) -> list[date]:
    """The starts of every period that overlaps [start, end]."""
    found, current = [], period_start(start, granularity)
    while current <= end:
        found.append(current)
        current = next_period(current, granularity)
    return found


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `zone`."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


# --- scope ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRange:
    station_id: int | None
    start: date
    end: date

    def as_args(self) -> dict[str, Any]:
        return {"station_id": self.station_id, "start": self.start.isoformat(), "end": self.end.isoformat()}

    def check(self, max_days: int) -> None:
        if self.end < self.start:
            raise ValidationFailed.on("query.end", "end must not be before start")
        if (self.end - self.start).days >= max_days:
            raise ValidationFailed.on("query.end", f"A report covers at most {max_days} days at this granularity.")


@dataclass(frozen=True)
class Scope:
    """The stations a report covers, known from the principal alone (so a cache hit needs no database)."""
    station_ids: tuple[int, ...] | None  # None: every station

    @classmethod
    def of(cls, principal: Principal, station_id: int | None) -> Scope:
        """The choke point of analytics scoping: one station you may read, or (no station) all of them."""
        if station_id is not None:
            principal.authorize(Permission.analytics_read, station_id)
            return cls((station_id,))
        readable = principal.stations_with(Permission.analytics_read)
        if readable is not None and not readable:
            raise principal.deny(Permission.analytics_read, None, "Your role does not allow reading analytics.")
        return cls(None if readable is None else tuple(sorted(readable)))

    @property
    def key(self) -> str:
        return "stations:" + ("all" if self.station_ids is None else ",".join(map(str, self.station_ids)))

    def tags(self, *tag_of: Any) -> list[str]:
        """What the figures depend on: the stations' zones and their rows of each kind."""
        ids: tuple[int | None, ...] = (None,) if self.station_ids is None else self.station_ids
        return [STATIONS_TAG, *(make(station_id) for station_id in ids for make in tag_of)]

    async def stations(self, session: AsyncSession, single: bool) -> list[Station]:
        stmt = select(Station).order_by(Station.id)
        if self.station_ids is not None:
            stmt = stmt.where(Station.id.in_(self.station_ids))
        stations = list(await session.scalars(stmt))
        if single and not stations:
            raise NotFound("No such station.")
        return stations


# --- the payments report --------------------------------------------------------------------------------------


async def payment_report_json(session: AsyncSession, cache: Cache, ttl: int, principal: Principal,
                              request: ReportRange, granularity: Granularity) -> bytes:
    """The PaymentReport as JSON, cached (a hit is passed on without parsing it)."""
    request.check(MAX_DAYS[granularity])
    scope = Scope.of(principal, request.station_id)
    labels = periods(request.start, request.end, granularity)

    async def compute() -> bytes:  # the document follows PaymentReport by construction (and the API tests check it)
        stations = await scope.stations(session, single=request.station_id is not None)
        if len(labels) * len(stations) > MAX_BUCKET_ROWS:
            raise ValidationFailed.on("query.granularity", "Too many periods for every station at once: choose a "
                                      "station, a coarser granularity or a shorter range.")
        return to_json(await _payment_report(session, stations, request, granularity, labels))

    return await cache.cached_json(
        "analytics.payments", args={**request.as_args(), "granularity": granularity}, scope=scope.key,
        tags=scope.tags(payments_tag), ttl=ttl, compute=compute)


def _payment_cells(stations: list[Station], request: ReportRange, granularity: Granularity,
                   dialect: str) -> Any:
    """One statement of (kind, station, period start, (count, gross, refunds) for each method..., first, last) rows:
    per local period of each station its days' totals summed ("cell"; at most a row per day and method summed,
    whatever the number of payments), and per station a "span" row with the first and last payment's time."""
    days = PaymentDayTotal
    by_method = [_summed(counter, days.method == method) for method in METHOD_NAMES
                 for counter in (days.paid_count, days.paid_cents, days.refunded_cents)]
    cells = (select(literal("cell"), days.station_id, _period(days.local_day, granularity, dialect).label("period"),
                    *by_method, *_NO_TIMES)
             .where(days.station_id.in_([s.id for s in stations]), days.local_day >= request.start,
                    days.local_day <= request.end)
             .group_by(days.station_id, literal_column("period")))
    return union_all(cells, *_spans(stations, request))


METHOD_NAMES = [method.value for method in PaymentMethod]


# Typed NULLs: PostgreSQL takes a UNION's column types from its first select.
_NO_TIMES = (cast(null(), UTCDateTime()), cast(null(), UTCDateTime()))


def _summed(counter: Any, *where: Any) -> Any:
    """The sum (0 for none) of the rows matching `where`, as an integer (PostgreSQL sums BIGINT as NUMERIC)."""
    total = func.sum(counter)
    return cast(func.coalesce(total.filter(*where) if where else total, 0), BigInteger)


def _period(day: Any, granularity: Granularity, dialect: str) -> Any:
    """The start of the period holding the local `day`: itself, its ISO week's Monday, or its month's 1st."""
    if granularity is Granularity.day:
        return day
    if dialect == "postgresql":
        return cast(func.date_trunc(granularity.value, cast(day, DateTime)), Date)
    modifiers = ("weekday 0", "-6 days") if granularity is Granularity.week else ("start of month",)
    return type_coerce(func.date(day, *modifiers), Date)  # SQLite: to the next Sunday (or itself), back 6 days


def _received_between(station: Station, request: ReportRange, station_id: Any, moment: Any) -> Any:
    """`moment` (of a row of `station_id`) falls on a local date of the range, in the station's zone."""
    zone = ZoneInfo(station.timezone)
    return and_(station_id == station.id, moment >= local_midnight(request.start, zone),
                moment < local_midnight(request.end + timedelta(days=1), zone))


def _spans(stations: list[Station], request: ReportRange) -> list[Select[Any]]:
    """Per station its first and last payment in the range: two index probes each."""
    def edge(order: Any, station: Station) -> Any:
        return (select(Payment.succeeded_at).where(
            Payment.status == PaymentStatus.succeeded.value,
            _received_between(station, request, Payment.station_id, Payment.succeeded_at))
                .order_by(order).limit(1).scalar_subquery())

    return [select(literal("span"), literal(s.id), cast(null(), Date), *(literal(0) for _ in METHOD_NAMES * 3),
                   edge(Payment.succeeded_at, s), edge(Payment.succeeded_at.desc(), s)) for s in stations]


async def _payment_report(session: AsyncSession, stations: list[Station], request: ReportRange,
                          granularity: Granularity, labels: list[date]) -> dict[str, Any]:
    rows = [] if not stations else (await session.execute(
        _payment_cells(stations, request, granularity, session.bind.dialect.name))).all()
    return _assemble_report(rows, stations, request, granularity, labels)


def _assemble_report(rows: list[Any], stations: list[Station], request: ReportRange, granularity: Granularity,
                     labels: list[date]) -> dict[str, Any]:
    """The PaymentReport document (plain data, encoded once by the caller) from the statement's rows."""
    zones = {s.id: ZoneInfo(s.timezone) for s in stations}
    per_period: dict[date, dict[str, list[int]]] = {}  # period -> method -> [count, gross, refunds]
    first: datetime | None = None
    last: datetime | None = None
    for kind, station_id, label, *figures, first_at, last_at in rows:
        if kind == "span":
            if first_at is not None:
                first_local, last_local = (_as_utc(first_at).astimezone(zones[station_id]),
                                           _as_utc(last_at).astimezone(zones[station_id]))
                first = first_local if first is None or first_local < first else first
                last = last_local if last is None or last_local > last else last
            continue
        methods = per_period.setdefault(label, {})
        for index, method in enumerate(METHOD_NAMES):
            count, gross, refunds = figures[3 * index:3 * index + 3]
            if gross or refunds:  # a method shows in a period only with money in or out
                totals = methods.setdefault(method, [0, 0, 0])
                totals[0], totals[1], totals[2] = totals[0] + count, totals[1] + gross, totals[2] + refunds
    overall: dict[str, list[int]] = {}
    for methods in per_period.values():
        for method, (count, gross, refunds) in methods.items():
            totals = overall.setdefault(method, [0, 0, 0])
            totals[0], totals[1], totals[2] = totals[0] + count, totals[1] + gross, totals[2] + refunds
    single = stations[0] if request.station_id is not None else None
    return {"station_id": request.station_id, "timezone": single.timezone if single else None,
            "granularity": granularity.value, "start": request.start, "end": request.end,
            "buckets": [_bucket(label, per_period.get(label, {})) for label in labels],
            "by_method": _methods(overall), "totals": _totals(overall),
            "first_payment_at": first, "last_payment_at": last}


def _as_utc(moment: datetime | str) -> datetime:
    """min()/max() over the UTC column: SQLite hands back its stored text, PostgreSQL a datetime."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _methods(figures: dict[str, list[int]]) -> list[dict[str, Any]]:
    return [{"method": method, "count": count, "gross_cents": gross, "refunds_cents": refunds,
             "net_cents": gross - refunds} for method, (count, gross, refunds) in sorted(figures.items())]


def _totals(methods: dict[str, list[int]]) -> dict[str, int]:
    gross = sum(f[1] for f in methods.values())
    refunds = sum(f[2] for f in methods.values())
    return {"gross_cents": gross, "refunds_cents": refunds, "net_cents": gross - refunds,
            "count": sum(f[0] for f in methods.values())}


def _bucket(label: date, methods: dict[str, list[int]]) -> dict[str, Any]:
    return {"period_start": label, **_totals(methods), "by_method": _methods(methods)}


# --- KPIs -----------------------------------------------------------------------------------------------------

KPI_MAX_DAYS = 3660


async def kpi_report(session: AsyncSession, cache: Cache, ttl: int, principal: Principal,
                     request: ReportRange) -> KpiReport:
    request.check(KPI_MAX_DAYS)
    scope = Scope.of(principal, request.station_id)
    stations = await scope.stations(session, single=request.station_id is not None)
    now = utcnow()
    return await cache.cached(
        "analytics.kpis", args={**request.as_args(), "today": _today_key(stations, now)}, scope=scope.key,
        tags=scope.tags(payments_tag, bookings_tag), ttl=ttl, result_type=KpiReport,
        compute=lambda: _kpi_report(session, stations, request, now))


def _today_key(stations: list[Station], now: datetime) -> list[str]:
    """"This week" and "upcoming" move with the clock: an entry is good for the local day it was computed on (and
    the TTL bounds how stale "upcoming" can get within it)."""
    return [now.astimezone(ZoneInfo(s.timezone)).date().isoformat() for s in stations]


def _scope_table(stations: list[Station], request: ReportRange, now: datetime):  # noqa: ANN202
    """Per station: the UTC edges of this local week and of this local month."""
    rows = []
    for station in stations:
        zone = ZoneInfo(station.timezone)
        today = now.astimezone(zone).date()
        rows.append((station.id, local_midnight(period_start(today, Granularity.week), zone),
                     local_midnight(period_start(today, Granularity.month), zone)))
    return values(column("station_id", BigInteger), column("week_from", UTCDateTime()),
                  column("month_from", UTCDateTime()), name="scope").data(rows).cte("scope")


def _kpi_rows(scope: Any, request: ReportRange, now: datetime) -> Any:
    """One statement of (metric, key, value) rows."""
    total = Booking.quote["total_cents"].as_integer() + Booking.fees_cents
    days = PaymentDayTotal  # what was received and refunded on the range's local days
    held = (BookingStatus.confirmed.value, BookingStatus.completed.value)
    decided = (*held, BookingStatus.no_show.value, BookingStatus.cancelled.value)
    in_scope = and_(Booking.station_id == scope.c.station_id)
    in_range = and_(in_scope, Booking.event_date >= request.start, Booking.event_date <= request.end)

    def bookings(metric: str, value: Any, *where: Any, key: Any = None) -> Select[Any]:
        return (select(literal(metric, String).label("metric"), (key if key is not None else null()).label("key"),
                       func.coalesce(value, 0).label("value"))
                .select_from(scope).join(Booking, and_(*where)))

    # Per booking of the range, through the index on payments.booking_id: not the whole ledger grouped first.
    paid = (select(func.sum(Payment.amount_cents))
            .where(Payment.booking_id == Booking.id, Payment.status == PaymentStatus.succeeded.value)
            .correlate(Booking).scalar_subquery())
    refunded = (select(func.sum(Refund.amount_cents))
                .join(Payment, Payment.id == Refund.payment_id)
                .where(Payment.booking_id == Booking.id, Refund.status == RefundStatus.succeeded.value)
                .correlate(Booking).scalar_subquery())
    owed = total - func.coalesce(paid, 0) + func.coalesce(refunded, 0)
    return union_all(
        bookings("status", func.count(), in_range, key=Booking.status).group_by(Booking.status),
        bookings("created_this_week", func.count(), in_scope, Booking.created_at >= scope.c.week_from),
        bookings("created_this_month", func.count(), in_scope, Booking.created_at >= scope.c.month_from),
        bookings("upcoming_events", func.count(), in_scope, Booking.status == BookingStatus.confirmed.value,
                 Booking.event_start >= now),
        bookings("guests_served", func.sum(Booking.adults + Booking.children + Booking.toddlers), in_range,
                 Booking.status == BookingStatus.completed.value),
        bookings("value_sum", func.sum(total), in_range, Booking.status.in_(held)),
        bookings("value_count", func.count(), in_range, Booking.status.in_(held)),
        bookings("decided", func.count(), in_range, Booking.status.in_(decided)),
        bookings("outstanding", func.sum(case((owed > 0, owed), else_=0)), in_range, Booking.status.in_(held)),
        *(select(literal(metric), null(), _summed(counter)).select_from(scope)
          .join(days, and_(days.station_id == scope.c.station_id, days.local_day >= request.start,
                           days.local_day <= request.end))
          for metric, counter in (("received", days.paid_cents), ("deposits", days.deposit_cents),
                                  ("refunded", days.refunded_cents))),
    )


async def _kpi_report(session: AsyncSession, stations: list[Station], request: ReportRange,
                      now: datetime) -> KpiReport:
    figures: dict[str, int] = defaultdict(int)
    by_status = {status: 0 for status in BookingStatus}
    if stations:
        for metric, key, value in (await session.execute(_kpi_rows(_scope_table(stations, request, now),
                                                                   request, now))).all():
            if metric == "status":
                by_status[BookingStatus(key)] += int(value)
            else:
                figures[metric] += int(value)
    cancelled = by_status[BookingStatus.cancelled]
    funnel = await funnel_counts(session, [s.id for s in stations], request.start, request.end)
    single = stations[0] if request.station_id is not None else None
    return KpiReport(
        station_id=request.station_id, timezone=single.timezone if single else None, start=request.start,
        end=request.end, bookings_by_status=by_status, created_this_week=figures["created_this_week"],
        created_this_month=figures["created_this_month"], upcoming_events=figures["upcoming_events"],
        guests_served=figures["guests_served"], revenue_cents=figures["received"] - figures["refunded"],
        deposits_collected_cents=figures["deposits"], outstanding_balance_cents=figures["outstanding"],
        average_booking_value_cents=_rounded_mean(figures["value_sum"], figures["value_count"]),
        cancellation_rate=round(cancelled / figures["decided"], 4) if figures["decided"] else None,
        quote_to_booking_conversion=funnel.conversion)


def _rounded_mean(total: int, count: int) -> int | None:
    return (2 * total + count) // (2 * count) if count else None  # half up, in whole cents
