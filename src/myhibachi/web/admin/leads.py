"""Admin pages of the leads pipeline: the board by status (cards moved by drag-and-drop or by buttons that post
forms), the filtered list, a lead's page (contact, score and probability factor by factor, timeline, notes,
assignment, follow-up in the station's time, lost with the station's reasons, "Start a booking") and staff entry.
Every change goes through the leads domain's commands; a refused move is said beside what was asked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.auth.queries import user_names
from myhibachi.core.errors import ValidationFailed
from myhibachi.core.web import PathId
from myhibachi.leads import commands, queries
from myhibachi.leads.commands import SOURCE_WORDS
from myhibachi.leads.models import STAFF_ACTIVITY_KINDS, Lead, LeadSource, LeadStatus
from myhibachi.leads.schemas import ActivityCreate, LeadCreate, LeadDetail, LeadUpdate
from myhibachi.pricing.queries import get_rules
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.fields import record_id
from myhibachi.web.forms import validated

router = APIRouter(include_in_schema=False)

DONE = {"moved": "The lead is moved.", "lost": "The lead is marked lost.", "logged": "Added to the timeline.",
        "assigned": "Owner saved.", "scheduled": "The follow-up is saved.",
        "created": "The lead is saved. A person who already had an open lead here gets the inquiry added to it."}
STATUS_WORDS = {LeadStatus.new: "New", LeadStatus.contacted: "Contacted", LeadStatus.qualified: "Qualified",
                LeadStatus.quoted: "Quoted", LeadStatus.won: "Won", LeadStatus.lost: "Lost"}
BAND_WORDS = {"hot": "Hot", "warm": "Warm", "cold": "Cold"}
ACTIVITY_WORDS = {"note": "Note", "call": "Call", "email": "Email", "sms": "Text message", "inquiry": "Inquiry",
                  "status": "Status", "assigned": "Owner", "follow_up": "Follow-up", "quote_viewed": "Quote viewed",
                  "reply": "Reply", "merged": "Merged"}
FACTOR_WORDS = {"source": "Where it came from", "completeness": "Details given", "party_size": "Party size",
                "timing": "Days to the event", "distance": "Distance", "engagement": "Engagement",
                "capacity": "Capacity on the date"}
LEAD_FORM_NAMES = {"": "email"}  # "give an email address or a phone number": said beside the email


def _words(value: str, table: dict[Any, str]) -> str:
    return table.get(value, value.replace("_", " ").capitalize())


def local_time(moment: datetime | None, zone: str) -> str:
    """A stored UTC instant as the station's people read it: "Mon Dec 7, 5:00 PM PST"."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %b} {local.day}, {local:%-I:%M %p %Z}"


def local_input(moment: datetime | None, zone: str) -> str:
    """The instant as a datetime-local field's value in the station's zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if moment else ""


def follow_up_at(text: str, zone: str) -> datetime | None:
    """A datetime-local field ("2026-12-08T09:30"), read in the station's zone, as UTC; None when left empty."""
    text = text.strip()
    if not text:
        return None
    try:
        typed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed.on("follow_up", "Give a date and a time, like 2026-12-08 09:30.") from None
    if typed.tzinfo is not None or not 2000 <= typed.year <= 2100:
        raise ValidationFailed.on("follow_up", "Give a date and a time, like 2026-12-08 09:30.")
    return typed.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)



def booking_link(lead: LeadDetail | Lead) -> str:
    """The site's booking flow with the lead's party filled in (the admin has no booking form of its own): staff
    book on the person's behalf there, and the lead is won when that booking's deposit is paid."""
    fields = {"station_id": lead.station_id, "zip_code": lead.zip_code, "adults": lead.guests,
              "event_date": lead.event_date.isoformat() if lead.event_date else None,
              "name": lead.name, "email": lead.email, "phone": lead.phone}
    return "/book?" + urlencode({k: v for k, v in fields.items() if v not in (None, "")})


async def _names(visit: Visit, station_id: int, leads: list[Any]) -> dict[int, str]:
    """Who owns each lead: the station's lead workers, and anyone else (a former one) by their name."""
    names = dict(await queries.assignable_staff(visit.session, station_id))
    missing = {lead.assignee_id for lead in leads if lead.assignee_id and lead.assignee_id not in names}
    if missing:
        names.update({uid: pair[0] for uid, pair in (await user_names(visit.session, missing)).items()})
    return names


async def _page(visit: Visit, template: str, *, title: str, station: Station, **context: Any) -> HTMLResponse:
    return await visit.page(f"leads/{template}", title=title, station=station, done=visit.notice(DONE),
                            status_words=STATUS_WORDS, band_words=BAND_WORDS, source_words=SOURCE_WORDS,
                            words=_words, when=lambda moment: local_time(moment, station.timezone),
                            **context)


# --- the board ---------------------------------------------------------------------------------------------------


async def _board(visit: Visit, trouble: Trouble | None = None, asked: dict[str, str] | None = None) -> Response:
    station = await visit.station()
    columns = await queries.lead_board(visit.session, visit.principal, station.id)
    every = [lead for column in columns for lead in column.leads]
    return await _page(visit, "board.html", title="Leads", station=station, columns=columns,
                       owners=await _names(visit, station.id, every),
                       next_move=lambda lead: queries.next_move(LeadStatus(lead.status)),
                       overdue=lambda lead: queries.is_overdue(lead, datetime.now(UTC)),
                       asked=asked or {}, **form_state(trouble))


@router.get("/admin/leads", response_class=HTMLResponse)
async def board(visit: AdminVisit) -> Response:
    return await _board(visit)


# --- the list ------------------------------------------------------------------------------------------------------


def _filters(params: dict[str, str], station_id: int) -> tuple[queries.LeadFilters, dict[str, str]]:
    """The list's filters from the query string; a value that is none of the choices is ignored."""
    def choice(name: str, allowed: set[str]) -> str | None:
        value = params.get(name, "")
        return value if value in allowed else None

    status = choice("status", {s.value for s in LeadStatus})
    band = choice("band", set(BAND_WORDS))
    source = choice("source", {s.value for s in LeadSource})
    assignee = params.get("assignee", "")
    q = " ".join(params.get("q", "").split())[:100] or None
    overdue = params.get("overdue") == "on"
    filters = queries.LeadFilters(station_id=station_id, status=LeadStatus(status) if status else None, band=band,
                                  source=source, assignee_id=record_id(assignee), unassigned=assignee == "none",
                                  overdue=overdue, q=q)
    shown = {"status": status or "", "band": band or "", "source": source or "", "q": q or "",
             "assignee": assignee if assignee == "none" or record_id(assignee) else "",
             "overdue": "on" if overdue else ""}
    return filters, shown


@router.get("/admin/leads/list", response_class=HTMLResponse)
async def lead_list(visit: AdminVisit) -> Response:
    station = await visit.station()
    params = dict(visit.request.query_params)
    filters, shown = _filters(params, station.id)
    cursor = params.get("cursor") or None
    rows, next_cursor = await queries.list_leads(visit.session, visit.principal, filters,
                                                 cursor=cursor[:200] if cursor else None)
    now = datetime.now(UTC)
    more = urlencode({**{k: v for k, v in shown.items() if v}, "station": station.id, "cursor": next_cursor}) \
        if next_cursor else None
    return await _page(visit, "list.html", title="Leads: list", station=station, leads=rows, filters=shown,
                       filtered=any(shown.values()), owners=await _names(visit, station.id, rows),
                       staff=await queries.assignable_staff(visit.session, station.id),
                       overdue=lambda lead: queries.is_overdue(lead, now), more=more,
                       statuses=list(LeadStatus), sources=list(LeadSource))


# --- staff entry ---------------------------------------------------------------------------------------------------

LEAD_FIELDS = ("name", "email", "phone", "event_date", "guests", "zip_code", "message")


async def _new_form(visit: Visit, form: dict[str, str] | None = None, trouble: Trouble | None = None) -> Response:
    station = await visit.station()
    queries.authorize_leads(visit.principal, station.id)
    values = {name: (form or {}).get(name, "") for name in LEAD_FIELDS}
    return await _page(visit, "new.html", title="New lead", station=station, values=values, **form_state(trouble))


@router.get("/admin/leads/new", response_class=HTMLResponse)
async def new_lead_form(visit: AdminVisit) -> Response:
    return await _new_form(visit)


@router.post("/admin/leads/new", response_class=HTMLResponse)
async def new_lead(visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        station = await visit.station()
        data = validated(LeadCreate, {"station_id": station.id,
                                       **{name: form.get(name, "").strip() or None for name in LEAD_FIELDS}},
                          LEAD_FORM_NAMES)
        lead = await commands.create_staff_lead(visit.session, visit.principal, data)
        return f"/admin/leads/{lead.id}?done=created"

    return await submit(visit, act=act, show=lambda form, trouble: _new_form(visit, form, trouble),
                        names=LEAD_FORM_NAMES)


# --- a lead --------------------------------------------------------------------------------------------------------


async def _lead_page(visit: Visit, lead_id: int, trouble: Trouble | None = None,
                     form: dict[str, str] | None = None, part: str = "") -> Response:
    detail = await queries.lead_detail(visit.session, visit.principal, lead_id)
    station = await get_station(visit.session, detail.station_id)
    staff = await queries.assignable_staff(visit.session, station.id)
    owners = await _names(visit, station.id, [detail])
    status = LeadStatus(detail.status)
    state = form_state(trouble)
    return await _page(
        visit, "detail.html", title=f"Lead: {detail.name}", station=station, lead=detail, staff=staff,
        owner=owners.get(detail.assignee_id) if detail.assignee_id else None, next_move=queries.next_move(status),
        is_open=status.is_open, booking_url=booking_link(detail), activity_kinds=STAFF_ACTIVITY_KINDS,
        activity_words=ACTIVITY_WORDS, factor_words=FACTOR_WORDS,
        score_bars=_bars([(f.factor, f.points) for f in detail.score_factors]),
        probability_bars=_bars([(f.factor, f.weight) for f in detail.probability_factors]),
        follow_up_value=local_input(detail.next_follow_up_at, station.timezone), zone=station.timezone,
        values=form or {}, part=part, **state)


def _bars(factors: list[tuple[str, float]]) -> list[tuple[str, float, int]]:
    """(factor, value, bar width in % of the largest value's) for a small bar beside each factor."""
    top = max([abs(value) for _, value in factors] + [0])
    return [(factor, value, round(100 * abs(value) / top) if top else 0) for factor, value in factors]


@router.get("/admin/leads/{lead_id}", response_class=HTMLResponse)
async def lead_page(lead_id: PathId, visit: AdminVisit) -> Response:
    return await _lead_page(visit, lead_id)


def _back(form: dict[str, str], lead: Lead, done: str) -> str:
    if form.get("back") == "board":
        return f"/admin/leads?station={lead.station_id}&done={done}"
    return f"/admin/leads/{lead.id}?done={done}"


async def _show(visit: Visit, lead_id: int, form: dict[str, str], trouble: Trouble, part: str) -> Response:
    """A refused form, shown again where it was sent from: the board or the lead's page."""
    if form.get("back") == "board":
        return await _board(visit, trouble, {"lead_id": str(lead_id), **form})
    return await _lead_page(visit, lead_id, trouble, form, part)


@router.post("/admin/leads/{lead_id}/move", response_class=HTMLResponse)
async def move_lead(lead_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        data = validated(LeadUpdate, {"status": form.get("status", ""),
                                       **({"lost_reason": form["lost_reason"]} if form.get("lost_reason") else {})})
        lead = await commands.update_lead(visit.session, visit.principal, lead_id, data)
        return _back(form, lead, "lost" if lead.status == LeadStatus.lost else "moved")

    return await submit(visit, act=act, show=lambda form, trouble: _show(visit, lead_id, form, trouble, "move"),
                        names={"lost_reason": "lost_reason"})


async def _lost_form(visit: Visit, lead_id: int, form: dict[str, str] | None = None,
                     trouble: Trouble | None = None) -> Response:
    lead = await queries.find_lead(visit.session, visit.principal, lead_id)
    station = await get_station(visit.session, lead.station_id)
    rules = await get_rules(visit.session, station.id)
    return await _page(visit, "lost.html", title=f"Lost: {lead.name}", station=station, lead=lead,
                       reasons=rules.lead_lost_reasons, is_open=LeadStatus(lead.status).is_open,
                       values=form or {}, back=(form or {}).get("back") or visit.request.query_params.get("back", ""),
                       **form_state(trouble))


@router.get("/admin/leads/{lead_id}/lost", response_class=HTMLResponse)
async def lost_form(lead_id: PathId, visit: AdminVisit) -> Response:
    return await _lost_form(visit, lead_id)


@router.post("/admin/leads/{lead_id}/lost", response_class=HTMLResponse)
async def mark_lost(lead_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        data = validated(LeadUpdate, {"status": LeadStatus.lost.value, "lost_reason": form.get("lost_reason") or None})
        lead = await commands.update_lead(visit.session, visit.principal, lead_id, data)
        return _back(form, lead, "lost")

    return await submit(visit, act=act, show=lambda form, trouble: _lost_form(visit, lead_id, form, trouble),
                        names={"lost_reason": "lost_reason"})


@router.post("/admin/leads/{lead_id}/activities", response_class=HTMLResponse)
async def log_activity(lead_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        data = validated(ActivityCreate, {"kind": form.get("kind", ""), "body": form.get("body", "")})
        lead = await commands.add_activity(visit.session, visit.principal, lead_id, data)
        return f"/admin/leads/{lead.id}?done=logged#timeline"

    return await submit(visit, act=act, show=lambda form, trouble: _lead_page(visit, lead_id, trouble, form, "log"))


@router.post("/admin/leads/{lead_id}/assign", response_class=HTMLResponse)
async def assign_lead(lead_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        chosen = form.get("assignee_id", "")
        if chosen and record_id(chosen) is None:
            raise ValidationFailed.on("assignee_id", "Choose someone from the list.")
        data = LeadUpdate.model_validate({"assignee_id": record_id(chosen)})
        lead = await commands.update_lead(visit.session, visit.principal, lead_id, data)
        return f"/admin/leads/{lead.id}?done=assigned"

    return await submit(visit, act=act, show=lambda form, trouble: _lead_page(visit, lead_id, trouble, form, "assign"),
                        names={"assignee_id": "assignee_id"})


@router.post("/admin/leads/{lead_id}/follow-up", response_class=HTMLResponse)
async def schedule_follow_up(lead_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        lead = await queries.find_lead(visit.session, visit.principal, lead_id)
        station = await get_station(visit.session, lead.station_id)
        moment = None if form.get("go") == "clear" else follow_up_at(form.get("follow_up", ""), station.timezone)
        lead = await commands.update_lead(visit.session, visit.principal, lead_id,
                                          LeadUpdate.model_validate({"next_follow_up_at": moment}))
        return f"/admin/leads/{lead.id}?done=scheduled"

    return await submit(visit, act=act,
                        show=lambda form, trouble: _lead_page(visit, lead_id, trouble, form, "follow_up"),
                        names={"next_follow_up_at": "follow_up"})
