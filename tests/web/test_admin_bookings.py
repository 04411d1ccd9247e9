"""The admin bookings pages over HTTP, as a browser without JavaScript uses them: the list with its filters and pages,
the week and month calendars in the station's time, a chef's own events, a booking's page, and every action shown
with its consequence first and done only when confirmed, by the roles that may."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from myhibachi.auth.permissions import Role
from myhibachi.chefs.models import Chef
from myhibachi.core.money import format_money
from tests.bookings.conftest import API
from tests.web.browserless import Page, admin_csrf, read, submit

ADMIN, SUPPORT, MANAGER, CHEF = "admin@example.com", "support@example.com", "manager@example.com", "chef@example.com"


@pytest.fixture
async def staff(station, make_user, db):  # noqa: ANN001, ANN201
    """FRE's admin, support, manager and chef; the chef user is the roster's first chef."""
    for email, role in [(ADMIN, Role.admin), (SUPPORT, Role.support), (MANAGER, Role.manager), (CHEF, Role.chef)]:
        user_id = await make_user(email, role, station, name=f"{role.value.capitalize()} Person")
        if role is Role.chef:
            async with db.transaction() as session:
                await session.execute(update(Chef).where(Chef.name == "Chef FRE 1").values(user_id=user_id))
    return station


@pytest.fixture
def api(client, login):  # noqa: ANN001, ANN201
    """The JSON API as a staff member: what the pages did, checked another way."""

    async def booking(booking_id: int, email: str = ADMIN) -> dict:
        response = await client.get(f"{API}/bookings/{booking_id}", headers=await login(email))
        assert response.status_code == 200, response.text
        return response.json()

    return booking


async def chef_ids(db, station) -> dict[str, int]:  # noqa: ANN001
    from sqlalchemy import select

    async with db.session() as session:
        return dict((await session.execute(select(Chef.name, Chef.id).where(Chef.station_id == station.id))).all())


async def open_page(client, path: str) -> Page:  # noqa: ANN001
    response = await client.get(path)
    assert response.status_code == 200, response.text[:2000]
    return read(response)


def action_form(page: Page, action: str):  # noqa: ANN201
    return next(form for form in page.forms if form.action.endswith(f"/{action}"))


def notice(page: Page) -> str:
    found = re.search(r'<div class="notice" role="status"><p>(.*?)</p>', page.text, re.S)
    return found.group(1) if found else ""


def alert(page: Page) -> str:
    found = re.search(r'<div class="alert" role="alert"><p>(.*?)</p>', page.text, re.S)
    return found.group(1) if found else ""


def references(html: str) -> list[str]:
    return re.findall(r">(MH-[A-Z0-9]{6})(?:</span>)?</a>", html)


def cell(html: str, day: str) -> str:
    found = re.search(rf'data-day="{day}">(.*?)</td>', html, re.S)
    assert found, day
    return found.group(1)


BADGE = '<span class="badge status-{}">{}</span>'


def total(created: dict) -> str:
    return format_money(created["quote"]["total_cents"])


@pytest.fixture
def sign_in_as(client, admin_sign_in):  # noqa: ANN001, ANN201
    """Another staff member at the same browser: the last one's cookies go first."""

    async def switch(email: str) -> Page:
        client.cookies.clear()
        return await admin_sign_in(email)

    return switch


# --- the list and the calendars -----------------------------------------------------------------------------------


async def test_the_list_filters_by_status_and_dates_and_pages_by_cursor(client, staff, book, admin_sign_in, login):
    made = [await book(staff.id, f"2026-12-{day}", "18:00", email=f"g{day}@example.com") for day in (10, 11, 12, 13)]
    await client.post(f"{API}/bookings/{made[1]['id']}/confirm", headers=await login(ADMIN))
    await admin_sign_in(ADMIN)

    first = await open_page(client, "/admin/bookings?limit=3")
    second = await open_page(client, re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&"))
    confirmed = await open_page(client, "/admin/bookings?status=confirmed")
    window = await open_page(client, "/admin/bookings?from=2026-12-11&to=2026-12-12")
    reversed_dates = await open_page(client, "/admin/bookings?from=2026-12-12&to=2026-12-11")

    assert "<h1>Bookings — Station FRE</h1>" in first.text and "data-sortable" in first.text
    assert references(first.text) == [b["reference"] for b in made[:3]]
    assert references(second.text) == [made[3]["reference"]] and "First page" in second.text
    assert 'rel="next"' not in second.text
    assert references(confirmed.text) == [made[1]["reference"]]
    assert references(window.text) == [made[1]["reference"], made[2]["reference"]]
    assert references(reversed_dates.text) == references(window.text)
    assert "Dana Lee" in first.text and total(made[0]) in first.text


async def test_the_list_starts_today_and_survives_nonsense(client, staff, book, admin_sign_in, clock):
    early = await book(staff.id, "2026-12-04")
    clock.move_to(datetime(2026, 12, 6, 16, tzinfo=UTC))
    await admin_sign_in(ADMIN)

    default = await open_page(client, "/admin/bookings")
    everything = await open_page(client, "/admin/bookings?from=&to=")
    nonsense = await client.get("/admin/bookings", params={"status": "lost", "from": "yesterday", "to": "2026-13-45",
                                                           "limit": "-4", "view": "year", "cursor": "not-ours"})

    assert references(default.text) == [] and "No bookings match" in default.text
    assert references(everything.text) == [early["reference"]]
    assert nonsense.status_code == 200 and "That page link no longer works" in nonsense.text


async def test_week_and_month_place_an_event_on_its_local_day(client, staff, book, admin_sign_in):
    late = await book(staff.id, "2026-12-10", "21:00")  # 05:00 UTC on the 11th
    await admin_sign_in(ADMIN)

    week = await open_page(client, "/admin/bookings?view=week&day=2026-12-10")
    month = await open_page(client, "/admin/bookings?view=month&month=2026-12")
    next_week = await open_page(client, "/admin/bookings?view=week&day=2026-12-17")
    bad = await open_page(client, "/admin/bookings?view=month&month=someday")

    assert "Week of December 6 to December 12, 2026" in week.text
    assert late["reference"] in cell(week.text, "2026-12-10") and "9:00 PM" in cell(week.text, "2026-12-10")
    assert late["reference"] not in cell(week.text, "2026-12-11")
    assert late["reference"] in cell(month.text, "2026-12-10") and late["reference"] not in cell(month.text,
                                                                                               "2026-12-11")
    assert "Previous month" in month.text and "view=month&amp;month=2027-01" in month.text
    assert references(next_week.text) == [] and "Nothing booked this week" in next_week.text
    assert "<h2 id=\"month-title\">December 2026</h2>" in bad.text  # the current month instead
    for query in ("view=week&day=0001-01-01", "view=month&month=9999-12", "view=month&month=0-0"):
        assert (await client.get(f"/admin/bookings?{query}")).status_code == 200, query


async def test_a_chef_sees_only_their_events(client, staff, book, db, admin_sign_in, login):
    mine, theirs = await book(staff.id, "2026-12-10", "18:00"), await book(staff.id, "2026-12-10", "12:00")
    chefs = await chef_ids(db, staff)
    await client.post(f"{API}/bookings/{mine['id']}/assign-chef", json={"chef_id": chefs["Chef FRE 1"]},
                      headers=await login(ADMIN))
    await admin_sign_in(CHEF)

    listed = await open_page(client, "/admin/bookings?from=")
    week = await open_page(client, "/admin/bookings?view=week&day=2026-12-10")
    own = await open_page(client, f"/admin/bookings/{mine['id']}")
    other = await client.get(f"/admin/bookings/{theirs['id']}")
    action = await client.get(f"/admin/bookings/{mine['id']}/cancel")

    assert "<h1>My events — Station FRE</h1>" in listed.text
    assert references(listed.text) == [mine["reference"]] and references(week.text) == [mine["reference"]]
    assert "Total" not in listed.text  # no money columns without payments.read
    assert "Allergies" in own.text and "Payments and refunds" not in own.text and 'id="actions-title"' not in own.text
    assert other.status_code == 404 and action.status_code == 403


async def test_the_booking_page_shows_the_quote_payments_and_history(client, staff, book, db, admin_sign_in, login):
    created = await book(staff.id, notes="Gate code 1234")
    headers = await login(ADMIN)
    chefs = await chef_ids(db, staff)
    await client.post(f"{API}/bookings/{created['id']}/assign-chef", json={"chef_id": chefs["Chef FRE 2"]},
                      headers=headers)
    await client.post(f"{API}/bookings/{created['id']}/payments", headers=headers,
                      json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
    await admin_sign_in(ADMIN)

    page = await open_page(client, f"/admin/bookings/{created['id']}")

    text = page.text
    assert f"<h1>Booking {created['reference']}</h1>" in text and "Confirmed" in text
    assert "Filet mignon × 3" in text and "Gate code 1234" in text and "4100 Mowry Ave" in text
    balance = format_money(created["quote"]["total_cents"] - 10000)
    assert f"Total</th><td>{total(created)}" in text and f"Balance</dt><dd><strong>{balance}" in text
    assert re.search(r"<td>deposit</td>\s*<td>zelle</td>\s*<td>succeeded</td>\s*<td>\$100\.00</td>", text)
    assert "ZL-1" in text and "by Admin Person" in text
    assert "Chef assigned" in text and "<ins>Chef FRE 2</ins>" in text
    assert "<del>pending deposit</del> → <ins>confirmed</ins>" in text
    reference = created["reference"]
    messages = re.search(r'<section aria-labelledby="messages-title">.*?</section>', text, re.S).group(0)
    assert f"We&#39;re holding your date — {reference}" in messages and "dana@example.com" in messages
    assert f"Deposit received — you are confirmed — {reference}" in messages  # the receipt confirms it
    assert messages.count("<tr>") == 3  # the heading row, the hold, the confirmation


async def test_switching_station_on_a_booking_opens_that_stations_bookings(client, staff, book, admin_sign_in):
    created = await book(staff.id)
    await admin_sign_in(ADMIN)

    same = await client.get(f"/admin/bookings/{created['id']}?station={staff.id}")
    other = await client.get(f"/admin/bookings/{created['id']}/reschedule?station=77")

    assert same.status_code == 200
    assert other.status_code == 303 and other.headers["location"] == "/admin/bookings?station=77"


async def test_outside_ones_scope_a_booking_does_not_exist(client, staff, book, admin_sign_in, make_station, make_user):
    ours = await book(staff.id)
    other = await make_station("SAC")
    await make_user("sac@example.com", Role.admin, other)
    await admin_sign_in("sac@example.com")

    for path in (f"/admin/bookings/{ours['id']}", f"/admin/bookings/{ours['id']}/cancel", "/admin/bookings/x1",
                 "/admin/bookings/99999999999999999999", f"/admin/bookings/{ours['id']}/teleport"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "<h1>Not found</h1>" in response.text


# --- previews change nothing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "email", "shown"), [
    ("confirm", ADMIN, "The customer is emailed the confirmation"),
    ("payment", ADMIN, "covers the deposit and confirms the booking"),
    ("assign-chef", MANAGER, "The chef must be free for the whole busy window, 5:00 PM to 7:45 PM"),
    ("reschedule", SUPPORT, "The first reschedule is free until 24 hours before the event."),
    ("party", SUPPORT, "Guest counts can change until 24 hours before the event."),
    ("cancel", ADMIN, "Nothing has been paid yet; cancelling costs nothing."),
    ("cancel-request", SUPPORT, "An admin of the station sees the request"),
])
async def test_each_action_shows_its_consequence_first(client, staff, book, admin_sign_in, api, action, email, shown):
    created = await book(staff.id)
    before = await api(created["id"])
    await admin_sign_in(email)

    page = await open_page(client, f"/admin/bookings/{created['id']}/{action}")

    assert shown in page.text and "Nothing " in page.text and "until you" in page.text
    assert await api(created["id"]) == before


async def test_previews_of_a_move_and_a_new_party_change_nothing(client, staff, book, admin_sign_in, api):
    created = await book(staff.id)
    quote = await client.post(f"{API}/quotes", json={
        "station_id": staff.id, "zip_code": "94538", "adults": 20, "children": 4, "toddlers": 1,
        "upgrades": {"filet_mignon": 3}, "addons": {"gyoza": 1}})
    before = await api(created["id"])
    await admin_sign_in(SUPPORT)

    calendar = await open_page(client, f"/admin/bookings/{created['id']}/reschedule")
    day = await submit(client, calendar, ("go", "day:2026-12-15"))
    move = await submit(client, day, ("go", "preview"), slot_time="15:00")
    party = await open_page(client, f"/admin/bookings/{created['id']}/party")
    priced = await submit(client, party, ("go", "preview"), adults="20")

    assert "To</dt><dd><strong>Tue, Dec 15, 2026, 3:00 PM" in move.text and "None: this move is free" in move.text
    assert f"New price</dt><dd><strong>{format_money(quote.json()['total_cents'])}" in priced.text
    assert await api(created["id"]) == before


# --- the actions done -----------------------------------------------------------------------------------------------


async def test_a_booking_from_chef_to_approved_cancellation(client, staff, book, db, sign_in_as, api):
    created = await book(staff.id)
    chefs = await chef_ids(db, staff)
    detail = f"/admin/bookings/{created['id']}"
    await sign_in_as(ADMIN)

    page = await open_page(client, f"{detail}/assign-chef")
    page = await submit(client, page, ("go", "confirm"), form=action_form(page, "assign-chef"),
                        chef_id=str(chefs["Chef FRE 1"]))
    assert "The chef is assigned." in notice(page) and "<dd>Chef FRE 1</dd>" in page.text

    page = await open_page(client, f"{detail}/payment")
    page = await submit(client, page, ("go", "confirm"), form=action_form(page, "payment"), method="cash",
                        amount="100.00", reference="R-77")
    assert "payment is recorded" in notice(page) and BADGE.format("confirmed", "Confirmed") in page.text
    assert (await api(created["id"]))["paid_cents"] == 10000

    refund_link = re.search(r'href="(/admin/bookings/\d+/refund\?payment=\d+)"', page.text).group(1)
    page = await open_page(client, refund_link)
    assert "Refundable</dt><dd><strong>$100.00" in page.text and action_form(page, "refund").fields["amount"] == ""
    page = await submit(client, page, ("go", "preview"), form=action_form(page, "refund"), amount="40",
                        reason="Two guests fewer")
    assert "Refund $40.00 of the $100.00 cash payment to the customer by cash; they will be emailed." in page.text
    assert (await api(created["id"]))["paid_cents"] == 10000  # previewed only
    page = await submit(client, page, ("go", "confirm"), form=action_form(page, "refund"))
    assert "refund is recorded" in notice(page) and "Two guests fewer" in page.text
    assert (await api(created["id"]))["paid_cents"] == 6000

    await sign_in_as(SUPPORT)
    page = await open_page(client, f"{detail}/cancel-request")
    page = await submit(client, page, ("go", "confirm"), form=action_form(page, "cancel-request"),
                        reason="Customer moved away")
    assert "Cancellation requested" in notice(page) and "Customer moved away" in page.text
    assert (await api(created["id"]))["status"] == "confirmed"

    await sign_in_as(ADMIN)
    page = await open_page(client, detail)
    assert "Approve the cancellation" in page.text and "Support Person asked" in page.text
    page = await open_page(client, f"{detail}/cancel")
    assert "Refund owed under the policy</dt><dd><strong>$60.00" in page.text
    page = await submit(client, page, ("go", "confirm"), form=action_form(page, "cancel"))
    assert "The booking is cancelled" in notice(page)
    assert "Refund owed under the policy: <strong>$60.00</strong>" in page.text
    final = await api(created["id"])
    assert final["status"] == "cancelled" and final["refund_owed_cents"] == 6000
    assert final["cancel_reason"] == "Customer moved away"
    actions = [entry["action"] for entry in final["history"]]
    assert actions == ["bookings.create", "bookings.assign_chef", "bookings.confirm", "bookings.cancel_request",
                       "bookings.cancel"]


async def test_moving_a_booking_and_changing_its_party(client, staff, book, admin_sign_in, api):
    created = await book(staff.id)
    await admin_sign_in(SUPPORT)

    page = await open_page(client, f"/admin/bookings/{created['id']}/reschedule")
    page = await submit(client, page, ("go", "day:2026-12-15"))
    page = await submit(client, page, ("go", "preview"), slot_time="15:00")
    moved = await submit(client, page, ("go", "confirm"))
    page = await open_page(client, f"/admin/bookings/{created['id']}/party")
    page = await submit(client, page, ("go", "preview"), adults="14", **{"addons.gyoza": "2"})
    changed = await submit(client, page, ("go", "confirm"))

    assert "The booking has moved" in notice(moved) and "Tue, Dec 15, 2026, 3:00 PM" in moved.text
    assert "The party has changed" in notice(changed) and "14 adults" in changed.text
    after = await api(created["id"])
    assert (after["event_date"], after["slot_time"], after["party"]["adults"]) == ("2026-12-15", "15:00", 14)
    assert after["party"]["addons"] == {"gyoza": 2}


async def test_an_admin_declines_a_request_and_closes_the_event(client, staff, book, sign_in_as, api, clock, login):
    created = await book(staff.id)
    await client.post(f"{API}/bookings/{created['id']}/cancel-request", json={"reason": "Unsure"},
                      headers=await login(SUPPORT))
    detail = f"/admin/bookings/{created['id']}"
    await sign_in_as(ADMIN)

    page = await open_page(client, f"{detail}/confirm")
    confirmed = await submit(client, page, ("go", "confirm"), form=action_form(page, "confirm"))
    assert "confirmed and the customer has been emailed" in notice(confirmed)
    page = await open_page(client, f"{detail}/decline-cancellation")
    assert "(“Unsure”) is cleared" in page.text
    page = await submit(client, page, ("go", "confirm"), form=action_form(page, "decline-cancellation"))
    early = await open_page(client, f"{detail}/complete")
    clock.move_to(datetime(2026, 12, 11, 3, tzinfo=UTC))  # the event (18:00 local on the 10th) has started
    await sign_in_as(ADMIN)
    page = await open_page(client, f"{detail}/complete")
    done = await submit(client, page, ("go", "confirm"), form=action_form(page, "complete"))

    assert f"{total(created)} of the total is unpaid" in page.text
    assert "The event has not started yet" in early.text and not early.forms[1:]
    assert "The event is marked completed." in notice(done) and BADGE.format("completed", "Completed") in done.text
    after = await api(created["id"])
    assert after["status"] == "completed" and after["cancel_request"] is None


async def test_a_no_show_and_an_unassigned_chef(client, staff, book, db, sign_in_as, api, clock, login):
    created = await book(staff.id)
    headers = await login(ADMIN)
    chefs = await chef_ids(db, staff)
    await client.post(f"{API}/bookings/{created['id']}/confirm", headers=headers)
    await client.post(f"{API}/bookings/{created['id']}/assign-chef", json={"chef_id": chefs["Chef FRE 2"]},
                      headers=headers)
    detail = f"/admin/bookings/{created['id']}"
    await sign_in_as(MANAGER)

    page = await open_page(client, f"{detail}/unassign-chef")
    assert "Chef FRE 2 no longer cooks this event" in page.text
    unassigned = await submit(client, page, ("go", "confirm"), form=action_form(page, "unassign-chef"))
    clock.move_to(datetime(2026, 12, 11, 3, tzinfo=UTC))
    await sign_in_as(ADMIN)
    page = await open_page(client, f"{detail}/no-show")
    gone = await submit(client, page, ("go", "confirm"), form=action_form(page, "no-show"))

    assert "The chef is unassigned" in notice(unassigned)
    assert "Nothing is refunded" in page.text and "marked as a no-show" in notice(gone)
    after = await api(created["id"])
    assert after["status"] == "no_show" and after["chef_id"] is None


# --- roles ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("email", "shown", "hidden"), [
    (ADMIN, ["Confirm without a payment", "Record a payment", "Assign a chef", "Reschedule", "Cancel the booking"],
     ["Ask an admin to cancel"]),
    (SUPPORT, ["Reschedule", "Change guests or menu", "Ask an admin to cancel"],
     ["Cancel the booking", "Record a payment", "Confirm without a payment", "Assign a chef", "Refund<"]),
    (MANAGER, ["Assign a chef"], ["Reschedule", "Cancel the booking", "Record a payment", "Ask an admin"]),
])
async def test_each_role_sees_only_the_actions_it_may_use(client, staff, book, admin_sign_in, login, email, shown,
                                                          hidden):
    created = await book(staff.id)
    await client.post(f"{API}/bookings/{created['id']}/payments", headers=await login(ADMIN),
                      json={"method": "zelle", "amount_cents": 5000, "reference": "Z-5"})
    await admin_sign_in(email)

    page = await open_page(client, f"/admin/bookings/{created['id']}")

    assert all(label in page.text for label in shown), email
    assert not any(label in page.text for label in hidden), email


async def test_support_is_refused_cancelling_and_refunding(client, staff, book, admin_sign_in, api, login):
    created = await book(staff.id)
    paid = await client.post(f"{API}/bookings/{created['id']}/payments", headers=await login(ADMIN),
                             json={"method": "zelle", "amount_cents": 10000, "reference": "Z-9"})
    before = await api(created["id"])
    await admin_sign_in(SUPPORT)
    token = await admin_csrf(client)

    cancel_page = await client.get(f"/admin/bookings/{created['id']}/cancel")
    cancel = await client.post(f"/admin/bookings/{created['id']}/cancel",
                               data={"csrf_token": token, "go": "confirm", "reason": "Because",
                                     "refund_cents": "10000"})
    refund = await client.post(f"/admin/bookings/{created['id']}/refund",
                               data={"csrf_token": token, "go": "confirm", "payment_id": str(paid.json()["id"]),
                                     "amount": "10.00", "reason": "Because"})
    payment = await client.post(f"/admin/bookings/{created['id']}/payment",
                                data={"csrf_token": token, "go": "confirm", "method": "cash", "amount": "5",
                                      "reference": "X"})

    assert cancel_page.status_code == 403 and "<h1>Not allowed</h1>" in cancel_page.text
    assert cancel.status_code == 403 and refund.status_code == 403 and payment.status_code == 403
    assert await api(created["id"]) == before


async def test_a_post_without_the_form_token_changes_nothing(client, staff, book, admin_sign_in, api):
    created = await book(staff.id)
    before = await api(created["id"])
    await admin_sign_in(ADMIN)

    response = await client.post(f"/admin/bookings/{created['id']}/confirm", data={"go": "confirm"})

    assert response.status_code == 403 and "This form had expired" in response.text
    assert await api(created["id"]) == before


# --- bad input --------------------------------------------------------------------------------------------------------


async def test_an_unknown_or_busy_chef_is_refused_beside_the_field(client, staff, book, db, admin_sign_in, api, login):
    created = await book(staff.id)
    other = await book(staff.id, slot="18:00", email="other@example.com")
    chefs = await chef_ids(db, staff)
    await client.post(f"{API}/bookings/{other['id']}/assign-chef", json={"chef_id": chefs["Chef FRE 1"]},
                      headers=await login(ADMIN))
    before = await api(created["id"])
    await admin_sign_in(ADMIN)
    page = await open_page(client, f"/admin/bookings/{created['id']}/assign-chef")
    form = action_form(page, "assign-chef")

    unknown = await submit(client, page, ("go", "confirm"), form=form, chef_id="999999")
    busy = await submit(client, page, ("go", "confirm"), form=form, chef_id=str(chefs["Chef FRE 1"]))
    blank = await submit(client, page, ("go", "confirm"), form=form)

    assert unknown.response.status_code == 422 and unknown.errors["chef_id"] == "No such chef at this station."
    assert busy.response.status_code == 409 and "already has an event then" in busy.errors["chef_id"]
    assert blank.response.status_code == 422 and "choose a chef" in blank.errors["chef_id"]
    assert "already cooking at 6:00 PM" in page.text
    assert await api(created["id"]) == before


async def test_an_amount_above_what_is_due_is_refused_beside_the_field(client, staff, book, admin_sign_in, api):
    created = await book(staff.id)
    before = await api(created["id"])
    await admin_sign_in(ADMIN)
    page = await open_page(client, f"/admin/bookings/{created['id']}/payment")
    form = action_form(page, "payment")

    too_much = await submit(client, page, ("go", "confirm"), form=form, amount="900.00", reference="R-1")
    not_money = await submit(client, page, ("go", "confirm"), form=form, amount="lots", reference="R-1")
    no_reference = await submit(client, page, ("go", "confirm"), form=form, amount="100", reference="")

    assert too_much.response.status_code == 422
    assert too_much.errors["amount"] == f"At most {total(created)} is due on this booking."
    assert too_much.form.fields["amount"] == "900.00" and too_much.form.fields["reference"] == "R-1"
    assert not_money.response.status_code == 422 and "like 100.00" in not_money.errors["amount"]
    assert no_reference.response.status_code == 422 and "reference" in no_reference.errors
    assert await api(created["id"]) == before


async def test_a_refund_above_what_is_left_is_refused(client, staff, book, admin_sign_in, api, login):
    created = await book(staff.id)
    await client.post(f"{API}/bookings/{created['id']}/payments", headers=await login(ADMIN),
                      json={"method": "venmo", "amount_cents": 10000, "reference": "V-1"})
    before = await api(created["id"])
    await admin_sign_in(ADMIN)
    page = await open_page(client, f"/admin/bookings/{created['id']}/refund")  # the only payment is chosen

    too_much = await submit(client, page, ("go", "preview"), form=action_form(page, "refund"), amount="150",
                            reason="Oops")
    no_reason = await submit(client, page, ("go", "preview"), form=action_form(page, "refund"), amount="10")
    forged = await submit(client, page, ("go", "preview"), form=action_form(page, "refund"), amount="150",
                          reason="Oops")
    confirmed = await client.post(f"/admin/bookings/{created['id']}/refund",  # past the preview: refused alike
                                  data={**forged.forms[-1].fields, "go": "confirm"})

    assert too_much.response.status_code == 422
    assert too_much.errors["amount"] == "At most $100.00 of this payment can be refunded."
    assert no_reason.response.status_code == 422 and "reason" in no_reason.errors
    assert confirmed.status_code == 422 and "At most $100.00 of this payment" in confirmed.text
    assert not re.search(r"\d cents", too_much.text + confirmed.text)
    assert await api(created["id"]) == before


async def test_a_slot_taken_meanwhile_is_refused_beside_the_time(client, staff, book, admin_sign_in, api):
    created = await book(staff.id)
    before = await api(created["id"])
    await admin_sign_in(SUPPORT)
    page = await open_page(client, f"/admin/bookings/{created['id']}/reschedule")
    page = await submit(client, page, ("go", "day:2026-12-15"))
    preview = await submit(client, page, ("go", "preview"), slot_time="15:00")
    for n in range(2):  # both chefs are taken at that time meanwhile
        await book(staff.id, "2026-12-15", "15:00", email=f"fast{n}@example.com")

    taken = await submit(client, preview, ("go", "confirm"))
    again = await submit(client, page, ("go", "preview"), slot_time="15:00")

    assert taken.response.status_code == 409 and "No chef is free for that time" in taken.errors["slot_time"]
    assert again.response.status_code == 422 and again.errors["slot_time"] == "That time is not free any more; " \
                                                                              "please choose another."
    assert await api(created["id"]) == before


async def test_a_party_that_is_not_a_number_or_no_change_is_refused(client, staff, book, admin_sign_in, api):
    created = await book(staff.id)
    before = await api(created["id"])
    await admin_sign_in(SUPPORT)
    page = await open_page(client, f"/admin/bookings/{created['id']}/party")

    letters = await submit(client, page, ("go", "preview"), adults="many")
    same = await submit(client, page, ("go", "preview"))
    too_many = await submit(client, page, ("go", "preview"), adults="500")
    forged = await client.post(f"/admin/bookings/{created['id']}/party",  # no preview: no price was agreed
                               data={**page.forms[-1].fields, "adults": "13", "go": "confirm"})

    assert letters.response.status_code == 422 and letters.errors["adults"] == "Please enter a whole number."
    assert letters.form.fields["adults"] == "many"
    assert same.response.status_code == 422 and "Nothing has changed yet" in alert(same)
    assert too_many.response.status_code == 422 and "adults" in too_many.errors
    assert forged.status_code == 409 and "preview it again" in alert(read(forged))
    assert await api(created["id"]) == before


async def test_a_refund_asks_which_payment_when_there_are_several(client, staff, book, admin_sign_in, login):
    created, other = await book(staff.id), await book(staff.id, slot="12:00", email="other@example.com")
    headers = await login(ADMIN)
    for booking, reference in ((created, "C-1"), (created, "C-2"), (other, "O-1")):
        await client.post(f"{API}/bookings/{booking['id']}/payments", headers=headers,
                          json={"method": "cash", "amount_cents": 5000, "reference": reference})
    await admin_sign_in(ADMIN)

    choose = await open_page(client, f"/admin/bookings/{created['id']}/refund")
    others = await client.get(f"/admin/bookings/{created['id']}/refund?payment=3")
    nonsense = await client.get(f"/admin/bookings/{created['id']}/refund?payment=first")

    assert "Which payment?" in choose.text and len(re.findall(r"refund\?payment=\d+", choose.text)) == 2
    assert others.status_code == 404 and nonsense.status_code == 404
