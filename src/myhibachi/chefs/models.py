"""Chef roster tables: a station's chefs and their time-off."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from myhibachi.core.cache import tag_writes
from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow

EVERY_WEEKDAY = [1, 2, 3, 4, 5, 6, 7]  # ISO weekdays, Monday = 1


CHEFS_TAG = "chefs"  # a cache tag of every station's roster (its chefs and their time-off), besides its own


def chefs_tag(station_id: int) -> str:
    """The cache tag of one station's roster."""
    return f"chefs:{station_id}"


def works_on(working_weekdays: list[int], day: date) -> bool:
    return day.isoweekday() in working_weekdays


def daily_limit(max_events_per_day: int | None, station_limit: int) -> int:
    """Events a chef may do in a day: their own limit, or the station's `chef_max_events_per_day`."""
    return max_events_per_day if max_events_per_day is not None else station_limit


class TimeOffStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"


class Chef(Base):
    __tablename__ = "chefs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # The staff user who is this chef (holds the chef role at the station); lets them ask for their own time-off.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    max_events_per_day: Mapped[int | None] = mapped_column(Integer)  # None: the station rule applies
    working_weekdays: Mapped[list[int]] = mapped_column(JSON)  # sorted ISO weekdays, e.g. [1, 2, 3, 4, 5]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("station_id", "user_id"),)

    def works_on(self, day: date) -> bool:
        return works_on(self.working_weekdays, day)

    def daily_limit(self, station_limit: int) -> int:
        return daily_limit(self.max_events_per_day, station_limit)


class ChefTimeOff(Base):
    __tablename__ = "chef_time_off"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chef_id: Mapped[int] = mapped_column(ForeignKey("chefs.id", ondelete="CASCADE"), index=True)
    first_day: Mapped[date] = mapped_column(Date)  # station-local dates, both inclusive
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # TimeOffStatus
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set or loaded with it by the commands (never fetched on access): its station's cache tag is read from it.
    chef: Mapped[Chef] = relationship(lazy="raise")


def _tags_of_chef(chef: Chef) -> list[str]:
    """Its station's roster, and its old station's when it moved (the value before the flush)."""
    return [chefs_tag(station_id) for station_id in {chef.station_id, *inspect(chef).attrs.station_id.history.deleted}
            if station_id is not None]


def _tags_of_time_off(time_off: ChefTimeOff) -> list[str]:
    """Its chef's station's roster, when its chef came with it (the commands'); else every station's roster."""
    chef = time_off.__dict__.get("chef")  # only if loaded: never a query inside the flush
    if chef is None or chef.id != time_off.chef_id or inspect(time_off).attrs.chef_id.history.deleted:
        return [CHEFS_TAG]
    return [chefs_tag(chef.station_id)]


tag_writes(Chef, _tags_of_chef)
tag_writes(ChefTimeOff, _tags_of_time_off)
