"""Reading reviews: a chef's private ratings (average, spread, recent comments), the follow-up tasks staff owe
contacts (station-scoped, permission `engagement`), and whether a booking has its feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.bookings.models import Booking
from myhibachi.contacts.models import Contact
from myhibachi.core.errors import NotFound
from myhibachi.reviews.models import ContactTask, Feedback

RECENT_COMMENTS = 5


@dataclass(frozen=True)
class RatedComment:
    rating: int
    comment: str
    at: datetime
    reference: str


@dataclass(frozen=True)
class ChefRatings:
    count: int
    average: float | None  # None: no rating yet
    spread: dict[int, int]  # stars -> how many
    recent: list[RatedComment]


async def chef_ratings(session: AsyncSession, chef_id: int) -> ChefRatings:
    """The private ratings credited to the chef: how many, their average, how many of each star, and the latest
    comments (with the booking they were about)."""
    spread = {stars: 0 for stars in range(1, 6)}
    for rating, count in await session.execute(select(Feedback.rating, func.count()).where(
            Feedback.chef_id == chef_id).group_by(Feedback.rating)):
        spread[int(rating)] = int(count)
    total = sum(spread.values())
    average = round(sum(stars * n for stars, n in spread.items()) / total, 1) if total else None
    rows = await session.execute(
        select(Feedback.rating, Feedback.comment, Feedback.created_at, Booking.reference)
        .join(Booking, Booking.id == Feedback.booking_id)
        .where(Feedback.chef_id == chef_id, Feedback.comment != "")
        .order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(RECENT_COMMENTS))
    return ChefRatings(total, average, spread, [RatedComment(*row) for row in rows])


async def has_feedback(session: AsyncSession, booking_id: int) -> bool:
    return await session.scalar(select(Feedback.id).where(Feedback.booking_id == booking_id)) is not None


@dataclass(frozen=True)
class TaskView:
    id: int
    station_id: int
    contact_id: int
    contact_name: str
    title: str
    detail: str
    due_at: datetime
    done_at: datetime | None


def _task_views(rows: list[tuple[ContactTask, str]]) -> list[TaskView]:
    return [TaskView(t.id, t.station_id, t.contact_id, name, t.title, t.detail, t.due_at, t.done_at)
            for t, name in rows]


async def open_tasks(session: AsyncSession, principal: Principal, limit: int = 50) -> list[TaskView]:
    """Tasks not done yet at the stations where the principal works contacts, soonest due first."""
    stmt = (select(ContactTask, Contact.name).join(Contact, Contact.id == ContactTask.contact_id)
            .where(ContactTask.done_at.is_(None)).order_by(ContactTask.due_at, ContactTask.id).limit(limit))
    stmt = scope_to_stations(stmt, principal, Permission.engagement, ContactTask.station_id)
    return _task_views([(task, name) for task, name in await session.execute(stmt)])


async def contact_tasks(session: AsyncSession, principal: Principal, contact_id: int) -> list[TaskView]:
    """The contact's tasks at the principal's stations: open ones first (soonest due), then the done ones."""
    stmt = (select(ContactTask, Contact.name).join(Contact, Contact.id == ContactTask.contact_id)
            .where(ContactTask.contact_id == contact_id)
            .order_by(ContactTask.done_at.is_not(None), ContactTask.due_at.desc(), ContactTask.id.desc()))
    stmt = scope_to_stations(stmt, principal, Permission.engagement, ContactTask.station_id)
    return _task_views([(task, name) for task, name in await session.execute(stmt)])


async def find_task(session: AsyncSession, principal: Principal, task_id: int, *,
                    for_update: bool = False) -> ContactTask:
    """The task, if the principal works contacts at its station; another station's answers 404 as if absent."""
    stmt = select(ContactTask).where(ContactTask.id == task_id).execution_options(populate_existing=True)
    task = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if task is None:
        raise NotFound("No such task.")
    principal.authorize(Permission.engagement, task.station_id, missing="No such task.")
    return task
