"""Admin pages of newsletters: the campaigns of the switcher's station (status, recipients, sent, open and click
rates), a campaign's page (the editor with a live preview in a sandboxed frame, the segment picker with its live
count, a test send, send now or at a time in the station's zone, pause/resume/cancel as the domain offers them, and
the stats with a chart of opens and clicks over time), and the segments with their rules editor and live count.
Every change goes through the newsletters domain's commands; which moves a campaign offers is the domain's answer
(`CampaignRead.actions`), never restated here."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from myhibachi.auth.permissions import Permission, who_may
from myhibachi.core.errors import ValidationFailed
from myhibachi.core.http import APP_CSP
from myhibachi.core.templating import render
from myhibachi.core.web import PathId
from myhibachi.newsletters import commands, queries
from myhibachi.newsletters.models import CampaignStatus
from myhibachi.newsletters.schemas import (
    CampaignAction,
    CampaignCancel,
    CampaignCreate,
    CampaignRead,
    CampaignSend,
    CampaignStats,
    CampaignTest,
    CampaignUpdate,
    SegmentCreate,
    SegmentUpdate,
)
from myhibachi.newsletters.segments import SegmentRules
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.charts import grouped_bar_chart
from myhibachi.web.admin.leads import local_input, local_time
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.fields import record_id
from myhibachi.web.forms import FormProblem, plain, validated

router = APIRouter(include_in_schema=False)
P = Permission
# The editor's preview is the email itself in a sandboxed frame (no script, no same-origin): its inlined styles and
# <style> block need inline styles, and its pictures may live anywhere on the web. The rest of the policy stays.
PREVIEW_CSP = APP_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "img-src 'self' data:", "img-src 'self' data: https:")
DONE = {"created": "The draft is saved.", "saved": "Saved.", "tested": "The test is on its way.",
        "sending": "Sending has started.", "scheduled": "The campaign is scheduled.", "paused": "Paused.",
        "resumed": "Resumed.", "cancelled": "The campaign is cancelled.", "segment_saved": "The segment is saved."}
STATUS_WORDS = {CampaignStatus.draft: "Draft", CampaignStatus.scheduled: "Scheduled",
                CampaignStatus.sending: "Sending", CampaignStatus.paused: "Paused", CampaignStatus.sent: "Sent",
                CampaignStatus.cancelled: "Cancelled"}
CAMPAIGN_FIELDS = ("name", "subject", "body_markdown", "segment_id")
CUSTOMER_WORDS = {"": "Anyone", "past_customer": "Had an event here", "upcoming": "Has an event coming",
                  "never_booked": "Never booked here"}
BANDS = ("hot", "warm", "cold")
LEAD_STATUSES = ("new", "contacted", "qualified", "quoted", "won", "lost")
MOVE_DONE = {"send": "sending", "pause": "paused", "resume": "resumed", "cancel": "cancelled", "test": "tested"}



def rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


async def _page(visit: Visit, template: str, *, title: str, station: Station, **context: Any) -> HTMLResponse:
    return await visit.page(f"campaigns/{template}", title=title, station=station, done=visit.notice(DONE),
                            status_words=STATUS_WORDS, rate=rate,
                            when=lambda moment: local_time(moment, station.timezone), **context)


# --- the list --------------------------------------------------------------------------------------------------------


@router.get("/admin/campaigns", response_class=HTMLResponse)
async def campaign_list(visit: AdminVisit) -> Response:
    station = await visit.station()
    cursor = visit.request.query_params.get("cursor") or None
    items, next_cursor = await queries.list_campaigns(visit.session, visit.principal, station_id=station.id,
                                                      cursor=cursor if cursor and cursor.isdigit() else None)
    return await _page(visit, "list.html", title="Campaigns", station=station, campaigns=items, more=next_cursor,
                       may_send=visit.principal.can(P.newsletters_send, station.id),
                       who_sends=who_may(P.newsletters_send))


# --- the live parts (htmx): the preview while typing, the count of a chosen segment ------------------------------


@router.post("/admin/campaigns/preview", response_class=HTMLResponse)
async def live_preview(visit: AdminVisit) -> Response:
    """The editor's preview as typed (saves nothing): the email in a sandboxed frame."""
    async def act(form: dict[str, str]) -> Response:
        station_id = record_id(form.get("station_id"))
        if station_id is None:
            raise ValidationFailed("No station.")
        queries.authorize_reading(visit.principal, station_id)
        station = await get_station(visit.session, station_id)
        html = _preview_html(visit, station, form.get("subject", ""), form.get("body_markdown", ""))
        return visit.send(HTMLResponse(html))

    async def refused(_: dict[str, str], trouble: Trouble | None) -> Response:
        assert trouble is not None
        return Response(trouble.message, status_code=trouble.status, media_type="text/plain")

    return await submit(visit, act=act, show=refused)


@router.get("/admin/segments/count", response_class=HTMLResponse)
async def audience_count(visit: AdminVisit) -> Response:
    """How many a chosen segment reaches today (the campaign editor's picker)."""
    segment_id = record_id(visit.request.query_params.get("segment_id"))
    html = render("admin/campaigns/_audience.html", audience=await _audience_count(visit, segment_id))
    return visit.send(HTMLResponse(html))


@router.post("/admin/segments/preview", response_class=HTMLResponse)
async def live_count(visit: AdminVisit) -> Response:
    """The rules editor's count as typed (saves nothing)."""
    async def act(form: dict[str, str]) -> Response:
        station_id = record_id(form.get("station_id"))
        if station_id is None:
            raise ValidationFailed("No station.")
        try:
            rules = rules_of(form)
        except FormProblem as problem:
            return visit.send(HTMLResponse(render("admin/campaigns/_audience.html", audience=None,
                                                  problem=problem.detail)))
        preview = await queries.audience_preview(visit.session, visit.principal, station_id, rules)
        return visit.send(HTMLResponse(render("admin/campaigns/_audience.html", audience=preview.count)))

    async def refused(_: dict[str, str], trouble: Trouble | None) -> Response:
        assert trouble is not None
        return Response(trouble.message, status_code=trouble.status, media_type="text/plain")

    return await submit(visit, act=act, show=refused)


# --- the editor: new, and a campaign's page ---------------------------------------------------------------------------


async def _segment_choices(visit: Visit, station: Station) -> list[tuple[int, str]]:
    return [(s.id, s.name) for s in await queries.list_segments(visit.session, visit.principal, station.id)]


async def _audience_count(visit: Visit, segment_id: int | None) -> int | None:
    if segment_id is None:
        return None
    return (await queries.segment_audience_preview(visit.session, visit.principal, segment_id)).count


def _preview_html(visit: Visit, station: Station, subject: str, body: str) -> str:
    rendered = queries.render_preview(visit.runtime.settings, station, subject, body)
    return render("admin/campaigns/_preview.html", html=rendered.html)


async def _editor(visit: Visit, station: Station, values: dict[str, str], trouble: Trouble | None = None,
                  campaign: CampaignRead | None = None, **context: Any) -> HTMLResponse:
    context = {"part": "", "asked": {}, "may_test": visit.principal.can(P.newsletters_send, station.id),
               **context}
    return await _page(
        visit, "campaign.html", title=f"Campaign: {campaign.name}" if campaign else "New campaign",
        station=station, campaign=campaign, values=values, segments=await _segment_choices(visit, station),
        audience=await _audience_count(visit, record_id(values.get("segment_id"))),
        preview=_preview_html(visit, station, values.get("subject", ""), values.get("body_markdown", "")),
        headers={"Content-Security-Policy": PREVIEW_CSP}, **form_state(trouble), **context)


@router.get("/admin/campaigns/new", response_class=HTMLResponse)
async def new_campaign_form(visit: AdminVisit) -> Response:
    station = await visit.station()
    visit.principal.authorize(P.newsletters_send, station.id)
    chosen = visit.request.query_params.get("segment_id", "")
    return await _editor(visit, station, {"name": "", "subject": "", "body_markdown": "", "segment_id": chosen})


def _campaign_fields(form: dict[str, str]) -> dict[str, Any]:
    return {"name": form.get("name", ""), "subject": form.get("subject", ""),
            "body_markdown": form.get("body_markdown", ""), "segment_id": record_id(form.get("segment_id"))}


@router.post("/admin/campaigns/new", response_class=HTMLResponse)
async def create_campaign(visit: AdminVisit) -> Response:
    station = await visit.station()

    async def act(form: dict[str, str]) -> str:
        data = validated(CampaignCreate, {"station_id": station.id, **_campaign_fields(form)})
        campaign = await commands.create_campaign(visit.session, visit.principal, data)
        return f"/admin/campaigns/{campaign.id}?done=created"

    async def show(form: dict[str, str], trouble: Trouble | None) -> Response:  # the rollback expired `station`
        return await _editor(visit, await visit.station(), form, trouble)

    return await submit(visit, act=act, show=show)


def _chart(activity: Any, zone: str) -> Any:
    fmt = "%b %-d, %-I %p" if activity.granularity == "hour" else "%b %-d"
    return grouped_bar_chart(["Opens", "Clicks"], [
        (b.start.astimezone(ZoneInfo(zone)).strftime(fmt), [b.opens, b.clicks]) for b in activity.buckets])


async def _campaign_page(visit: Visit, campaign_id: int, form: dict[str, str] | None = None,
                         trouble: Trouble | None = None, part: str = "") -> Response:
    campaign = await queries.campaign_detail(visit.session, visit.principal, campaign_id)
    station = await get_station(visit.session, campaign.station_id)
    saved = {"name": campaign.name, "subject": campaign.subject, "body_markdown": campaign.body_markdown,
             "segment_id": str(campaign.segment_id or "")}
    activity = await queries.campaign_activity(visit.session, visit.principal, campaign_id)
    values = {**saved, **(form or {})} if part == "edit" else saved
    return await _editor(visit, station, values, trouble, campaign, part=part, asked=form or {},
                         chart=_chart(activity, station.timezone), granularity=activity.granularity,
                         stats=campaign.stats or CampaignStats(), zone=station.timezone,
                         send_at_value=local_input(campaign.send_at, station.timezone))


@router.get("/admin/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(campaign_id: PathId, visit: AdminVisit) -> Response:
    return await _campaign_page(visit, campaign_id)


@router.post("/admin/campaigns/{campaign_id}", response_class=HTMLResponse)
async def save_campaign(campaign_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        data = validated(CampaignUpdate, _campaign_fields(form))
        await commands.update_campaign(visit.session, visit.principal, campaign_id, data)
        return f"/admin/campaigns/{campaign_id}?done=saved"

    return await submit(visit, act=act,
                        show=lambda form, trouble: _campaign_page(visit, campaign_id, form, trouble, "edit"))


def send_at_of(text: str, zone: str) -> datetime:
    """The schedule field (datetime-local, the station's time) as an aware instant."""
    try:
        typed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed.on("send_at", "Give a date and a time, like 2026-12-08 09:30.") from None
    if typed.tzinfo is not None or not 2000 <= typed.year <= 2999:
        raise ValidationFailed.on("send_at", "Give a date and a time, like 2026-12-08 09:30.")
    return typed.replace(tzinfo=ZoneInfo(zone))


async def _move(visit: Visit, campaign_id: int, action: str, form: dict[str, str]) -> None:
    """One of the campaign's moves, or a test, through its command."""
    session, principal = visit.session, visit.principal
    if action == "test":
        await commands.send_test(session, visit.runtime.settings, principal, campaign_id,
                                 validated(CampaignTest, {"email": form.get("email", "")}),
                                 visit.runtime.campaign_tests_by_user)
    elif action == CampaignAction.send:
        campaign = await queries.find_campaign(session, principal, campaign_id)
        station = await get_station(session, campaign.station_id)
        send_at = None if form.get("go") == "now" else send_at_of(form.get("send_at", ""), station.timezone)
        await commands.send_campaign(session, principal, campaign_id, CampaignSend(send_at=send_at))
    elif action == CampaignAction.pause:
        await commands.pause_campaign(session, principal, campaign_id)
    elif action == CampaignAction.resume:
        await commands.resume_campaign(session, principal, campaign_id)
    else:
        await commands.cancel_campaign(session, principal, campaign_id,
                                       validated(CampaignCancel, {"reason": form.get("reason", "")}))


@router.post("/admin/campaigns/{campaign_id}/{action}", response_class=HTMLResponse)
async def move_campaign(campaign_id: PathId, action: str, visit: AdminVisit) -> Response:
    if action not in MOVE_DONE:
        raise ValidationFailed("No such action.")

    async def act(form: dict[str, str]) -> str:
        await _move(visit, campaign_id, action, form)
        done = MOVE_DONE[action]
        if action == "send" and form.get("go") != "now":
            done = "scheduled"
        return f"/admin/campaigns/{campaign_id}?done={done}"

    return await submit(visit, act=act, names={"send_at": "send_at"},
                        show=lambda form, trouble: _campaign_page(visit, campaign_id, form, trouble, action))


# --- segments -------------------------------------------------------------------------------------------------------


def rules_of(form: dict[str, str]) -> SegmentRules:
    """The rules editor's fields (dates, ticked bands and statuses, comma-separated zip codes and tags) as rules."""
    def listed(name: str) -> list[str] | None:
        values = [v.strip() for v in form.get(name, "").replace("\n", ",").split(",") if v.strip()]
        return values or None

    fields = {"customer_status": form.get("customer_status") or None,
              "last_event_before": form.get("last_event_before") or None,
              "last_event_after": form.get("last_event_after") or None,
              "lead_band": [b for b in BANDS if form.get(f"band_{b}")] or None,
              "lead_status": [s for s in LEAD_STATUSES if form.get(f"status_{s}")] or None,
              "zip_prefix": listed("zip_prefix"), "tags": listed("tags")}
    errors: dict[str, str] = {}
    try:
        return SegmentRules.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            if error["loc"]:
                errors.setdefault(str(error["loc"][0]), plain(error["msg"]))
            else:  # the one rule about two fields
                errors.setdefault("last_event_before", "Choose an “after” day earlier than the “before” day.")
        raise FormProblem(422, "Please check the highlighted rules.", errors) from None


def rules_values(rules: SegmentRules) -> dict[str, str]:
    values = {"customer_status": rules.customer_status or "",
              "last_event_before": rules.last_event_before.isoformat() if rules.last_event_before else "",
              "last_event_after": rules.last_event_after.isoformat() if rules.last_event_after else "",
              "zip_prefix": ", ".join(rules.zip_prefix or []), "tags": ", ".join(rules.tags or [])}
    values |= {f"band_{b}": "on" for b in rules.lead_band or []}
    values |= {f"status_{s.value}": "on" for s in rules.lead_status or []}
    return values


@router.get("/admin/segments", response_class=HTMLResponse)
async def segment_list(visit: AdminVisit) -> Response:
    station = await visit.station()
    segments = await queries.list_segments(visit.session, visit.principal, station.id)
    counts = {s.id: await _audience_count(visit, s.id) for s in segments}
    return await _page(visit, "segments.html", title="Segments", station=station, segments=segments,
                       counts=counts, may_send=visit.principal.can(P.newsletters_send, station.id))


async def _segment_page(visit: Visit, station: Station, segment_id: int | None, values: dict[str, str],
                        trouble: Trouble | None = None) -> HTMLResponse:
    count = None
    with contextlib.suppress(FormProblem):  # rules that do not hold together: the errors are beside the fields
        count = (await queries.audience_preview(visit.session, visit.principal, station.id, rules_of(values))).count
    return await _page(visit, "segment.html", title="Segment" if segment_id else "New segment", station=station,
                       segment_id=segment_id, values=values, audience=count, customer_words=CUSTOMER_WORDS,
                       bands=BANDS, lead_statuses=LEAD_STATUSES, **form_state(trouble))


@router.get("/admin/segments/new", response_class=HTMLResponse)
async def new_segment_form(visit: AdminVisit) -> Response:
    station = await visit.station()
    visit.principal.authorize(P.newsletters_send, station.id)
    return await _segment_page(visit, station, None, {"name": ""})


@router.post("/admin/segments/new", response_class=HTMLResponse)
async def create_segment(visit: AdminVisit) -> Response:
    station = await visit.station()

    async def act(form: dict[str, str]) -> str:
        data = validated(SegmentCreate, {"station_id": station.id, "name": form.get("name", ""),
                                          "rules": rules_of(form)})
        segment = await commands.create_segment(visit.session, visit.principal, data)
        return f"/admin/segments/{segment.id}?done=segment_saved"

    async def show(form: dict[str, str], trouble: Trouble | None) -> Response:  # the rollback expired `station`
        return await _segment_page(visit, await visit.station(), None, form, trouble)

    return await submit(visit, act=act, show=show)


@router.get("/admin/segments/{segment_id}", response_class=HTMLResponse)
async def segment_page(segment_id: PathId, visit: AdminVisit) -> Response:
    segment = await queries.find_segment(visit.session, visit.principal, segment_id)
    station = await get_station(visit.session, segment.station_id)
    rules = SegmentRules.model_validate(segment.rules)
    return await _segment_page(visit, station, segment.id, {"name": segment.name, **rules_values(rules)})


@router.post("/admin/segments/{segment_id}", response_class=HTMLResponse)
async def save_segment(segment_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        data = validated(SegmentUpdate, {"name": form.get("name", ""), "rules": rules_of(form)})
        await commands.update_segment(visit.session, visit.principal, segment_id, data)
        return f"/admin/segments/{segment_id}?done=segment_saved"

    async def show(form: dict[str, str], trouble: Trouble | None) -> Response:
        segment = await queries.find_segment(visit.session, visit.principal, segment_id)
        station = await get_station(visit.session, segment.station_id)
        return await _segment_page(visit, station, segment_id, form, trouble)

    return await submit(visit, act=act, show=show)
