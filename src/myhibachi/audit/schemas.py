"""Audit log API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_user_id: int | None
    action: str
    target_type: str
    target_id: str | None
    station_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{
            "id": 42, "occurred_at": "2026-11-25T18:03:11Z", "actor_user_id": 1, "action": "users.role_change",
            "target_type": "user", "target_id": "7", "station_id": 2, "before": {"role": "support"},
            "after": {"role": "manager"}, "reason": None, "ip": "127.0.0.1", "user_agent": "curl/8",
            "request_id": "3f2c...",
        }],
        "next_cursor": "41",
    }]})
