""""I've sent it" (SPEC §4 `POST /manage/{token}/payment-sent`): the customer says a manual payment is on its way.
Each call is stored once and audited, the station's staff who record payments are emailed, the notice shows on the
admin booking page and on the manage page, and nothing is marked paid. Refused with 409 once the booking no longer
awaits its deposit, 404 for an unknown link, 422 for a method we do not know, 429 when overused."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.core.ratelimit import Throttle
from myhibachi.payments.commands import NOTICES_PER_BOOKING_PER_DAY
from myhibachi.payments.models import Payment, PaymentNotice
from myhibachi.settings import Settings
from tests.conftest import PASSWORD, mail_text, read_mails
from tests.payments.conftest import API
from tests.smtp import SmtpServer
from tests.web.browserless import read, submit

pytestmark = pytest.mark.no_stripe  # manual payments: the embedded default, no card keys
STAFF_SUBJECT = "Customer says a payment is on its way"


def sent_url(booking: dict) -> str:
    return f"{API}/manage/{booking['manage_token']}/payment-sent"


def text_of(page_html: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_html)).split())


async def notices(db) -> list[PaymentNotice]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(PaymentNotice).order_by(PaymentNotice.id)))


async def audit_actions(db, action: str) -> list[AuditEntry]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                          .order_by(AuditEntry.id)))


def staff_mails(settings: Settings) -> list:
    return [m for m in read_mails(settings) if m["Subject"].startswith(STAFF_SUBJECT)]


@pytest.fixture
async def staff(station, make_user) -> None:  # noqa: ANN001
    """The station's admin (records payments), manager (reads them) and chef (neither)."""
    await make_user("admin@example.com", Role.admin, station)
    await make_user("manager@example.com", Role.manager, station)
    await make_user("chef@example.com", Role.chef, station)


# --- the API ------------------------------------------------------------------------------------------------------


async def test_the_customer_says_it_is_sent_and_staff_are_told_but_nothing_is_paid(client, db, station, book, staff,
                                                                                     settings):
    booking = await book(station.id)

    first = await client.post(sent_url(booking), json={"method": "zelle", "reference": "ZL-88231"})
    second = await client.post(sent_url(booking), json={"method": "cash"})

    assert first.status_code == second.status_code == 202, first.text
    assert first.json() == {"id": 1, "method": "zelle", "reference": "ZL-88231", "amount_cents": 10000,
                            "currency": "USD", "created_at": "2026-12-01T08:00:00-08:00"}
    assert second.json()["id"] == 2 and second.json()["reference"] is None
    stored = await notices(db)
    assert [(n.booking_id, n.station_id, n.method, n.reference, n.amount_cents) for n in stored] == [
        (booking["id"], station.id, "zelle", "ZL-88231", 10000), (booking["id"], station.id, "cash", None, 10000)]
    assert stored[0].created_at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)

    audited = await audit_actions(db, "payments.payment_sent")
    assert [(a.target_type, a.target_id, a.station_id, a.actor_user_id, a.after["method"], a.after["by"])
            for a in audited] == [("booking", str(booking["id"]), station.id, None, "zelle", "customer"),
                                  ("booking", str(booking["id"]), station.id, None, "cash", "customer")]
    assert audited[0].ip == "203.0.113.7"

    # Emailed to whoever records payments there (the admin), not to those who may not (manager, chef).
    mails = staff_mails(settings)
    assert [m["To"] for m in mails] == ["admin@example.com", "admin@example.com"]
    body = mail_text(mails[0])
    assert mails[0]["Subject"] == f"{STAFF_SUBJECT} — {booking['reference']}"
    assert ("The customer says they sent $100.00 by Zelle, ref ZL-88231, on Tuesday, December 1, 2026 at "
            "8:00 AM PST.") in body
    assert f"http://testserver/admin/bookings/{booking['id']}" in body
    assert "The hold lapses on Wednesday, December 2, 2026 at 8:00 AM PST." in body

    view = (await client.get(f"{API}/manage/{booking['manage_token']}")).json()
    assert view["status"] == "pending_deposit" and view["paid_cents"] == 0 and view["payments"] == []
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
    options = (await client.get(f"{API}/manage/{booking['manage_token']}/payment-options")).json()
    assert [n["id"] for n in options["sent"]] == [2, 1]  # newest first
    assert options["due_now_cents"] == 10000 and options["can_report_sent"] is True


class TestOverRealSmtp:
    """The staff email leaves the outbox over SMTP (a loopback server)."""

    @pytest.fixture
    def settings(self, settings: Settings, smtp_server: SmtpServer) -> Settings:
        return settings.model_copy(update={"smtp_url": smtp_server.url})

    async def test_the_staff_email_is_sent(self, client, station, book, staff, smtp_server):
        booking = await book(station.id)
        assert (await client.post(sent_url(booking), json={"method": "venmo", "reference": "@dana"})).status_code == 202

        assert await asyncio.to_thread(smtp_server.wait_for_messages, 2), "the staff email did not arrive"
        [mail] = [m for m in smtp_server.messages if m["Subject"].startswith(STAFF_SUBJECT)]
        assert mail["To"] == "admin@example.com"
        assert "The customer says they sent $100.00 by Venmo, ref @dana, on" in mail.get_content()


@pytest.mark.parametrize("how", ["confirmed", "cancelled"])
async def test_a_booking_that_no_longer_awaits_money_is_refused(client, db, station, book, staff, login, settings,
                                                                how):
    booking = await book(station.id)
    if how == "confirmed":
        paid = await client.post(f"{API}/bookings/{booking['id']}/payments", headers=await login("admin@example.com"),
                                 json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
        assert paid.status_code == 201, paid.text
    else:
        cancelled = await client.post(f"{API}/manage/{booking['manage_token']}/cancel", json={})
        assert cancelled.status_code == 200, cancelled.text

    refused = await client.post(sent_url(booking), json={"method": "zelle"})

    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "nothing_due"
    assert await notices(db) == [] and await audit_actions(db, "payments.payment_sent") == []
    assert staff_mails(settings) == []


async def test_a_lapsed_hold_is_refused_with_a_number_to_call(client, db, station, book, clock, settings):
    booking = await book(station.id)
    clock.move_to(datetime(2026, 12, 2, 16, 0, 1, tzinfo=UTC))  # one second after the 24 h hold

    refused = await client.post(sent_url(booking), json={"method": "zelle"})

    assert refused.status_code == 409 and settings.brand_phone in refused.json()["detail"]
    assert await notices(db) == []


async def test_unknown_links_and_bad_bodies_change_nothing(client, db, station, book):
    booking = await book(station.id)
    forged = booking["manage_token"][:-2] + ("AA" if not booking["manage_token"].endswith("AA") else "BB")

    unknown = await client.post(f"{API}/manage/{forged}/payment-sent", json={"method": "zelle"})
    bad_method = await client.post(sent_url(booking), json={"method": "bitcoin"})
    no_method = await client.post(sent_url(booking), json={"reference": "ZL-1"})
    extra = await client.post(sent_url(booking), json={"method": "zelle", "amount_cents": 1})
    two_lines = await client.post(sent_url(booking), json={"method": "zelle", "reference": "ZL-1\nPaid in full"})

    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    for response in (bad_method, no_method, extra, two_lines):
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_error"
    assert bad_method.json()["errors"][0]["field"] == "body.method"
    assert await notices(db) == []


async def test_a_booking_gets_a_few_notices_a_day(client, db, station, book, clock, staff, settings):
    booking = await book(station.id)
    assert (await client.post(sent_url(booking), json={"method": "zelle"})).status_code == 202
    clock.move_to(datetime(2026, 12, 1, 19, 0, tzinfo=UTC))  # three hours later
    for n in range(NOTICES_PER_BOOKING_PER_DAY - 1):
        told = await client.post(sent_url(booking), json={"method": "zelle", "reference": f"Z-{n}"})
        assert told.status_code == 202, told.text

    refused = await client.post(sent_url(booking), json={"method": "zelle"})

    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) == 21 * 3600  # when the first one is a day old
    assert len(await notices(db)) == NOTICES_PER_BOOKING_PER_DAY
    assert len(staff_mails(settings)) == NOTICES_PER_BOOKING_PER_DAY  # no email for the refused one


async def test_the_api_counts_against_the_manage_forms_per_address_limit(client, db, runtime, station, book):
    booking = await book(station.id)
    runtime.public_form_posts_by_ip = Throttle(runtime.public_form_posts_by_ip.storage, "test-sent", 2, 60)

    answers = [(await client.post(sent_url(booking), json={"method": "zelle"})).status_code for _ in range(3)]

    assert answers == [202, 202, 429]
    assert len(await notices(db)) == 2


# --- the pages ----------------------------------------------------------------------------------------------------


async def test_the_manage_page_form_works_without_javascript(client, station, book, staff, settings):
    booking = await book(station.id)
    page = read(await client.get(f"/manage/{booking['manage_token']}"))
    [form] = [f for f in page.forms if f.action.endswith("/payment-sent")]
    assert form.radios["method"] == ["zelle", "venmo", "cash", "other"] and form.fields["method"] == "zelle"

    done = await submit(client, page, None, form=form, method="venmo", reference="VN-123")

    assert done.response.status_code == 200 and done.response.url.params["done"] == "payment_sent"
    words = text_of(done.text)
    assert "We have told our team your payment is on its way" in words
    assert ("You told us you sent $100.00 by Venmo (ref VN-123) on Tuesday, December 1 at 8:00 AM PST; "
            "we'll confirm once it arrives.") in words
    assert "Held for you" in words and "No payment received yet." in words  # still not paid
    assert [m["To"] for m in staff_mails(settings)] == ["admin@example.com"]


async def test_the_form_says_why_when_the_deposit_was_recorded_meanwhile(client, db, station, book, staff, login):
    booking = await book(station.id)
    page = read(await client.get(f"/manage/{booking['manage_token']}"))
    [form] = [f for f in page.forms if f.action.endswith("/payment-sent")]
    paid = await client.post(f"{API}/bookings/{booking['id']}/payments", headers=await login("admin@example.com"),
                             json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
    assert paid.status_code == 201  # meanwhile the money arrived and staff recorded it

    refused = await submit(client, page, None, form=form, reference="ZL-77")

    assert refused.response.status_code == 409
    assert "Your deposit has arrived and your booking is confirmed" in text_of(refused.text)
    assert 'role="alert"' in refused.text and "Confirmed." in text_of(refused.text)
    assert await notices(db) == []


async def test_a_form_post_without_the_pages_token_is_refused(client, db, station, book):
    booking = await book(station.id)
    forged = await client.post(f"/manage/{booking['manage_token']}/payment-sent", data={"method": "zelle"})

    assert forged.status_code == 403 and "nothing was sent" in forged.text
    assert await notices(db) == []


async def test_a_bad_method_on_the_form_is_shown_beside_the_field(client, db, station, book):
    booking = await book(station.id)
    page = read(await client.get(f"/manage/{booking['manage_token']}"))
    [form] = [f for f in page.forms if f.action.endswith("/payment-sent")]

    refused = await submit(client, page, None, form=form, method="bitcoin", reference="R-1")

    assert refused.response.status_code == 422
    assert "Please check the 1 field marked below." in text_of(refused.text)
    assert 'value="R-1"' in refused.text  # what was typed is kept
    assert await notices(db) == []


async def test_staff_see_the_notice_on_the_booking_page(client, db, station, book, staff):
    booking = await book(station.id)
    assert (await client.post(sent_url(booking), json={"method": "zelle", "reference": "ZL-88231"})).status_code == 202

    pages = {}
    for email in ("admin@example.com", "manager@example.com", "chef@example.com"):
        client.cookies.clear()
        signed_in = await submit(client, read(await client.get("/admin/login")), None, email=email,
                                 password=PASSWORD)
        assert signed_in.response.status_code == 200, signed_in.text[:300]
        pages[email] = await client.get(f"/admin/bookings/{booking['id']}")

    line = ("The customer says they sent $100.00 by Zelle, ref ZL-88231, on Tue, Dec 1, 2026, 8:00 AM.")
    assert pages["admin@example.com"].status_code == 200
    assert line in text_of(pages["admin@example.com"].text)
    assert f'href="/admin/bookings/{booking["id"]}/payment"' in pages["admin@example.com"].text
    assert line in text_of(pages["manager@example.com"].text)  # reads payments, may not record them
    assert "ask an admin to record it" in text_of(pages["manager@example.com"].text)
    assert "The customer says" not in pages["chef@example.com"].text  # not their event, or their business
    history = text_of(pages["admin@example.com"].text).split("History")[-1]
    assert "Customer says a payment is on its way" in history and "The customer" in history


async def test_a_filled_honeypot_or_a_reload_changes_nothing(client, db, station, book):
    booking = await book(station.id)
    page = read(await client.get(f"/manage/{booking['manage_token']}"))
    [form] = [f for f in page.forms if f.action.endswith("/payment-sent")]

    bot = await submit(client, page, None, form=form, website="https://spam.example")
    reloaded = await client.get(f"/manage/{booking['manage_token']}/payment-sent")

    assert bot.response.status_code == 422 and "could not be sent" in bot.text
    assert reloaded.status_code == 303 and reloaded.headers["location"] == f"/manage/{booking['manage_token']}"
    assert await notices(db) == []
