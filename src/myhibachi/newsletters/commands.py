"""Writing newsletters: segments, and campaigns from their draft to sending (now, or at a time), paused, resumed
or cancelled, and a test send. Each needs `newsletters.send` at the station, and is audited. Sending itself is the
job queue's (`sending.kick_campaign`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.consent.commands import marketing_headers
from myhibachi.core.db import utcnow
from myhibachi.core.email import queue_email
from myhibachi.core.errors import Conflict, IllegalTransition, ValidationFailed
from myhibachi.core.ratelimit import Throttle
from myhibachi.newsletters import queries
from myhibachi.newsletters.models import Campaign, CampaignStatus, Segment
from myhibachi.newsletters.schemas import (
    CampaignAction,
    CampaignCancel,
    CampaignCreate,
    CampaignSend,
    CampaignTest,
    CampaignTestSent,
    CampaignUpdate,
    SegmentCreate,
    SegmentUpdate,
)
from myhibachi.newsletters.segments import SegmentRules
from myhibachi.newsletters.sending import kick_campaign
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station

P = Permission
TEST_PREFIX = "[Test] "
PLACEHOLDER_CONTACT = 0  # a test's unsubscribe link: signed like a real one, for nobody
FURTHEST_SCHEDULE = timedelta(days=365)


class SegmentInUse(Conflict):
    code = "segment_in_use"


class NoSegment(Conflict):
    code = "no_segment"

    def __init__(self) -> None:
        super().__init__("Choose who it goes to (a segment) before sending.")


class EmptyAudience(Conflict):
    code = "empty_audience"

    def __init__(self) -> None:
        super().__init__("Nobody in this segment may receive it today (nobody matches, or none of them confirmed "
                         "their subscription). Choose another segment.")


def _authorize_sending(principal: Principal, station_id: int) -> None:
    principal.authorize(P.newsletters_send, station_id)


# --- segments ------------------------------------------------------------------------------------------------------


def _rules_json(rules: SegmentRules) -> dict[str, Any]:
    return rules.model_dump(mode="json", exclude_none=True)


async def create_segment(session: AsyncSession, principal: Principal, data: SegmentCreate) -> Segment:
    _authorize_sending(principal, data.station_id)
    await get_station(session, data.station_id)  # a super admin may name any id: 404 for none
    segment = Segment(station_id=data.station_id, name=data.name, rules=_rules_json(data.rules),
                      created_by_user_id=principal.user_id, created_at=utcnow())
    session.add(segment)
    await session.flush()
    await record_audit(session, actor_user_id=principal.user_id, action="segments.create", target_type="segment",
                       target_id=segment.id, station_id=segment.station_id,
                       after={"name": segment.name, "rules": segment.rules})
    return segment


async def update_segment(session: AsyncSession, principal: Principal, segment_id: int,
                         data: SegmentUpdate) -> Segment:
    segment = await queries.find_segment(session, principal, segment_id, for_update=True)
    _authorize_sending(principal, segment.station_id)
    before = {"name": segment.name, "rules": segment.rules}
    if data.name is not None:
        segment.name = data.name
    if data.rules is not None:
        segment.rules = _rules_json(data.rules)
    after = {"name": segment.name, "rules": segment.rules}
    if after != before:
        await record_audit(session, actor_user_id=principal.user_id, action="segments.update",
                           target_type="segment", target_id=segment.id, station_id=segment.station_id,
                           before=before, after=after)
    return segment


async def delete_segment(session: AsyncSession, principal: Principal, segment_id: int, reason: str) -> None:
    """Refused (409 `segment_in_use`) while a campaign that may still send uses it; sent ones keep their
    recipients and lose only the link."""
    segment = await queries.find_segment(session, principal, segment_id, for_update=True)
    _authorize_sending(principal, segment.station_id)
    using = await session.scalar(select(func.count()).select_from(Campaign).where(
        Campaign.segment_id == segment.id, Campaign.status.in_([s.value for s in queries.UNFINISHED])))
    if using:
        raise SegmentInUse(f"Campaigns that may still send use this segment ({using}): choose another segment "
                           "for them, or cancel them, first.")
    await record_audit(session, actor_user_id=principal.user_id, action="segments.delete", target_type="segment",
                       target_id=segment.id, station_id=segment.station_id,
                       before={"name": segment.name, "rules": segment.rules}, reason=reason)
    await session.delete(segment)
    await session.flush()


# --- campaigns -----------------------------------------------------------------------------------------------------


def _snapshot(campaign: Campaign) -> dict[str, Any]:
    return {"name": campaign.name, "subject": campaign.subject, "segment_id": campaign.segment_id,
            "status": campaign.status, "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
            "body_chars": len(campaign.body_markdown)}


async def _audit(session: AsyncSession, principal: Principal, verb: str, campaign: Campaign,
                 before: dict[str, Any] | None, reason: str | None = None) -> None:
    await record_audit(session, actor_user_id=principal.user_id, action=f"campaigns.{verb}", target_type="campaign",
                       target_id=campaign.id, station_id=campaign.station_id, before=before,
                       after=_snapshot(campaign), reason=reason)


async def _check_segment(session: AsyncSession, station_id: int, segment_id: int | None) -> None:
    if segment_id is None:
        return
    segment = await session.get(Segment, segment_id)
    if segment is None or segment.station_id != station_id:
        raise ValidationFailed.on("body.segment_id", "No such segment at this campaign's station.")


async def create_campaign(session: AsyncSession, principal: Principal, data: CampaignCreate) -> Campaign:
    _authorize_sending(principal, data.station_id)
    await get_station(session, data.station_id)
    await _check_segment(session, data.station_id, data.segment_id)
    now = utcnow()
    campaign = Campaign(station_id=data.station_id, name=data.name, subject=data.subject,
                        body_markdown=data.body_markdown, segment_id=data.segment_id,
                        status=CampaignStatus.draft.value, created_by_user_id=principal.user_id, created_at=now,
                        updated_at=now)
    session.add(campaign)
    await session.flush()
    await _audit(session, principal, "create", campaign, None)
    return campaign


async def _campaign_to_move(session: AsyncSession, principal: Principal, campaign_id: int,
                            action: CampaignAction) -> Campaign:
    """The campaign, locked, once the principal may move it and its status allows (else 409
    `illegal_transition`)."""
    campaign = await queries.find_campaign(session, principal, campaign_id, for_update=True)
    _authorize_sending(principal, campaign.station_id)
    if problem := queries.move_problem(action, CampaignStatus(campaign.status)):
        raise IllegalTransition(problem)
    return campaign


async def update_campaign(session: AsyncSession, principal: Principal, campaign_id: int,
                          data: CampaignUpdate) -> Campaign:
    campaign = await _campaign_to_move(session, principal, campaign_id, CampaignAction.edit)
    sent = data.model_dump(exclude_unset=True)
    if "segment_id" in sent:
        await _check_segment(session, campaign.station_id, data.segment_id)
    before = _snapshot(campaign)
    changed = False
    for name, value in sent.items():
        if value is None and name != "segment_id":
            raise ValidationFailed.on(f"body.{name}", "This field cannot be emptied.")
        if getattr(campaign, name) != value:
            setattr(campaign, name, value)
            changed = True
    if changed:
        campaign.updated_at = utcnow()
        await _audit(session, principal, "update", campaign, before)
    return campaign


async def send_test(session: AsyncSession, settings: Settings, principal: Principal, campaign_id: int,
                        data: CampaignTest, throttle: Throttle) -> CampaignTestSent:
    """The campaign as rendered for a recipient, sent to any address with "[Test]" before its subject and the
    List-Unsubscribe headers of a placeholder. Counted per staff member (429 beyond the throttle's limit), since
    it mails any address."""
    campaign = await queries.find_campaign(session, principal, campaign_id)
    _authorize_sending(principal, campaign.station_id)
    await throttle.reserve(str(principal.user_id))
    station = await session.get_one(Station, campaign.station_id)
    rendered = queries.render_preview(settings, station, campaign.subject, campaign.body_markdown)
    subject = TEST_PREFIX + rendered.subject
    await queue_email(session, to=str(data.email), subject=subject, text=rendered.text, html=rendered.html,
                      headers=marketing_headers(settings, PLACEHOLDER_CONTACT), about=f"campaign:{campaign.id}")
    await record_audit(session, actor_user_id=principal.user_id, action="campaigns.test", target_type="campaign",
                       target_id=campaign.id, station_id=campaign.station_id, after={"to": str(data.email)})
    return CampaignTestSent(to=str(data.email), subject=subject)


async def send_campaign(session: AsyncSession, principal: Principal, campaign_id: int,
                        data: CampaignSend) -> Campaign:
    """Now (`sending`, and the job queue starts) or at `send_at` (`scheduled`). Refused without a segment (409
    `no_segment`) or when its audience is empty today (409 `empty_audience`)."""
    campaign = await _campaign_to_move(session, principal, campaign_id, CampaignAction.send)
    now = utcnow()
    if data.send_at is not None and not now < data.send_at <= now + FURTHEST_SCHEDULE:
        raise ValidationFailed.on("body.send_at", "Choose a time in the future, at most a year ahead.")
    if campaign.segment_id is None:
        raise NoSegment()
    if (await queries.segment_audience_preview(session, principal, campaign.segment_id)).count == 0:
        raise EmptyAudience()
    before = _snapshot(campaign)
    if data.send_at is None:
        campaign.status, campaign.send_at = CampaignStatus.sending.value, now
        await kick_campaign(session, campaign.id)
    else:
        campaign.status, campaign.send_at = CampaignStatus.scheduled.value, data.send_at
    campaign.updated_at = now
    await _audit(session, principal, "send" if data.send_at is None else "schedule", campaign, before)
    return campaign


async def pause_campaign(session: AsyncSession, principal: Principal, campaign_id: int) -> Campaign:
    """A scheduled campaign waits; a sending one stops after the messages already handed to the mail server."""
    campaign = await _campaign_to_move(session, principal, campaign_id, CampaignAction.pause)
    before = _snapshot(campaign)
    campaign.status, campaign.updated_at = CampaignStatus.paused.value, utcnow()
    await _audit(session, principal, "pause", campaign, before)
    return campaign


async def resume_campaign(session: AsyncSession, principal: Principal, campaign_id: int) -> Campaign:
    """Back to `scheduled` while its time is still ahead; else `sending`, and the job queue carries on with whoever
    is left."""
    campaign = await _campaign_to_move(session, principal, campaign_id, CampaignAction.resume)
    before, now = _snapshot(campaign), utcnow()
    if campaign.send_at is not None and campaign.send_at > now and campaign.started_at is None:
        campaign.status = CampaignStatus.scheduled.value
    else:
        campaign.status = CampaignStatus.sending.value
        await kick_campaign(session, campaign.id)
    campaign.updated_at = now
    await _audit(session, principal, "resume", campaign, before)
    return campaign


async def cancel_campaign(session: AsyncSession, principal: Principal, campaign_id: int,
                          data: CampaignCancel) -> Campaign:
    """Nothing more goes out; whoever already got it keeps it. A reason is required (audited)."""
    campaign = await _campaign_to_move(session, principal, campaign_id, CampaignAction.cancel)
    before, now = _snapshot(campaign), utcnow()
    campaign.status, campaign.updated_at = CampaignStatus.cancelled.value, now
    if campaign.started_at is not None:
        campaign.finished_at = now
    await _audit(session, principal, "cancel", campaign, before, reason=data.reason)
    return campaign

