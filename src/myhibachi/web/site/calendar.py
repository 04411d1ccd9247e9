"""A month of start times a chef can make, for the booking flow and for rescheduling: only what the
availability query says is free can be picked."""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.queries import station_availability
from myhibachi.core.db import utcnow
from myhibachi.pricing.rules import BusinessRules
from myhibachi.web.fields import day_of
from myhibachi.web.site.common import clock, duration


@dataclass
class MonthOfSlots:
    month: date  # its first day
    weeks: list[list[date]]
    free: dict[date, list[str]] = field(default_factory=dict)  # day -> start times with a chef free
    previous: date | None = None
    next: date | None = None
    zone: str = "UTC"  # the station's
    event_minutes: int = 90  # how long this party lasts (the rules: longer for a large party)

    def times(self, day: date | None) -> list[str]:
        return self.free.get(day, []) if day else []

    def span(self, day: date, hhmm: str) -> str:
        return time_span(day, hhmm, self.zone, self.event_minutes)

    @property
    def length(self) -> str:
        return duration(self.event_minutes)


def time_span(day: date, hhmm: str, zone: str, minutes: int) -> str:
    """A start time as a customer reads it, with the party's end and the station's time zone:
    "6:00 PM – 7:30 PM PST" (each end in its own zone's name on the night the clocks change)."""
    tz = ZoneInfo(zone)
    hours, mins = (int(part) for part in hhmm.split(":"))
    start = datetime.combine(day, time(hours, mins), tzinfo=tz)
    end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(tz)
    later = " the next day" if end.date() > day else ""
    names = start.tzname() if start.tzname() == end.tzname() else f"{start.tzname()}–{end.tzname()}"
    return f"{clock(hhmm)} – {clock(f'{end:%H:%M}')}{later} {names}"


def _months_later(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def month_of_slots(session: AsyncSession, station_id: int, zone: str, rules: BusinessRules, guests: int,
                         month: date | None, *, now: datetime | None = None,
                         moving_booking_id: int | None = None) -> MonthOfSlots:
    """The month asked for (clamped to today … the booking horizon), else the month of the first bookable day."""
    today = (now or utcnow()).astimezone(ZoneInfo(zone)).date()
    first_bookable = today + timedelta(hours=rules.min_notice_hours)
    horizon = today + timedelta(days=rules.max_days_ahead)
    earliest, latest = first_bookable.replace(day=1), horizon.replace(day=1)
    shown = min(max((month or first_bookable).replace(day=1), earliest), latest)
    last = _months_later(shown, 1) - timedelta(days=1)
    first_day, last_day = max(shown, first_bookable), min(last, horizon)
    free: dict[date, list[str]] = {}
    if first_day <= last_day:
        availability = await station_availability(session, station_id, first_day, last_day, guests,
                                                  moving_booking_id=moving_booking_id)
        free = {d.date: times for d in availability.days if (times := [s.time for s in d.slots if s.available])}
    weeks = calendar.Calendar(firstweekday=6).monthdatescalendar(shown.year, shown.month)
    return MonthOfSlots(month=shown, weeks=weeks, free=free,
                        previous=_months_later(shown, -1) if shown > earliest else None,
                        next=_months_later(shown, 1) if shown < latest else None,
                        zone=zone, event_minutes=rules.event_length_minutes(guests))


def navigate(values: dict[str, str], go: str) -> None:
    """A calendar button pressed: `day:YYYY-MM-DD` picks a day (and forgets the time), `month:YYYY-MM` turns."""
    kind, _, value = go.partition(":")
    if kind == "day":
        values.update(event_date=value[:10], month=value[:7])
        values.pop("slot_time", None)
    else:
        values["month"] = value[:7]


async def slot_errors(values: dict[str, str],
                      month_for: Callable[[date], Awaitable[MonthOfSlots]]) -> dict[str, str]:
    """The chosen day and start time, checked against the free times of that day's month (`values["month"]` is
    set to it before `month_for` is asked); a time no longer free is forgotten, so the form asks again."""
    day = day_of(values.get("event_date"))
    if day is None:
        return {"event_date": "Please choose a date in the calendar."}
    values["month"] = f"{day:%Y-%m}"
    if not values.get("slot_time"):
        return {"slot_time": "Please choose a start time."}
    if values["slot_time"] not in (await month_for(day)).times(day):
        values.pop("slot_time")
        return {"slot_time": "That time is not free any more; please choose another."}
    return {}
