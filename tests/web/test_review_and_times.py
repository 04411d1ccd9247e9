"""The review step and the time picker (issue 16, item 4), over HTTP: the review states Hold, Cancel, Reschedule and
Changes as complete lines built from the station's rules (change a rule, the line changes); every offered time
shows when the party ends and the station's time zone, in the booking flow and in the manage and admin calendars
that share the picker; a day's button leads to its times."""

from __future__ import annotations

import re
from datetime import date

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import get_rules
from myhibachi.web.site.calendar import time_span
from tests.web.browserless import Page, read, submit
from tests.web.test_booking_pages import EVENT_DAY, PARTY, to_calendar, to_review
from tests.web.test_station_choice import stations  # noqa: F401 (a fixture)


async def change_rules(db, station, **changes: object) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        rules = await get_rules(session, station.id)
        await update_rules(session, SYSTEM, station.id, rules.model_copy(update=changes))


def terms(page: Page) -> dict[str, str]:
    """The review's lines: {"Hold": "Holding the date …", …}."""
    [listed] = re.findall(r'<ul class="policies">(.*?)</ul>', page.text, re.S)
    return dict(re.findall(r"<li><strong>(\w+):</strong> ([^<]+)</li>", listed))


def times(page: Page) -> list[str]:
    """The start times offered for the chosen day, as their labels read."""
    return [label.strip() for label in re.findall(r'name="slot_time" value="[0-9:]+"[^>]*>([^<]+)</label>', page.text)]


# --- the review ------------------------------------------------------------------------------------------------


async def test_the_review_states_each_term_in_full_from_the_rules(client, station):
    review = await to_review(client)

    assert terms(review) == {
        "Hold": "Holding the date keeps a chef for you for 24 hours: pay the $100.00 deposit within that time or the "
                "hold lapses and the time goes back on offer. The deposit counts towards your total; the rest is paid "
                "at the event.",
        "Cancel": "Cancel at least 96 hours (4 days) before the start and everything you paid is refunded; cancel "
                  "later and the $100.00 deposit is kept, anything paid beyond it refunded.",
        "Reschedule": "Your first move is free when you ask at least 24 hours before the start; any other move adds "
                      "a $200.00 fee to your balance.",
        "Changes": "Change the number of guests until 24 hours before the start, and the menu until 12 hours before, "
                   "from the link in your confirmation email.",
    }
    assert "Your chef comes from our Fremont, CA location; these are its terms." in review.text


async def test_change_a_rule_and_its_line_on_the_review_changes(client, station, db):
    await change_rules(db, station, hold_hours=48, deposit_cents=15000, deposit_refund_min_hours=120,
                       free_reschedule_min_hours=72, reschedule_fee_cents=7500, guest_change_min_hours=36,
                       menu_change_min_hours=6)

    said = terms(await to_review(client))

    assert said["Hold"].startswith("Holding the date keeps a chef for you for 48 hours (2 days): pay the $150.00 "
                                   "deposit within that time")
    assert said["Cancel"].startswith("Cancel at least 120 hours (5 days) before the start")
    assert "the $150.00 deposit is kept" in said["Cancel"]
    assert said["Reschedule"] == ("Your first move is free when you ask at least 72 hours (3 days) before the start; "
                                  "any other move adds a $75.00 fee to your balance.")
    assert said["Changes"].startswith("Change the number of guests until 36 hours before the start, and the menu "
                                      "until 6 hours before")


async def test_without_a_reschedule_fee_the_review_says_moving_is_free(client, station, db):
    await change_rules(db, station, reschedule_fee_cents=0)
    said = terms(await to_review(client))

    assert said["Reschedule"] == "Moving your party to another free date and time costs nothing."


async def test_the_review_says_when_the_party_starts_and_ends_in_the_stations_zone(client, station):
    review = await to_review(client, slot="21:00")

    assert "<dt>When</dt><dd>Thursday, December 10, 2026, 9:00 PM – 10:30 PM PST</dd>" in review.text


# --- the time picker -------------------------------------------------------------------------------------------


async def day_of_calendar(client, day: date | str = EVENT_DAY, **party: str) -> Page:  # noqa: ANN001
    start = read(await client.get("/book"))
    calendar = await submit(client, start, **{**PARTY, **party})
    assert "Date and start time" in calendar.text, calendar.errors
    return await submit(client, calendar, ("go", f"day:{day}"))


async def test_each_time_shows_its_end_and_the_time_zone(client, station):
    page = await day_of_calendar(client)

    assert times(page) == ["12:00 PM – 1:30 PM PST", "3:00 PM – 4:30 PM PST", "6:00 PM – 7:30 PM PST",
                           "9:00 PM – 10:30 PM PST"]
    assert "The party lasts 1 hour 30 minutes; times are America/Los Angeles time." in page.text


async def test_a_large_party_lasts_longer_as_the_rules_say(client, station, db):
    large = await day_of_calendar(client, adults="20", children="0", toddlers="0")
    await change_rules(db, station, event_minutes=120, large_party_min_guests=30)
    longer = await day_of_calendar(client)

    assert times(large)[0] == "12:00 PM – 2:30 PM PST" and "lasts 2 hours 30 minutes" in large.text
    assert times(longer)[0] == "12:00 PM – 2:00 PM PST" and "lasts 2 hours;" in longer.text


async def test_summer_times_and_another_stations_zone(client, stations):  # noqa: F811
    start = read(await client.get("/book"))
    calendar = await submit(client, start, **{**PARTY, "zip_code": "78701"})  # Austin, America/Chicago
    month = calendar
    for shown in ("2027-01", "2027-02", "2027-03", "2027-04", "2027-05", "2027-06", "2027-07"):
        month = await submit(client, month, ("go", f"month:{shown}"))  # "Next month", to July
    day = await submit(client, month, ("go", "day:2027-07-15"))

    assert times(day)[-1] == "9:00 PM – 10:30 PM CDT" and "America/Chicago time" in day.text
    winter = await submit(client, calendar, ("go", f"day:{EVENT_DAY}"))
    assert times(winter)[-1] == "9:00 PM – 10:30 PM CST"


async def test_a_days_button_leads_to_its_times(client, station):
    calendar = await to_calendar(client)
    page = await submit(client, calendar, ("go", f"day:{EVENT_DAY}"))

    assert re.search(rf'value="day:{EVENT_DAY}" formaction="/book#times"', calendar.text)
    assert '<fieldset id="times" class="times"' in page.text


async def test_the_manage_and_admin_calendars_show_the_same_times(client, station, book, make_user, admin_sign_in):
    created = await book(station.id)  # 17 guests: 90 minutes
    manage = read(await client.get(f"/manage/{created['manage_token']}/reschedule"))
    customer_day = await submit(client, manage, ("go", "day:2026-12-12"))
    await make_user("admin@example.com", Role.admin, station)
    await admin_sign_in("admin@example.com")
    staff = read(await client.get(f"/admin/bookings/{created['id']}/reschedule"))
    staff_day = await submit(client, staff, ("go", "day:2026-12-12"))

    for page in (customer_day, staff_day):
        assert page.response.status_code == 200
        assert "6:00 PM – 7:30 PM PST" in times(page) and "lasts 1 hour 30 minutes" in page.text
    assert "formaction" not in manage.text  # there, js/site.js brings the times into view


@pytest.mark.parametrize(("day", "hhmm", "zone", "minutes", "said"), [
    ("2026-12-10", "18:00", "America/Los_Angeles", 90, "6:00 PM – 7:30 PM PST"),
    ("2027-03-14", "01:30", "America/Los_Angeles", 90, "1:30 AM – 4:00 AM PST–PDT"),  # the clocks spring forward
    ("2026-11-01", "00:30", "America/Los_Angeles", 90, "12:30 AM – 1:00 AM PDT–PST"),  # and fall back
    ("2026-12-31", "23:00", "America/Chicago", 150, "11:00 PM – 1:30 AM the next day CST"),
    ("2026-12-10", "12:00", "Asia/Kolkata", 45, "12:00 PM – 12:45 PM IST"),
])
def test_a_time_span_in_words(day, hhmm, zone, minutes, said):
    assert time_span(date.fromisoformat(day), hhmm, zone, minutes) == said
