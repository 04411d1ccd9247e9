"""Private feedback through the signed link of the thank-you email (one per booking, credited to its chef; the
customer may change it while the link works), the call-back task a low rating opens, and staff marking a task
done. Whatever the rating, the customer is shown and asked the same (no review gating)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.principal import Principal
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.consent.tokens import read_contact, sign_contact
from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError
from myhibachi.pricing.queries import get_rules
from myhibachi.reviews.models import ContactTask, Feedback
from myhibachi.reviews.queries import find_task
from myhibachi.reviews.schemas import FeedbackInput
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

# The same signed-id links as the consent ones (an HMAC naming what the link is for), here naming a booking.
FEEDBACK_LINK = "feedback"
FEEDBACK_LINK_VALID_FOR = timedelta(days=90)  # the answer may be given, or changed, this long after the email
CALL_BACK_AT = time(9)  # a task falls due at this station-local time of the next business day


class FeedbackLinkInvalid(DomainError):
    status, code = 404, "invalid_link"

    def __init__(self) -> None:
        super().__init__("This feedback link does not work any more (it is older than 90 days, or was changed). "
                         "You can always reply to our email instead.")


def feedback_url(settings: Settings, booking_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/feedback/" + sign_contact(
        settings.secret_key, FEEDBACK_LINK, booking_id, utcnow())


async def feedback_booking(session: AsyncSession, settings: Settings, token: str) -> Booking:
    """The completed booking a feedback link names; 404 `invalid_link` for a forged, expired or other link."""
    booking_id = read_contact(settings.secret_key, FEEDBACK_LINK, token, max_age=FEEDBACK_LINK_VALID_FOR,
                              now=utcnow())
    booking = await session.get(Booking, booking_id) if booking_id is not None else None
    if booking is None or booking.status != BookingStatus.completed.value:
        raise FeedbackLinkInvalid()
    return booking


async def current_feedback(session: AsyncSession, booking_id: int) -> Feedback | None:
    return await session.scalar(select(Feedback).where(Feedback.booking_id == booking_id))


async def give_feedback(session: AsyncSession, settings: Settings, token: str, data: FeedbackInput) -> Feedback:
    """The customer's rating and comment (the latest answer counts), credited to the booking's chef. A rating at
    or below the station's `low_rating_max` opens one call-back task for staff."""
    booking = await feedback_booking(session, settings, token)
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(Feedback).values(
        booking_id=booking.id, station_id=booking.station_id, contact_id=booking.customer_id,
        chef_id=booking.chef_id, rating=data.rating, comment=data.comment, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["booking_id"]))
    feedback = await session.scalar(select(Feedback).where(Feedback.booking_id == booking.id).with_for_update()
                                    .execution_options(populate_existing=True))
    assert feedback is not None
    feedback.rating, feedback.comment, feedback.chef_id = data.rating, data.comment, booking.chef_id
    rules = await get_rules(session, booking.station_id)
    if data.rating <= rules.low_rating_max:
        await _open_call_back(session, booking, feedback)
    await session.flush()
    return feedback


def next_business_morning(now: datetime, zone: ZoneInfo) -> datetime:
    """The next weekday (Monday–Friday) after today in `zone`, at CALL_BACK_AT there."""
    day = now.astimezone(zone).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, CALL_BACK_AT, tzinfo=zone)


async def _open_call_back(session: AsyncSession, booking: Booking, feedback: Feedback) -> None:
    if await session.scalar(select(ContactTask.id).where(ContactTask.feedback_id == feedback.id)) is not None:
        return  # one task per feedback, however often the answer is changed
    station = await session.get_one(Station, booking.station_id)
    said = f"“{feedback.comment}”" if feedback.comment else "No comment."
    session.add(ContactTask(
        station_id=booking.station_id, contact_id=booking.customer_id, feedback_id=feedback.id,
        title=f"Call {booking.contact_name} about their {feedback.rating}★ feedback",
        detail=f"Booking {booking.reference} on {booking.event_date:%b %-d, %Y}, phone {booking.contact_phone}. "
               f"{said}",
        due_at=next_business_morning(utcnow(), ZoneInfo(station.timezone)), created_at=utcnow()))


async def complete_task(session: AsyncSession, principal: Principal, task_id: int) -> ContactTask:
    """Staff who work the task's station mark it done (once; doing it again changes nothing). Audited."""
    task = await find_task(session, principal, task_id, for_update=True)
    if task.done_at is None:
        task.done_at, task.done_by_user_id = utcnow(), principal.user_id
        await record_audit(session, actor_user_id=principal.user_id, action="reviews.task_done",
                           target_type="contact_task", target_id=task.id, station_id=task.station_id,
                           before={"done": False}, after={"done": True, "title": task.title})
    return task
