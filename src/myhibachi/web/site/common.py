"""Rendering a customer page: the layout's context (brand, canonical URL, assets, money), the CSRF cookie, and the
station whose menu and policies a page shows (`current_station`, remembered in a cookie)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from myhibachi.core.money import format_money
from myhibachi.core.templating import render
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import label_of
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.queries import list_public_stations
from myhibachi.stations.schemas import StationPublic
from myhibachi.web.assets import asset_url
from myhibachi.web.forms import CSRF, CSRF_FIELD, HONEYPOT_FIELD, BrowserToken


def brand_version(settings: Any) -> str:
    return hashlib.sha256(f"{settings.brand_primary_color}{settings.brand_ink_color}".encode()).hexdigest()[:10]


def clock(hhmm: str) -> str:
    """A station's "18:00" as customers read it: 6:00 PM."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return f"{(hours - 1) % 12 + 1}:{minutes:02d} {'AM' if hours < 12 else 'PM'}"


def duration(minutes: int) -> str:
    """How long something lasts, in words: "1 hour 30 minutes"."""
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    parts += [f"{rest} minute{'s' if rest != 1 else ''}"] if rest or not hours else []
    return " ".join(parts)


def page(request: Request, runtime: Any, template: str, *, title: str, description: str, status: int = 200,
         headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    settings = runtime.settings
    html = render(f"site/{template}", request_path=request.url.path, title=title, description=description,
                  brand_version=brand_version(settings),
                  canonical=f"{settings.base_url.rstrip('/')}{request.url.path}", brand=settings.brand_name,
                  settings=settings, asset=asset_url, clock=clock, duration=duration, money=format_money,
                  label=label_of, csrf_field=CSRF_FIELD, csrf_token=CSRF.read(request), honeypot=HONEYPOT_FIELD,
                  **context)
    response = HTMLResponse(html, status_code=status, headers=headers)
    CSRF.keep(request, response)
    keep_station_cookie(request, response)
    VISITOR.keep(request, response)
    return response


# The station a visitor's venue ZIP code picked (or that they asked for): its code, for a year. Not personal (a code
# any visitor may pick), so no consent is needed; HttpOnly since no script reads it.
STATION_COOKIE = "mh_station"
STATION_COOKIE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class SiteStation:
    """The station whose menu, prices and policies a customer page shows, and the open stations to switch to."""

    stations: list[StationPublic]
    station: StationPublic | None  # None: no station is open yet
    rules: BusinessRules | None


async def current_station(request: Request, session: Any) -> SiteStation:
    """The one place that decides which open station a customer page is about (its menu, prices and policies): the
    one `?station=CODE` asks for (remembered from then on), else the one remembered in the visitor's cookie (the
    last station their venue ZIP code picked), else the first. `station` is None while no station is open."""
    stations = await list_public_stations(session)
    by_code = {station.code: station for station in stations}
    asked = by_code.get(request.query_params.get("station", "").strip().upper()[:16])
    if asked:
        remember_station(request, asked)
    chosen = asked or by_code.get(request.cookies.get(STATION_COOKIE, "").upper()[:16]) or \
        (stations[0] if stations else None)
    return SiteStation(stations, chosen, await get_rules(session, chosen.id) if chosen else None)


def remember_station(request: Request, station: StationPublic) -> None:
    """The page about to be rendered (`page`) sets the cookie, so the next page shows this station too."""
    if request.cookies.get(STATION_COOKIE) != station.code:
        request.state.remembered_station = station.code


def keep_station_cookie(request: Request, response: Response) -> None:
    code = getattr(request.state, "remembered_station", None)
    if code:
        response.set_cookie(STATION_COOKIE, code, max_age=STATION_COOKIE_SECONDS, httponly=True, samesite="lax",
                            path="/", secure=request.url.scheme == "https")


async def missing_page(request: Request, runtime: Any, session: Any) -> HTMLResponse:
    """The 404 page, with a way back (the locations)."""
    return page(request, runtime, "not_found.html", title="Page not found", status=404,
                description="This page does not exist.", stations=await list_public_stations(session))




# One visit of the quote and booking flow, for the funnel (a quote per visit) and the abandoned-flow lead: a random
# key, for the browser session only.
VISITOR = BrowserToken("mh_visit")
