"""The menu and the protein choices on the pages, as a browser without JavaScript uses them: /menu and /faq name the
station they show; every item on /menu has the label and unit price of its quote line, and the forms label it the
same; the booking flow, the customer's manage page and the staff's party page take the base proteins (checked by the
domain: a wrong total is said beside the proteins and nothing changes); the live check counts them as typed."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from myhibachi.auth.permissions import Role
from tests.bookings.conftest import API, EVENT_DAY
from tests.web.browserless import Page, read, submit

PARTY = {"zip_code": "94538", "adults": "12", "children": "4", "toddlers": "1"}
PARTY_33 = {"proteins.chicken": "12", "proteins.ny_strip": "10", "proteins.shrimp": "11"}
DETAILS = {"venue_line1": "4100 Mowry Ave", "venue_city": "Fremont", "venue_state": "CA", "name": "Dana Lee",
           "email": "dana@example.com", "phone": "(510) 555-0142", "allergies": "none"}
MENU_CLOSES = datetime(2026, 12, 11, 2, 0, tzinfo=UTC) - timedelta(hours=12)
ROW = re.compile(r'<tr data-line="([^"]+)"><th scope="row"><span class="item-label">([^<]+)</span>'
                 r'<span class="hint item-explanation">([^<]+)</span></th><td class="price">([^<]+)</td></tr>')


def words(page: Page | str) -> str:
    text = page if isinstance(page, str) else page.text
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def cents(price: str) -> int:
    return 0 if price == "Free" else int(price.removeprefix("$").replace(",", "").replace(".", ""))


def menu_rows(text: str) -> dict[str, tuple[str, str, int]]:
    """/menu's items: {quote line code: (label, explanation, unit cents)}."""
    return {line: (html.unescape(label), html.unescape(explanation), cents(price))
            for line, label, explanation, price in ROW.findall(text)}


# --- /menu and /faq ------------------------------------------------------------------------------------------------


async def test_every_item_on_the_menu_is_priced_and_labelled_like_its_quote_line(client, station):
    rows = menu_rows((await client.get("/menu")).text)
    assert len(rows) == 3 + 4 + 9 + 5  # guests, upgrades, extras (5 base + 4 premium), sides

    for line, (label, _, unit) in rows.items():
        group, _, code = line.rpartition(":")
        body = {"station_id": station.id, "zip_code": "94538", "adults": 1}
        if group:
            body[{"upgrade": "upgrades", "extra": "extra_proteins", "addon": "addons"}[group]] = {code: 1}
        else:
            body |= {"adults": 1 if code == "adult" else 1, "children": int(code == "child"),
                     "toddlers": int(code == "toddler")}
        quote = (await client.post(f"{API}/quotes", json=body)).json()
        [quoted] = [q for q in quote["lines"] if q["code"] == line]
        assert (quoted["label"], quoted["unit_cents"]) == (label, unit), line


async def test_salmon_and_premium_extras_say_how_their_price_is_made(client, station):
    rows = menu_rows((await client.get("/menu")).text)

    assert rows["upgrade:salmon"] == (
        "Upgrade to salmon", "$5.00 more than a base protein: swaps one guest's protein for salmon.", 500)
    assert rows["extra:salmon"] == (
        "Extra salmon", "$15.00 = $10.00 extra protein + $5.00 premium: one more serving of salmon, on top of the "
                        "guests' own.", 1500)
    assert rows["extra:lobster_tail"][1].startswith("$25.00 = $10.00 extra protein + $15.00 premium")
    assert rows["extra:chicken"] == ("Extra chicken", "$10.00: one more serving of chicken, on top of the guests' "
                                                      "own.", 1000)
    assert "+$10.00" not in (await client.get("/menu")).text  # the old flat extra price is gone


async def test_the_menu_and_faq_name_the_station_they_show_and_switch_to_another(client, station, make_station,
                                                                                  make_user, login):
    other = await make_station("SAC")
    await make_user("root@example.com", Role.super_admin)
    admin = await login("root@example.com")
    rules = (await client.get(f"{API}/stations/{other.id}/rules", headers=admin)).json()
    saved = await client.put(f"{API}/stations/{other.id}/rules", headers=admin,
                             json={**rules, "extra_protein_cents": 1200, "menu_change_min_hours": 20})
    assert saved.status_code == 200, saved.text

    # The defaults first: a page asked for with ?station= is remembered for the next ones (web/site/common.py).
    default_menu, default_faq = await client.get("/menu"), await client.get("/faq")
    other_menu, other_faq = await client.get("/menu?station=sac"), await client.get("/faq?station=SAC")

    assert "The menu, prices and policies of our Station FRE station" in words(default_menu.text)
    assert "The menu, prices and policies of our Station SAC station" in words(other_menu.text)
    assert menu_rows(default_menu.text)["extra:chicken"][2] == 1000
    assert menu_rows(other_menu.text)["extra:chicken"][2] == 1200
    assert "The policies of our Station FRE station" in words(default_faq.text)
    assert "The policies of our Station SAC station" in words(other_faq.text)
    assert "until 12 hours before" in default_faq.text and "until 20 hours before" in other_faq.text
    assert 'href="/faq?station=sac"' in default_faq.text  # the switch


# --- the booking flow ----------------------------------------------------------------------------------------------


async def test_the_booking_flow_labels_each_item_as_the_menu_does(client, station):
    rows = menu_rows((await client.get("/menu")).text)
    start = read(await client.get("/book"))

    for line, (label, explanation, _) in rows.items():
        if ":" not in line:
            continue
        group, _, code = line.partition(":")
        field = {"upgrade": "upgrades", "extra": "extra_proteins", "addon": "addons"}[group] + "." + code
        assert (f'<label for="f-{field}">{label} <span class="hint">{explanation}</span></label>'
                in html.unescape(start.text)), line


async def test_proteins_that_do_not_add_up_are_said_beside_them_and_the_party_step_stays(client, station):
    start = read(await client.get("/book"))

    wrong = await submit(client, start, **PARTY, **{**PARTY_33, "proteins.tofu": "2"})

    assert wrong.response.status_code == 422
    assert "Your party" in wrong.text and "Date and start time" not in wrong.text
    assert wrong.errors["proteins"].startswith("The proteins chosen add up to 35, but a party of 12 adults, 4 "
                                               "children and 1 toddler has 33")
    assert 'aria-describedby="proteins-hint f-proteins-error"' in wrong.text
    assert wrong.form.fields["proteins.tofu"] == "2"  # kept to correct


async def test_proteins_chosen_in_the_flow_are_booked(client, station):
    page = await submit(client, read(await client.get("/book")), **PARTY, **PARTY_33)
    assert "Date and start time" in page.text, page.errors
    page = await submit(client, page, ("go", f"day:{EVENT_DAY}"))
    page = await submit(client, page, slot_time="18:00")
    page = await submit(client, page, **DETAILS)
    done = await submit(client, page, ("go", "book"))

    token = str(done.response.url).split("/")[-2]
    booking = (await client.get(f"{API}/manage/{token}")).json()
    assert booking["party"]["proteins"] == {"chicken": 12, "ny_strip": 10, "shrimp": 11}


@pytest.mark.parametrize(("typed", "said"), [
    ({}, "Choose 4 proteins (two per adult and child, one per toddler), now or later."),
    ({"proteins.chicken": "3"}, "3 of 4 proteins chosen: 1 to go."),
    ({"proteins.chicken": "2", "proteins.tofu": "2"}, "All 4 proteins chosen."),
    ({"proteins.chicken": "5"}, "5 proteins chosen: 1 more than this party's 4"),
    ({"proteins.chicken": "x"}, "Please enter whole numbers."),
])
async def test_the_live_check_counts_the_proteins_as_they_are_typed(client, station, typed, said):
    response = await client.post("/book/proteins", data={"station_id": station.id, "zip_code": "94538",
                                                         "adults": "1", "children": "0", "toddlers": "2", **typed})

    assert response.status_code == 200 and said in html.unescape(response.text)


async def test_the_live_quote_keeps_its_price_while_the_proteins_are_half_chosen(client, station):
    response = await client.post("/book/quote", data={"station_id": station.id, **PARTY, "proteins.chicken": "3"})

    assert 'class="total"><th scope="row">Total</th>' in response.text


# --- the manage page and the staff's party page ---------------------------------------------------------------------


async def test_the_customer_chooses_the_proteins_on_the_manage_page(client, station, book):
    created = await book(station.id)
    url = f"/manage/{created['manage_token']}"
    view = await client.get(url)
    assert "Proteins Not chosen yet: choose them by Thursday, December 10, 2026 at 6:00 AM" in words(view.text)
    form = read(await client.get(f"{url}/party"))
    assert form.form.fields["proteins.chicken"] == "0"
    assert "Choose 33 proteins" in form.text

    wrong = await submit(client, form, ("go", "preview"), **{"proteins.chicken": "30"})
    preview = await submit(client, form, ("go", "preview"), **PARTY_33)
    done = await submit(client, preview, ("go", "confirm"))

    assert wrong.response.status_code == 422 and "add up to 30" in wrong.errors["proteins"]
    assert preview.response.status_code == 200 and "All 33 proteins chosen." in preview.text
    assert "Your party has been changed" in words(done)
    assert "Proteins Chicken × 12, NY strip × 10, Shrimp × 11" in words(done)
    booking = (await client.get(f"{API}/manage/{created['manage_token']}")).json()
    assert booking["party"]["proteins"] == {"chicken": 12, "ny_strip": 10, "shrimp": 11}


async def test_a_guest_change_on_the_page_asks_for_the_proteins_again(client, station, book):
    created = await book(station.id, proteins={"chicken": 12, "ny_strip": 10, "shrimp": 11})
    form = read(await client.get(f"/manage/{created['manage_token']}/party"))

    refused = await submit(client, form, ("go", "preview"), adults="14")
    fixed = await submit(client, refused, ("go", "preview"), adults="14", **{"proteins.tofu": "4"})

    assert refused.response.status_code == 422
    assert "a party of 14 adults, 4 children and 1 toddler has 37" in refused.errors["proteins"]
    assert fixed.response.status_code == 200 and "Confirm change" in fixed.text
    booking = (await client.get(f"{API}/manage/{created['manage_token']}")).json()
    assert booking["party"]["adults"] == 12 and booking["party"]["proteins"] == {
        "chicken": 12, "ny_strip": 10, "shrimp": 11}


async def test_staff_set_the_proteins_on_the_party_page_until_the_menu_closes(client, station, book, make_user,
                                                                              login, admin_sign_in, clock):
    created = await book(station.id)
    await make_user("admin@example.com", Role.admin, station)
    paid = await client.post(f"{API}/bookings/{created['id']}/payments", headers=await login("admin@example.com"),
                             json={"method": "cash", "amount_cents": 10000, "reference": "R-1"})
    assert paid.status_code == 201, paid.text
    await admin_sign_in("admin@example.com")
    booking_page = await client.get(f"/admin/bookings/{created['id']}")
    assert '<strong class="warn">Not chosen yet</strong>' in booking_page.text
    assert f'href="/admin/prep?station={station.id}&amp;day=2026-12-10"' in booking_page.text

    form = read(await client.get(f"/admin/bookings/{created['id']}/party"))
    preview = await submit(client, form, ("go", "preview"), **PARTY_33)
    done = await submit(client, preview, ("go", "confirm"))
    assert "The party has changed" in done.text
    assert "<dt>Proteins</dt><dd>Chicken × 12, NY strip × 10, Shrimp × 11</dd>" in done.text

    clock.move_to(MENU_CLOSES + timedelta(minutes=1))
    await admin_sign_in("admin@example.com")
    closed = await client.get(f"/admin/bookings/{created['id']}/party")
    assert "The menu can change only until 12 hours before the event" in closed.text
    assert not re.search(r'<input id="f-proteins.chicken"', closed.text)  # nothing left to change
