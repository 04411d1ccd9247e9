"""A station's bookings as a list, a week and a month (a chef's "My events"): the same scoped, paginated query as
`GET /api/v1/bookings`, drawn three ways."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.auth.principal import Principal
from myhibachi.bookings import queries
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.queries import BookingFilter, list_bookings, read_bookings_for
from myhibachi.bookings.schemas import BookingRead, ChefBookingRead
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.db import utcnow
from myhibachi.core.errors import ValidationFailed
from myhibachi.payments.queries import may_read_payments
from myhibachi.stations.models import Station
from myhibachi.web.admin.bookings.common import chef_names, words
from myhibachi.web.admin.pages import AdminVisit, Visit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.admin.session import chosen_station
from myhibachi.web.fields import day_of, whole_number

router = APIRouter(include_in_schema=False)
VIEWS = ("list", "week", "month")
PAGE_SIZE, MAX_PAGE_SIZE = 25, 100
# The accepted years less a month at each end, so a calendar's previous and next month stay inside them.
FIRST_DAY, LAST_DAY = EARLIEST_DAY + timedelta(days=31), LATEST_DAY - timedelta(days=31)
CALENDAR_BATCH, CALENDAR_BATCHES = 200, 10  # a calendar shows at most 2,000 events of a station


def _status(text: str | None) -> BookingStatus | None:
    try:
        return BookingStatus(text) if text else None
    except ValueError:
        return None


def _sane_day(text: str | None) -> date | None:
    """A date typed in a URL, within the years the API accepts (so a calendar never steps off the end of time)."""
    day = day_of(text)
    return day if day is not None and FIRST_DAY <= day <= LAST_DAY else None


def _day_param(params: Any, name: str, default: date | None) -> date | None:
    """Absent: the default; present but blank: no limit (the field was cleared); nonsense: the default."""
    if name not in params:
        return default
    text = params[name].strip()
    return None if not text else (_sane_day(text) or default)


def _page_size(text: str | None) -> int:
    size = whole_number(text)
    return min(size, MAX_PAGE_SIZE) if size else PAGE_SIZE


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
            "chefs": await chef_names(visit.session, station.id, {i.chef_id for i in items}),
            "next_url": _link(station, **keep, cursor=next_cursor) if next_cursor else None,
            "first_url": _link(station, **keep) if cursor else None}


async def _week_view(visit: Visit, station: Station, status: BookingStatus | None, today: date) -> dict[str, Any]:
    day = _sane_day(visit.request.query_params.get("day")) or today
    start = day - timedelta(days=day.isoweekday() % 7)  # weeks start on Sunday, as in the booking calendar
    days = [start + timedelta(days=n) for n in range(7)]
    items = await _events_between(visit.session, visit.principal, station, days[0], days[-1], status)
    state = status.value if status else None
    return {"days": days, "by_day": _by_day(items), "items": items,
            "chefs": await chef_names(visit.session, station.id, {i.chef_id for i in items}),
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
            "chefs": await chef_names(visit.session, station.id, {i.chef_id for i in items}),
            "previous_url": _link(station, view="month", month=f"{_months_later(month, -1):%Y-%m}", status=state),
            "next_url": _link(station, view="month", month=f"{_months_later(month, 1):%Y-%m}", status=state),
            "current_url": _link(station, view="month", status=state)}


VIEW_BUILDERS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "list": _list_view, "week": _week_view, "month": _month_view}


@router.get("/admin/bookings", response_class=HTMLResponse)
async def bookings_index(visit: AdminVisit) -> Response:
    params = visit.request.query_params
    station = chosen_station(visit.request, visit.principal, await staff_stations(visit.session, visit.principal))
    view = params.get("view", "list") if params.get("view", "list") in VIEWS else "list"
    context: dict[str, Any] = {"view": view, "status_filter": None, "message": None, "today": None}
    if station is None:
        return await visit.page("bookings/index.html", title="Bookings", heading="Bookings", station=None, **context)
    status = _status(params.get("status"))
    today = utcnow().astimezone(ZoneInfo(station.timezone)).date()
    context.update(await VIEW_BUILDERS[view](visit, station, status, today))
    heading = "Bookings" if queries.reads_whole_station(visit.principal, station.id) else "My events"
    context.update(status_filter=status, today=today, statuses=list(BookingStatus),
                   view_urls={v: _link(station, view=v) for v in VIEWS})
    return await visit.page("bookings/index.html", title=heading, heading=heading, station=station, words=words,
                            with_money=may_read_payments(visit.principal, station.id),
                            **context)
