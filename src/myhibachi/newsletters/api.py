"""Newsletter routes (SPEC §7): segments with their audience preview, and campaigns from draft to sent — edit,
preview, test, send now or at a time, pause, resume, cancel — with their stats and activity. Read with `engagement`
("leads") at the station, written with `newsletters.send`; another station's records do not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from myhibachi.auth.dependencies import CurrentPrincipal
from myhibachi.auth.schemas import Reason
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId, RuntimeDep
from myhibachi.newsletters import commands, queries
from myhibachi.newsletters.models import CampaignStatus
from myhibachi.newsletters.schemas import (
    AudiencePreview,
    AudiencePreviewRequest,
    CampaignActivity,
    CampaignCancel,
    CampaignCreate,
    CampaignPage,
    CampaignPreviewRequest,
    CampaignRead,
    CampaignSend,
    CampaignTest,
    CampaignTestSent,
    CampaignUpdate,
    RenderedPreview,
    SegmentCreate,
    SegmentList,
    SegmentRead,
    SegmentUpdate,
)

segments = APIRouter(prefix="/segments", tags=["newsletters"])
campaigns = APIRouter(prefix="/campaigns", tags=["newsletters"])
StationQuery = Annotated[int, Query(ge=1, le=2**62)]
READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)
SEND_EXAMPLES = {"now": {"summary": "Send now", "value": {}},
                 "later": {"summary": "Send at a time", "value": {"send_at": "2026-12-05T17:00:00Z"}}}


# --- segments ------------------------------------------------------------------------------------------------------


@segments.post("", summary="Save a segment", status_code=status.HTTP_201_CREATED, response_model=SegmentRead,
               responses=READ_ERRORS)
async def create_segment(body: SegmentCreate, principal: CurrentPrincipal, session: DbSession) -> SegmentRead:
    """Rules over the station's people (SPEC §7), each one given must hold: `customer_status`,
    `last_event_before` / `last_event_after` (their latest event here), `lead_band`, `lead_status`, `zip_prefix`,
    `tags`. Read afresh whenever it is used. Needs `newsletters.send`; audited."""
    return queries.segment_read(await commands.create_segment(session, principal, body))


@segments.get("", summary="A station's segments", response_model=SegmentList, responses=READ_ERRORS)
async def list_segments(station_id: StationQuery, principal: CurrentPrincipal, session: DbSession) -> SegmentList:
    """By name."""
    return SegmentList(items=[queries.segment_read(s)
                              for s in await queries.list_segments(session, principal, station_id)])


@segments.post("/preview", summary="Who rules would reach (not saved)", response_model=AudiencePreview,
               responses=READ_ERRORS)
async def preview_rules(body: AudiencePreviewRequest, principal: CurrentPrincipal,
                        session: DbSession) -> AudiencePreview:
    """The segment editor's live count: how many people these rules pick who may receive marketing today
    (confirmed, not suppressed, not opted out of the station or of news), and the first few. Saves nothing."""
    return await queries.audience_preview(session, principal, body.station_id, body.rules)


@segments.get("/{segment_id}", summary="A segment", response_model=SegmentRead, responses=READ_ERRORS)
async def get_segment(segment_id: PathId, principal: CurrentPrincipal, session: DbSession) -> SegmentRead:
    """Its name and rules."""
    return queries.segment_read(await queries.find_segment(session, principal, segment_id))


@segments.patch("/{segment_id}", summary="Rename a segment or change its rules", response_model=SegmentRead,
                responses=READ_ERRORS)
async def update_segment(segment_id: PathId, body: SegmentUpdate, principal: CurrentPrincipal,
                         session: DbSession) -> SegmentRead:
    """Campaigns that have not started yet follow the new rules. Needs `newsletters.send`; audited."""
    return queries.segment_read(await commands.update_segment(session, principal, segment_id, body))


@segments.delete("/{segment_id}", summary="Delete a segment", status_code=status.HTTP_204_NO_CONTENT,
                 responses=WRITE_ERRORS)
async def delete_segment(segment_id: PathId, reason: Annotated[Reason, Query()], principal: CurrentPrincipal,
                         session: DbSession) -> Response:
    """Refused with 409 `segment_in_use` while a campaign that may still send uses it. A reason is required;
    audited."""
    await commands.delete_segment(session, principal, segment_id, reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@segments.get("/{segment_id}/preview", summary="Who a segment reaches today", response_model=AudiencePreview,
              responses=READ_ERRORS)
async def preview_segment(segment_id: PathId, principal: CurrentPrincipal, session: DbSession) -> AudiencePreview:
    """`count` and a `sample` of the people a campaign to it would go to if it were sent now: picked by the rules,
    confirmed, not suppressed, not opted out."""
    return await queries.segment_audience_preview(session, principal, segment_id)


# --- campaigns -----------------------------------------------------------------------------------------------------


@campaigns.post("", summary="Write a campaign (a draft)", status_code=status.HTTP_201_CREATED,
                response_model=CampaignRead, responses=READ_ERRORS)
async def create_campaign(body: CampaignCreate, principal: CurrentPrincipal, session: DbSession) -> CampaignRead:
    """A draft: its body is markdown (raw HTML is shown as text), rendered into the station's branded email with a
    plain-text part. `segment_id` must be a segment of the same station. Needs `newsletters.send`; audited."""
    campaign = await commands.create_campaign(session, principal, body)
    return await queries.campaign_read(session, principal, campaign)


@campaigns.get("", summary="Campaigns", response_model=CampaignPage, responses=READ_ERRORS)
async def list_campaigns(principal: CurrentPrincipal, session: DbSession, station_id: StationQuery | None = None,
                         status_: Annotated[CampaignStatus | None, Query(alias="status")] = None,
                         cursor: Annotated[str | None, Query(max_length=20)] = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50) -> CampaignPage:
    """Newest first, at the stations where you read them, each with its stats."""
    items, next_cursor = await queries.list_campaigns(session, principal, station_id=station_id, status=status_,
                                                      cursor=cursor, limit=limit)
    return CampaignPage(items=items, next_cursor=next_cursor)


@campaigns.post("/preview", summary="Render an email (not saved)", response_model=RenderedPreview,
                responses=READ_ERRORS)
async def preview_draft(body: CampaignPreviewRequest, principal: CurrentPrincipal, session: DbSession,
                        runtime: RuntimeDep) -> RenderedPreview:
    """The editor's live preview: the subject and markdown as typed, rendered in the station's brand (HTML with
    its CSS inlined, and the plain-text part). Saves nothing."""
    rendered = await queries.preview_draft(session, runtime.settings, principal, body.station_id, body.subject,
                                           body.body_markdown)
    return RenderedPreview(subject=rendered.subject, html=rendered.html, text=rendered.text)


@campaigns.get("/{campaign_id}", summary="A campaign", response_model=CampaignRead, responses=READ_ERRORS)
async def get_campaign(campaign_id: PathId, principal: CurrentPrincipal, session: DbSession) -> CampaignRead:
    """With its stats, counted from its recipients (fixed when sending starts), and the moves it allows now."""
    return await queries.campaign_detail(session, principal, campaign_id)


@campaigns.patch("/{campaign_id}", summary="Edit a campaign", response_model=CampaignRead, responses=WRITE_ERRORS)
async def update_campaign(campaign_id: PathId, body: CampaignUpdate, principal: CurrentPrincipal,
                          session: DbSession) -> CampaignRead:
    """A draft or scheduled campaign only (else 409 `illegal_transition`). Needs `newsletters.send`; audited."""
    campaign = await commands.update_campaign(session, principal, campaign_id, body)
    return await queries.campaign_read(session, principal, campaign)


@campaigns.get("/{campaign_id}/preview", summary="A campaign's email, rendered", response_model=RenderedPreview,
               responses=READ_ERRORS)
async def preview_campaign(campaign_id: PathId, principal: CurrentPrincipal, session: DbSession,
                           runtime: RuntimeDep) -> RenderedPreview:
    """As a recipient would get it, in the station's brand (links untracked, the unsubscribe link a placeholder)."""
    rendered = await queries.preview_campaign(session, runtime.settings, principal, campaign_id)
    return RenderedPreview(subject=rendered.subject, html=rendered.html, text=rendered.text)


@campaigns.get("/{campaign_id}/activity", summary="Opens and clicks over time", response_model=CampaignActivity,
               responses=READ_ERRORS)
async def campaign_activity(campaign_id: PathId, principal: CurrentPrincipal,
                            session: DbSession) -> CampaignActivity:
    """Per hour of the station's time while the activity spans its first 48 hours, then per day."""
    return await queries.campaign_activity(session, principal, campaign_id)


@campaigns.post("/{campaign_id}/test", summary="Send a test", status_code=status.HTTP_202_ACCEPTED,
                response_model=CampaignTestSent, responses=problem_responses(401, 403, 404, 422, 429))
async def send_test(campaign_id: PathId, body: CampaignTest, principal: CurrentPrincipal, session: DbSession,
                    runtime: RuntimeDep) -> CampaignTestSent:
    """The email as a recipient would get it, to any address, with "[Test]" before the subject and a placeholder's
    unsubscribe headers. At most 20 an hour per staff member (429 `rate_limited`). Needs `newsletters.send`."""
    return await commands.send_test(session, runtime.settings, principal, campaign_id, body,
                                    runtime.campaign_tests_by_user)


@campaigns.post("/{campaign_id}/send", summary="Send now or at a time", response_model=CampaignRead,
                responses=WRITE_ERRORS)
async def send_campaign(campaign_id: PathId, principal: CurrentPrincipal, session: DbSession,
                        body: Annotated[CampaignSend | None, Body(openapi_examples=SEND_EXAMPLES)] = None,
                        ) -> CampaignRead:
    """A draft or scheduled campaign: without `send_at` it becomes `sending` and the job queue starts; with a
    future `send_at` (at most a year ahead) it becomes `scheduled`. 409 `no_segment` without a segment, 409
    `empty_audience` when nobody in it may receive it today. Audited."""
    campaign = await commands.send_campaign(session, principal, campaign_id, body or CampaignSend())
    return await queries.campaign_read(session, principal, campaign)


@campaigns.post("/{campaign_id}/pause", summary="Pause", response_model=CampaignRead, responses=WRITE_ERRORS)
async def pause_campaign(campaign_id: PathId, principal: CurrentPrincipal, session: DbSession) -> CampaignRead:
    """A scheduled or sending campaign stops where it is (`paused`). Audited."""
    campaign = await commands.pause_campaign(session, principal, campaign_id)
    return await queries.campaign_read(session, principal, campaign)


@campaigns.post("/{campaign_id}/resume", summary="Resume", response_model=CampaignRead, responses=WRITE_ERRORS)
async def resume_campaign(campaign_id: PathId, principal: CurrentPrincipal, session: DbSession) -> CampaignRead:
    """A paused campaign goes on: back to `scheduled` while its time is ahead and it has not started, else
    `sending` to whoever is left. Audited."""
    campaign = await commands.resume_campaign(session, principal, campaign_id)
    return await queries.campaign_read(session, principal, campaign)


@campaigns.post("/{campaign_id}/cancel", summary="Cancel", response_model=CampaignRead, responses=WRITE_ERRORS)
async def cancel_campaign(campaign_id: PathId, body: CampaignCancel, principal: CurrentPrincipal,
                          session: DbSession) -> CampaignRead:
    """Nothing more of it goes out (those who got it keep it). A reason is required; audited."""
    campaign = await commands.cancel_campaign(session, principal, campaign_id, body)
    return await queries.campaign_read(session, principal, campaign)
