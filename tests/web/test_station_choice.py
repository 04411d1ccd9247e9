"""The station follows the customer (issue 16, item 1), over HTTP: the venue's ZIP code picks the station on the
instant quote and in the booking flow, the pages say whose menu and prices they show, the choice is remembered in a
cookie, and the live quote (htmx fragments) shows every error beside its field as it is typed — outside the area,
too many upgrades — instead of an empty price box."""

from __future__ import annotations

import re

import pytest

from myhibachi.demo import DEMO_STATIONS
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.models import Station
from myhibachi.web.site.common import STATION_COOKIE
from tests.bookings.conftest import API
from tests.web.browserless import read, submit
from tests.web.test_booking_pages import DETAILS, EVENT_DAY
from tests.web.test_manage_pages import words

LIVE = {"HX-Request": "true"}
OUTSIDE = ("10001 is outside our service area: our nearest location, Austin, TX, travels up to 150 miles and 10001 "
           "is 1814.7 miles away.")


@pytest.fixture
async def stations(db, clock, add_chefs) -> dict[str, Station]:  # noqa: ANN001
    """The demo's three stations with two chefs each; Austin comes first (by name), as on the live site."""
    async with db.transaction() as session:
        made = [(await ensure_station(session, data))[0] for data in DEMO_STATIONS]
    for station in made:
        await add_chefs(station, 2)
    return {station.code: station for station in made}


def note(html: str, name: str) -> str:
    """The note an htmx response swaps in beside a field (out of band), as its text."""
    box = re.escape(name.replace(".", "--"))
    match = re.search(rf'<div class="note" id="note-{box}" data-for="f-{re.escape(name)}" hx-swap-oob="innerHTML">'
                      r"(.*?)</div>", html, re.S)
    assert match, f"no note for {name} in the response"
    return match.group(1)


def error_of(html: str, name: str) -> str | None:
    found = re.search(rf'<p class="error" id="f-{re.escape(name)}-error">([^<]*)</p>', note(html, name))
    return found.group(1) if found else None


def price_line(html: str) -> str:
    match = re.search(r'<div id="price-bar" hx-swap-oob="innerHTML">(.*?)</div>', html, re.S)
    assert match, "no price line in the response"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


async def api_total(client, station: Station, **party: object) -> str:  # noqa: ANN001
    quote = (await client.post(f"{API}/quotes", json={"station_id": station.id, **party})).json()
    return f"${quote['total_cents'] // 100:,}.{quote['total_cents'] % 100:02d}"


# --- the instant quote ------------------------------------------------------------------------------------------


async def test_a_fremont_zip_code_is_priced_by_fremont_though_austin_comes_first(client, stations):
    response = await client.get("/quote", params={"zip_code": "94538", "adults": "12"})

    assert response.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())
    assert "Priced by our Fremont, CA location, 1.8 miles from your venue" in text
    total = await api_total(client, stations["FRE"], zip_code="94538", adults=12)
    assert re.search(rf"Total</th><td>{re.escape(total)}</td>", response.text)
    assert "Book this party" in response.text


async def test_typed_live_the_quote_says_at_once_that_a_venue_is_outside_the_area(client, stations):
    live = await client.get("/quote", params={"zip_code": "10001", "adults": "10"}, headers=LIVE)
    submitted = await client.get("/quote", params={"zip_code": "10001", "adults": "10"})

    assert live.status_code == 200 and "<html" not in live.text  # a fragment htmx swaps in, not a page
    assert error_of(live.text, "zip_code").startswith(OUTSIDE)
    assert error_of(live.text, "adults") is None and "Your quote" not in live.text
    assert "No price yet" in live.text and 'href="#f-zip_code"' in live.text  # the box says why, not nothing
    assert "HX-Request" in live.headers["vary"]
    assert submitted.status_code == 422 and OUTSIDE in submitted.text


async def test_typed_live_a_field_still_being_filled_in_is_no_error_yet(client, stations):
    short_zip = await client.get("/quote", params={"zip_code": "945", "adults": "10"}, headers=LIVE)
    no_adults = await client.get("/quote", params={"zip_code": "94538"}, headers=LIVE)
    wrong = await client.get("/quote", params={"zip_code": "9453x", "adults": "-2"}, headers=LIVE)

    assert error_of(short_zip.text, "zip_code") is None and "5 digits" in note(short_zip.text, "zip_code")
    assert error_of(no_adults.text, "adults") is None and "appears here" in no_adults.text
    assert error_of(wrong.text, "zip_code") == "Please enter 5 digits."
    assert error_of(wrong.text, "adults") == "Please enter 0 or more."


# --- step one of the booking ------------------------------------------------------------------------------------


async def test_step_one_says_at_once_when_too_many_proteins_are_upgraded(client, stations):
    party = {"zip_code": "94538", "adults": "2", "children": "0"}

    too_many = await client.post("/book/quote", data={**party, "upgrades.filet_mignon": "5"})
    fixed = await client.post("/book/quote", data={**party, "upgrades.filet_mignon": "4"})

    assert too_many.status_code == 200
    assert error_of(too_many.text, "upgrades") == "At most 4 proteins can be upgraded for this party"
    assert "No price yet" in too_many.text and "Your price so far" not in too_many.text
    assert price_line(too_many.text) == "No price yet: please check Premium proteins ."
    assert error_of(fixed.text, "upgrades") is None and "Your price so far" in fixed.text
    total = await api_total(client, stations["FRE"], zip_code="94538", adults=2, upgrades={"filet_mignon": 4})
    assert price_line(fixed.text).startswith(f"Total {total} · deposit $100.00")


async def test_step_one_says_at_once_that_a_venue_is_outside_the_area(client, stations):
    live = await client.post("/book/quote", data={"zip_code": "10001", "adults": "8"})

    assert live.status_code == 200 and error_of(live.text, "zip_code").startswith(OUTSIDE)
    assert error_of(live.text, "adults") is None
    assert price_line(live.text) == "No price yet: please check Venue ZIP code ."


async def test_step_one_names_the_station_its_menu_and_prices_are_from(client, stations):
    before = read(await client.get("/book"))
    live = await client.post("/book/quote", data={"zip_code": "95814", "adults": "10"})

    assert "those of our Austin, TX location; your venue's ZIP code picks the location nearest to you" in words(before)
    assert "Your venue is served by our Sacramento, CA location" in live.text  # swapped in over that line
    assert "Priced by our <strong>Sacramento, CA</strong> location, 0.2 miles from your venue" in live.text


async def test_continuing_with_a_venue_outside_the_area_shows_it_beside_the_zip_code(client, stations):
    page = await submit(client, read(await client.get("/book")), zip_code="10001", adults="8")

    assert page.response.status_code == 422 and page.errors["zip_code"].startswith(OUTSIDE)
    assert 'aria-invalid="true" aria-describedby="f-zip_code-error"' in page.text


async def test_the_booking_is_made_at_the_station_that_serves_the_venue(client, stations):
    start = read(await client.get("/book"))
    calendar = await submit(client, start, zip_code="95814", adults="10")
    day = await submit(client, calendar, ("go", f"day:{EVENT_DAY}"))
    details = await submit(client, day, slot_time="18:00")
    review = await submit(client, details, **{**DETAILS, "venue_city": "Sacramento"})
    assert "Your chef comes from our Sacramento, CA location" in review.text

    done = await submit(client, review, ("go", "book"))

    token = str(done.response.url).split("/")[-2]
    booking = (await client.get(f"{API}/manage/{token}")).json()
    assert booking["station_name"] == "Sacramento CA" and booking["quote"]["travel_miles"] == 0.2


# --- the choice, remembered -------------------------------------------------------------------------------------


async def test_the_station_a_zip_code_picked_is_remembered_for_the_next_pages(client, stations):
    quote = await client.get("/quote", params={"zip_code": "95814", "adults": "10"})
    cookie = quote.headers["set-cookie"]
    home = await client.get("/")
    book = read(await client.get("/book"))

    assert f"{STATION_COOKIE}=SAC;" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Max-Age=31536000" in cookie and "Path=/" in cookie
    assert "Prices and times of our Sacramento, CA location" in words(read(home))
    assert "those of our Sacramento, CA location" in words(book)
    assert STATION_COOKIE not in home.headers.get("set-cookie", "")  # nothing new to remember


async def test_a_station_asked_for_wins_and_is_remembered_in_turn(client, stations):
    client.cookies.set(STATION_COOKIE, "SAC")

    asked = await client.get("/", params={"station": "fre"})
    after = await client.get("/")

    assert "Prices and times of our Fremont, CA location" in words(read(asked))
    assert f"{STATION_COOKIE}=FRE;" in asked.headers["set-cookie"]
    assert "Prices and times of our Fremont, CA location" in words(read(after))


async def test_without_a_choice_or_with_a_stale_one_the_first_station_is_shown(client, stations):
    fresh = await client.get("/")
    client.cookies.set(STATION_COOKIE, "GONE")
    stale = await client.get("/", params={"station": "nowhere"})

    for response in (fresh, stale):
        assert "Prices and times of our Austin, TX location" in words(read(response))
        assert STATION_COOKIE not in response.headers.get("set-cookie", "")
