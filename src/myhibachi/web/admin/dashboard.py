"""The dashboard: KPIs and revenue for the chosen station and dates, upcoming events with the ones still
without a chef flagged, kept current by server-sent events; and where the browser reports its errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from myhibachi.analytics.queries import ReportRange, kpi_report, payment_report_json
from myhibachi.analytics.schemas import Granularity, PaymentReport
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.bookings.queries import (
    BookingFilter,
    list_bookings,
    read_bookings_for,
    reads_own_events,
    reads_whole_station,
)
from myhibachi.core.changes import Changes
from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError
from myhibachi.core.observability import report_error_message
from myhibachi.core.web import RuntimeDep
from myhibachi.leads import queries as lead_queries
from myhibachi.reviews.queries import open_tasks
from myhibachi.stations.models import Station
from myhibachi.web.admin.bookings.common import chef_names
from myhibachi.web.admin.bookings.today import card_context, my_events
from myhibachi.web.admin.charts import bar_chart
from myhibachi.web.admin.leads import local_time
from myhibachi.web.admin.pages import AdminVisit, Visit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.admin.session import CSRF_HEADER, Staff, csrf_ok
from myhibachi.web.admin.tasks import task_clock
from myhibachi.web.fields import day_of

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)
UPCOMING_DAYS, UNSTAFFED_DAYS = 14, 7
HEARTBEAT_SECONDS, STREAM_SECONDS = 20.0, 30 * 60  # EventSource reconnects by itself after a stream ends


def _range(request: Request, today: date) -> tuple[date, date, Granularity]:
    """The dates asked for (the last 30 days by default), sane whatever was typed."""
    def day(name: str, default: date) -> date:
        return day_of(request.query_params.get(name)) or default

    start, end = day("start", today - timedelta(days=29)), day("end", today)
    if end < start:
        start, end = end, start
    start = max(start, end - timedelta(days=3 * 366))
    try:
        granularity = Granularity(request.query_params.get("granularity", "day"))
    except ValueError:
        granularity = Granularity.day
    return start, end, granularity


async def _figures(session: Any, runtime: Any, principal: Principal, station: Station, start: date, end: date,
                   granularity: Granularity) -> dict[str, Any]:
    if not principal.can(Permission.analytics_read, station.id):
        return {}
    settings, cache = runtime.settings, runtime.cache
    scope = ReportRange(station_id=station.id, start=start, end=end)
    kpis = await kpi_report(session, cache, settings.cache_ttl_kpis_seconds, principal, scope)
    report = PaymentReport.model_validate_json(await payment_report_json(
        session, cache, settings.cache_ttl_analytics_seconds, principal, scope, granularity))
    chart = bar_chart([(bucket.period_start.isoformat(), bucket.net_cents) for bucket in report.buckets])
    return {"kpis": kpis, "report": report, "chart": chart}


async def _upcoming(session: Any, principal: Principal, station: Station, today: date) -> list[Any]:
    if not (principal.can(Permission.bookings_read, station.id) or
            principal.can(Permission.bookings_read_own, station.id)):
        return []
    rows, _ = await list_bookings(session, principal, BookingFilter(
        station_id=station.id, date_from=today, date_to=today + timedelta(days=UPCOMING_DAYS)), cursor=None,
        limit=50)
    return await read_bookings_for(session, principal, [b for b in rows if b.is_open])


async def _leads(visit: Visit, station: Station, start: date, end: date) -> dict[str, Any]:
    """The lead panels, for who works leads at the chosen station: follow-ups due today at any of their stations
    (each station's local today, overdue ones too), hot leads nobody owns, and the chosen station's funnel."""
    principal, session = visit.principal, visit.session
    if not lead_queries.works_leads(principal, station.id):
        return {}
    stations = await staff_stations(session, principal)
    due = await lead_queries.follow_ups_due(session, principal, stations)
    hot = await lead_queries.hot_leads_without_owner(session, principal, [s.id for s in stations])
    funnel = await lead_queries.funnel_counts(session, [station.id], start, end)
    steps = [("Quotes", funnel.quotes), ("Leads", funnel.leads), ("Holds", funnel.holds),
             ("Deposits", funnel.deposits)]
    now, zones = utcnow(), {s.id: s.timezone for s in stations}
    return {"leads": {"due": due, "hot": hot, "funnel": funnel, "funnel_chart": bar_chart(steps),
                      "names": {s.id: s.name for s in stations}, "several": len(stations) > 1,
                      "overdue": {lead.id for lead in due if lead_queries.is_overdue(lead, now)},
                      "when": lambda lead: local_time(lead.next_follow_up_at, zones[lead.station_id])}}


async def _tasks(visit: Visit, station: Station) -> dict[str, Any]:
    """The "Tasks due" panel (call-backs after a low rating), for who works contacts at the chosen station: the
    open tasks of every station where they do, soonest due first."""
    if not lead_queries.works_leads(visit.principal, station.id):
        return {}
    stations = await staff_stations(visit.session, visit.principal)
    return {"tasks": {"open": await open_tasks(visit.session, visit.principal), "when": task_clock(stations),
                      "now": utcnow()}}


@router.get("/admin", response_class=HTMLResponse)
async def dashboard(visit: AdminVisit) -> Response:
    station, principal, session = await visit.chosen(), visit.principal, visit.session
    context: dict[str, Any] = {"station": station, "figures": {}, "upcoming": [], "cards": None, "leads": {}}
    if station is not None:
        today = utcnow().astimezone(ZoneInfo(station.timezone)).date()
        start, end, granularity = _range(visit.request, today)
        try:
            context["figures"] = await _figures(session, visit.runtime, principal, station, start, end, granularity)
        except DomainError as exc:  # e.g. too many periods for the granularity: say so, show the rest
            context["range_error"] = exc.detail
        context.update(await _leads(visit, station, start, end))
        context.update(await _tasks(visit, station))
        upcoming = await _upcoming(session, principal, station, today)
        context.update(upcoming=upcoming, today=today, start=start, end=end, granularity=granularity.value,
                       flag_until=today + timedelta(days=UNSTAFFED_DAYS),
                       whole_station=reads_whole_station(principal, station.id),
                       chefs=await chef_names(session, station.id, {b.chef_id for b in upcoming}))
        if reads_own_events(principal, station.id):
            context.update(cards=await my_events(visit, station), **card_context())  # a chef's, for a phone
    return await visit.page("dashboard.html", title="Dashboard", **context)


def _visible(principal: Principal, tags: frozenset[str]) -> list[str]:
    """The changed tags of stations this staff member works at (a tag ends with its station's id)."""
    return sorted(tag for tag in tags
                  if (sid := tag.rpartition(":")[2]).isdigit() and principal.role_at(int(sid)) is not None)


async def change_stream(request: Request, changes: Changes, principal: Principal, *,
                        lifetime: float = STREAM_SECONDS) -> AsyncIterator[str]:
    """Server-sent events: `change` with the changed tags, a comment now and then so proxies keep it open."""
    deadline = asyncio.get_running_loop().time() + lifetime
    async with changes.subscribe() as queue:
        yield "retry: 3000\n\n"
        while asyncio.get_running_loop().time() < deadline and not await request.is_disconnected():
            try:
                tags = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ": still here\n\n"
                continue
            if visible := _visible(principal, tags):
                yield f"event: change\ndata: {json.dumps(visible)}\n\n"


@router.get("/admin/events")
async def events(request: Request, principal: Staff, runtime: RuntimeDep) -> StreamingResponse:
    return StreamingResponse(change_stream(request, runtime.changes, principal), media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no"})


class ClientError(BaseModel):
    message: Annotated[str, Field(max_length=2000)]
    url: Annotated[str, Field(max_length=2000)] = ""
    source: Annotated[str | None, Field(max_length=2000)] = None
    line: int | None = None
    column: int | None = None
    stack: Annotated[str | None, Field(max_length=8000)] = None
    request_id: Annotated[str | None, Field(max_length=64)] = None


@router.post("/admin/client-errors", status_code=204)
async def client_error(request: Request, principal: Staff, body: ClientError) -> Response:
    """A script error in an admin page: logged with the page's request id, and sent to Sentry when configured."""
    if not csrf_ok(request, request.headers.get(CSRF_HEADER, "")):
        return Response(status_code=403)
    log.warning("client_error", **body.model_dump(), user_id=principal.user_id)
    report_error_message(f"Browser error: {body.message}")
    return Response(status_code=204)
