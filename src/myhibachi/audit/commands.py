"""Writing the audit trail: called by every privileged command, inside its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.models import AuditEntry
from myhibachi.core.context import current_request_meta
from myhibachi.core.errors import ValidationFailed

# Actions whose verb removes or ends something must say why.
REASON_REQUIRED_VERBS = frozenset({"delete", "cancel", "deactivate", "revoke", "remove"})


async def record_audit(
    session: AsyncSession,
    *,
    actor_user_id: int | None,
    action: str,
    target_type: str,
    target_id: int | str | None,
    station_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    if action.rsplit(".", 1)[-1] in REASON_REQUIRED_VERBS and not (reason and reason.strip()):
        raise ValidationFailed.on("body.reason", "A reason is required for this action.", "missing")
    meta = current_request_meta()
    entry = AuditEntry(
        actor_user_id=actor_user_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        station_id=station_id,
        before=before,
        after=after,
        reason=reason.strip() if reason else None,
        ip=meta.ip,
        user_agent=(meta.user_agent or "")[:400] or None,
        request_id=meta.request_id,
    )
    session.add(entry)
    await session.flush()
    return entry
