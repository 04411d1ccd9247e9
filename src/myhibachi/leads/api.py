"""Lead routes (SPEC §7): the public door `POST /leads` (staff entry when signed in), and the staff's pipeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from myhibachi.auth.dependencies import CurrentPrincipal, OptionalPrincipal
from myhibachi.core.context import current_request_meta
from myhibachi.core.db import utcnow
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId, RuntimeDep
from myhibachi.leads import commands, queries
from myhibachi.leads.commands import Inquiry
from myhibachi.leads.models import LeadSource, LeadStatus
from myhibachi.leads.schemas import ActivityCreate, LeadCreate, LeadCreated, LeadDetail, LeadPage, LeadUpdate

public = APIRouter(tags=["leads"])
staff = APIRouter(prefix="/leads", tags=["leads"])
Id = Annotated[int, Query(ge=1, le=2**62)]


@public.post("/leads", summary="Ask us (a lead)", status_code=status.HTTP_201_CREATED, response_model=LeadCreated,
             responses=problem_responses(401, 403, 404, 422, 429),
             openapi_extra={"security": [{}]})  # the bearer token is optional: `{}` is OpenAPI's "or none"
async def create_lead(body: LeadCreate, session: DbSession, runtime: RuntimeDep,
                      principal: OptionalPrincipal) -> LeadCreated:
    """The public door: anyone may ask (one of email or phone required; at most `PUBLIC_FORM_POSTS_PER_IP` a
    window per address, 429 `rate_limited`). The same station, person and an open lead make one lead with a new
    activity; the contact's stored details never change. Signed in (Bearer), it is staff entry (`source: staff`,
    needs `engagement` at the station)."""
    if principal is not None:
        lead = await commands.create_staff_lead(session, principal, body)
    else:
        await runtime.public_form_posts_by_ip.reserve(current_request_meta().ip or "unknown")
        lead = await commands.capture_lead(session, Inquiry.of(body, LeadSource.contact_form))
    return LeadCreated(id=lead.id, status=LeadStatus(lead.status))


@staff.get("", summary="Leads", response_model=LeadPage, responses=problem_responses(401, 403, 404, 422))
async def list_leads(principal: CurrentPrincipal, session: DbSession, station_id: Id | None = None,
                     status_: Annotated[LeadStatus | None, Query(alias="status")] = None,
                     band: Annotated[str | None, Query(pattern="^(hot|warm|cold)$")] = None,
                     source: LeadSource | None = None, assignee_id: Id | None = None,
                     overdue: bool = False, q: Annotated[str | None, Query(max_length=100)] = None,
                     cursor: Annotated[str | None, Query(max_length=200)] = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> LeadPage:
    """Newest first, at the stations where the caller works leads (`engagement`). `q` finds a name, email or phone;
    `overdue` keeps open leads whose follow-up is past due."""
    filters = queries.LeadFilters(station_id=station_id, status=status_, band=band,
                                  source=source.value if source else None, assignee_id=assignee_id,
                                  overdue=overdue, q=q)
    rows, next_cursor = await queries.list_leads(session, principal, filters, cursor=cursor, limit=limit)
    now = utcnow()
    return LeadPage(items=[queries.lead_read(lead, now) for lead in rows], next_cursor=next_cursor)


@staff.get("/{lead_id}", summary="A lead", response_model=LeadDetail, responses=problem_responses(401, 404, 422))
async def get_lead(lead_id: PathId, principal: CurrentPrincipal, session: DbSession) -> LeadDetail:
    """With each score factor's points, what moved the learned probability, and the timeline (oldest first)."""
    return await queries.lead_detail(session, principal, lead_id)


@staff.patch("/{lead_id}", summary="Move, assign or schedule a lead", response_model=LeadDetail,
             responses=problem_responses(401, 404, 409, 422))
async def update_lead(lead_id: PathId, body: LeadUpdate, principal: CurrentPrincipal,
                      session: DbSession) -> LeadDetail:
    """Statuses move new → contacted → qualified → quoted, or from any open status to `lost` with a
    `lost_reason` from the station's list; `won` is the system's (the contact's booking has its deposit). Any
    other move: 409 `illegal_transition`. The assignee must be staff of the station who work leads. Audited and
    on the timeline."""
    lead = await commands.update_lead(session, principal, lead_id, body)
    return await queries.lead_detail(session, principal, lead.id)


@staff.post("/{lead_id}/activities", summary="Log a note, call, email or text", status_code=status.HTTP_201_CREATED,
            response_model=LeadDetail, responses=problem_responses(401, 404, 422))
async def add_activity(lead_id: PathId, body: ActivityCreate, principal: CurrentPrincipal,
                       session: DbSession) -> LeadDetail:
    """A note, or a call, email or text made outside the app: on the lead's timeline, with who logged it."""
    lead = await commands.add_activity(session, principal, lead_id, body)
    return await queries.lead_detail(session, principal, lead.id)
