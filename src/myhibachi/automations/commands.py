"""Automation changes: each station's four sequences made with their default steps when first needed, staff editing
them (audited), enrolling whoever a trigger picks (once per automation and trigger), and sending an enrollment's
next step — right after checking its goal, the person's consent, their quiet hours and the one-a-day limit, in the
transaction that records the message, so a step goes out exactly once however many processes run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from myhibachi.audit.commands import record_audit
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
from myhibachi.automations.queries import (
    BOOKED,
    ONE_A_DAY,
    automation_steps,
    find_automation,
    goal_reached,
    last_marketing_at,
    recipient_zone,
    station_automations,
    why_not_reachable,
)
from myhibachi.automations.schemas import AutomationUpdate
from myhibachi.automations.sequences import (
    SEQUENCES,
    Sequence,
    escape_markdown,
    fill,
    unknown_placeholders,
)
from myhibachi.automations.timing import (
    REACTIVATE_AFTER,
    after_quiet_hours,
    occasion_start,
    same_day_last_year,
)
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.consent.commands import marketing_headers, preferences_url, unsubscribe_url
from myhibachi.consent.models import Topic
from myhibachi.consent.queries import marketing_audience
from myhibachi.contacts.models import Contact
from myhibachi.core.db import utcnow
from myhibachi.core.email import queue_email
from myhibachi.core.errors import FieldError, ValidationFailed
from myhibachi.leads.models import OPEN_LEAD_STATUSES, Lead
from myhibachi.newsletters.rendering import Brand, RenderedEmail, render_marketing_email
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.rules import BusinessRules
from myhibachi.reviews.commands import feedback_url
from myhibachi.settings import Settings
from myhibachi.stations.models import Station


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


# --- the sequences and their steps ---------------------------------------------------------------------------


async def ensure_automations(session: AsyncSession, station_id: int) -> list[Automation]:
    """The station's four sequences, each made (on, with its default steps) the first time it is needed. Two
    processes at once make each once: the (station, kind) pair is unique and only the one that made it adds steps."""
    existing = {a.kind for a in await station_automations(session, station_id)}
    for kind in AutomationKind:
        if kind.value in existing:
            continue
        now = utcnow()
        made = (await session.execute(_insert(session)(Automation).values(
            station_id=station_id, kind=kind.value, enabled=True, live_since=now, created_at=now, updated_at=now,
        ).on_conflict_do_nothing(index_elements=["station_id", "kind"]).returning(Automation.id))).scalar()
        if made is not None:
            session.add_all(AutomationStep(automation_id=made, position=n, delay_minutes=step.delay_minutes,
                                           subject=step.subject, body_markdown=step.body_markdown)
                            for n, step in enumerate(SEQUENCES[kind].steps, start=1))
    await session.flush()
    return await station_automations(session, station_id)


def _snapshot(automation: Automation, steps: list[Any]) -> dict[str, Any]:
    return {"enabled": automation.enabled,
            "steps": [{"delay_minutes": s.delay_minutes, "subject": s.subject, "body_markdown": s.body_markdown}
                      for s in steps]}


def _check_placeholders(kind: AutomationKind, data: AutomationUpdate) -> None:
    allowed = ", ".join("{" + name + "}" for name in SEQUENCES[kind].placeholders)
    errors = [FieldError(field=f"body.steps.{index}.{part}", type="value_error",
                         message=f"This sequence cannot fill in {', '.join('{' + n + '}' for n in unknown)}; "
                                 f"use {allowed}.")
              for index, step in enumerate(data.steps) for part in ("subject", "body_markdown")
              if (unknown := unknown_placeholders(kind, getattr(step, part)))]
    if errors:
        raise ValidationFailed("A step uses a placeholder this sequence does not know; nothing was saved.",
                               errors=errors)


async def update_automation(session: AsyncSession, principal: Principal, automation_id: int,
                            data: AutomationUpdate) -> Automation:
    """Turn a sequence on or off and replace its steps (`newsletters.send` at its station). Turned off, the people
    going through it stop; turned on, it starts with what happens from then on. Audited with before and after."""
    automation = await find_automation(session, principal, automation_id, Permission.newsletters_send,
                                       for_update=True)
    _check_placeholders(AutomationKind(automation.kind), data)
    before = _snapshot(automation, await automation_steps(session, automation.id))
    after = _snapshot(automation, data.steps) | {"enabled": data.enabled}
    if after == before:
        return automation
    now = utcnow()
    if data.enabled and not automation.enabled:
        automation.live_since = now
    elif automation.enabled and not data.enabled:
        await session.execute(update(Enrollment).where(
            Enrollment.automation_id == automation.id, Enrollment.status == EnrollmentStatus.active.value,
        ).values(status=EnrollmentStatus.stopped.value, stop_reason="The automation was turned off.",
                 finished_at=now, next_due_at=None))
    automation.enabled, automation.updated_at = data.enabled, now
    # Replaced as a whole: deleted first (positions are unique), then written 1..n.
    await session.execute(delete(AutomationStep).where(AutomationStep.automation_id == automation.id))
    session.add_all(AutomationStep(automation_id=automation.id, position=n, delay_minutes=step.delay_minutes,
                                   subject=step.subject, body_markdown=step.body_markdown)
                    for n, step in enumerate(data.steps, start=1))
    await session.flush()
    await record_audit(session, actor_user_id=principal.user_id, action="automations.update",
                       target_type="automation", target_id=automation.id, station_id=automation.station_id,
                       before=before, after=after)
    return automation


# --- enrolling ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    """One thing that starts a sequence for one person: what it is, who, and when the sequence starts."""

    key: str
    contact_id: int
    email: str
    starts_at: datetime
    booking_id: int | None = None
    lead_id: int | None = None


def _not_enrolled(automation: Automation, column: Any) -> Any:
    return ~exists().where(Enrollment.automation_id == automation.id, column)


async def _abandoned_quotes(session: AsyncSession, automation: Automation, now: datetime) -> list[Trigger]:
    """Open leads with an email and no booking of their contact at the station since the lead began."""
    booked = exists().where(Booking.customer_id == Lead.contact_id, Booking.station_id == Lead.station_id,
                            Booking.status.in_(BOOKED), Booking.created_at >= Lead.created_at)
    rows = await session.execute(select(Lead.id, Lead.contact_id, Lead.email, Lead.created_at).where(
        Lead.station_id == automation.station_id, Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES]),
        Lead.email.is_not(None), Lead.created_at >= automation.live_since, Lead.created_at <= now, ~booked,
        _not_enrolled(automation, Enrollment.lead_id == Lead.id)))
    return [Trigger(f"lead:{lead_id}", contact_id, email, created, lead_id=lead_id)
            for lead_id, contact_id, email, created in rows]


def _completed_here(automation: Automation) -> tuple[Any, ...]:
    return (Booking.station_id == automation.station_id, Booking.status == BookingStatus.completed.value,
            _not_enrolled(automation, Enrollment.booking_id == Booking.id))


async def _thank_yous(session: AsyncSession, automation: Automation, now: datetime) -> list[Trigger]:
    """Events completed since the sequence went live; it starts when the event ended."""
    rows = await session.execute(select(Booking.id, Booking.customer_id, Booking.contact_email, Booking.event_end)
                                 .where(*_completed_here(automation), Booking.event_end >= automation.live_since,
                                        Booking.event_end <= now))
    return [Trigger(f"booking:{bid}", cid, email, ended, booking_id=bid) for bid, cid, email, ended in rows]


async def _reactivations(session: AsyncSession, automation: Automation, now: datetime) -> list[Trigger]:
    """Subscribers whose latest event at the station ended REACTIVATE_AFTER ago, with no booking there since."""
    later = aliased(Booking)
    booked_later = exists().where(later.customer_id == Booking.customer_id, later.station_id == Booking.station_id,
                                  later.status.in_(BOOKED), later.id != Booking.id,
                                  later.event_start > Booking.event_start)
    rows = await session.execute(select(Booking.id, Booking.customer_id, Booking.contact_email, Booking.event_end)
                                 .where(*_completed_here(automation), ~booked_later,
                                        Booking.event_end <= now - REACTIVATE_AFTER,
                                        Booking.event_end >= automation.live_since - REACTIVATE_AFTER,
                                        Booking.customer_id.in_(marketing_audience(Topic.follow_ups,
                                                                                   automation.station_id))))
    return [Trigger(f"booking:{bid}", cid, email, ended + REACTIVATE_AFTER, booking_id=bid)
            for bid, cid, email, ended in rows]


async def _occasions(session: AsyncSession, automation: Automation, now: datetime) -> list[Trigger]:
    """Subscribers whose completed event celebrated a birthday or an anniversary, 3 weeks before its date comes
    round (only the next year's)."""
    station = await session.get_one(Station, automation.station_id)
    zone = ZoneInfo(station.timezone)
    latest = same_day_last_year(now.astimezone(zone).date() + timedelta(days=22))
    earliest = same_day_last_year(automation.live_since.astimezone(zone).date() + timedelta(days=20))
    rows = await session.execute(select(Booking.id, Booking.customer_id, Booking.contact_email, Booking.event_date)
                                 .where(*_completed_here(automation), Booking.occasion.is_not(None),
                                        Booking.event_date.between(earliest, latest),
                                        Booking.customer_id.in_(marketing_audience(Topic.follow_ups,
                                                                                   automation.station_id))))
    triggers = [Trigger(f"booking:{bid}", cid, email, occasion_start(day, zone), booking_id=bid)
                for bid, cid, email, day in rows]
    return [t for t in triggers if automation.live_since <= t.starts_at <= now]


TRIGGERS = {AutomationKind.abandoned_quote: _abandoned_quotes, AutomationKind.thank_you: _thank_yous,
            AutomationKind.reactivation: _reactivations, AutomationKind.occasion: _occasions}


async def enroll(session: AsyncSession, automation: Automation, now: datetime) -> int:
    """Enroll whoever the automation's trigger picks now, each once (`INSERT … ON CONFLICT DO NOTHING` on the
    automation and trigger: two processes at once enroll once). The first step is due its delay after the start."""
    steps = await automation_steps(session, automation.id)
    if not automation.enabled or not steps:
        return 0
    enrolled = 0
    for trigger in await TRIGGERS[AutomationKind(automation.kind)](session, automation, now):
        made = await session.execute(_insert(session)(Enrollment).values(
            automation_id=automation.id, contact_id=trigger.contact_id, email=trigger.email,
            trigger_key=trigger.key, booking_id=trigger.booking_id, lead_id=trigger.lead_id,
            status=EnrollmentStatus.active.value, next_position=1,
            next_due_at=trigger.starts_at + timedelta(minutes=steps[0].delay_minutes), enrolled_at=now,
        ).on_conflict_do_nothing(index_elements=["automation_id", "trigger_key"]).returning(Enrollment.id))
        enrolled += made.scalar() is not None
    return enrolled


# --- sending a step ------------------------------------------------------------------------------------------------


def _finish(enrollment: Enrollment, status: EnrollmentStatus, reason: str | None, now: datetime) -> None:
    enrollment.status, enrollment.stop_reason = status.value, reason
    enrollment.finished_at, enrollment.next_due_at = now, None


def _first_name(name: str | None) -> str:
    words = (name or "").split()
    return words[0] if words else "there"


def _review_list(rules: BusinessRules) -> str:
    return "\n".join(f"- [{escape_markdown(link.label)}]({link.url})" for link in rules.review_links)


def _postal_address(station: Station) -> str:
    return f"{station.address_line1}, {station.city}, {station.state} {station.zip_code}"


def compose(settings: Settings, station: Station, rules: BusinessRules, subject: str, body: str, *,
            name: str | None, contact_id: int | None, booking_id: int | None = None,
            occasion: str | None = None) -> RenderedEmail:
    """One step's email in the station's brand, its placeholders filled in (escaped in the markdown body). Without
    a contact (the editor's preview) the links lead nowhere."""
    links = {"booking_link": f"{settings.base_url.rstrip('/')}/book?station={station.code}",
             "feedback_link": feedback_url(settings, booking_id) if booking_id else "#"}
    words = {"first_name": _first_name(name), "station": station.name, "occasion": occasion or "celebration"}
    plain = words | links | {"review_links": ", ".join(link.url for link in rules.review_links)}
    marked = {key: escape_markdown(value) for key, value in words.items()} | links | {
        "review_links": _review_list(rules)}
    unsubscribe = unsubscribe_url(settings, contact_id) if contact_id else "#"
    return render_marketing_email(
        subject=" ".join(fill(subject, plain).split()), body_markdown=fill(body, marked),
        brand=Brand.of(settings, station.name, _postal_address(station)), unsubscribe_url=unsubscribe,
        preferences_url=preferences_url(settings, contact_id) if contact_id else None)


async def _recipient_name(session: AsyncSession, enrollment: Enrollment) -> tuple[str | None, str | None]:
    """(the name the person gave on the booking or lead, the booking's occasion)."""
    if enrollment.booking_id is not None:
        booking = await session.get(Booking, enrollment.booking_id)
        if booking is not None:
            return booking.contact_name, booking.occasion
    lead = await session.get(Lead, enrollment.lead_id) if enrollment.lead_id else None
    return (lead.name if lead else None), None


async def _lock_enrollment(session: AsyncSession, enrollment_id: int) -> Enrollment | None:
    return await session.scalar(select(Enrollment).where(Enrollment.id == enrollment_id).with_for_update()
                                .execution_options(populate_existing=True))


async def _stopped_by(session: AsyncSession, enrollment: Enrollment, automation: Automation,
                      sequence: Sequence) -> tuple[EnrollmentStatus, str] | None:
    if not automation.enabled:
        return EnrollmentStatus.stopped, "The automation was turned off."
    if reason := await goal_reached(session, enrollment, sequence.kind, automation.station_id):
        return EnrollmentStatus.goal_met, reason
    if reason := await why_not_reachable(session, enrollment, sequence, automation.station_id):
        return EnrollmentStatus.stopped, reason
    return None


async def send_next_step(session: AsyncSession, settings: Settings, enrollment_id: int, now: datetime) -> bool:
    """The enrollment's due step, under its row lock (re-read: another process may have sent it meanwhile). Checked
    first: the goal (met: stop), who may get it (not: stop), the recipient's quiet hours and the one-a-day limit
    (wait until they allow). True when an email was queued, in this transaction with its AutomationMessage row."""
    enrollment = await _lock_enrollment(session, enrollment_id)
    if (enrollment is None or enrollment.status != EnrollmentStatus.active.value or enrollment.next_due_at is None
            or enrollment.next_due_at > now):
        return False
    automation = await session.get_one(Automation, enrollment.automation_id)
    sequence = SEQUENCES[AutomationKind(automation.kind)]
    if stop := await _stopped_by(session, enrollment, automation, sequence):
        _finish(enrollment, *stop, now)
        return False
    steps = await automation_steps(session, automation.id)
    if enrollment.next_position > len(steps):  # steps were removed since
        _finish(enrollment, EnrollmentStatus.completed, None, now)
        return False
    station = await session.get_one(Station, automation.station_id)
    rules = await get_rules(session, station.id)
    if (wait := await _wait_until(session, enrollment, station, rules, now)) is not None:
        enrollment.next_due_at = wait
        return False
    step = steps[enrollment.next_position - 1]
    name, occasion = await _recipient_name(session, enrollment)
    email = compose(settings, station, rules, step.subject, step.body_markdown, name=name,
                    contact_id=enrollment.contact_id, booking_id=enrollment.booking_id, occasion=occasion)
    session.add(AutomationMessage(enrollment_id=enrollment.id, position=step.position,
                                  contact_id=enrollment.contact_id, subject=email.subject, sent_at=now))
    await session.flush()  # the unique (enrollment, position) pair: a second send of this step fails here
    await queue_email(session, to=enrollment.email, subject=email.subject, text=email.text, html=email.html,
                      headers=marketing_headers(settings, enrollment.contact_id),
                      about=f"automation:{enrollment.id}")
    _advance(enrollment, steps, now)
    return True


async def _wait_until(session: AsyncSession, enrollment: Enrollment, station: Station, rules: BusinessRules,
                      now: datetime) -> datetime | None:
    """When the step may go instead of now, or None (now is fine): after the quiet hours of the recipient's clock,
    and 24 hours after the last automated or campaign email they got (under the contact's row lock, so two
    sequences cannot both send to one person on one day)."""
    zone = await recipient_zone(session, enrollment, station)
    if (release := after_quiet_hours(now, zone, rules.quiet_hours_start, rules.quiet_hours_end)) > now:
        return release
    await session.execute(select(Contact.id).where(Contact.id == enrollment.contact_id).with_for_update())
    last = await last_marketing_at(session, enrollment.contact_id)
    return last + ONE_A_DAY if last is not None and last + ONE_A_DAY > now else None


def _advance(enrollment: Enrollment, steps: list[AutomationStep], now: datetime) -> None:
    if enrollment.next_position >= len(steps):
        enrollment.next_position += 1
        _finish(enrollment, EnrollmentStatus.completed, None, now)
        return
    following = steps[enrollment.next_position]
    enrollment.next_position += 1
    enrollment.next_due_at = now + timedelta(minutes=following.delay_minutes)


async def due_enrollment_ids(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    return list(await session.scalars(select(Enrollment.id).where(
        and_(Enrollment.status == EnrollmentStatus.active.value, Enrollment.next_due_at <= now))
        .order_by(Enrollment.next_due_at, Enrollment.id).limit(limit)))
