"""The kitchen's prep list of a station's local day: proteins (base choices + upgrades + extras), upgrades and sides
summed over the day's events that hold a chef, exactly; who may read it (the station's readers, a chef their own
events only); and the printable admin page in the menu."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import Principal
from myhibachi.bookings.queries import prep_list
from myhibachi.chefs.models import Chef
from myhibachi.core.errors import NotFound
from tests.bookings.conftest import API, EVENT_DAY
from tests.conftest import PASSWORD
from tests.factories import insert_booking
from tests.web.browserless import read, submit

LA = ZoneInfo("America/Los_Angeles")
MANAGER, CHEF = "manager@example.com", "chef@example.com"
# The day's menus: (slot, adults, children, toddlers, proteins, upgrades, extras, sides)
A = ("18:00", 12, 4, 1, {"chicken": 12, "ny_strip": 10, "shrimp": 11}, {"filet_mignon": 3},
     {"chicken": 2, "lobster_tail": 1}, {"gyoza": 1})
B = ("12:00", 10, 0, 0, {"chicken": 5, "tofu": 15}, {"lobster_tail": 2}, {"shrimp": 3}, {"gyoza": 2, "fried_rice": 4})
C = ("15:00", 6, 0, 0, {}, {}, {}, {"edamame": 1})  # proteins not chosen yet: 12 servings
# (code, chosen, upgrades, extras, total), in the rules' order: base proteins, then the premium ones
PROTEINS = [("chicken", 17, 0, 2, 19), ("ny_strip", 10, 0, 0, 10), ("shrimp", 11, 0, 3, 14), ("tofu", 15, 0, 0, 15),
            ("filet_mignon", 0, 3, 0, 3), ("lobster_tail", 0, 2, 1, 3)]


@pytest.fixture
async def day(client, station, make_station, add_chefs, book, make_user, login, db) -> dict[str, int]:
    """EVENT_DAY at FRE with bookings A, B and C; what must not count: a cancelled one that day, one the next day,
    and one at another station that day. B is cooked by the chef user. Returns the bookings' ids."""
    ids = {}
    for name, (slot, adults, children, toddlers, proteins, upgrades, extras, sides) in zip("ABC", (A, B, C),
                                                                                              strict=True):
        ids[name] = (await book(station.id, slot=slot, email=f"{name.lower()}@example.com", adults=adults,
                                children=children, toddlers=toddlers, proteins=proteins, upgrades=upgrades,
                                extra_proteins=extras, addons=sides))["id"]
    await make_user("admin@example.com", Role.admin, station)
    await make_user(MANAGER, Role.manager, station)
    chef_user = await make_user(CHEF, Role.chef, station)
    admin = await login("admin@example.com")
    cancelled = await book(station.id, slot="21:00", email="gone@example.com", adults=10, children=0, toddlers=0,
                           proteins={"calamari": 20}, upgrades={}, addons={})
    next_day = await book(station.id, EVENT_DAY + timedelta(days=1), email="next@example.com", adults=10,
                          children=0, toddlers=0, proteins={"calamari": 20}, upgrades={}, addons={})
    other = await make_station("SAC")
    await add_chefs(other, 1)
    elsewhere = await book(other.id, email="sac@example.com", adults=10, children=0, toddlers=0,
                           proteins={"calamari": 20}, upgrades={}, addons={})
    assert len({cancelled["id"], next_day["id"], elsewhere["id"]}) == 3
    gone = await client.post(f"{API}/bookings/{cancelled['id']}/cancel", headers=admin, json={"reason": "Rain"})
    assert gone.status_code == 200, gone.text
    async with db.transaction() as session:
        chef_id = await session.scalar(select(Chef.id).where(Chef.station_id == station.id).order_by(Chef.id))
        await session.execute(update(Chef).where(Chef.id == chef_id).values(user_id=chef_user))
    assigned = await client.post(f"{API}/bookings/{ids['B']}/assign-chef", headers=admin, json={"chef_id": chef_id})
    assert assigned.status_code == 200, assigned.text
    return ids | {"chef_user": chef_user}


def principal(role: Role, station_id: int, user_id: int | None = None) -> Principal:
    return Principal(user_id=user_id if user_id is not None else 999, email="p@example.com", name="P",
                     is_super_admin=False, roles={station_id: role})


async def test_the_day_sums_every_events_proteins_upgrades_and_sides(db, station, day):
    async with db.transaction(write=False) as session:
        prep = await prep_list(session, principal(Role.manager, station.id), station.id, EVENT_DAY)

    assert [(p.code, p.chosen, p.upgrades, p.extras, p.total) for p in prep.proteins] == PROTEINS
    assert [(u.code, u.label, u.quantity) for u in prep.upgrades] == [
        ("filet_mignon", "Upgrade to filet mignon", 3), ("lobster_tail", "Upgrade to lobster tail", 2)]
    assert [(s.code, s.label, s.quantity) for s in prep.sides] == [
        ("fried_rice", "Fried rice", 4), ("edamame", "Edamame", 1), ("gyoza", "Gyoza", 3)]
    assert [e.booking_id for e in prep.events] == [day["B"], day["C"], day["A"]]  # by start time
    assert [e.unchosen_servings for e in prep.events] == [0, 12, 0]
    assert (prep.guests, prep.unchosen_servings, prep.day, prep.station_name) == (33, 12, EVENT_DAY, "Station FRE")
    assert prep.swapped_servings == 5  # the 3 filet and 2 lobster upgrades each replace a chosen base serving


async def test_a_chef_sums_only_their_own_events(db, station, day):
    chef = principal(Role.chef, station.id, day["chef_user"])
    async with db.transaction(write=False) as session:
        prep = await prep_list(session, chef, station.id, EVENT_DAY)

    assert [e.booking_id for e in prep.events] == [day["B"]]
    assert [(p.code, p.total) for p in prep.proteins] == [("chicken", 5), ("shrimp", 3), ("tofu", 15),
                                                          ("lobster_tail", 2)]
    assert prep.guests == 10


async def test_another_stations_staff_cannot_read_the_list(db, station, day):
    elsewhere = principal(Role.admin, station.id + 1)  # the day fixture's other station
    async with db.transaction(write=False) as session:
        with pytest.raises(NotFound):
            await prep_list(session, elsewhere, station.id, EVENT_DAY)


async def sign_in(client, email: str) -> None:  # noqa: ANN001
    page = await submit(client, read(await client.get("/admin/login")), None, email=email, password=PASSWORD)
    assert page.response.status_code == 200, page.text[:300]


async def test_the_page_shows_the_sums_and_prints_without_the_menus(client, station, day):
    await sign_in(client, MANAGER)

    page = await client.get("/admin/prep", params={"station": station.id, "day": EVENT_DAY.isoformat()})

    assert page.status_code == 200, page.text[:500]
    assert "<h1>Prep list — Station FRE, Thursday, December 10, 2026</h1>" in page.text
    for code, chosen, upgrades, extras, total in PROTEINS:
        assert (f'<tr data-code="{code}"><th scope="row">'
                f"{code.replace('_', ' ').capitalize().replace('Ny strip', 'NY strip')}</th><td>{chosen}</td>"
                f"<td>{upgrades}</td><td>{extras}</td><td><strong>{total}</strong></td></tr>") in page.text
    assert 'data-code="calamari"' not in page.text
    assert "12 base protein servings not chosen yet" in page.text
    assert "5 of the chosen base servings are swapped for upgrades: cook 5 fewer of them." in page.text
    assert '<li data-code="gyoza">Gyoza × <strong>3</strong></li>' in page.text
    assert 'href="/admin/prep"' in page.text  # in the admin menu
    [stylesheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)" media="print">', page.text)
    printed = await client.get(stylesheet)
    assert printed.status_code == 200 and "#admin-menu" in printed.text and "display: none" in printed.text


async def test_the_chefs_page_lists_their_events_and_their_menu_has_it(client, station, day):
    await sign_in(client, CHEF)

    page = await client.get("/admin/prep", params={"station": station.id, "day": EVENT_DAY.isoformat()})

    assert page.status_code == 200
    assert 'href="/admin/prep"' in page.text and "(your own events)" in page.text
    assert '<tr data-code="tofu"><th scope="row">Tofu</th><td>15</td>' in page.text
    assert 'data-code="ny_strip"' not in page.text  # booking A is not theirs


async def test_the_page_shows_tomorrow_in_the_stations_zone_by_default(client, station, db, make_user):
    tomorrow = datetime(2026, 12, 2, 18, 0, tzinfo=LA)  # the frozen clock is 2026-12-01 08:00 there
    await insert_booking(db, station, tomorrow, adults=10, proteins={"tofu": 20})
    await insert_booking(db, station, tomorrow + timedelta(days=1), adults=10, proteins={"calamari": 20})
    await make_user(MANAGER, Role.manager, station)
    await sign_in(client, MANAGER)

    page = await client.get("/admin/prep", params={"station": station.id})

    assert page.status_code == 200
    assert "Wednesday, December 2, 2026" in page.text
    assert '<tr data-code="tofu"><th scope="row">Tofu</th><td>20</td>' in page.text
    assert 'data-code="calamari"' not in page.text
