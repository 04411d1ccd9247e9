"""Reading leads: the station-scoped list with filters and search, a lead with its timeline, and who may work one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.models import StationMembership, User
from myhibachi.auth.permissions import Permission, Role, permissions_of
from myhibachi.auth.principal import Principal, scope_to_stations, station_ids_in_scope
from myhibachi.auth.queries import user_names
from myhibachi.bookings.models import Booking
from myhibachi.core.cursors import decode_cursor, encode_cursor
from myhibachi.core.db import utcnow
from myhibachi.core.errors import NotFound
from myhibachi.leads.models import (
    CLOSED_LEAD_STATUSES,
    NEXT_STATUS,
    OPEN_LEAD_STATUSES,
    FlowVisit,
    Lead,
    LeadActivity,
    LeadStatus,
)
from myhibachi.leads.schemas import ActivityRead, LeadDetail, LeadRead, ProbabilityFactor, ScoreFactor
from myhibachi.stations.models import Station

LIKE_SPECIALS = str.maketrans({"%": r"\%", "_": r"\_", "\\": r"\\"})


def authorize_leads(principal: Principal, station_id: int | None) -> None:
    """Leads are read and worked with `engagement` ("leads, inbox, chat") at their station."""
    principal.authorize(Permission.engagement, station_id)


async def find_lead(session: AsyncSession, principal: Principal, lead_id: int, *,
                    for_update: bool = False) -> Lead:
    """The lead, if the principal may work it; another station's answers 404 as if absent."""
    stmt = select(Lead).where(Lead.id == lead_id).execution_options(populate_existing=True)
    lead = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if lead is None:
        raise NotFound("No such lead.")
    if not principal.can(Permission.engagement, lead.station_id):
        raise principal.hide(Permission.engagement, lead.station_id, "No such lead.")
    return lead


def is_overdue(lead: Lead, now: datetime) -> bool:
    return (LeadStatus(lead.status).is_open and lead.next_follow_up_at is not None
            and lead.next_follow_up_at < now)


def overdue_condition(now: datetime):  # noqa: ANN201 - a SQL condition
    return and_(Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES]), Lead.next_follow_up_at < now)


def lead_read(lead: Lead, now: datetime) -> LeadRead:
    return LeadRead.model_validate(lead).model_copy(update={"overdue": is_overdue(lead, now)})


@dataclass(frozen=True)
class LeadFilters:
    station_id: int | None = None
    status: LeadStatus | None = None
    band: str | None = None
    source: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    overdue: bool = False
    q: str | None = None


def _contains(text: str) -> str:
    return f"%{text.translate(LIKE_SPECIALS)}%"


def _filtered(stmt: Select, filters: LeadFilters, now: datetime) -> Select:  # type: ignore[type-arg]
    conditions = []
    if filters.station_id is not None:
        conditions.append(Lead.station_id == filters.station_id)
    if filters.status is not None:
        conditions.append(Lead.status == filters.status.value)
    if filters.band is not None:
        conditions.append(Lead.band == filters.band)
    if filters.source is not None:
        conditions.append(Lead.source == filters.source)
    if filters.assignee_id is not None:
        conditions.append(Lead.assignee_id == filters.assignee_id)
    if filters.unassigned:
        conditions.append(Lead.assignee_id.is_(None))
    if filters.overdue:
        conditions.append(overdue_condition(now))
    if filters.q and (text := " ".join(filters.q.split())):
        digits = "".join(c for c in text if c.isdigit())
        matches = [Lead.name.ilike(_contains(text), escape="\\"), Lead.email.ilike(_contains(text), escape="\\")]
        if len(digits) >= 4:
            matches.append(Lead.phone.like(f"%{digits}%"))
        conditions.append(or_(*matches))
    return stmt.where(*conditions)


async def list_leads(session: AsyncSession, principal: Principal, filters: LeadFilters, *,
                     cursor: str | None = None, limit: int = 50) -> tuple[list[Lead], str | None]:
    """Newest first, among the stations where the principal works leads."""
    authorize_leads(principal, filters.station_id)
    now = utcnow()
    stmt = _filtered(scope_to_stations(select(Lead), principal, Permission.engagement, Lead.station_id),
                     filters, now)
    if cursor:
        at, lead_id = decode_cursor(cursor)
        stmt = stmt.where(or_(Lead.created_at < at, and_(Lead.created_at == at, Lead.id < lead_id)))
    rows = list(await session.scalars(stmt.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit + 1)))
    return rows[:limit], (encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None)


async def timeline(session: AsyncSession, lead_id: int) -> list[ActivityRead]:
    activities = list(await session.scalars(select(LeadActivity).where(LeadActivity.lead_id == lead_id)
                                            .order_by(LeadActivity.at, LeadActivity.id)))
    names = await user_names(session, {a.actor_user_id for a in activities if a.actor_user_id is not None})
    return [ActivityRead(kind=a.kind, body=a.body, at=a.at,
                         actor=names[a.actor_user_id][0] if a.actor_user_id in names else None)
            for a in activities]


async def lead_detail(session: AsyncSession, principal: Principal, lead_id: int) -> LeadDetail:
    lead = await find_lead(session, principal, lead_id)
    return LeadDetail(
        **lead_read(lead, utcnow()).model_dump(), zip_code=lead.zip_code, message=lead.message,
        lost_reason=lead.lost_reason, booking_id=lead.booking_id,
        score_factors=[ScoreFactor.model_validate(f) for f in lead.score_factors],
        probability_factors=[ProbabilityFactor.model_validate(f) for f in lead.probability_factors],
        activities=await timeline(session, lead.id))


LEAD_ROLES = tuple(role.value for role in Role if role is not Role.super_admin
                   and Permission.engagement in permissions_of(role))


async def assignable_staff(session: AsyncSession, station_id: int) -> list[tuple[int, str]]:
    """(user id, name) of the active staff who may work the station's leads: whom a lead may be assigned to."""
    rows = await session.execute(
        select(User.id, User.name).join(StationMembership, StationMembership.user_id == User.id)
        .where(StationMembership.station_id == station_id, StationMembership.role.in_(LEAD_ROLES),
               User.is_active.is_(True)).order_by(User.name))
    return [(user_id, name) for user_id, name in rows]


# --- the admin's board, dashboard and funnel -----------------------------------------------------------------------

RECENTLY_CLOSED_DAYS, BOARD_COLUMN_LIMIT = 14, 100


def works_leads(principal: Principal, station_id: int) -> bool:
    """Whether the principal reads and works leads at the station (the dashboard shows its lead panels then)."""
    return principal.can(Permission.engagement, station_id)


def next_move(status: LeadStatus) -> LeadStatus | None:
    """The one forward move staff make from `status` (None: a closed lead, or the end of the open statuses)."""
    return NEXT_STATUS.get(status)


@dataclass(frozen=True)
class BoardColumn:
    status: LeadStatus
    leads: list[Lead]
    open: bool  # an open status (a card moves on from it); closed columns show the recent ones only


async def lead_board(session: AsyncSession, principal: Principal, station_id: int) -> list[BoardColumn]:
    """The station's open leads by status (hottest first), then the leads won and lost in the last
    `RECENTLY_CLOSED_DAYS` days (latest first)."""
    authorize_leads(principal, station_id)
    since = utcnow() - timedelta(days=RECENTLY_CLOSED_DAYS)
    columns = []
    for status in (*OPEN_LEAD_STATUSES, *CLOSED_LEAD_STATUSES):
        stmt = select(Lead).where(Lead.station_id == station_id, Lead.status == status.value)
        if status.is_open:
            stmt = stmt.order_by(Lead.score.desc(), Lead.created_at.desc(), Lead.id.desc())
        else:
            stmt = stmt.where(Lead.closed_at >= since).order_by(Lead.closed_at.desc(), Lead.id.desc())
        rows = list(await session.scalars(stmt.limit(BOARD_COLUMN_LIMIT)))
        columns.append(BoardColumn(status, rows, status.is_open))
    return columns


def _engaged_stations(principal: Principal, station_ids: Iterable[int] | None) -> set[int] | None:
    return station_ids_in_scope(principal, Permission.engagement, station_ids)


async def follow_ups_due(session: AsyncSession, principal: Principal, stations: list[Station], *,
                         limit: int = 20) -> list[Lead]:
    """Open leads of these stations (those the principal works leads at) whose follow-up falls before the end of
    the station's local today: overdue ones included, earliest first."""
    now = utcnow()
    allowed = _engaged_stations(principal, [s.id for s in stations]) or set()
    bounds = []
    for station in stations:
        if station.id in allowed:
            zone = ZoneInfo(station.timezone)
            tomorrow = now.astimezone(zone).date() + timedelta(days=1)
            end = datetime.combine(tomorrow, time(), zone).astimezone(UTC)
            bounds.append(and_(Lead.station_id == station.id, Lead.next_follow_up_at < end))
    if not bounds:
        return []
    return list(await session.scalars(
        select(Lead).where(Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES]), or_(*bounds))
        .order_by(Lead.next_follow_up_at, Lead.id).limit(limit)))


async def hot_leads_without_owner(session: AsyncSession, principal: Principal, station_ids: list[int], *,
                                  limit: int = 20) -> list[Lead]:
    """Open hot leads nobody is assigned to, at these stations where the principal works leads; best first."""
    allowed = _engaged_stations(principal, station_ids)
    if not allowed:
        return []
    return list(await session.scalars(
        select(Lead).where(Lead.station_id.in_(sorted(allowed)), Lead.band == "hot", Lead.assignee_id.is_(None),
                           Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES]))
        .order_by(Lead.score.desc(), Lead.created_at, Lead.id).limit(limit)))


@dataclass(frozen=True)
class Funnel:
    """From a priced party to a paid deposit, counted over a range of days: quotes (site visitors who priced a
    party), leads (created), holds (bookings made) and deposits (bookings confirmed)."""

    quotes: int
    leads: int
    holds: int
    deposits: int

    @property
    def conversion(self) -> float | None:
        """Deposits ÷ quotes; None when there was no quote."""
        return round(self.deposits / self.quotes, 4) if self.quotes else None


async def funnel_counts(session: AsyncSession, station_ids: Iterable[int], start: date, end: date) -> Funnel:
    """The funnel of these stations over the station-local days `start` to `end` (both included). Callers scope
    `station_ids` to what the reader may see."""
    stations = list(await session.scalars(select(Station).where(Station.id.in_(sorted(set(station_ids))))))
    if not stations:
        return Funnel(0, 0, 0, 0)

    def within(station_column: Any, moment: Any) -> Any:
        spans = []
        for station in stations:
            zone = ZoneInfo(station.timezone)
            begins = datetime.combine(start, time(), zone).astimezone(UTC)
            ends = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
            spans.append(and_(station_column == station.id, moment >= begins, moment < ends))
        return or_(*spans)

    counts = union_all(
        select(literal("quotes", String).label("metric"), func.count().label("n"))
        .where(within(FlowVisit.station_id, FlowVisit.quoted_at)),
        select(literal("leads", String), func.count()).where(within(Lead.station_id, Lead.created_at)),
        select(literal("holds", String), func.count()).where(within(Booking.station_id, Booking.created_at)),
        select(literal("deposits", String), func.count())
        .where(within(Booking.station_id, Booking.confirmed_at)))
    figures = {metric: int(n) for metric, n in (await session.execute(counts)).all()}
    return Funnel(figures.get("quotes", 0), figures.get("leads", 0), figures.get("holds", 0),
                  figures.get("deposits", 0))
