"""The stretch of the calendar the app accepts: dates and moments from 2000 to 2999. Nothing the business keeps
lies outside it, and date arithmetic near year 1 or 9999 (a day later, a station's offset) would overflow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2999, 12, 31)
EARLIEST_MOMENT = datetime.combine(EARLIEST_DAY, time(), UTC)
LATEST_MOMENT = datetime.combine(LATEST_DAY, time.max, UTC)


def parse_day(text: str | None) -> date | None:
    """A YYYY-MM-DD typed in a URL or a form, if it is a date within the accepted years; None otherwise."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return None
    return day if EARLIEST_DAY <= day <= LATEST_DAY else None


def _within_range(moment: datetime) -> datetime:
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-14:00 is in year 10000 in UTC
        raise ValueError("must be between 2000 and 2999") from None
    if not EARLIEST_MOMENT <= in_utc <= LATEST_MOMENT:
        raise ValueError("must be between 2000 and 2999")
    return moment


# An instant with its UTC offset, within the accepted years (in UTC).
Moment = Annotated[AwareDatetime, AfterValidator(_within_range)]
