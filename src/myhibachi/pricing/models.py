"""Per-station business rules, stored as one validated JSON document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.cache import tag_writes
from myhibachi.core.db import Base, UTCDateTime, utcnow


class StationRules(Base):
    __tablename__ = "station_rules"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)  # BusinessRules, JSON mode
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


def rules_tag(station_id: int) -> str:
    """The cache tag of a station's business rules."""
    return f"rules:{station_id}"


tag_writes(StationRules, lambda rules: [rules_tag(rules.station_id)])
