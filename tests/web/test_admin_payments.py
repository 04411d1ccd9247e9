"""The admin payments pages over HTTP: the filtered list and its pages, the CSV export, a payment with its refunds,
and a refund with its confirmation — allowed to admins only, refused to support and managers."""

from __future__ import annotations

import csv
import io
import re

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.web.admin import payments as payments_pages
from tests.web.browserless import admin_csrf, read, submit

API = "/api/v1"
INJECTION = "=HYPERLINK(\"http://evil.example\")"


@pytest.fixture
async def paid(station, make_user, book, login, client):  # noqa: ANN001, ANN201
    """Staff at the station, and a booking with two payments recorded through the API: a Zelle deposit of $100
    and $50 cash whose reference looks like a spreadsheet formula."""
    for email, role in [("admin@example.com", Role.admin), ("manager@example.com", Role.manager),
                        ("support@example.com", Role.support)]:
        await make_user(email, role, station)
    booking = await book(station.id)
    headers = await login("admin@example.com")
    ids = []
    for method, cents, reference in [("zelle", 10000, "ZL-1001"), ("cash", 5000, INJECTION)]:
        response = await client.post(f"{API}/bookings/{booking['id']}/payments", headers=headers,
                                     json={"method": method, "amount_cents": cents, "reference": reference})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return {"station": station, "booking": booking, "zelle": ids[0], "cash": ids[1], "headers": headers}


async def refunded_cents(client, paid, payment_id: int) -> int:  # noqa: ANN001
    response = await client.get(f"{API}/payments/{payment_id}", headers=paid["headers"])
    return response.json()["refunded_cents"]


def listed(text: str) -> list[int]:
    """The payments a list page links to, in its order."""
    return [int(found) for found in re.findall(r'<a href="/admin/payments/(\d+)">', text)]


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_list_shows_the_stations_payments_newest_first(client, paid, admin_sign_in):
    await admin_sign_in("admin@example.com")

    page = await client.get("/admin/payments")

    assert page.status_code == 200 and "<h1>Payments — Station FRE</h1>" in page.text
    assert listed(page.text) == [paid["cash"], paid["zelle"]]
    reference = paid["booking"]["reference"]
    assert f">$100.00 Zelle payment of {reference}</a>" in page.text and f">$50.00 cash payment of {reference}<" \
        in page.text and "Payment " + str(paid["zelle"]) not in page.text  # named in words, not by number
    assert "$100.00" in page.text and "$50.00" in page.text and paid["booking"]["reference"] in page.text
    assert "Dec 1, 2026, 8:00 AM" in page.text  # 16:00 UTC, in the station's zone
    assert "<table data-sortable" in page.text and '<th scope="col">Amount</th>' in page.text


async def test_the_filters_narrow_the_list(client, paid, admin_sign_in):
    await admin_sign_in("admin@example.com")

    cash = await client.get("/admin/payments", params={"method": "cash"})
    later = await client.get("/admin/payments", params={"from": "2026-12-02"})
    failed = await client.get("/admin/payments", params={"status": "failed"})

    assert listed(cash.text) == [paid["cash"]]
    assert '<option value="cash" selected>' in cash.text
    assert "No payment matches these filters" in later.text and "No payment matches" in failed.text


async def test_nonsense_filters_fall_back_to_everything(client, paid, admin_sign_in):
    await admin_sign_in("admin@example.com")

    page = await client.get("/admin/payments", params={"method": "gold", "status": "??", "from": "2026-13-40",
                                                       "to": "yesterday", "cursor": "not-a-cursor"})

    assert page.status_code == 200
    assert listed(page.text) == [paid["cash"], paid["zelle"]]


async def test_keyset_pages_lead_from_newest_to_oldest(client, paid, admin_sign_in, monkeypatch):
    monkeypatch.setattr(payments_pages, "PAGE_SIZE", 1)
    await admin_sign_in("admin@example.com")

    first = await client.get("/admin/payments")
    older = re.search(r'href="(/admin/payments\?[^"]*cursor=[^"]+)">Older payments', first.text).group(1)
    second = await client.get(older.replace("&amp;", "&"))

    assert listed(first.text) == [paid["cash"]] and listed(second.text) == [paid["zelle"]]
    assert "Older payments" not in second.text and "Newest payments" in second.text


async def test_the_csv_has_the_filtered_payments_with_amounts_local_times_and_no_formulas(client, paid,
                                                                                           admin_sign_in):
    await admin_sign_in("admin@example.com")
    listing = await client.get("/admin/payments", params={"method": "cash"})
    href = re.search(r'<a href="([^"]+)" download>Download CSV</a>', listing.text).group(1).replace("&amp;", "&")

    everything = await client.get(f"/admin/payments.csv?station={paid['station'].id}")
    cash_only = await client.get(href)

    assert href.startswith("/admin/payments.csv?") and "method=cash" in href
    assert everything.status_code == 200 and everything.headers["content-type"].startswith("text/csv")
    assert everything.headers["content-disposition"] == 'attachment; filename="payments-fre.csv"'
    rows = rows_of(everything.text)
    assert [int(r["payment_id"]) for r in rows] == [paid["cash"], paid["zelle"]]
    zelle = rows[1]
    assert (zelle["amount"], zelle["amount_cents"], zelle["refunded"], zelle["method"]) == (
        "100.00", "10000", "0.00", "zelle")
    assert zelle["created_local"] == "2026-12-01T08:00:00-08:00" and zelle["reference"] == "ZL-1001"
    assert rows[0]["reference"] == "'" + INJECTION  # a spreadsheet shows it as text, never runs it
    assert [r["method"] for r in rows_of(cash_only.text)] == ["cash"]


async def test_the_csv_is_refused_to_a_role_without_payments(client, paid, make_user, admin_sign_in):
    await make_user("chef@example.com", Role.chef, paid["station"])
    await admin_sign_in("chef@example.com")

    response = await client.get("/admin/payments.csv")
    listing = await client.get("/admin/payments")

    assert response.status_code == 403 and "text/csv" not in response.headers["content-type"]
    assert listing.status_code == 403 and "payment of" not in listing.text


async def test_a_payment_shows_its_booking_and_refunds(client, paid, admin_sign_in):
    await admin_sign_in("admin@example.com")

    page = await client.get(f"/admin/payments/{paid['zelle']}")

    reference = paid["booking"]["reference"]
    assert page.status_code == 200 and f"<h1>$100.00 Zelle payment of {reference}</h1>" in page.text
    assert f'href="/admin/bookings/{paid["booking"]["id"]}"' in page.text
    assert "Nothing has been refunded from this payment." in page.text
    assert "recorded by staff, not made through Stripe" in page.text
    assert f'href="/admin/payments/{paid["zelle"]}/refund">Refund</a>' in page.text


async def test_an_unknown_payment_is_not_found(client, paid, admin_sign_in):
    await admin_sign_in("admin@example.com")

    response = await client.get("/admin/payments/987654")

    assert response.status_code == 404 and "<h1>Not found</h1>" in response.text


async def test_a_refund_is_previewed_then_confirmed(client, paid, admin_sign_in, settings):
    await admin_sign_in("admin@example.com")
    form = read(await client.get(f"/admin/payments/{paid['zelle']}/refund"))

    assert "Can be refunded</dt><dd><strong>$100.00</strong>" in form.text
    assert "give the money back to the customer yourself" in form.text
    assert form.form.fields["amount"] == ""  # nothing pre-filled: the amount is chosen, not accepted
    assert [b for b in form.form.buttons if b[0] == "go"] == [("go", "preview")]  # a preview comes first

    preview = await submit(client, form, ("go", "preview"), amount="25.50", reason="Two guests fewer")
    assert "Refund $25.50 of the $100.00 Zelle payment to the customer by Zelle; they will be emailed." \
        in preview.text
    assert ("go", "confirm") in preview.form.buttons and "Refund $25.50" in preview.text
    assert await refunded_cents(client, paid, paid["zelle"]) == 0  # a preview changes nothing
    changed = await submit(client, preview, ("go", "edit"))
    assert changed.form.fields["amount"] == "25.50" and changed.form.fields["reason"] == "Two guests fewer"

    done = await submit(client, preview, ("go", "confirm"))

    assert done.response.url.path == f"/admin/payments/{paid['zelle']}"
    assert done.response.url.query == b"done=refunded"
    assert 'class="notice" role="status"' in done.text
    assert re.search(r"<td>\$25\.50</td><td>Zelle</td><td>Succeeded</td><td[^>]*>Two guests fewer</td>", done.text)
    assert await refunded_cents(client, paid, paid["zelle"]) == 2550
    again = read(await client.get(f"/admin/payments/{paid['zelle']}/refund"))
    assert "Can be refunded</dt><dd><strong>$74.50</strong>" in again.text and again.form.fields["amount"] == ""


async def test_a_refund_above_what_is_left_is_refused_and_changes_nothing(client, paid, admin_sign_in):
    await admin_sign_in("admin@example.com")
    form = read(await client.get(f"/admin/payments/{paid['zelle']}/refund"))

    too_much = await submit(client, form, ("go", "preview"), amount="150.00", reason="Goodwill")
    confirmed = read(await client.post(f"/admin/payments/{paid['zelle']}/refund", data={  # past the preview
        "csrf_token": await admin_csrf(client), "amount": "150.00", "reason": "Goodwill", "go": "confirm"}))

    for refused in (too_much, confirmed):
        assert refused.response.status_code == 422
        assert refused.errors["amount"] == "At most $100.00 of this payment can be refunded."
        assert not re.search(r"\d cents", refused.text)
    assert 'role="alert"' in too_much.text and too_much.form.fields["reason"] == "Goodwill"  # kept
    assert await refunded_cents(client, paid, paid["zelle"]) == 0


@pytest.mark.parametrize(("typed", "field"), [
    ({"amount": "ten dollars", "reason": "x"}, "amount"),
    ({"amount": "1.234", "reason": "x"}, "amount"),
    ({"amount": "-5", "reason": "x"}, "amount"),
    ({"amount": "1e40", "reason": "x"}, "amount"),
    ({"amount": "5.00", "reason": ""}, "reason"),
])
async def test_bad_refund_input_is_shown_beside_its_field(client, paid, admin_sign_in, typed, field):
    await admin_sign_in("admin@example.com")
    form = read(await client.get(f"/admin/payments/{paid['zelle']}/refund"))

    refused = await submit(client, form, ("go", "preview"), **typed)

    assert refused.response.status_code == 422 and field in refused.errors and not re.search(r"\d cents", refused.text)
    assert await refunded_cents(client, paid, paid["zelle"]) == 0


async def test_a_refund_without_the_csrf_token_changes_nothing(client, paid, admin_sign_in):
    await admin_sign_in("admin@example.com")

    response = await client.post(f"/admin/payments/{paid['zelle']}/refund",
                                 data={"amount": "10", "reason": "x", "go": "confirm"})

    assert response.status_code == 403 and "expired" in response.text
    assert await refunded_cents(client, paid, paid["zelle"]) == 0


@pytest.mark.parametrize("email", ["support@example.com", "manager@example.com"])
async def test_roles_without_payments_refund_see_no_button_and_are_refused(client, paid, admin_sign_in, email):
    await admin_sign_in(email)

    detail = await client.get(f"/admin/payments/{paid['zelle']}")
    form = await client.get(f"/admin/payments/{paid['zelle']}/refund")
    posted = await client.post(f"/admin/payments/{paid['zelle']}/refund", data={
        "csrf_token": await admin_csrf(client), "amount": "10.00", "reason": "Sneaky", "go": "confirm"})

    assert detail.status_code == 200 and "$100.00" in detail.text  # they may read it
    assert "/refund" not in detail.text
    assert form.status_code == 403 and posted.status_code == 403 and "<h1>Not allowed</h1>" in posted.text
    assert await refunded_cents(client, paid, paid["zelle"]) == 0


async def test_another_stations_payment_does_not_exist_for_its_staff(client, paid, make_station, make_user,
                                                                     admin_sign_in):
    other = await make_station("SAC")
    await make_user("sac-admin@example.com", Role.admin, other)
    await admin_sign_in("sac-admin@example.com")

    detail = await client.get(f"/admin/payments/{paid['zelle']}")
    listing = await client.get("/admin/payments")
    posted = await client.post(f"/admin/payments/{paid['zelle']}/refund", data={
        "csrf_token": await admin_csrf(client), "amount": "10.00", "reason": "x", "go": "confirm"})

    assert detail.status_code == 404 and posted.status_code == 404
    assert listing.status_code == 200 and "No payments at Station SAC yet" in listing.text
    assert await refunded_cents(client, paid, paid["zelle"]) == 0
