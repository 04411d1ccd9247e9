"""Audit log route (read only: nothing in the API can edit or delete an entry)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from myhibachi.audit.queries import AuditFilter, list_audit_entries
from myhibachi.audit.schemas import AuditEntryRead, AuditPage
from myhibachi.auth.dependencies import require
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.core.dates import Moment
from myhibachi.core.db import MAX_ID
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession

staff = APIRouter(prefix="/audit-log", tags=["audit"])


@staff.get("", summary="Read the audit log", response_model=AuditPage,
           responses=problem_responses(401, 403, 404, 422))
async def read_audit_log(
    principal: Annotated[Principal, require(Permission.audit_read)],
    session: DbSession,
    station_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    actor_user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[str | None, Query(max_length=80, examples=["users.role_change"])] = None,
    target_type: Annotated[str | None, Query(max_length=50)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    occurred_from: Annotated[Moment | None, Query(alias="from")] = None,
    occurred_to: Annotated[Moment | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Newest first, from the stations whose audit log you may read (all, for a super admin)."""
    filters = AuditFilter(station_id=station_id, actor_user_id=actor_user_id, action=action,
                          target_type=target_type, target_id=target_id, occurred_from=occurred_from,
                          occurred_to=occurred_to)
    entries, next_cursor = await list_audit_entries(session, principal, filters,
                                                    before_id=int(cursor) if cursor else None, limit=limit)
    return AuditPage(items=[AuditEntryRead.model_validate(e) for e in entries],
                     next_cursor=str(next_cursor) if next_cursor else None)
