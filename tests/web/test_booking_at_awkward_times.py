"""The booking flow and the customer's reschedule, over HTTP as a browser without JavaScript, with the clock frozen
where dates go wrong: a month with no bookable day left, the year's end (the calendar turns into the next year and
back), the evenings before the clocks spring forward and fall back, and New Year's Eve late in the evening (already
the new year in UTC). Each time the calendar must offer, first, the first start time at least 48 hours ahead in real
time, counted in the station's own days; and the booking made must be the date and time picked."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.bookings.conftest import API
from tests.web.browserless import Page, read, submit
from tests.web.test_booking_pages import DETAILS, PARTY
from tests.web.test_manage_pages import api_view, manage, words

FREMONT = ZoneInfo("America/Los_Angeles")  # the station fixture's zone
NOTICE = timedelta(hours=48)  # the default rules' minimum notice
SLOT_TIMES = [time(12), time(15), time(18), time(21)]  # and their start times


def at(text: str) -> datetime:
    """A wall-clock time in Fremont: "2026-12-31 21:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=FREMONT)


# (the frozen instant, the first start time the calendar may offer, the months it shows on the way there)
CLOCKS = [
    pytest.param(at("2026-12-26 10:00"), at("2026-12-28 12:00"), ["December 2026"],
                 id="four-days-left-in-the-month"),  # the 24th-29th: where "the seventh day button" ran out
    pytest.param(at("2027-02-26 23:00"), at("2027-03-01 12:00"), ["February 2027", "March 2027"],
                 id="month-end-with-no-day-left"),  # the 28th's last start is 46 hours away
    pytest.param(at("2026-12-29 22:00"), at("2027-01-01 12:00"), ["December 2026", "January 2027"],
                 id="year-end-with-no-day-left"),
    # 2027-03-14 02:00 springs forward: 21:00 on the 15th is 48.5 hours away on the wall clock, 47.5 in fact.
    pytest.param(at("2027-03-13 20:30"), at("2027-03-16 12:00"), ["March 2027"], id="eve-of-spring-forward"),
    # 2026-11-01 02:00 falls back: 21:00 that day is 47.5 hours away on the wall clock, 48.5 in fact.
    pytest.param(at("2026-10-30 21:30"), at("2026-11-01 21:00"), ["November 2026"], id="eve-of-fall-back"),
    # 05:00 on 2027-01-01 in UTC; 21:00 on January 2 is exactly 48 hours away (a UTC "today" would skip that day).
    pytest.param(at("2026-12-31 21:00"), at("2027-01-02 21:00"), ["January 2027"], id="new-years-eve"),
]


def hours_between(earlier: datetime, later: datetime) -> timedelta:
    """Real time elapsed (in UTC: Python subtracts and compares two times of one zone by their wall clocks)."""
    return later.astimezone(UTC) - earlier.astimezone(UTC)


def first_start_after_notice(now: datetime) -> datetime:
    """The rule itself, worked out here: the first start time at least 48 real hours after `now`."""
    day = now.date()
    while True:
        for slot in SLOT_TIMES:
            if hours_between(now, start := datetime.combine(day, slot, tzinfo=FREMONT)) >= NOTICE:
                return start
        day += timedelta(days=1)


def spoken(start: datetime) -> str:
    """As the pages say it: "Saturday, January 2, 2027 at 9:00 PM"."""
    return f"{start:%A, %B} {start.day}, {start.year} at {start:%-I:%M %p}"


def span(start: datetime, minutes: int = 90) -> str:
    """A start time as the time picker and the review say it: "9:00 PM – 10:30 PM PST" (the party's end from the
    rules: 90 minutes for the 17 guests of PARTY)."""
    end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(start.tzinfo)
    return f"{start:%-I:%M %p} – {end:%-I:%M %p} {start:%Z}"


def month_shown(page: Page) -> str:
    return re.search(r'<h3 id="cal-title">([^<]+)</h3>', page.text).group(1)


def days_offered(page: Page) -> list[str]:
    return [value.removeprefix("day:") for name, value in page.form.buttons if value.startswith("day:")]


def month_button(page: Page, direction: str) -> tuple[str, str] | None:
    """The calendar's Next (or Previous) month button, if it has one: the one after (before) the month shown."""
    shown = datetime.strptime(month_shown(page), "%B %Y").strftime("%Y-%m")
    for button in page.form.buttons:
        if button[1].startswith("month:") and (button[1][6:] > shown) == (direction == "next"):
            return button
    return None


async def turn_to_the_first_day_offered(client, page: Page) -> tuple[Page, list[str]]:  # noqa: ANN001
    """Next month, while the month shown offers no day; returns that page and every month shown on the way."""
    shown = [month_shown(page)]
    while not days_offered(page):
        assert "None is free this month" in page.text
        following = month_button(page, "next")
        assert following, f"no Next month button after {shown}"
        page = await submit(client, page, following)
        assert page.response.status_code == 200, page.errors
        shown.append(month_shown(page))
    return page, shown


async def back_and_forth(client, page: Page, months: list[str]) -> None:  # noqa: ANN001
    """Previous month shows the month before (into the previous year at the year's end), Next comes back."""
    back = await submit(client, page, month_button(page, "previous"))
    assert month_shown(back) == months[-2] and days_offered(back) == []
    forward = await submit(client, back, month_button(back, "next"))
    assert month_shown(forward) == months[-1] and days_offered(forward) == days_offered(page)


@pytest.mark.parametrize(("now", "first", "months"), CLOCKS)
async def test_from_the_quote_to_the_deposit_page_whatever_the_moment(client, station, clock, now, first, months):
    assert first == first_start_after_notice(now)  # the table above is the rule
    clock.move_to(now)
    quote = await client.get("/quote", params={"station_id": station.id, "zip_code": "94538", "adults": "12"})
    start = read(await client.get(re.search(r'href="(/book\?[^"]+)"', quote.text).group(1).replace("&amp;", "&")))
    calendar = await submit(client, start, **PARTY)
    assert "Date and start time" in calendar.text, calendar.errors
    assert month_button(calendar, "previous") is None  # it opens on the first month with a bookable day

    page, shown = await turn_to_the_first_day_offered(client, calendar)
    if len(months) > 1:
        await back_and_forth(client, page, months)
    day = days_offered(page)[0]
    day_page = await submit(client, page, ("go", f"day:{day}"))
    times = day_page.form.radios["slot_time"]

    assert shown == months
    assert day == f"{first:%Y-%m-%d}" and times[0] == f"{first:%H:%M}"
    assert date.fromisoformat(day) >= now.date() + timedelta(days=2)  # the station's days, not UTC's
    assert all(hours_between(now, datetime.combine(first.date(), time.fromisoformat(t), tzinfo=FREMONT)) >= NOTICE
               for t in times)

    assert f"> {span(first)}</label>" in day_page.text  # the first time offered, with its end and time zone
    details = await submit(client, day_page, slot_time=times[0])
    review = await submit(client, details, **DETAILS)
    assert "Before you book" in review.text, review.errors
    assert f"{first:%A, %B} {first.day}, {first.year}, {span(first)}" in review.text
    done = await submit(client, review, ("go", "book"))

    assert done.response.status_code == 200 and str(done.response.url).endswith("/pay")
    assert "Pay the deposit" in done.text and spoken(first) in done.text
    booked = (await client.get(f"{API}/manage/{str(done.response.url).split('/')[-2]}")).json()
    assert (booked["event_start"], booked["slot_time"]) == (first.isoformat(), times[0])


@pytest.mark.parametrize(("now", "first", "months"), CLOCKS)
async def test_a_move_through_the_manage_calendar_whatever_the_moment(client, station, clock, book, now, first,
                                                                       months):
    clock.move_to(now)
    booked_day = first.date() + timedelta(days=5)
    created = await book(station.id, booked_day, "18:00")
    calendar = read(await client.get(f"{manage(created)}/reschedule"))
    assert month_shown(calendar) == f"{booked_day:%B %Y}"  # the booking's month

    while previous := month_button(calendar, "previous"):  # back to the first month that could offer a day
        calendar = await submit(client, calendar, previous)
    page, shown = await turn_to_the_first_day_offered(client, calendar)
    day = days_offered(page)[0]
    day_page = await submit(client, page, ("go", f"day:{day}"))
    slot = day_page.form.radios["slot_time"][0]
    preview = await submit(client, day_page, ("go", "preview"), slot_time=slot)
    done = await submit(client, preview, ("go", "confirm"))
    moved = await api_view(client, created)

    assert shown == months
    assert (day, slot) == (f"{first:%Y-%m-%d}", f"{first:%H:%M}")
    assert preview.response.status_code == 200 and f"To {spoken(first)}" in words(preview)
    assert "Cost Free" in words(preview)  # five days before the booked event: free
    assert done.response.history[0].status_code == 303 and "has been moved" in words(done)
    assert moved["event_start"] == first.isoformat() and moved["fees_cents"] == 0
