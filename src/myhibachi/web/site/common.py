"""Rendering a customer page: the layout's context (brand, canonical URL, assets, money) and the CSRF cookie."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from myhibachi.core.money import format_money
from myhibachi.core.templating import render
from myhibachi.pricing.quote import label_of
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
