"""When an automated email may go: outside the quiet hours of the recipient's own clock, and the dates the
sequences are anchored to. Pure functions of aware datetimes and IANA zones (wall-clock arithmetic in the zone, so
a DST change moves nothing a person would notice)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

REACTIVATE_AFTER = timedelta(days=335)  # "11 months" after the latest event
OCCASION_NOTICE = timedelta(days=21)  # the note goes 3 weeks before the date comes round again
OCCASION_SEND_AT = time(10)  # station-local time of day the occasion sequence starts


def in_quiet_hours(moment: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:  # e.g. 00:00–07:00
        return start <= moment < end
    return moment >= start or moment < end  # over midnight, e.g. 21:00–09:00


def after_quiet_hours(due: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """`due` itself when it is outside the quiet hours in `zone`, else the (UTC) moment they end there: the wall
    clock's `end` on the right local day, whatever the offset was when they began."""
    local = due.astimezone(zone)
    if not in_quiet_hours(local.time(), start, end):
        return due
    day = local.date() if local.time() < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def same_day_next_year(day: date) -> date:
    """The date a year later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def same_day_last_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def occasion_start(event_day: date, zone: ZoneInfo) -> datetime:
    """When an occasion sequence starts: 3 weeks before the event's date comes round, at 10:00 station time."""
    day = same_day_next_year(event_day) - OCCASION_NOTICE
    return datetime.combine(day, OCCASION_SEND_AT, tzinfo=zone).astimezone(UTC)

