"""Rendering an admin page: the layout's context (the menu this role may use, the station switcher, the CSRF
token for forms and htmx) and the sliding renewal of the sign-in cookie."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.core.context import current_request_meta
from myhibachi.core.errors import DomainError
from myhibachi.core.money import format_money
from myhibachi.core.templating import render
from myhibachi.pricing.quote import label_of
from myhibachi.stations.models import Station
from myhibachi.web.admin.session import STATION_COOKIE, admin_csrf_token, chosen_station, start_session
from myhibachi.web.assets import asset_url
from myhibachi.web.forms import CSRF, CSRF_FIELD
from myhibachi.web.site.common import clock

P = Permission


@dataclass(frozen=True)
class MenuItem:
    href: str
    label: str
    any_of: tuple[Permission, ...]  # shown when the role has one of these somewhere; () = everyone


MENU = (
    MenuItem("/admin", "Dashboard", ()),
    MenuItem("/admin/today", "Today", (P.bookings_read, P.bookings_read_own)),
    MenuItem("/admin/bookings", "Bookings", (P.bookings_read, P.bookings_read_own)),
    MenuItem("/admin/prep", "Kitchen prep", (P.bookings_read, P.bookings_read_own)),
    MenuItem("/admin/leads", "Leads", (P.engagement,)),
    MenuItem("/admin/inbox", "Inbox", (P.engagement,)),
    MenuItem("/admin/campaigns", "Campaigns", (P.engagement,)),
    MenuItem("/admin/automations", "Automations", (P.engagement,)),
    MenuItem("/admin/subscribers", "Subscribers", (P.engagement,)),
    MenuItem("/admin/payments", "Payments", (P.payments_read,)),
    MenuItem("/admin/chefs", "Chefs", (P.chefs_manage, P.chefs_own_time_off)),
    MenuItem("/admin/stations", "Stations and rules", (P.stations_manage, P.rules_manage)),
    MenuItem("/admin/users", "Users", (P.users_manage,)),
    MenuItem("/admin/audit", "Audit log", (P.audit_read,)),
    MenuItem("/admin/settings", "My account", ()),
)


def menu_for(principal: Principal) -> list[MenuItem]:
    """What this staff member may open; the routes check again (a hidden link is not a permission)."""
    items = [item for item in MENU if not item.any_of or any(principal.has_anywhere(p) for p in item.any_of)]
    if not principal.has_anywhere(P.bookings_read) and principal.has_anywhere(P.bookings_read_own):
        items = [MenuItem(i.href, "My events", i.any_of) if i.href == "/admin/bookings" else i for i in items]
    if not principal.has_anywhere(P.chefs_manage) and principal.has_anywhere(P.chefs_own_time_off):
        items = [MenuItem(i.href, "My time off", i.any_of) if i.href == "/admin/chefs" else i for i in items]
    return items


def may_search(principal: Principal) -> bool:
    """Whether the layout offers the bookings search: to whoever reads bookings somewhere (a chef: their own)."""
    return principal.has_anywhere(P.bookings_read) or principal.has_anywhere(P.bookings_read_own)


def offers_live_chat(principal: Principal) -> bool:
    """Whether the layout carries the live chat widget (web/admin/live_chat.py): for whoever works the inbox
    somewhere; its routes check again."""
    return principal.has_anywhere(P.engagement)


async def staff_stations(session: Any, principal: Principal) -> list[Station]:
    """The stations this staff member works at (every one for a super admin), by name."""
    stmt = select(Station).order_by(Station.name)
    if not principal.is_super_admin:
        stmt = stmt.where(Station.id.in_(list(principal.roles)))
    return list(await session.scalars(stmt))


async def admin_page(request: Request, runtime: Any, session: Any, principal: Principal, template: str, *,
                     title: str, status: int = 200, headers: dict[str, str] | None = None,
                     **context: Any) -> HTMLResponse:
    stations = await staff_stations(session, principal)
    station = context.pop("station", None) or chosen_station(request, principal, stations)
    html = render(f"admin/{template}", request_path=request.url.path, title=title, principal=principal,
                  menu=menu_for(principal), stations=stations, station=station, brand=runtime.settings.brand_name,
                  settings=runtime.settings, asset=asset_url, money=format_money, clock=clock,
                  label=context.pop("label", label_of), csrf_field=CSRF_FIELD, csrf_token=admin_csrf_token(request),
                  searchable=may_search(principal), search_text=context.pop("search_text", ""),
                  live_chat=offers_live_chat(principal),
                  request_id=current_request_meta().request_id or "", **context)
    response = HTMLResponse(html, status_code=status, headers=headers)
    finish(request, response, runtime)
    if station is not None and request.query_params.get("station") == str(station.id):
        response.set_cookie(STATION_COOKIE, str(station.id), httponly=True, samesite="lax", path="/admin",
                            secure=request.url.scheme == "https")
    return response


def finish(request: Request, response: Any, runtime: Any) -> None:
    """What every admin response carries: a new CSRF cookie if one was minted, a renewed sign-in cookie."""
    CSRF.keep(request, response)
    renew = getattr(request.state, "renew_admin_session", None)
    if renew:
        start_session(request, response, runtime.settings, *renew)


async def refusal_page(request: Request, runtime: Any, session: Any, principal: Principal,
                       exc: DomainError) -> HTMLResponse:
    """A page this role may not open (403), a record outside its stations (404) or a step the record's state rules
    out (409, 422), said as a page."""
    heading = {403: "Not allowed", 404: "Not found"}.get(exc.status, "Not possible")
    return await admin_page(request, runtime, session, principal, "denied.html", title=heading, status=exc.status,
                            heading=heading, detail=exc.detail)
