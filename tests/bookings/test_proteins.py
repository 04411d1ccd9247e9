"""Base protein choices (SPEC §4): optional on quotes and bookings, and when given, as many as the party's entitlement
(2 per adult and child, 1 per toddler) from the station's base proteins, else 422 `protein_count` and nothing
written; changed through the manage link and the staff API until the menu window closes; a guest-count change that
breaks the total is refused until the proteins come with it; shown to the chef and in the emails; and one email
asks for them before the menu window closes when they are missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select

from myhibachi.auth.permissions import Role
from myhibachi.bookings.jobs import ask_for_proteins
from myhibachi.bookings.models import Booking
from myhibachi.chefs.models import Chef
from myhibachi.core.outbox import OutboxMessage
from myhibachi.settings import Settings
from tests.bookings.conftest import API, booking_body
from tests.conftest import PASSWORD, mail_text, read_mails
from tests.web.browserless import read, submit

START = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # the booked event: 2026-12-10 18:00 in Fremont
MENU_CLOSES = START - timedelta(hours=12)  # the default menu window
ASK_OPENS = MENU_CLOSES - timedelta(hours=48)  # the default reminder window before it: 2026-12-08 14:00 UTC
PARTY_33 = {"chicken": 12, "ny_strip": 10, "shrimp": 11}  # booking_body's party: 12 adults, 4 children, 1 toddler
QUOTE = {"zip_code": "94538", "adults": 12, "children": 4, "toddlers": 1}
ADMIN, CHEF = "admin@example.com", "chef@example.com"


def manage(created: dict) -> str:
    return f"{API}/manage/{created['manage_token']}"


async def rows(db) -> tuple[int, int]:  # noqa: ANN001
    """(bookings, outbox messages): a refused request writes neither."""
    async with db.transaction(write=False) as session:
        return (await session.scalar(select(func.count()).select_from(Booking)) or 0,
                await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def booking_row(db, booking_id: int) -> Booking:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.get_one(Booking, booking_id)


def assert_protein_count(response: Any, chosen: int | None = None, servings: int | None = None) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "protein_count", problem
    assert [e["field"] for e in problem["errors"]] == ["body.proteins"]
    if chosen is not None:
        assert f"add up to {chosen}," in problem["detail"] and f"has {servings} " in problem["detail"], problem


# --- quotes ---------------------------------------------------------------------------------------------------------


async def test_a_quote_takes_proteins_that_add_up_to_the_party_and_they_cost_nothing(client, station):
    body = {"station_id": station.id, **QUOTE}
    without = await client.post(f"{API}/quotes", json=body)
    chosen = await client.post(f"{API}/quotes", json={**body, "proteins": PARTY_33})
    zeros = await client.post(f"{API}/quotes", json={**body, "proteins": {"tofu": 0}})  # nothing chosen yet

    assert without.status_code == chosen.status_code == zeros.status_code == 200, (chosen.text, zeros.text)
    assert chosen.json() == without.json() == zeros.json()


@pytest.mark.parametrize(("proteins", "chosen"), [
    ({"chicken": 32}, 32), ({"chicken": 20, "tofu": 14}, 34), ({"chicken": 1}, 1)])
async def test_a_quote_whose_proteins_do_not_add_up_is_refused(client, station, proteins, chosen):
    response = await client.post(f"{API}/quotes", json={"station_id": station.id, **QUOTE, "proteins": proteins})

    assert_protein_count(response, chosen, 33)


@pytest.mark.parametrize("code", ["salmon", "caviar"])  # an upgrade is no base protein; an unknown one neither
async def test_a_protein_the_station_does_not_offer_is_refused(client, station, code):
    response = await client.post(f"{API}/quotes", json={"station_id": station.id, **QUOTE,
                                                        "proteins": {"chicken": 32, code: 1}})

    assert_protein_count(response)
    assert code in response.json()["detail"]


async def test_a_toddler_counts_one_protein_and_everyone_else_two(client, station):
    party = {"station_id": station.id, "zip_code": "94538", "adults": 1, "children": 1, "toddlers": 2}

    right = await client.post(f"{API}/quotes", json={**party, "proteins": {"tofu": 6}})
    as_if_two_each = await client.post(f"{API}/quotes", json={**party, "proteins": {"tofu": 8}})

    assert right.status_code == 200, right.text
    assert_protein_count(as_if_two_each, 8, 6)


# --- booking --------------------------------------------------------------------------------------------------------


async def test_a_booking_keeps_its_proteins_without_the_zero_ones(client, station, book, db):
    created = await book(station.id, proteins={**PARTY_33, "tofu": 0})
    view = (await client.get(manage(created))).json()

    assert view["party"]["proteins"] == PARTY_33
    assert (await booking_row(db, created["id"])).proteins == PARTY_33


async def test_proteins_are_optional_when_booking(client, station, book):
    created = await book(station.id)

    assert (await client.get(manage(created))).json()["party"]["proteins"] == {}


async def test_a_booking_whose_proteins_do_not_add_up_is_refused_and_nothing_is_written(client, station, db):
    before = await rows(db)

    response = await client.post(f"{API}/bookings", json=booking_body(station.id, proteins={"chicken": 30}))

    assert_protein_count(response, 30, 33)
    assert await rows(db) == before


# --- changes through the manage link and the staff API ------------------------------------------------------------


@pytest.fixture
async def staff(client, db, station, make_user, login) -> dict[str, dict[str, str]]:
    """The station's admin, and a chef whose user is the roster's first chef; their Authorization headers."""
    await make_user(ADMIN, Role.admin, station)
    chef_user = await make_user(CHEF, Role.chef, station)
    async with db.transaction() as session:
        chef = await session.scalar(select(Chef).where(Chef.station_id == station.id).order_by(Chef.id))
        chef.user_id = chef_user
    return {"admin": await login(ADMIN), "chef": await login(CHEF)}


async def test_the_customer_chooses_the_proteins_later_inside_the_menu_window(client, station, book, db):
    created = await book(station.id)

    wrong = await client.patch(manage(created), json={"proteins": {"chicken": 34}})
    assert_protein_count(wrong, 34, 33)
    assert (await booking_row(db, created["id"])).proteins == {}

    chosen = await client.patch(manage(created), json={"proteins": PARTY_33})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["party"]["proteins"] == PARTY_33
    assert chosen.json()["quote"]["total_cents"] == created["quote"]["total_cents"]  # they cost nothing

    cleared = await client.patch(manage(created), json={"proteins": {}})
    assert cleared.status_code == 200 and cleared.json()["party"]["proteins"] == {}


async def pay(client, headers: dict[str, str], created: dict) -> None:  # noqa: ANN001
    """The deposit recorded by the admin: the booking is confirmed (a hold would lapse before the menu window)."""
    paid = await client.post(f"{API}/bookings/{created['id']}/payments", headers=headers,
                             json={"method": "cash", "amount_cents": 10000, "reference": "R-1"})
    assert paid.status_code == 201, paid.text


async def test_after_the_menu_window_the_customer_cannot_change_the_proteins(client, station, book, db, clock,
                                                                             staff):
    created = await book(station.id, proteins=PARTY_33)
    await pay(client, staff["admin"], created)
    clock.move_to(MENU_CLOSES - timedelta(minutes=1))
    inside = await client.patch(manage(created), json={"proteins": {"chicken": 33}})
    clock.move_to(MENU_CLOSES + timedelta(minutes=1))

    outside = await client.patch(manage(created), json={"proteins": {"tofu": 33}})

    assert inside.status_code == 200, inside.text
    assert outside.status_code == 409 and outside.json()["code"] == "illegal_transition"
    assert "The menu can change only until 12 hours before the event" in outside.json()["detail"]
    assert (await booking_row(db, created["id"])).proteins == {"chicken": 33}


async def test_staff_change_the_proteins_until_the_menu_window_closes(client, station, book, db, clock, staff,
                                                                      login):
    created = await book(station.id)
    await pay(client, staff["admin"], created)
    url = f"{API}/bookings/{created['id']}"

    clock.move_to(MENU_CLOSES - timedelta(minutes=1))
    inside = await client.patch(url, headers=await login(ADMIN), json={"proteins": PARTY_33})
    clock.move_to(MENU_CLOSES + timedelta(minutes=1))
    outside = await client.patch(url, headers=await login(ADMIN), json={"proteins": {"chicken": 33}})
    customer = await client.patch(manage(created), json={"proteins": {"chicken": 33}})

    assert inside.status_code == 200, inside.text
    assert inside.json()["party"]["proteins"] == PARTY_33
    assert outside.status_code == 409 and outside.json()["code"] == "illegal_transition"
    assert "The menu can change only until 12 hours before the event" in outside.json()["detail"]
    assert customer.status_code == 409
    assert (await booking_row(db, created["id"])).proteins == PARTY_33


async def test_a_guest_change_that_breaks_the_proteins_total_needs_them_too(client, station, book, db, staff):
    created = await book(station.id, proteins=PARTY_33)

    alone = await client.patch(manage(created), json={"adults": 14})
    by_staff = await client.patch(f"{API}/bookings/{created['id']}", headers=staff["admin"], json={"adults": 14})
    assert_protein_count(alone, 33, 37)
    assert_protein_count(by_staff, 33, 37)
    assert (await booking_row(db, created["id"])).adults == 12

    together = await client.patch(manage(created), json={"adults": 14, "proteins": {**PARTY_33, "tofu": 4}})
    assert together.status_code == 200, together.text
    assert together.json()["party"]["adults"] == 14
    assert together.json()["party"]["proteins"] == {**PARTY_33, "tofu": 4}


async def test_a_guest_change_without_proteins_chosen_needs_none(client, station, book):
    created = await book(station.id)

    changed = await client.patch(manage(created), json={"adults": 14})

    assert changed.status_code == 200, changed.text
    assert changed.json()["party"]["proteins"] == {}


async def test_the_chef_sees_the_proteins_of_their_event_on_the_api_and_the_page(client, station, book, staff, db):
    created = await book(station.id, proteins=PARTY_33)
    async with db.transaction(write=False) as session:
        chef_id = await session.scalar(select(Chef.id).where(Chef.user_id.is_not(None)))
    assigned = await client.post(f"{API}/bookings/{created['id']}/assign-chef", headers=staff["admin"],
                                 json={"chef_id": chef_id})
    assert assigned.status_code == 200, assigned.text

    seen = await client.get(f"{API}/bookings/{created['id']}", headers=staff["chef"])
    signed_in = await submit(client, read(await client.get("/admin/login")), None, email=CHEF, password=PASSWORD)
    assert signed_in.response.status_code == 200, signed_in.text[:300]
    page = await client.get(f"/admin/bookings/{created['id']}")

    assert seen.status_code == 200 and "paid_cents" not in seen.json()  # the chef's need-to-know shape
    assert seen.json()["party"]["proteins"] == PARTY_33
    assert page.status_code == 200
    assert "<dt>Proteins</dt><dd>Chicken × 12, NY strip × 10, Shrimp × 11</dd>" in page.text


async def test_the_booking_email_shows_the_proteins_and_the_menu(client, station, book, settings):
    chosen = await book(station.id, proteins=PARTY_33)
    later = await book(station.id, slot="12:00", email="lee@example.com", upgrades={}, addons={})

    texts = {mail["To"]: mail_text(mail) for mail in read_mails(settings)}

    assert chosen["reference"] in texts["dana@example.com"]
    assert "Proteins: Chicken × 12, NY strip × 10, Shrimp × 11" in texts["dana@example.com"]
    assert "Menu: Upgrade to filet mignon × 3, Gyoza × 1" in texts["dana@example.com"]
    assert later["reference"] in texts["lee@example.com"]
    assert "Proteins: Not chosen yet: choose them from your booking page." in texts["lee@example.com"]
    assert "Menu: Our standard menu" in texts["lee@example.com"]


# --- the one email asking for them ---------------------------------------------------------------------------------


def asks(settings: Settings) -> list[EmailMessage]:
    return [mail for mail in read_mails(settings) if mail["Subject"].startswith("Choose your proteins")]


async def test_a_booking_without_proteins_is_asked_for_them_once_before_the_menu_closes(
        client, runtime, station, book, staff, settings, clock, db):
    created = await book(station.id)
    chosen = await book(station.id, slot="12:00", email="chosen@example.com", proteins=PARTY_33)
    cancelled = await book(station.id, slot="15:00", email="gone@example.com")
    for booking in (created, chosen, cancelled):
        await pay(client, staff["admin"], booking)
    gone = await client.post(f"{API}/bookings/{cancelled['id']}/cancel", headers=staff["admin"],
                             json={"reason": "Plans changed"})
    assert gone.status_code == 200, gone.text

    assert await ask_for_proteins(runtime.jobs) == 0  # nine days ahead
    clock.move_to(ASK_OPENS - timedelta(seconds=1))
    assert await ask_for_proteins(runtime.jobs) == 0
    assert asks(settings) == []

    clock.move_to(ASK_OPENS)
    assert await ask_for_proteins(runtime.jobs) == 1
    assert await ask_for_proteins(runtime.jobs) == 0  # running again sends nothing more
    clock.move_to(ASK_OPENS + timedelta(hours=30))
    assert await ask_for_proteins(runtime.jobs) == 0

    [ask] = asks(settings)
    assert ask["Subject"] == f"Choose your proteins — {created['reference']}" and ask["To"] == "dana@example.com"
    text = mail_text(ask)
    assert "please choose the 33 proteins of your party (two per adult and child, one per toddler)" in text
    assert "The menu can change until Thursday, December 10, 2026 at 6:00 AM PST" in text
    assert f"http://testserver/manage/{created['manage_token']}" in text
    assert (await booking_row(db, created["id"])).proteins_reminder_sent_at == ASK_OPENS
    assert (await booking_row(db, chosen["id"])).proteins_reminder_sent_at is None


async def test_no_ask_once_the_menu_window_has_closed_or_the_hold_lapsed(runtime, station, book, settings, clock,
                                                                          client, staff):
    unpaid = await book(station.id, slot="12:00", email="unpaid@example.com")  # its hold lapses after a day
    late = await book(station.id)
    await pay(client, staff["admin"], late)
    assert unpaid["id"] != late["id"]

    clock.move_to(MENU_CLOSES + timedelta(minutes=1))  # the job did not run while the window was open
    assert await ask_for_proteins(runtime.jobs) == 0
    assert asks(settings) == []
