"""Reading the audit trail, newest first, scoped to the stations whose audit log the reader may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal, scope_to_stations


@dataclass(frozen=True)
class AuditFilter:
    station_id: int | None = None
    actor_user_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


async def list_audit_entries(session: AsyncSession, principal: Principal, filters: AuditFilter,
                             *, before_id: int | None, limit: int) -> tuple[list[AuditEntry], int | None]:
    stmt = scope_to_stations(select(AuditEntry), principal, Permission.audit_read, AuditEntry.station_id)
    conditions = [
        AuditEntry.station_id == filters.station_id if filters.station_id is not None else None,
        AuditEntry.actor_user_id == filters.actor_user_id if filters.actor_user_id is not None else None,
        AuditEntry.action == filters.action if filters.action else None,
        AuditEntry.target_type == filters.target_type if filters.target_type else None,
        AuditEntry.target_id == filters.target_id if filters.target_id else None,
        AuditEntry.occurred_at >= filters.occurred_from if filters.occurred_from else None,
        AuditEntry.occurred_at < filters.occurred_to if filters.occurred_to else None,
        AuditEntry.id < before_id if before_id is not None else None,
    ]
    stmt = stmt.where(*[c for c in conditions if c is not None])
    rows = list(await session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


async def history_of(session: AsyncSession, target_type: str, target_id: int) -> list[AuditEntry]:
    """Every audited change of one record, oldest first (callers have authorized reading the record)."""
    return list(await session.scalars(select(AuditEntry).where(
        AuditEntry.target_type == target_type, AuditEntry.target_id == str(target_id)).order_by(AuditEntry.id)))
