"""The customer's manage pages, used like a browser without JavaScript: the booking and what each change would
cost, a party change previewed then confirmed, a move through the calendar, cancelling with the refund shown
first. Whatever a page shows or does, the JSON API (the same domain) must agree."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from myhibachi.core.money import format_money
from tests.bookings.conftest import API, EVENT_DAY
from tests.web.browserless import Page, read, submit

START = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # the booked event: 2026-12-10 18:00 in Fremont
MOVED_DAY = "2026-12-12"


def manage(created: dict) -> str:
    return f"/manage/{created['manage_token']}"


def words(page: Page) -> str:
    """The page's text as read: tags gone, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def links(page: Page) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'<a [^>]*href="([^"]+)"', page.text)]


async def open_page(client, path: str, status: int = 200) -> Page:  # noqa: ANN001
    response = await client.get(path)
    assert response.status_code == status, response.text[:800]
    assert response.headers["content-type"].startswith("text/html")
    return read(response)


async def api_view(client, created: dict) -> dict:  # noqa: ANN001
    response = await client.get(f"{API}/manage/{created['manage_token']}")
    assert response.status_code == 200, response.text
    return response.json()


def money(cents: int) -> str:
    return format_money(cents, "USD")


@pytest.fixture
async def pay(client, make_user, login, station):  # noqa: ANN001, ANN201
    """The admin records a cash payment, which confirms a pending booking."""
    await make_user("admin@example.com", "admin", station)

    async def record(created: dict, cents: int = 10000) -> None:
        headers = await login("admin@example.com")  # a fresh token: tests move the clock by days
        paid = await client.post(f"{API}/bookings/{created['id']}/payments", headers=headers,
                                 json={"method": "cash", "amount_cents": cents, "reference": "R-1"})
        assert paid.status_code == 201, paid.text

    return record


# --- the booking ---------------------------------------------------------------------------------------------------


async def test_the_booking_page_shows_details_balance_and_every_actions_terms(client, station, book, settings):
    created = await book(station.id, notes="Gate code 1234")
    page = await open_page(client, manage(created))
    text, api = words(page), await api_view(client, created)

    assert f"<title>Your booking {created['reference']} — {settings.brand_name}</title>" in page.text
    assert page.response.headers["cache-control"] == "no-store"
    assert '<meta name="robots" content="noindex">' in page.text
    for shown in ("Thursday, December 10, 2026 at 6:00 PM to 7:30 PM", "Station FRE",
                  "12 adults, 4 children, 1 toddler", "Upgrade to filet mignon × 3, Gyoza × 1",
                  "4100 Mowry Ave, Fremont, CA 94538",
                  "Dana Lee · dana@example.com · +15105550142", "Allergies none", "Notes Gate code 1234",
                  "Held for you", "No payment received yet.",
                  f"Total {money(api['total_due_cents'])}", f"Paid {money(0)}",
                  f"Balance due {money(api['balance_due_cents'])}",
                  "deposit by Wednesday, December 2, 2026 at 8:00 AM"):
        assert shown in text, shown
    for terms in api["actions"].values():
        assert terms["allowed"] and terms["message"] in text
    token = created["manage_token"]
    assert {f"/manage/{token}/pay", f"/manage/{token}/party", f"/manage/{token}/reschedule",
            f"/manage/{token}/cancel", f"/api/v1/manage/{token}/calendar.ics"} <= set(links(page))
    ics = await client.get(f"/api/v1/manage/{token}/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")


@pytest.mark.parametrize("suffix", ["", "/party", "/reschedule", "/cancel", "/payment-sent"])
async def test_an_unknown_or_malformed_link_is_a_404_page(client, station, book, suffix):
    created = await book(station.id)
    token = created["manage_token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "short", "x" * 101, "not%20a%20token%20at%20all%21%21"):
        page = await open_page(client, f"/manage/{bad}{suffix}", status=404)
        assert "We could not find that page" in page.text and "/locations/fre" in page.text
        assert token not in page.text
    posted = await client.post(f"/manage/{forged}{suffix or '/cancel'}", data={"go": "confirm"})
    assert posted.status_code == 404 and "We could not find that page" in posted.text
    assert (await api_view(client, created))["status"] == "pending_deposit"


# --- guests and menu -----------------------------------------------------------------------------------------------


async def test_a_party_change_is_previewed_and_happens_only_when_confirmed(client, station, book):
    created = await book(station.id)
    form = await open_page(client, f"{manage(created)}/party")
    assert {name: form.form.fields[name] for name in ("adults", "children", "toddlers", "upgrades.filet_mignon",
                                                      "addons.gyoza", "addons.edamame")} == {
        "adults": "12", "children": "4", "toddlers": "1", "upgrades.filet_mignon": "3", "addons.gyoza": "1",
        "addons.edamame": "0"}

    preview = await submit(client, form, ("go", "preview"), adults="14", **{"addons.edamame": "1"})
    new_total = int(preview.form.fields["total_cents"])
    unchanged = await api_view(client, created)

    assert preview.response.status_code == 200
    assert new_total > created["quote"]["total_cents"]
    assert f"New price {money(new_total)}" in words(preview)
    assert f"Difference {money(new_total - created['quote']['total_cents'])} more" in words(preview)
    assert unchanged["party"]["adults"] == 12 and unchanged["quote"]["total_cents"] == created["quote"]["total_cents"]

    done = await submit(client, preview, ("go", "confirm"))
    changed = await api_view(client, created)

    assert done.response.history[0].status_code == 303
    assert done.response.url.path == manage(created) and done.response.url.params["done"] == "party"
    assert '<div class="notice" role="status">' in done.text and "Your party has been changed" in words(done)
    assert changed["party"]["adults"] == 14 and changed["party"]["addons"] == {"gyoza": 1, "edamame": 1}
    assert changed["quote"]["total_cents"] == new_total
    assert "14 adults" in words(done)


async def test_bad_party_input_is_shown_beside_its_field_and_changes_nothing(client, station, book):
    created = await book(station.id)
    form = await open_page(client, f"{manage(created)}/party")

    not_a_number = await submit(client, form, ("go", "preview"), adults="twelve")
    too_many = await submit(client, form, ("go", "preview"), adults="51")
    upgrades = await submit(client, form, ("go", "preview"), **{"upgrades.filet_mignon": "99"})
    nothing = await submit(client, form, ("go", "preview"))
    hand_made = await client.post(f"{manage(created)}/party", data={
        **form.form.fields, "adults": "99999999999", "go": "confirm", "total_cents": "1"})

    assert not_a_number.response.status_code == 422 and not_a_number.errors == {
        "adults": "Please enter a whole number."}
    assert 'aria-invalid="true" aria-describedby="f-adults-error"' in not_a_number.text
    assert '<div class="alert" role="alert">' in not_a_number.text
    assert too_many.response.status_code == 422 and "between 1 and 50" in too_many.errors["adults"]
    assert upgrades.response.status_code == 422 and upgrades.errors["upgrades"].startswith("At most 33 proteins")
    assert nothing.response.status_code == 422 and "Nothing has changed yet" in words(nothing)
    assert hand_made.status_code == 422
    assert (await api_view(client, created))["party"]["adults"] == 12


async def test_a_guest_change_after_the_window_closed_shows_why_and_changes_nothing(client, station, book, pay,
                                                                                      clock):
    created = await book(station.id)
    await pay(created)
    clock.move_to(START - timedelta(hours=30))
    stale = await open_page(client, f"{manage(created)}/party")  # opened while guest counts could change
    clock.move_to(START - timedelta(hours=20))

    refused = await submit(client, stale, ("go", "preview"), adults="14")
    fresh = await open_page(client, f"{manage(created)}/party")
    menu_only = await submit(client, fresh, ("go", "preview"), **{"addons.edamame": "2"})

    reason = "Guest counts can change only until 24 hours before the event; please call us."
    assert refused.response.status_code == 409 and reason in words(refused)
    assert (await api_view(client, created))["party"]["adults"] == 12
    assert re.search(r'<fieldset aria-describedby="guests-terms" disabled>', fresh.text) and reason in words(fresh)
    assert re.search(r'<input id="f-adults"[^>]* disabled', fresh.text)
    assert not re.search(r'<input id="f-addons.edamame"[^>]* disabled', fresh.text)
    assert menu_only.response.status_code == 200 and "Confirm change" in menu_only.text  # the menu still can


async def test_a_change_the_domain_refuses_at_confirmation_is_explained_and_rolled_back(client, station, book):
    created = await book(station.id)  # 17 guests at 18:00; two chefs
    for email in ("a@example.com", "b@example.com"):  # both chefs busy from 20:00
        await book(station.id, slot="21:00", email=email)
    form = await open_page(client, f"{manage(created)}/party")
    preview = await submit(client, form, ("go", "preview"), adults="15")  # 20 guests: a longer event

    refused = await submit(client, preview, ("go", "confirm"))

    assert preview.response.status_code == 200
    assert refused.response.status_code == 409
    assert "A party this size needs a longer event and no chef is free for it." in words(refused)
    assert refused.form.fields["adults"] == "15"  # kept, to change again
    after = await api_view(client, created)
    assert after["party"]["adults"] == 12 and after["quote"] == created["quote"]


# --- rescheduling --------------------------------------------------------------------------------------------------


async def choose(client, created: dict, day: str, slot: str) -> Page:  # noqa: ANN001
    """The calendar, a day pressed, a time ticked and the terms asked for."""
    calendar = await open_page(client, f"{manage(created)}/reschedule")
    assert "December 2026" in calendar.text and ("go", f"day:{day}") in calendar.form.buttons
    day_page = await submit(client, calendar, ("go", f"day:{day}"))
    assert slot in day_page.form.radios["slot_time"]
    return await submit(client, day_page, ("go", "preview"), slot_time=slot)


async def test_a_move_through_the_calendar_is_free_first_then_costs_the_fee(client, station, book):
    created = await book(station.id)

    preview = await choose(client, created, MOVED_DAY, "12:00")
    before = await api_view(client, created)
    done = await submit(client, preview, ("go", "confirm"))
    moved = await api_view(client, created)

    assert preview.response.status_code == 200
    assert "To Saturday, December 12, 2026 at 12:00 PM" in words(preview) and "Cost Free" in words(preview)
    assert before["event_start"] == "2026-12-10T18:00:00-08:00"
    assert done.response.history[0].status_code == 303 and "has been moved" in words(done)
    assert moved["event_start"] == "2026-12-12T12:00:00-08:00" and moved["fees_cents"] == 0
    assert "Saturday, December 12, 2026 at 12:00 PM" in words(done)

    again = await choose(client, created, "2026-12-14", "18:00")
    assert "Cost $200.00, added to your balance" in words(again)
    await submit(client, again, ("go", "confirm"))
    last = await api_view(client, created)
    assert last["event_start"] == "2026-12-14T18:00:00-08:00" and last["fees_cents"] == 20000
    assert last["balance_due_cents"] == last["quote"]["total_cents"] + 20000


async def test_a_time_taken_meanwhile_is_explained_with_the_times_still_free(client, station, book):
    created = await book(station.id)
    preview = await choose(client, created, MOVED_DAY, "12:00")
    for email in ("a@example.com", "b@example.com"):  # both chefs, while the customer reads the terms
        await book(station.id, MOVED_DAY, "12:00", email=email)

    taken = await submit(client, preview, ("go", "confirm"))

    assert taken.response.status_code == 409
    assert "Sorry — Saturday, December 12 at 12:00 PM has just been taken." in words(taken)
    assert '<div class="alert" role="alert">' in taken.text
    assert "12:00" not in taken.form.radios.get("slot_time", []) and taken.form.radios["slot_time"]
    assert (await api_view(client, created))["event_start"] == "2026-12-10T18:00:00-08:00"


async def test_the_bookings_own_chef_time_counts_as_free_when_moving_it(client, station, book):
    created = await book(station.id, EVENT_DAY, "18:00")
    for email in ("a@example.com", "b@example.com"):  # the other chef at 15:00, both busy around 18:00
        await book(station.id, EVENT_DAY, "15:00" if email.startswith("a") else "18:00", email=email)

    calendar = await open_page(client, f"{manage(created)}/reschedule")
    day_page = await submit(client, calendar, ("go", f"day:{EVENT_DAY}"))

    # 18:00 is offered (the chef it holds is given up by moving); the public calendar does not offer it.
    assert "18:00" in day_page.form.radios["slot_time"]
    public = (await client.get(f"/api/v1/stations/{station.id}/availability",
                               params={"start": str(EVENT_DAY), "end": str(EVENT_DAY)})).json()
    assert {s["time"]: s["available"] for s in public["days"][0]["slots"]}["18:00"] is False


async def test_a_preview_without_a_time_asks_for_one(client, station, book):
    created = await book(station.id)
    calendar = await open_page(client, f"{manage(created)}/reschedule")
    no_day = await submit(client, calendar, ("go", "preview"))
    day_page = await submit(client, calendar, ("go", f"day:{MOVED_DAY}"))
    no_time = await submit(client, day_page, ("go", "preview"))
    forged = await submit(client, day_page, ("go", "preview"), slot_time="04:00")

    assert no_day.response.status_code == 422
    assert no_day.errors == {"event_date": "Please choose a date in the calendar."}
    assert no_time.response.status_code == 422 and no_time.errors == {"slot_time": "Please choose a start time."}
    assert forged.response.status_code == 422 and "not free" in forged.errors["slot_time"]
    assert (await api_view(client, created))["event_start"] == "2026-12-10T18:00:00-08:00"


# --- cancelling ----------------------------------------------------------------------------------------------------


async def test_cancelling_shows_the_refund_first_then_the_view_shows_it_owed(client, station, book, pay):
    created = await book(station.id)
    await pay(created)
    booking = await open_page(client, manage(created))
    page = await open_page(client, f"{manage(created)}/cancel")

    assert "Deposit by cash" in words(booking) and f"Paid {money(10000)}" in words(booking)
    assert "Pay the balance" in words(booking)
    assert "Cancelling now refunds the $100.00 you have paid, in full." in words(page)
    assert "Refunded if you cancel now $100.00" in words(page)
    assert (await api_view(client, created))["status"] == "confirmed"

    done = await submit(client, page, ("go", "cancel"), reason="Plans changed")
    after = await api_view(client, created)

    assert done.response.history[0].status_code == 303 and "has been cancelled" in words(done)
    assert after["status"] == "cancelled" and after["refund_owed_cents"] == 10000
    assert "Refund owed to you: $100.00" in words(done) and "Cancelled." in words(done)
    assert "This booking is cancelled." in words(done)
    token = created["manage_token"]
    assert not {f"/manage/{token}/cancel", f"/manage/{token}/reschedule", f"/manage/{token}/party",
                f"/manage/{token}/pay"} & set(links(done))
    again = await open_page(client, f"{manage(created)}/cancel")
    assert "Cancel my booking" not in again.text and "This booking is cancelled." in words(again)


async def test_terms_that_changed_while_reading_are_shown_again_before_cancelling(client, station, book, pay,
                                                                                   clock):
    created = await book(station.id)
    await pay(created)
    page = await open_page(client, f"{manage(created)}/cancel")  # a full refund, now
    clock.move_to(START - timedelta(hours=95))  # the refund window closed meanwhile

    refused = await submit(client, page, ("go", "cancel"))

    assert refused.response.status_code == 409 and "The terms have changed" in words(refused)
    assert "forfeits the $100.00 deposit" in words(refused) and "Refunded if you cancel now $0.00" in words(refused)
    assert (await api_view(client, created))["status"] == "confirmed"


# --- every form ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "button", "typed"), [
    ("/party", ("go", "preview"), {"adults": "14"}),
    ("/reschedule", ("go", f"day:{MOVED_DAY}"), {}),
    ("/cancel", ("go", "cancel"), {}),
])
async def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(client, station, book, suffix, button,
                                                                           typed):
    created = await book(station.id)
    page = await open_page(client, f"{manage(created)}{suffix}")
    assert 'name="csrf_token"' in page.text and 'name="website"' in page.text  # every form is guarded
    data = {**page.form.fields, **typed, button[0]: button[1]}
    data.pop("csrf_token")

    refused = read(await client.post(f"{manage(created)}{suffix}", data=data))

    assert refused.response.status_code == 403 and "This form had expired" in words(refused)
    view = await api_view(client, created)
    assert view["status"] == "pending_deposit" and view["party"]["adults"] == 12


async def test_a_filled_honeypot_changes_nothing(client, station, book):
    created = await book(station.id)
    cancel = await open_page(client, f"{manage(created)}/cancel")
    party = await open_page(client, f"{manage(created)}/party")

    bot = await submit(client, cancel, ("go", "cancel"), website="https://spam.example")
    bot_party = await submit(client, party, ("go", "preview"), website="https://spam.example", adults="14")

    assert bot.response.status_code == 422 and "could not be sent" in words(bot)
    assert bot_party.response.status_code == 422 and bot_party.form.fields["adults"] == "14"
    assert (await api_view(client, created))["status"] == "pending_deposit"


@pytest.mark.parametrize(("suffix", "fields", "status"), [
    ("/party", {"go": "confirm", "adults": "-3", "children": "", "upgrades.caviar": "2"}, 422),
    ("/party", {"go": "whatever", "adults": "1" * 40, "addons.gyoza": "²"}, 422),
    ("/reschedule", {"go": "confirm", "event_date": "2999-12-31", "slot_time": "12:00", "fee_cents": "0"}, 422),
    ("/reschedule", {"go": "confirm", "event_date": "0001-01-01", "slot_time": "25:99", "fee_cents": "0"}, 422),
    ("/reschedule", {"go": "day:not-a-day", "month": "2026-13"}, 200),
    ("/reschedule", {"go": "preview", "event_date": "2026-02-30", "slot_time": "12:00"}, 422),
    ("/cancel", {"go": "cancel", "refund_cents": "0", "reason": "x" * 5000}, 422),
])
async def test_hand_made_posts_are_answered_on_the_page_and_change_nothing(client, station, book, suffix, fields,
                                                                           status):
    created = await book(station.id)
    page = await open_page(client, f"{manage(created)}{suffix}")
    guard = {name: page.form.fields[name] for name in ("csrf_token", "website")}

    response = await client.post(f"{manage(created)}{suffix}", data={**guard, **fields})

    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    view = await api_view(client, created)
    assert view["status"] == "pending_deposit" and view["event_start"] == "2026-12-10T18:00:00-08:00"
    assert view["party"]["adults"] == 12
