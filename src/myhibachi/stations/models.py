"""Station tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, String, false
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.cache import tag_writes
from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    address_line1: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    zip_code: Mapped[str] = mapped_column(String(10))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Chefs take the balance at the event: only then does a chef's view of a booking show what is due.
    chefs_collect_balance: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


STATIONS_TAG = "stations"  # the cache tag of every station's own data (name, zone, address)
tag_writes(Station, lambda _station: [STATIONS_TAG])
