"""The kitchen's prep list: for a station's local day (tomorrow unless another is asked for), the proteins, upgrades
and sides summed over the day's events, and each event with its allergies; printable. The bookings domain sums and
scopes it (`queries.prep_list`: a chef sees their own events only)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.bookings.queries import prep_list, reads_whole_station
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.db import utcnow
from myhibachi.web.admin.bookings.common import chef_names
from myhibachi.web.admin.pages import AdminVisit
from myhibachi.web.fields import day_of

router = APIRouter(include_in_schema=False)


@router.get("/admin/prep", response_class=HTMLResponse)
async def prep_page(visit: AdminVisit) -> Response:
    """`?station=` (the switcher's) and `?day=YYYY-MM-DD` (a station-local date; default tomorrow there)."""
    station = await visit.station()
    today = utcnow().astimezone(ZoneInfo(station.timezone)).date()
    asked = day_of(visit.request.query_params.get("day"))
    # Within the accepted years less a day at each end, so the previous and next days' links stay inside them.
    day = asked if asked and EARLIEST_DAY < asked < LATEST_DAY else today + timedelta(days=1)
    prep = await prep_list(visit.session, visit.principal, station.id, day)
    chefs = await chef_names(visit.session, station.id, {event.chef_id for event in prep.events})

    def link(other: object) -> str:
        return "/admin/prep?" + urlencode({"station": station.id, "day": str(other)})

    return await visit.page("prep.html", title=f"Prep list, {day:%a %b} {day.day}", station=station, prep=prep,
                            chefs=chefs, own_only=not reads_whole_station(visit.principal, station.id),
                            previous_url=link(day - timedelta(days=1)), next_url=link(day + timedelta(days=1)))
