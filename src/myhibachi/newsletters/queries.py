"""Reading newsletters: a station's segments and who they reach today, campaigns with their stats and the moves
their status allows, the rendered preview, and opens and clicks over time. Read with `engagement` ("leads") at the
station; another station's segment or campaign does not exist for the reader."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.core.db import MAX_ID, utcnow
from myhibachi.core.errors import NotFound, ValidationFailed
from myhibachi.newsletters.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientState,
    Segment,
    TrackingEvent,
    TrackingKind,
)
from myhibachi.newsletters.rendering import Brand, RenderedEmail, render_marketing_email
from myhibachi.newsletters.schemas import (
    ActivityBucket,
    AudienceMember,
    AudiencePreview,
    CampaignAction,
    CampaignActivity,
    CampaignRead,
    CampaignStats,
    CampaignSummary,
    SegmentRead,
)
from myhibachi.newsletters.segments import SegmentRules, segment_audience
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station

P = Permission
SAMPLE_SIZE = 10
HOURLY_SPAN = timedelta(hours=48)  # activity is drawn by the hour while it spans this, then by the day
# The statuses each move starts from (SPEC §7): the one statement of the campaign's state machine.
MOVES_FROM: dict[CampaignAction, frozenset[CampaignStatus]] = {
    CampaignAction.edit: frozenset({CampaignStatus.draft, CampaignStatus.scheduled}),
    CampaignAction.send: frozenset({CampaignStatus.draft, CampaignStatus.scheduled}),
    CampaignAction.pause: frozenset({CampaignStatus.scheduled, CampaignStatus.sending}),
    CampaignAction.resume: frozenset({CampaignStatus.paused}),
    CampaignAction.cancel: frozenset({CampaignStatus.draft, CampaignStatus.scheduled, CampaignStatus.sending,
                                      CampaignStatus.paused}),
}
UNFINISHED = MOVES_FROM[CampaignAction.cancel]  # may still send: a segment they use is needed
MOVE_WORDS = {CampaignAction.edit: "edited", CampaignAction.send: "sent", CampaignAction.pause: "paused",
              CampaignAction.resume: "resumed", CampaignAction.cancel: "cancelled"}


def station_today(station: Station, now: datetime | None = None) -> date:
    """The station's local date: what "past" and "upcoming" mean in its segments."""
    return (now or utcnow()).astimezone(ZoneInfo(station.timezone)).date()


def postal_address(station: Station) -> str:
    return f"{station.address_line1}, {station.city}, {station.state} {station.zip_code}"


def brand_of(settings: Settings, station: Station) -> Brand:
    return Brand.of(settings, station.name, postal_address(station))


def move_problem(action: CampaignAction, status: CampaignStatus) -> str | None:
    """Why a campaign in `status` cannot be `action`ed, or None."""
    if status in MOVES_FROM[action]:
        return None
    allowed = " or ".join(sorted(s.value for s in MOVES_FROM[action]))
    return f"Only a {allowed} campaign can be {MOVE_WORDS[action]}; this one is {status.value}."


def authorize_reading(principal: Principal, station_id: int | None) -> None:
    """Segments and campaigns are read with `engagement` ("leads") at their station."""
    principal.authorize(P.engagement, station_id)


Found = TypeVar("Found", Segment, Campaign)


async def _find_readable(session: AsyncSession, principal: Principal, model: type[Found], record_id: int, noun: str,
                         for_update: bool) -> Found:
    """The record, if the principal reads its station's; another station's answers 404 as if absent."""
    stmt = select(model).where(model.id == record_id).execution_options(populate_existing=True)
    record = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if record is None:
        raise NotFound(f"No such {noun}.")
    if not principal.can(P.engagement, record.station_id):
        raise principal.hide(P.engagement, record.station_id, f"No such {noun}.")
    return record


# --- segments ------------------------------------------------------------------------------------------------------


async def find_segment(session: AsyncSession, principal: Principal, segment_id: int, *,
                       for_update: bool = False) -> Segment:
    return await _find_readable(session, principal, Segment, segment_id, "segment", for_update)


def segment_read(segment: Segment) -> SegmentRead:
    return SegmentRead(id=segment.id, station_id=segment.station_id, name=segment.name,
                       rules=SegmentRules.model_validate(segment.rules), created_at=segment.created_at)


async def list_segments(session: AsyncSession, principal: Principal, station_id: int) -> list[Segment]:
    """The station's segments by name."""
    authorize_reading(principal, station_id)
    return list(await session.scalars(select(Segment).where(Segment.station_id == station_id)
                                      .order_by(Segment.name, Segment.id)))


async def audience_preview(session: AsyncSession, principal: Principal, station_id: int, rules: SegmentRules, *,
                           sample_size: int = SAMPLE_SIZE) -> AudiencePreview:
    """How many a campaign to these rules would reach today, and the first few of them."""
    authorize_reading(principal, station_id)
    station = await get_station(session, station_id)
    audience = segment_audience(station.id, rules, station_today(station))
    count = await session.scalar(select(func.count()).select_from(audience.order_by(None).subquery()))
    sample = (await session.execute(audience.limit(sample_size))).all()
    return AudiencePreview(count=count or 0, sample=[AudienceMember(contact_id=cid, email=email)
                                                     for cid, email in sample])


async def segment_audience_preview(session: AsyncSession, principal: Principal, segment_id: int) -> AudiencePreview:
    segment = await find_segment(session, principal, segment_id)
    return await audience_preview(session, principal, segment.station_id,
                                  SegmentRules.model_validate(segment.rules))


# --- campaigns -----------------------------------------------------------------------------------------------------


async def find_campaign(session: AsyncSession, principal: Principal, campaign_id: int, *,
                        for_update: bool = False) -> Campaign:
    return await _find_readable(session, principal, Campaign, campaign_id, "campaign", for_update)


async def campaign_stats(session: AsyncSession, campaign_ids: list[int]) -> dict[int, CampaignStats]:
    """Each campaign's figures, counted from its recipient rows in one grouped query."""
    if not campaign_ids:
        return {}
    r = CampaignRecipient
    rows = await session.execute(
        select(r.campaign_id, func.count(),
               func.count().filter(r.state == RecipientState.sent.value),
               func.count().filter(r.state == RecipientState.failed.value),
               func.count(r.opened_at), func.count(r.clicked_at), func.count(r.unsubscribed_at),
               func.count(r.bounced_at), func.count(r.complained_at))
        .where(r.campaign_id.in_(campaign_ids)).group_by(r.campaign_id))
    names = list(CampaignStats.model_fields)
    found = {row[0]: CampaignStats(**dict(zip(names, row[1:], strict=True))) for row in rows}
    return {cid: found.get(cid, CampaignStats()) for cid in campaign_ids}


def available_actions(principal: Principal, campaign: Campaign) -> list[CampaignAction]:
    """The moves its status allows, when the principal may make them (`newsletters.send` at its station)."""
    if not principal.can(P.newsletters_send, campaign.station_id):
        return []
    status = CampaignStatus(campaign.status)
    return [action for action in CampaignAction if status in MOVES_FROM[action]]


def _summary_fields(principal: Principal, campaign: Campaign, stats: CampaignStats) -> dict[str, object]:
    return {"id": campaign.id, "station_id": campaign.station_id, "name": campaign.name,
            "subject": campaign.subject, "segment_id": campaign.segment_id, "status": campaign.status,
            "send_at": campaign.send_at, "started_at": campaign.started_at, "finished_at": campaign.finished_at,
            "created_at": campaign.created_at, "updated_at": campaign.updated_at, "stats": stats,
            "actions": available_actions(principal, campaign)}


async def campaign_read(session: AsyncSession, principal: Principal, campaign: Campaign) -> CampaignRead:
    stats = (await campaign_stats(session, [campaign.id]))[campaign.id]
    return CampaignRead(**_summary_fields(principal, campaign, stats), body_markdown=campaign.body_markdown)


async def campaign_detail(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignRead:
    return await campaign_read(session, principal, await find_campaign(session, principal, campaign_id))


def _cursor_id(cursor: str) -> int:
    if not cursor.isdigit() or not 0 < int(cursor) <= MAX_ID:
        raise ValidationFailed.on("query.cursor", "This cursor is not one we gave out.")
    return int(cursor)


async def list_campaigns(session: AsyncSession, principal: Principal, *, station_id: int | None = None,
                         status: CampaignStatus | None = None, cursor: str | None = None,
                         limit: int = 50) -> tuple[list[CampaignSummary], str | None]:
    """Newest first, at the stations where the principal reads them."""
    authorize_reading(principal, station_id)
    stmt = scope_to_stations(select(Campaign), principal, P.engagement, Campaign.station_id)
    if station_id is not None:
        stmt = stmt.where(Campaign.station_id == station_id)
    if status is not None:
        stmt = stmt.where(Campaign.status == status.value)
    if cursor:
        stmt = stmt.where(Campaign.id < _cursor_id(cursor))
    rows = list(await session.scalars(stmt.order_by(Campaign.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    stats = await campaign_stats(session, [c.id for c in page])
    items = [CampaignSummary(**_summary_fields(principal, c, stats[c.id])) for c in page]
    return items, (str(page[-1].id) if len(rows) > limit else None)


def render_preview(settings: Settings, station: Station, subject: str, body_markdown: str) -> RenderedEmail:
    """The email in the station's brand as a recipient would read it; its links go nowhere tracked and its
    unsubscribe link is a placeholder."""
    return render_marketing_email(subject=subject, body_markdown=body_markdown, brand=brand_of(settings, station),
                                  unsubscribe_url="#")


async def preview_draft(session: AsyncSession, settings: Settings, principal: Principal, station_id: int,
                        subject: str, body_markdown: str) -> RenderedEmail:
    authorize_reading(principal, station_id)
    return render_preview(settings, await get_station(session, station_id), subject, body_markdown)


async def preview_campaign(session: AsyncSession, settings: Settings, principal: Principal,
                           campaign_id: int) -> RenderedEmail:
    campaign = await find_campaign(session, principal, campaign_id)
    station = await get_station(session, campaign.station_id)
    return render_preview(settings, station, campaign.subject, campaign.body_markdown)


# --- activity over time --------------------------------------------------------------------------------------------


def _bucket_start(moment: datetime, zone: ZoneInfo, hourly: bool) -> datetime:
    local = moment.astimezone(zone)
    start = local.replace(minute=0, second=0, microsecond=0) if hourly else \
        datetime(local.year, local.month, local.day, tzinfo=zone)
    return start.astimezone(UTC)


def _next_bucket(start_utc: datetime, zone: ZoneInfo, hourly: bool) -> datetime:
    if hourly:
        return start_utc + timedelta(hours=1)
    local = start_utc.astimezone(zone)
    following = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(UTC)


async def campaign_activity(session: AsyncSession, principal: Principal, campaign_id: int,
                            now: datetime | None = None) -> CampaignActivity:
    """Opens and clicks per local hour while the activity spans its first 48 hours (from the start of sending),
    then per local day; every bucket from the first to the last (or now, while sending), empty ones as zeros."""
    campaign = await find_campaign(session, principal, campaign_id)
    station = await get_station(session, campaign.station_id)
    zone = ZoneInfo(station.timezone)
    events = (await session.execute(select(TrackingEvent.kind, TrackingEvent.at)
                                    .where(TrackingEvent.campaign_id == campaign.id))).all()
    moments = [at for _, at in events]
    first = min([m for m in (campaign.started_at, *moments) if m is not None], default=None)
    if first is None:
        return CampaignActivity(campaign_id=campaign.id, timezone=station.timezone, granularity="hour", buckets=[])
    last = max(moments, default=first)
    if campaign.status in (CampaignStatus.sending, CampaignStatus.paused):
        last = max(last, now or utcnow())
    hourly = last - first <= HOURLY_SPAN
    counts = Counter((_bucket_start(at, zone, hourly), kind) for kind, at in events)
    buckets, start, end = [], _bucket_start(first, zone, hourly), _bucket_start(last, zone, hourly)
    while start <= end:
        buckets.append(ActivityBucket(start=start.astimezone(zone), opens=counts[(start, TrackingKind.open.value)],
                                      clicks=counts[(start, TrackingKind.click.value)]))
        start = _next_bucket(start, zone, hourly)
    return CampaignActivity(campaign_id=campaign.id, timezone=station.timezone,
                            granularity="hour" if hourly else "day", buckets=buckets)
