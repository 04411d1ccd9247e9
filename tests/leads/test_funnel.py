"""The funnel's counts for the dashboard: site quotes (one per visitor session) → leads → holds → deposits, each
by when it happened, at the stations asked for, over station-local days (both included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine

from myhibachi.bookings.models import BookingStatus
from myhibachi.leads.commands import Inquiry, capture_lead, record_quote
from myhibachi.leads.models import LeadSource
from myhibachi.leads.queries import Funnel, funnel_counts
from tests.factories import insert_booking

FIRST_DAY, LAST_DAY = date(2026, 11, 1), date(2026, 11, 30)
ZONE = ZoneInfo("America/Los_Angeles")  # the test stations'
START = datetime.combine(FIRST_DAY, time(), ZONE).astimezone(UTC)  # the first day's local midnight
END = datetime.combine(LAST_DAY + timedelta(days=1), time(), ZONE).astimezone(UTC)  # the day after the last


async def test_the_funnel_counts_each_stage_by_when_it_happened(db, make_station, add_chefs):
    fre, sac = await make_station("FRE"), await make_station("SAC")
    await add_chefs(fre, 2)
    await add_chefs(sac, 2)
    inside, before, after = START + timedelta(days=3), START - timedelta(seconds=1), END

    async def at(moment: datetime, station, visitor: str, email: str | None = None) -> None:  # noqa: ANN001
        with time_machine.travel(moment, tick=False):
            async with db.transaction() as session:
                await record_quote(session, visitor, station.id)
                await record_quote(session, visitor, station.id)  # re-priced: the same quote
                if email:
                    await capture_lead(session, Inquiry(station_id=station.id, source=LeadSource.contact_form,
                                                        name="Guest", email=email))

    await at(START, fre, "v1", "a@example.com")  # the start is inside
    await at(inside, fre, "v2", "b@example.com")
    await at(inside, fre, "v3")
    await at(before, fre, "v4", "c@example.com")
    await at(after, fre, "v5", "d@example.com")  # the end is outside
    await at(inside, sac, "v6", "e@example.com")
    # holds by created_at, deposits by confirmed_at
    await insert_booking(db, fre, END + timedelta(days=1), created_at=inside, confirmed_at=inside)
    await insert_booking(db, fre, inside + timedelta(days=5), created_at=before, confirmed_at=before)
    await insert_booking(db, fre, inside + timedelta(days=6), status=BookingStatus.pending_deposit,
                         created_at=inside)
    await insert_booking(db, sac, inside + timedelta(days=5), created_at=inside, confirmed_at=after)
    await insert_booking(db, sac, inside + timedelta(days=7), created_at=after, confirmed_at=inside)

    async with db.transaction(write=False) as session:
        assert await funnel_counts(session, [fre.id], FIRST_DAY, LAST_DAY) == Funnel(quotes=3, leads=2, holds=2,
                                                                                   deposits=1)
        assert await funnel_counts(session, {fre.id, sac.id}, FIRST_DAY, LAST_DAY) == Funnel(quotes=4, leads=3, holds=3,
                                                                                           deposits=2)
        assert await funnel_counts(session, [sac.id], FIRST_DAY, LAST_DAY) == Funnel(quotes=1, leads=1, holds=1,
                                                                                   deposits=1)
        assert await funnel_counts(session, [], FIRST_DAY, LAST_DAY) == Funnel(0, 0, 0, 0)
