"""Per-station business rules, stored as one validated JSON document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, inspect
from sqlalchemy.orm import Mapped, mapped_column, object_session

from myhibachi.core.cache import tag_writes
from myhibachi.core.db import Base, UTCDateTime, utcnow
from myhibachi.pricing.rules import CALENDAR_RULES, DEFAULT_RULES


class StationRules(Base):
    __tablename__ = "station_rules"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)  # BusinessRules, JSON mode
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


def rules_tag(station_id: int) -> str:
    """The cache tag of a station's business rules."""
    return f"rules:{station_id}"


def calendar_rules_tag(station_id: int) -> str:
    """The cache tag of the rules a station's calendar is computed from (`CALENDAR_RULES`)."""
    return f"rules:{station_id}:calendar"


def _tags_of_rules(row: StationRules) -> list[str]:
    """Its rules; and its calendar's, unless the change left every rule a calendar reads as it was (a price)."""
    before = _stored_rules(row)
    calendar_unchanged = before is not None and all(
        before.get(name) == row.rules.get(name) for name in CALENDAR_RULES)
    return [rules_tag(row.station_id), *([] if calendar_unchanged else [calendar_rules_tag(row.station_id)])]


def _stored_rules(row: StationRules) -> dict[str, Any] | None:
    """The rules in force before this flush: the document it replaced, the defaults a first save replaced, or None
    where that is not known (a removed row, a document not read before the change)."""
    history, session = inspect(row).attrs.rules.history, object_session(row)
    if session is not None and row in session.deleted:
        return None
    if session is not None and row in session.new:
        return DEFAULT_RULES.model_dump(mode="json")
    if not history.has_changes():
        return row.rules  # another column changed
    return history.deleted[0] if history.deleted else None


tag_writes(StationRules, _tags_of_rules)
