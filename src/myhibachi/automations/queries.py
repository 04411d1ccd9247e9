"""Reading automations: a station's sequences with their figures (for the admin), and what decides each send —
whether the goal is met, whether the person may get it, their time zone, and the last marketing message they got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.automations.models import (
    Automation,
    AutomationKind,
    AutomationMessage,
    AutomationStep,
    Enrollment,
    EnrollmentStatus,
)
from myhibachi.automations.sequences import SEQUENCES, Sequence
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.consent.models import ConsentAction, OptOut, Topic
from myhibachi.consent.queries import consent_state, is_suppressed, may_send_marketing_to
from myhibachi.core.db import utcnow
from myhibachi.core.errors import NotFound
from myhibachi.leads.models import Lead, LeadStatus
from myhibachi.newsletters.models import CampaignRecipient
from myhibachi.pricing.distance import zip_time_zone
from myhibachi.reviews.queries import has_feedback
from myhibachi.stations.models import Station

# A booking that counts as "they booked": held (awaiting its deposit), confirmed or done.
BOOKED = (BookingStatus.pending_deposit.value, BookingStatus.confirmed.value, BookingStatus.completed.value)
ONE_A_DAY = timedelta(hours=24)
FIGURES_DAYS = 30
KIND_ORDER = tuple(AutomationKind)


@dataclass(frozen=True)
class AutomationView:
    automation: Automation
    sequence: Sequence
    steps: list[AutomationStep]
    enrolled: int
    active: int
    goal_met: int
    sent_recently: int  # messages in the last FIGURES_DAYS days


async def find_automation(session: AsyncSession, principal: Principal, automation_id: int, permission: Permission,
                          *, for_update: bool = False) -> Automation:
    """The automation, if the principal holds `permission` at its station (another station's answers 404)."""
    stmt = select(Automation).where(Automation.id == automation_id).execution_options(populate_existing=True)
    automation = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if automation is None:
        raise NotFound("No such automation.")
    principal.authorize(permission, automation.station_id, missing="No such automation.")
    return automation


async def automation_steps(session: AsyncSession, automation_id: int) -> list[AutomationStep]:
    return list(await session.scalars(select(AutomationStep).where(AutomationStep.automation_id == automation_id)
                                      .order_by(AutomationStep.position)))


async def station_automations(session: AsyncSession, station_id: int) -> list[Automation]:
    rows = {a.kind: a for a in await session.scalars(select(Automation).where(Automation.station_id == station_id))}
    return [rows[kind.value] for kind in KIND_ORDER if kind.value in rows]


async def automation_view(session: AsyncSession, automation: Automation) -> AutomationView:
    by_status = dict((await session.execute(
        select(Enrollment.status, func.count()).where(Enrollment.automation_id == automation.id)
        .group_by(Enrollment.status))).all())
    sent = await session.scalar(
        select(func.count()).select_from(AutomationMessage)
        .join(Enrollment, Enrollment.id == AutomationMessage.enrollment_id)
        .where(Enrollment.automation_id == automation.id,
               AutomationMessage.sent_at >= utcnow() - timedelta(days=FIGURES_DAYS)))
    return AutomationView(automation, SEQUENCES[AutomationKind(automation.kind)],
                          await automation_steps(session, automation.id), sum(by_status.values()),
                          by_status.get(EnrollmentStatus.active.value, 0),
                          by_status.get(EnrollmentStatus.goal_met.value, 0), sent or 0)


async def station_overview(session: AsyncSession, principal: Principal, station_id: int) -> list[AutomationView]:
    """The station's sequences with their figures, for who works its contacts (`engagement`)."""
    principal.authorize(Permission.engagement, station_id)
    return [await automation_view(session, a) for a in await station_automations(session, station_id)]


# --- what decides a send ----------------------------------------------------------------------------------------


async def _booked_since(session: AsyncSession, contact_id: int, station_id: int, since: datetime) -> bool:
    return await session.scalar(select(Booking.id).where(
        Booking.customer_id == contact_id, Booking.station_id == station_id, Booking.status.in_(BOOKED),
        Booking.created_at >= since).limit(1)) is not None


async def goal_reached(session: AsyncSession, enrollment: Enrollment, kind: AutomationKind,
                       station_id: int) -> str | None:
    """Why the sequence has done its job (so sends nothing more), or None."""
    if kind is AutomationKind.abandoned_quote:
        lead = await session.get(Lead, enrollment.lead_id) if enrollment.lead_id else None
        if lead is not None and not LeadStatus(lead.status).is_open:
            return f"The lead is {lead.status}."
        since = lead.created_at if lead is not None else enrollment.enrolled_at
        return "They booked." if await _booked_since(session, enrollment.contact_id, station_id, since) else None
    if kind is AutomationKind.thank_you:
        given = enrollment.booking_id is not None and await has_feedback(session, enrollment.booking_id)
        return "They gave their feedback." if given else None
    booked = await _booked_since(session, enrollment.contact_id, station_id, enrollment.enrolled_at)
    return "They booked again." if booked else None


async def opted_out(session: AsyncSession, contact_id: int, station_id: int, topic: Topic) -> bool:
    return await session.scalar(select(OptOut.contact_id).where(
        OptOut.contact_id == contact_id,
        ((OptOut.scope == "station") & (OptOut.value == str(station_id)))
        | ((OptOut.scope == "topic") & (OptOut.value == topic.value))).limit(1)) is not None


async def why_not_reachable(session: AsyncSession, enrollment: Enrollment, sequence: Sequence,
                            station_id: int) -> str | None:
    """Why this person may not get the sequence's email now, or None. Every sequence: not a suppressed address,
    marketing consent not withdrawn, neither the station nor follow-ups opted out of. Marketing sequences
    (reactivation, occasion) also need a confirmed subscription; a quote follow-up and a thank-you answer the
    person's own inquiry or event, so they go without one."""
    if await is_suppressed(session, enrollment.email):
        return "The address is suppressed (bounced or complained)."
    if await consent_state(session, enrollment.contact_id) == ConsentAction.withdrawn:
        return "They unsubscribed."
    if await opted_out(session, enrollment.contact_id, station_id, Topic.follow_ups):
        return "They opted out of these emails."
    if sequence.marketing and not await may_send_marketing_to(session, enrollment.contact_id, Topic.follow_ups,
                                                               station_id):
        return "No confirmed subscription."
    return None


async def recipient_zone(session: AsyncSession, enrollment: Enrollment, station: Station) -> ZoneInfo:
    """The recipient's time zone: their latest booking's venue, else the lead's ZIP code, else the station's."""
    zips = [await session.scalar(select(Booking.venue_zip).where(Booking.customer_id == enrollment.contact_id)
                                 .order_by(Booking.event_start.desc()).limit(1))]
    if enrollment.lead_id is not None:
        zips.append(await session.scalar(select(Lead.zip_code).where(Lead.id == enrollment.lead_id)))
    for zip_code in zips:
        if zip_code and (zone := zip_time_zone(zip_code)):
            return ZoneInfo(zone)
    return ZoneInfo(station.timezone)


async def last_marketing_at(session: AsyncSession, contact_id: int) -> datetime | None:
    """When the contact last got an automated or campaign email (booking emails do not count)."""
    automated = await session.scalar(select(func.max(AutomationMessage.sent_at))
                                     .where(AutomationMessage.contact_id == contact_id))
    campaign = await session.scalar(select(func.max(CampaignRecipient.sent_at))
                                    .where(CampaignRecipient.contact_id == contact_id))
    return max((at for at in (automated, campaign) if at is not None), default=None)
