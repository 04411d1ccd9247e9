"""The station's run sheet: today's or this week's events as cards a phone can work from — when, where (with a
map link), for whom, who cooks, allergies and, where the station's chefs collect balances, what to collect. A chef
sees their own events only; everything comes from the bookings domain's `event_schedule`."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.bookings.queries import event_schedule, reads_whole_station
from myhibachi.bookings.schemas import ScheduledEvent
from myhibachi.core.db import utcnow
from myhibachi.stations.models import Station
from myhibachi.web.admin.bookings.common import map_link, phone_shown
from myhibachi.web.admin.pages import AdminVisit, Visit

router = APIRouter(include_in_schema=False)
RANGES = {"today": ("Today", 1), "week": ("This week", 7)}  # the days shown from the station's today
NEXT_DAYS = 14  # a chef's landing page: their events of today and the next two weeks


def station_today(station: Station) -> date:
    return utcnow().astimezone(ZoneInfo(station.timezone)).date()


def by_day(events: list[ScheduledEvent]) -> dict[date, list[ScheduledEvent]]:
    days: dict[date, list[ScheduledEvent]] = defaultdict(list)
    for event in events:  # in start order already
        days[event.event_date].append(event)
    return dict(days)


def card_context() -> dict[str, Any]:
    """What the event cards (templates/admin/bookings/_card.html) need besides the events."""
    return {"map_link": map_link, "phone": phone_shown}


async def my_events(visit: Visit, station: Station) -> dict[str, Any]:
    """A chef's landing page: their events today, then their next ones (the page adds `card_context()`)."""
    today = station_today(station)
    events = await event_schedule(visit.session, visit.principal, station.id, today,
                                  today + timedelta(days=NEXT_DAYS))
    return {"today_events": [e for e in events if e.event_date == today],
            "next_events": [e for e in events if e.event_date > today], "today": today}


@router.get("/admin/today", response_class=HTMLResponse)
async def run_sheet(visit: AdminVisit) -> Response:
    station = await visit.station()
    chosen = visit.request.query_params.get("range", "today")
    span = chosen if chosen in RANGES else "today"
    label, days = RANGES[span]
    today = station_today(station)
    events = await event_schedule(visit.session, visit.principal, station.id, today,
                                  today + timedelta(days=days - 1))
    whole = reads_whole_station(visit.principal, station.id)
    return await visit.page(
        "bookings/today.html", title=label, heading=label, station=station, span=span, today=today,
        days=[today + timedelta(days=n) for n in range(days)], by_day=by_day(events), events=events,
        whole_station=whole, collects=station.chefs_collect_balance,
        range_urls={key: "/admin/today?" + urlencode({"station": station.id, "range": key}) for key in RANGES},
        ranges=RANGES, **card_context())
