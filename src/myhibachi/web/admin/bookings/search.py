"""The search box of every admin page: bookings by reference, customer name, email or phone, among those the
staff member may read (a chef: their own events), answered by the bookings domain's `search_bookings`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.bookings.queries import LONGEST_SEARCH, SHORTEST_SEARCH, reads_whole_station, search_bookings
from myhibachi.web.admin.bookings.common import phone_shown
from myhibachi.web.admin.pages import AdminVisit
from myhibachi.web.admin.render import staff_stations

router = APIRouter(include_in_schema=False)


@router.get("/admin/search", response_class=HTMLResponse)
async def search(visit: AdminVisit) -> Response:
    typed = visit.request.query_params.get("q", "")[:LONGEST_SEARCH * 2]
    found = await search_bookings(visit.session, visit.principal, typed)
    stations = {s.id: s.name for s in await staff_stations(visit.session, visit.principal)}
    return await visit.page("search.html", title=f"Search: {found.text}" if found.text else "Search",
                            found=found, search_text=found.text, station_names=stations,
                            whole_station=reads_whole_station(visit.principal),
                            several_stations=len(stations) > 1, shortest=SHORTEST_SEARCH, phone=phone_shown)
