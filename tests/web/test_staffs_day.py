"""The staff's day over HTTP: the search box of every admin page (by reference, name, email or phone however typed,
scoped to the reader), the Today / This week run sheet and a chef's event cards (chef, map link, allergies, what to
collect only where chefs collect balances), status badges, actions a role cannot take explained by who can, and
words instead of internal names (dashboard, audit log)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select, update

from myhibachi.auth import permissions
from myhibachi.auth.permissions import Permission, Role, roles_with, who_may
from myhibachi.chefs.models import Chef
from myhibachi.core.money import format_money
from tests.bookings.conftest import API

P = Permission
ADMIN, SUPPORT, MANAGER, CHEF, ROOT = ("admin@example.com", "support@example.com", "manager@example.com",
                                       "chef@example.com", "root@example.com")
EVENT_MORNING = datetime(2026, 12, 10, 16, tzinfo=UTC)  # 8:00 on the event day (Dec 10) in Fremont
MAP = "https://www.google.com/maps/search/?api=1&amp;query=" + quote_plus("4100 Mowry Ave, Fremont, CA 94538")


def badge(status: str, words: str) -> str:
    return f'<span class="badge status-{status}">{words}</span>'


@pytest.fixture
async def staff(station, make_user, db):  # noqa: ANN001, ANN201
    """FRE's admin, support, manager and chef (the roster's first chef, renamed Kenji), and a super admin."""
    for email, role in [(ADMIN, Role.admin), (SUPPORT, Role.support), (MANAGER, Role.manager), (CHEF, Role.chef)]:
        user_id = await make_user(email, role, station, name=f"{role.value.capitalize()} Person")
        if role is Role.chef:
            async with db.transaction() as session:
                await session.execute(update(Chef).where(Chef.name == "Chef FRE 1").values(user_id=user_id,
                                                                                            name="Kenji"))
    await make_user(ROOT, Role.super_admin)
    return station


async def chef_id(db, name: str) -> int:  # noqa: ANN001
    async with db.session() as session:
        return (await session.scalars(select(Chef.id).where(Chef.name == name))).one()


@pytest.fixture
def assign(client, login, db):  # noqa: ANN001, ANN201
    async def to(booking: dict, name: str = "Kenji") -> None:
        response = await client.post(f"{API}/bookings/{booking['id']}/assign-chef", headers=await login(ADMIN),
                                     json={"chef_id": await chef_id(db, name)})
        assert response.status_code == 200, response.text

    return to


@pytest.fixture
def sign_in_as(client, admin_sign_in):  # noqa: ANN001, ANN201
    async def switch(email: str):  # noqa: ANN202
        client.cookies.clear()
        return await admin_sign_in(email)

    return switch


async def page_of(client, path: str, **params: str) -> str:  # noqa: ANN001
    response = await client.get(path, params=params or None)
    assert response.status_code == 200, response.text[:1000]
    return response.text


def found(html: str) -> list[str]:
    """The references a search results page lists."""
    return re.findall(r'<a href="/admin/bookings/\d+">(MH-[A-Z0-9]{6})</a>', html)


# --- search ----------------------------------------------------------------------------------------------------------


@pytest.fixture
async def people(staff, book):  # noqa: ANN001, ANN201
    """Three bookings of FRE with different customers."""
    dana = await book(staff.id, "2026-12-10", "18:00")  # Dana Lee, dana@example.com, (510) 555-0142
    kim = await book(staff.id, "2026-12-11", "18:00", customer={
        "name": "Kim O'Neil", "email": "Kim.Oneil@Example.org", "phone": "+1 (408) 555-0199"})
    pat = await book(staff.id, "2026-12-12", "18:00", customer={
        "name": "Pat 100% Real_Name", "email": "pat@example.net", "phone": "650-555-0123"})
    return {"dana": dana, "kim": kim, "pat": pat}


@pytest.mark.parametrize(("typed", "who"), [
    ("{dana}", ["dana"]),  # the reference as printed
    ("{dana_lower_compact}", ["dana"]),  # lower case, without its dash
    ("dana lee", ["dana"]), ("  DANA   Lee ", ["dana"]), ("o'neil", ["kim"]),  # names, any case and spacing
    ("kim.oneil@example.org", ["kim"]), ("KIM.ONEIL@EXAMPLE.ORG", ["kim"]), ("example.net", ["pat"]),  # emails
    ("(510) 555-0142", ["dana"]), ("510.555.0142", ["dana"]), ("+1 510 555 0142", ["dana"]),  # phones, however
    ("5105550142", ["dana"]), ("1-510-555-0142", ["dana"]), ("555-0142", ["dana"]), ("(408) 555 0199", ["kim"]),
    ("4085550199", ["kim"]), ("650 555 0123", ["pat"]),
    ("100%", ["pat"]), ("l_n", ["pat"]), ("a%e", []), ("da_a", []),  # wildcards are letters here, not patterns
    ("Nobody Atall", []), ("555-0100", []),
])
async def test_the_search_finds_bookings_however_they_are_typed(client, people, admin_sign_in, typed, who):
    await admin_sign_in(ADMIN)
    typed = typed.format(dana=people["dana"]["reference"],
                         dana_lower_compact=people["dana"]["reference"].replace("-", "").lower())

    html = await page_of(client, "/admin/search", q=typed)

    assert sorted(found(html)) == sorted(people[name]["reference"] for name in who), typed
    if not who and len(typed.strip()) >= 2:
        assert "No booking matches" in html and "Only the bookings of your stations are searched." in html


async def test_the_search_box_is_on_every_page_and_keeps_what_was_typed(client, people, admin_sign_in):
    await admin_sign_in(ADMIN)

    for path in ("/admin", "/admin/bookings", "/admin/payments", "/admin/today",
                 f"/admin/bookings/{people['kim']['id']}"):
        html = await page_of(client, path)
        assert '<form method="get" action="/admin/search" class="admin-search" role="search">' in html, path
    results = await page_of(client, "/admin/search", q="Kim")
    empty = await page_of(client, "/admin/search")
    short = await page_of(client, "/admin/search", q="k")

    assert 'id="admin-search" name="q" type="search" value="Kim"' in results
    assert "1 booking matches “Kim”" in results and "<h2 id=\"upcoming-title\">Upcoming</h2>" in results
    assert "Kim O&#39;Neil" in results and "(408) 555-0199" in results
    assert badge("pending_deposit", "Pending deposit") in results
    assert "type a booking reference (like MH-7K3Q9D)" in empty and found(empty) == []
    assert "Type at least 2 characters" in short and found(short) == []


async def test_the_search_lists_upcoming_events_then_past_ones(client, people, admin_sign_in, clock):
    clock.move_to(datetime(2026, 12, 11, 16, tzinfo=UTC))  # Dana's event (the 10th) is over, Kim's is today
    await admin_sign_in(ADMIN)

    html = await page_of(client, "/admin/search", q="example")

    upcoming, past = html.split('<h2 id="past-title">')
    assert found(upcoming) == [people["kim"]["reference"], people["pat"]["reference"]]
    assert found(past) == [people["dana"]["reference"]]


async def test_the_search_never_finds_another_stations_booking(client, people, make_station, add_chefs, book,
                                                               make_user, sign_in_as):
    other = await make_station("SAC")
    await add_chefs(other, 1)
    theirs = await book(other.id, "2026-12-10", "18:00", customer={
        "name": "Dana Lee", "email": "dana@example.com", "phone": "(510) 555-0142"})
    await make_user("sac@example.com", Role.admin, other)

    await sign_in_as(ADMIN)
    ours = found(await page_of(client, "/admin/search", q="Dana Lee"))
    await sign_in_as("sac@example.com")
    their_view = found(await page_of(client, "/admin/search", q="(510) 555-0142"))
    by_reference = await page_of(client, "/admin/search", q=people["dana"]["reference"])
    await sign_in_as(ROOT)
    everywhere = await page_of(client, "/admin/search", q="dana@example.com")

    assert ours == [people["dana"]["reference"]]
    assert their_view == [theirs["reference"]] and found(by_reference) == []
    assert sorted(found(everywhere)) == sorted([people["dana"]["reference"], theirs["reference"]])
    assert '<th scope="col">Station</th>' in everywhere and "Station SAC" in everywhere  # across stations: which


async def test_a_chef_finds_only_their_own_events(client, people, assign, sign_in_as):
    await assign(people["dana"])
    await assign(people["kim"], "Chef FRE 2")
    await sign_in_as(CHEF)

    own = await page_of(client, "/admin/search", q="Dana")
    other = await page_of(client, "/admin/search", q=people["kim"]["reference"])
    everyone = await page_of(client, "/admin/search", q="example")

    assert found(own) == [people["dana"]["reference"]] and "Kenji" in own
    assert found(other) == [] and "Only your own events are searched." in other
    assert found(everyone) == [people["dana"]["reference"]]


# --- the run sheet and the chef's cards -----------------------------------------------------------------------------


@pytest.fixture
async def day(staff, book, assign, client, login, clock):  # noqa: ANN001, ANN201
    """On Dec 10 in Fremont: Kenji's confirmed 18:00 event (deposit paid by Zelle, proteins chosen, peanut
    allergy), Chef FRE 2's 12:00 one, a cancelled 15:00 one, and one on the 14th; the clock at 8:00 that morning."""
    mine = await book(staff.id, "2026-12-10", "18:00", allergies="Peanuts (one guest)", notes="Gate code 1234",
                      proteins={"chicken": 17, "shrimp": 16})  # the party's 33 base servings, chosen
    other = await book(staff.id, "2026-12-10", "12:00", email="other@example.com")
    gone = await book(staff.id, "2026-12-10", "15:00", email="gone@example.com")
    later = await book(staff.id, "2026-12-14", "18:00", email="later@example.com")
    headers = await login(ADMIN)
    paid = await client.post(f"{API}/bookings/{mine['id']}/payments", headers=headers,
                             json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
    assert paid.status_code == 201, paid.text
    for booking in (other, later):  # confirmed without a payment: their holds would lapse before the 10th
        confirmed = await client.post(f"{API}/bookings/{booking['id']}/confirm", headers=headers)
        assert confirmed.status_code == 200, confirmed.text
    await assign(mine)
    await assign(other, "Chef FRE 2")
    await assign(later)
    await client.post(f"{API}/bookings/{gone['id']}/cancel", headers=headers, json={"reason": "Moved away"})
    clock.move_to(EVENT_MORNING)
    return {"mine": mine, "other": other, "gone": gone, "later": later,
            "balance": format_money(mine["quote"]["total_cents"] - 10000)}


async def collect_balances(client, login, station) -> None:  # noqa: ANN001
    switched = await client.patch(f"{API}/stations/{station.id}", json={"chefs_collect_balance": True},
                                  headers=await login(ROOT))
    assert switched.status_code == 200, switched.text


def cards(html: str) -> dict[str, str]:
    """Each event card of a page, by its booking's reference."""
    return {re.search(r">(MH-[A-Z0-9]{6})</a>", card).group(1): card
            for card in re.findall(r'<article class="event-card.*?</article>', html, re.S)}


async def test_today_shows_each_event_with_its_chef_place_party_and_allergies(client, day, admin_sign_in):
    await admin_sign_in(MANAGER)

    html = await page_of(client, "/admin/today")

    shown = cards(html)
    assert "<h1>Today — Station FRE</h1>" in html
    assert list(shown) == [day["other"]["reference"], day["mine"]["reference"]]  # by start; not the cancelled one
    mine = shown[day["mine"]["reference"]]
    assert '<span class="card-time">6:00 PM</span>' in mine and "Kenji" in mine and "Chef FRE 2" not in mine
    assert f'href="{MAP}"' in mine and "4100 Mowry Ave<br>Fremont, CA 94538" in mine
    assert "<strong>17</strong>" in mine and "12 adults, 4 children, 1 toddler" in mine
    assert "<strong>Peanuts (one guest)</strong>" in mine and "Gate code 1234" in mine
    assert "Chicken × 17, Shrimp × 16" in mine and "Not chosen yet" in shown[day["other"]["reference"]]
    assert 'href="tel:+15105550142">Call (510) 555-0142' in mine and badge("confirmed", "Confirmed") in mine
    assert "To collect" not in html and day["balance"] not in html  # the station's chefs do not collect


async def test_what_to_collect_shows_only_where_chefs_collect_balances(client, day, staff, login, sign_in_as):
    await sign_in_as(CHEF)
    before = cards(await page_of(client, "/admin/today"))
    await collect_balances(client, login, staff)

    chef_view = cards(await page_of(client, "/admin/today"))
    await sign_in_as(ADMIN)
    admin_view = cards(await page_of(client, "/admin/today"))

    reference = day["mine"]["reference"]
    assert list(before) == list(chef_view) == [reference]  # a chef's own events only
    assert "To collect" not in before[reference]
    for view in (chef_view, admin_view):
        assert f"To collect</dt><dd><strong>{day['balance']}</strong>" in view[reference]
    other_total = format_money(day["other"]["quote"]["total_cents"])
    assert f"To collect</dt><dd><strong>{other_total}</strong>" in admin_view[day["other"]["reference"]]


async def test_this_week_lists_the_next_seven_days_by_day(client, day, admin_sign_in):
    await admin_sign_in(ADMIN)

    week = await page_of(client, "/admin/today", range="week")
    nonsense = await page_of(client, "/admin/today", range="year")

    assert "<h1>This week — Station FRE</h1>" in week
    assert list(cards(week)) == [day["other"]["reference"], day["mine"]["reference"], day["later"]["reference"]]
    assert 'id="day-2026-12-10">Thursday, December 10 (today)</h2>' in week
    assert 'id="day-2026-12-14">Monday, December 14</h2>' in week and "Wednesday, December 16" in week
    assert "December 17" not in week and "No events." in week
    assert "<h1>Today — Station FRE</h1>" in nonsense and day["later"]["reference"] not in nonsense


async def test_an_empty_day_says_what_to_do(client, staff, admin_sign_in, sign_in_as):
    await admin_sign_in(ADMIN)
    admin_view = await page_of(client, "/admin/today")
    await sign_in_as(CHEF)
    chef_view = await page_of(client, "/admin/today")

    assert "Nothing on the schedule today." in admin_view and "this week" in admin_view
    assert "No event of yours today. Events appear here once an admin assigns you" in chef_view


async def test_a_chefs_landing_page_is_their_event_cards(client, day, staff, login, sign_in_as):
    await collect_balances(client, login, staff)

    landing = (await sign_in_as(CHEF)).text

    today, later = landing.split('<h2 id="my-next-title">')
    assert "<h1>Dashboard" in landing and "My events today" in today and "Revenue (net)" not in landing
    assert list(cards(today)) == [day["mine"]["reference"]] and list(cards(later)) == [day["later"]["reference"]]
    mine = cards(today)[day["mine"]["reference"]]
    assert f'href="{MAP}"' in mine and "Peanuts (one guest)" in mine and f"<strong>{day['balance']}</strong>" in mine
    assert "Monday, December 14" in later
    for hidden in (day["other"]["reference"], "dana@example.com", "Total", "Paid"):
        assert hidden not in landing, hidden


async def test_the_menu_offers_today_to_whoever_reads_bookings(client, staff, sign_in_as):
    for email, label in ((ADMIN, "Today"), (CHEF, "Today")):
        menu = re.search(r'<nav aria-label="Admin".*?</nav>', (await sign_in_as(email)).text, re.S).group(0)
        assert f'<a href="/admin/today">{label}</a>' in menu, email


# --- status badges ---------------------------------------------------------------------------------------------------


async def test_every_bookings_view_shows_status_badges(client, day, admin_sign_in, clock):
    clock.move_to(datetime(2026, 12, 8, 16, tzinfo=UTC))
    await admin_sign_in(ADMIN)
    confirmed, pending = badge("confirmed", "Confirmed"), badge("pending_deposit", "Pending deposit")

    views = {
        "list": await page_of(client, "/admin/bookings", **{"from": "2026-12-01"}),
        "week": await page_of(client, "/admin/bookings", view="week", day="2026-12-10"),
        "month": await page_of(client, "/admin/bookings", view="month", month="2026-12"),
        "dashboard": await page_of(client, "/admin"),
        "search": await page_of(client, "/admin/search", q="example.com"),
        "week run sheet": await page_of(client, "/admin/today", range="week"),
        "booking": await page_of(client, f"/admin/bookings/{day['mine']['id']}"),
    }

    for name, html in views.items():
        assert confirmed in html, name
        assert re.search(r'class="badge status-\w+">[A-Z][a-z -]+</span>', html), name  # words, not only colour
    for name in ("list", "week", "month", "search"):
        assert badge("cancelled", "Cancelled") in views[name], name
    assert pending not in "".join(views.values())  # none is pending here
    status_cells = re.findall(r'data-label="Status">(.*?)</td>', views["list"] + views["search"], re.S)
    assert status_cells and all(cell.startswith('<span class="badge status-') for cell in status_cells)


# --- words, not internal names ---------------------------------------------------------------------------------------


async def test_the_dashboard_names_the_chef(client, day, admin_sign_in, clock):
    clock.move_to(datetime(2026, 12, 8, 16, tzinfo=UTC))
    await admin_sign_in(ADMIN)

    html = await page_of(client, "/admin")

    rows = re.findall(r"<tr[^>]*>.*?</tr>", html.split('id="upcoming-title"')[1], re.S)
    mine = next(row for row in rows if day["mine"]["reference"] in row)
    assert '<td data-label="Chef">Kenji</td>' in mine and ">Assigned<" not in html
    assert any('<td data-label="Chef">Chef FRE 2</td>' in row for row in rows)


async def test_the_audit_log_says_what_happened_to_which_record(client, day, admin_sign_in):
    await admin_sign_in(ADMIN)

    html = await page_of(client, "/admin/audit")

    reference = day["mine"]["reference"]
    entries = re.findall(r"<tr>\s*<td>.*?</td>\s*<td>.*?</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", html, re.S)
    said = {(re.sub(r"<[^>]+>", "", action), re.sub(r"<[^>]+>", "", record)) for action, record in entries}
    assert ("Chef assigned", f"Booking {reference}") in said
    assert ("Payment recorded", f"$100.00 Zelle payment of {reference}") in said
    assert ("Cancelled", f"Booking {day['gone']['reference']}") in said
    entries = re.sub(r'<table class="diff">.*?</table>', "", html, flags=re.S)  # without their before and after
    for internal in ("bookings.assign_chef<", "payments.record<", ">booking ", ">payment ", ">station_rules"):
        assert internal not in entries, internal
    assert "amount cents" not in html and ">amount</th><td>—</td><td>100.00</td>" in html
    assert ">method</th><td>—</td><td>Zelle</td>" in html


# --- what a role cannot do, and who can ---------------------------------------------------------------------------


def explained(html: str) -> list[str]:
    block = re.search(r'<div class="not-yours">.*?</div>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(0)) if block else []


async def test_a_manager_on_a_pending_booking_sees_the_way_forward_and_who_takes_it(client, staff, book,
                                                                                    admin_sign_in):
    pending = await book(staff.id)
    await admin_sign_in(MANAGER)

    html = await page_of(client, f"/admin/bookings/{pending['id']}")

    assert explained(html) == [
        "Only an admin can record payments.", "Only an admin can confirm a booking without a payment.",
        "Only an admin or support staff can reschedule bookings.",
        "Only an admin or support staff can change the guests or the menu.", "Only an admin can cancel bookings."]
    assert "Assign a chef" in html and "Also possible now, for others" in html
    for hidden in ("Record a payment", "Reschedule<", "Cancel the booking", "ask for a cancellation"):
        assert hidden not in html, hidden


@pytest.mark.parametrize(("email", "expected"), [
    (SUPPORT, ["Only an admin can record payments.", "Only an admin can confirm a booking without a payment.",
               "Only an admin or a manager can assign chefs.", "Only an admin or a manager can unassign chefs.",
               "Only an admin can cancel bookings."]),
    (ADMIN, []),  # everything possible is theirs
    (ROOT, []),
    (CHEF, []),  # a chef's page is about the event: nothing offered, nothing explained
])
async def test_each_role_is_told_what_only_others_can_do(client, staff, book, assign, admin_sign_in, email,
                                                         expected):
    created = await book(staff.id)
    await assign(created)
    await admin_sign_in(email)

    html = await page_of(client, f"/admin/bookings/{created['id']}")

    assert explained(html) == expected
    if email == CHEF:
        assert 'id="actions-title"' not in html


async def test_nothing_is_explained_that_nobody_could_do_now(client, staff, book, admin_sign_in, clock, login):
    created = await book(staff.id)
    await client.post(f"{API}/bookings/{created['id']}/confirm", headers=await login(ADMIN))
    await admin_sign_in(MANAGER)
    before = explained(await page_of(client, f"/admin/bookings/{created['id']}"))
    clock.move_to(datetime(2026, 12, 11, 3, tzinfo=UTC))  # the event has started: it can be closed now
    await admin_sign_in(MANAGER)
    after = explained(await page_of(client, f"/admin/bookings/{created['id']}"))

    assert not any("mark events completed" in sentence for sentence in before)
    assert "Only an admin or support staff can mark events completed." in after
    assert "Only an admin or support staff can mark no-shows." in after


def test_who_may_is_read_from_the_permission_table(monkeypatch):
    assert roles_with(P.payments_record) == (Role.admin,)
    assert roles_with(P.bookings_write) == (Role.admin, Role.support)
    assert roles_with(P.stations_manage) == ()
    assert who_may(P.chefs_manage) == "an admin or a manager"
    assert who_may(P.stations_manage) == "a super admin"
    assert who_may(P.engagement) == "an admin, a manager or support staff"

    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, Role.manager,
                        permissions.ROLE_PERMISSIONS[Role.manager] | {P.payments_record})

    assert who_may(P.payments_record) == "an admin or a manager"  # the table changed, the sentence follows
