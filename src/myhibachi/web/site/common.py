"""Rendering a customer page: the layout's context (brand, canonical URL, assets, money) and the CSRF cookie."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from myhibachi.core.money import format_money
from myhibachi.core.templating import render
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import label_of
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.schemas import StationPublic
from myhibachi.web.assets import asset_url
from myhibachi.web.forms import CSRF_FIELD, HONEYPOT_FIELD, csrf_token, keep_csrf_cookie


def brand_version(settings: Any) -> str:
    return hashlib.sha256(f"{settings.brand_primary_color}{settings.brand_ink_color}".encode()).hexdigest()[:10]


def clock(hhmm: str) -> str:
    """A station's "18:00" as customers read it: 6:00 PM."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return f"{(hours - 1) % 12 + 1}:{minutes:02d} {'AM' if hours < 12 else 'PM'}"


def page(request: Request, runtime: Any, template: str, *, title: str, description: str, status: int = 200,
         headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    settings = runtime.settings
    html = render(f"site/{template}", request_path=request.url.path, title=title, description=description,
                  brand_version=brand_version(settings),
                  canonical=f"{settings.base_url.rstrip('/')}{request.url.path}", brand=settings.brand_name,
                  settings=settings, asset=asset_url, clock=clock, money=format_money, label=label_of,
                  csrf_field=CSRF_FIELD, csrf_token=csrf_token(request), honeypot=HONEYPOT_FIELD, **context)
    response = HTMLResponse(html, status_code=status, headers=headers)
    keep_csrf_cookie(request, response)
    return response




async def missing_page(request: Request, runtime: Any, session: Any) -> HTMLResponse:
    """The 404 page, with a way back (the locations)."""
    from myhibachi.stations.queries import list_public_stations  # the pages' layer, not the layout's

    return page(request, runtime, "not_found.html", title="Page not found", status=404,
                description="This page does not exist.", stations=await list_public_stations(session))


@dataclass(frozen=True)
class SiteStation:
    """The station whose menu, prices and policies a customer page shows, and the open stations to switch to."""

    stations: list[StationPublic]
    station: StationPublic | None  # None: no station is open yet
    rules: BusinessRules | None


async def current_station(request: Request, session: Any) -> SiteStation:
    """The station a customer page is about: the one `?station=<code>` names, else the default (the first open
    station). The one place that decides it, so every page that shows a station's menu or policies names the same
    one (remembering a visitor's station belongs here)."""
    from myhibachi.stations.queries import list_public_stations  # the pages' layer, not the layout's

    stations = await list_public_stations(session)
    code = request.query_params.get("station", "")[:10].upper()
    chosen = next((s for s in stations if code and s.code == code), stations[0] if stations else None)
    return SiteStation(stations, chosen, await get_rules(session, chosen.id) if chosen else None)
