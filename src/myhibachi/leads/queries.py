"""Reading leads: the station-scoped list with filters and search, a lead with its timeline, and who may work one."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.models import StationMembership, User
from myhibachi.auth.permissions import Permission, Role, permissions_of
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.auth.queries import user_names
from myhibachi.bookings.models import Booking
from myhibachi.core.db import MAX_ID, utcnow
from myhibachi.core.errors import NotFound, ValidationFailed
from myhibachi.leads.models import OPEN_LEAD_STATUSES, FlowVisit, Lead, LeadActivity, LeadStatus
from myhibachi.leads.schemas import ActivityRead, LeadDetail, LeadRead, ProbabilityFactor, ScoreFactor

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


def encode_cursor(lead: Lead) -> str:
    return base64.urlsafe_b64encode(json.dumps([lead.created_at.isoformat(), lead.id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, lead_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(lead_id, int) or not 0 < lead_id <= MAX_ID:
            raise ValueError
        return moment, lead_id
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationFailed.on("query.cursor", "This cursor is not one we gave out.") from None


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
    return rows[:limit], (encode_cursor(rows[limit - 1]) if len(rows) > limit else None)


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


@dataclass(frozen=True)
class FunnelCounts:
    """The funnel over a period: site quotes (one per visitor session) → leads → holds → deposits."""

    quotes: int
    leads: int
    holds: int  # bookings made (each held a date)
    deposits: int  # bookings confirmed (their deposit arrived)


async def funnel_counts(session: AsyncSession, station_ids: list[int] | set[int], start: datetime,
                        end: datetime) -> FunnelCounts:
    """Each stage counted by when it happened, in [start, end), at the given stations (the caller has scoped
    them to the viewer's): one round trip."""
    ids = list(station_ids)

    def counted(moment: Any, station: Any) -> Any:
        return select(func.count()).where(station.in_(ids), moment >= start, moment < end).scalar_subquery()

    row = (await session.execute(select(
        counted(FlowVisit.quoted_at, FlowVisit.station_id).label("quotes"),
        counted(Lead.created_at, Lead.station_id).label("leads"),
        counted(Booking.created_at, Booking.station_id).label("holds"),
        counted(Booking.confirmed_at, Booking.station_id).label("deposits")))).one()
    return FunnelCounts(quotes=row.quotes, leads=row.leads, holds=row.holds, deposits=row.deposits)
