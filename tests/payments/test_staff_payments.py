"""Money staff receive by hand (cash, Zelle, Venmo, check) and give back: recording it against a booking, what the
customer and the staff are told, refunds, and the station-scoped payments list and detail."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from myhibachi.auth.permissions import Role
from tests.conftest import mail_text, read_mails
from tests.payments.conftest import API

manual_only = pytest.mark.no_stripe  # manual payments need no Stripe keys
EVENT_START = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # the default booking: 2026-12-10 18:00 in Fremont


def manage(booking: dict) -> str:
    return f"{API}/manage/{booking['manage_token']}"


def payments_of(booking: dict) -> str:
    return f"{API}/bookings/{booking['id']}/payments"


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def mails(settings, subject: str, to: str | None = None) -> list:  # noqa: ANN001
    return [m for m in read_mails(settings)
            if m["Subject"].startswith(subject) and (to is None or to in str(m["To"]))]


async def pay(client, headers: dict[str, str], booking: dict, method: str = "zelle", amount: int = 10000,  # noqa: ANN001
              reference: str = "ZL-1", **fields: Any):
    return await client.post(payments_of(booking), headers=headers,
                             json={"method": method, "amount_cents": amount, "reference": reference, **fields})


async def booking_view(client, headers: dict[str, str], booking: dict) -> dict:  # noqa: ANN001
    response = await client.get(f"{API}/bookings/{booking['id']}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def listed(client, headers: dict[str, str], **params: Any) -> list[tuple[str, int]]:  # noqa: ANN001
    response = await client.get(f"{API}/payments", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [(p["method"], p["amount_cents"]) for p in response.json()["items"]]


# --- recording a payment ------------------------------------------------------------------------------------------


@manual_only
async def test_a_zelle_deposit_confirms_the_booking_with_one_email_and_is_audited(client, station, book, admin,
                                                                                  settings):
    booking = await book(station.id)
    me = (await client.get(f"{API}/auth/me", headers=admin)).json()

    recorded = await pay(client, admin, booking, "zelle", 10000, "ZL-88231")

    assert recorded.status_code == 201, recorded.text
    payment = recorded.json()
    assert "Idempotent-Replayed" not in recorded.headers
    assert (payment["method"], payment["purpose"], payment["status"]) == ("zelle", "deposit", "succeeded")
    assert (payment["amount_cents"], payment["refunded_cents"]) == (10000, 0)
    assert payment["currency"] == booking["quote"]["currency"]
    assert payment["reference"] == "ZL-88231" and payment["booking_reference"] == booking["reference"]
    assert payment["booking_id"] == booking["id"] and payment["station_id"] == station.id
    assert payment["recorded_by_user_id"] == me["id"] and payment["succeeded_at"] is not None
    assert payment["provider_intent_id"] is None
    view = await booking_view(client, admin, booking)
    assert view["status"] == "confirmed" and view["hold_expires_at"] is None
    assert view["paid_cents"] == 10000 and view["balance_due_cents"] == booking["quote"]["total_cents"] - 10000
    assert [h["action"] for h in view["history"]] == ["bookings.create", "bookings.confirm"]
    assert view["history"][1]["actor_user_id"] == me["id"]
    customer = [m for m in read_mails(settings) if "dana@example.com" in str(m["To"])]
    assert [m["Subject"] for m in customer] == [f"We're holding your date — {booking['reference']}",
                                                f"Deposit received — you are confirmed — {booking['reference']}"]
    assert "We received $100.00 by Zelle for your deposit. Reference: ZL-88231." in mail_text(customer[1])
    assert mails(settings, "Payment received") == []  # the confirmation is the receipt
    audit = await client.get(f"{API}/audit-log", params={"station_id": station.id, "action": "payments.record"},
                             headers=admin)
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert (entry["target_type"], entry["target_id"], entry["actor_user_id"]) == ("payment", str(payment["id"]),
                                                                                   me["id"])
    assert entry["after"]["booking_id"] == booking["id"]
    assert (entry["after"]["method"], entry["after"]["amount_cents"], entry["after"]["reference"]) == (
        "zelle", 10000, "ZL-88231")


@manual_only
async def test_a_payment_below_the_deposit_is_receipted_and_the_second_half_confirms(client, station, book, admin,
                                                                                     settings):
    booking = await book(station.id)

    first = await pay(client, admin, booking, "cash", 5000, "R-1001")

    assert first.status_code == 201, first.text
    assert first.json()["purpose"] == "deposit"
    view = await booking_view(client, admin, booking)
    assert view["status"] == "pending_deposit" and view["paid_cents"] == 5000
    assert "bookings.confirm" not in [h["action"] for h in view["history"]]
    [receipt] = mails(settings, "Payment received", "dana@example.com")
    assert receipt["Subject"] == f"Payment received — {booking['reference']}"
    assert "We received $50.00 by cash for your deposit. Reference: R-1001." in mail_text(receipt)
    assert mails(settings, "Deposit received") == []

    second = await pay(client, admin, booking, "venmo", 5000, "VM-2002")

    assert second.status_code == 201, second.text
    assert second.json()["purpose"] == "deposit"
    view = await booking_view(client, admin, booking)
    assert view["status"] == "confirmed" and view["paid_cents"] == 10000
    [confirmation] = mails(settings, "Deposit received — you are confirmed", "dana@example.com")
    assert "We received $50.00 by Venmo for your deposit. Reference: VM-2002." in mail_text(confirmation)
    assert len(mails(settings, "Payment received")) == 1


@manual_only
async def test_the_balance_is_recorded_up_to_what_is_due_and_never_more(client, station, book, admin, ledger):
    booking = await book(station.id)
    total = booking["quote"]["total_cents"]
    assert (await pay(client, admin, booking, "zelle", 10000)).status_code == 201

    balance = await pay(client, admin, booking, "cash", 20000, "R-2")

    assert balance.status_code == 201, balance.text
    assert balance.json()["purpose"] == "balance"
    staff_view = await booking_view(client, admin, booking)
    customer_view = (await client.get(manage(booking))).json()
    for view in (staff_view, customer_view):
        assert (view["paid_cents"], view["balance_due_cents"]) == (30000, total - 30000)
    assert [(p["method"], p["purpose"], p["amount_cents"], p["refunded_cents"]) for p in customer_view["payments"]
            ] == [("zelle", "deposit", 10000, 0), ("cash", "balance", 20000, 0)]

    before = await ledger()
    over = await pay(client, admin, booking, "cash", total - 30000 + 1, "R-3")

    assert over.status_code == 422 and over.json()["code"] == "overpayment", over.text
    assert over.json()["errors"][0]["field"] == "body.amount_cents"
    assert await ledger() == before
    assert (await booking_view(client, admin, booking))["paid_cents"] == 30000

    rest = await pay(client, admin, booking, "check", total - 30000, "CHK-1042")
    one_more = await pay(client, admin, booking, "cash", 1, "R-4")

    assert rest.status_code == 201, rest.text
    assert one_more.status_code == 422 and one_more.json()["code"] == "overpayment"
    view = (await client.get(manage(booking))).json()
    assert (view["paid_cents"], view["balance_due_cents"]) == (total, 0)


@manual_only
@pytest.mark.parametrize("body", [
    {"method": "card"},
    {"method": "bitcoin"},
    {"amount_cents": 0},
    {"amount_cents": -100},
    {"amount_cents": 10000.5},
    {"amount_cents": 10000.0},
    {"amount_cents": "10000"},
    {"amount_cents": None},
    {"reference": None},
    {"reference": "   "},
    {"purpose": "tip"},
    {"tip_cents": 100},
], ids=lambda body: ",".join(f"{k}={v!r}" for k, v in body.items()))
async def test_an_invalid_payment_is_refused_and_nothing_is_written(client, station, book, admin, ledger, body):
    booking = await book(station.id)
    payload = {"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"} | body
    payload = {k: v for k, v in payload.items() if v is not None}  # None: the field is missing

    response = await client.post(payments_of(booking), headers=admin, json=payload)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert await ledger() == {"payments": [], "refunds": []}
    assert (await booking_view(client, admin, booking))["status"] == "pending_deposit"


@manual_only
async def test_a_retried_payment_with_one_idempotency_key_is_recorded_once(client, station, book, admin, ledger,
                                                                           settings):
    booking = await book(station.id)
    headers = {**admin, "Idempotency-Key": "zelle-ZL-77"}
    body = {"method": "zelle", "amount_cents": 4000, "reference": "ZL-77"}

    first = await client.post(payments_of(booking), headers=headers, json=body)
    retried, raced = await asyncio.gather(client.post(payments_of(booking), headers=headers, json=body),
                                          client.post(payments_of(booking), headers=headers, json=body))
    other_amount = await client.post(payments_of(booking), headers=headers, json={**body, "amount_cents": 4500})

    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    for replay in (retried, raced):
        assert replay.status_code == 201, replay.text
        assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert other_amount.status_code == 422 and other_amount.json()["code"] == "idempotency_key_reused"
    assert other_amount.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert len((await ledger())["payments"]) == 1
    assert await listed(client, admin) == [("zelle", 4000)]
    assert (await booking_view(client, admin, booking))["paid_cents"] == 4000
    assert len(mails(settings, "Payment received")) == 1  # one receipt, not one per retry


@manual_only
async def test_a_cancelled_booking_takes_no_payment_but_its_payment_can_be_refunded(client, station, book, admin,
                                                                                    ledger):
    unpaid, paid = await book(station.id, slot="12:00"), await book(station.id, email="erin@example.com")
    zelle = (await pay(client, admin, paid, "zelle", 10000)).json()
    for booking in (unpaid, paid):
        cancelled = await client.post(f"{API}/bookings/{booking['id']}/cancel", headers=admin,
                                      json={"reason": "Customer moved away"})
        assert cancelled.status_code == 200, cancelled.text
    before = await ledger()

    refused = [await pay(client, admin, booking, "cash", 1000, "R-9") for booking in (unpaid, paid)]

    for response in refused:
        assert response.status_code == 409 and response.json()["code"] == "illegal_transition", response.text
    assert await ledger() == before
    refund = await client.post(f"{API}/payments/{zelle['id']}/refunds", headers=admin,
                               json={"amount_cents": 10000, "reason": "Cancelled in time"})
    assert refund.status_code == 201, refund.text
    assert (await client.get(manage(paid))).json()["paid_cents"] == 0


@manual_only
async def test_the_balance_paid_in_cash_at_the_event_is_recorded_on_the_completed_booking(
        client, station, book, admin, login, clock, settings):
    booking = await book(station.id)
    total = booking["quote"]["total_cents"]
    assert (await pay(client, admin, booking, "zelle", 10000)).status_code == 201
    clock.move_to(EVENT_START + timedelta(hours=3))
    admin = await login("admin@example.com")  # the first access token has expired
    completed = await client.post(f"{API}/bookings/{booking['id']}/complete", headers=admin)
    assert completed.status_code == 200 and completed.json()["status"] == "completed", completed.text

    cash = await pay(client, admin, booking, "cash", total - 10000, "At the event")
    more = await pay(client, admin, booking, "cash", 1, "Tip")

    assert cash.status_code == 201, cash.text
    assert cash.json()["purpose"] == "balance" and cash.json()["method"] == "cash"
    assert more.status_code == 422 and more.json()["code"] == "overpayment"
    view = await booking_view(client, admin, booking)
    assert view["status"] == "completed" and view["paid_cents"] == total
    [receipt] = mails(settings, "Payment received", "dana@example.com")
    assert f"We received {dollars(total - 10000)} by cash for your balance." in mail_text(receipt)


@manual_only
async def test_a_deposit_after_the_hold_lapsed_confirms_only_while_a_chef_is_still_free(
        client, station, book, admin, login, clock, ledger, settings):
    taken = await book(station.id, slot="12:00", email="late@example.com")
    free = await book(station.id, "2026-12-12", email="free@example.com")
    clock.shift(timedelta(hours=25))  # both holds have lapsed
    admin = await login("admin@example.com")
    for n in range(2):  # both chefs are booked at 12:00 on the 10th meanwhile
        await book(station.id, slot="12:00", email=f"other{n}@example.com")
    before, mails_before = await ledger(), len(read_mails(settings))

    refused = await pay(client, admin, taken, "zelle", 10000, "ZL-LATE")
    accepted = await pay(client, admin, free, "zelle", 10000, "ZL-FREE")

    assert refused.status_code == 409 and refused.json()["code"] == "slot_unavailable", refused.text
    assert accepted.status_code == 201, accepted.text
    assert [p[0] for p in (await ledger())["payments"]] == [p[0] for p in before["payments"]] + [
        accepted.json()["id"]]
    assert (await booking_view(client, admin, taken))["paid_cents"] == 0
    assert (await booking_view(client, admin, free))["status"] == "confirmed"
    new_mails = read_mails(settings)[mails_before:]
    assert not [m for m in new_mails if "late@example.com" in str(m["To"])]  # the refused deposit told nobody
    assert [m["Subject"] for m in new_mails if "free@example.com" in str(m["To"])] == [
        f"Deposit received — you are confirmed — {free['reference']}"]  # never "Your hold has lapsed" first


@manual_only
async def test_part_of_a_deposit_after_the_hold_lapsed_is_refused(client, station, book, admin, login, clock,
                                                                   ledger, settings):
    booking = await book(station.id)
    clock.shift(timedelta(hours=25))
    admin = await login("admin@example.com")
    before, mails_before = await ledger(), len(read_mails(settings))

    part = await pay(client, admin, booking, "cash", 5000, "C-PART")

    assert part.status_code == 409 and part.json()["code"] == "illegal_transition", part.text
    assert "10000 cents" in part.json()["detail"]
    assert await ledger() == before and len(read_mails(settings)) == mails_before
    whole = await pay(client, admin, booking, "cash", 10000, "C-WHOLE")
    assert whole.status_code == 201, whole.text
    assert (await booking_view(client, admin, booking))["status"] == "confirmed"


# --- refunds ------------------------------------------------------------------------------------------------------


@manual_only
async def test_refunding_a_cash_payment_in_parts_never_more_than_was_paid(client, station, book, admin, ledger,
                                                                           settings):
    booking = await book(station.id)
    total = booking["quote"]["total_cents"]
    payment = (await pay(client, admin, booking, "cash", 10000, "R-500")).json()
    refunds = f"{API}/payments/{payment['id']}/refunds"
    me = (await client.get(f"{API}/auth/me", headers=admin)).json()

    part = await client.post(refunds, headers=admin, json={"amount_cents": 4000, "reason": "Two guests fewer"})

    assert part.status_code == 201, part.text
    refund = part.json()
    assert (refund["payment_id"], refund["amount_cents"], refund["method"], refund["status"]) == (
        payment["id"], 4000, "cash", "succeeded")
    assert refund["reason"] == "Two guests fewer" and refund["requested_by_user_id"] == me["id"]
    assert refund["provider_refund_id"] is None
    view = (await client.get(manage(booking))).json()
    assert (view["paid_cents"], view["balance_due_cents"]) == (6000, total - 6000)
    assert [(p["amount_cents"], p["refunded_cents"]) for p in view["payments"]] == [(10000, 4000)]

    before = await ledger()
    too_much = await client.post(refunds, headers=admin, json={"amount_cents": 6001, "reason": "Oops"})
    to_a_card = await client.post(refunds, headers=admin,
                                  json={"amount_cents": 100, "reason": "Oops", "method": "card"})

    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_paid", too_much.text
    assert too_much.json()["errors"][0]["field"] == "body.amount_cents"
    assert to_a_card.status_code == 422 and to_a_card.json()["errors"][0]["field"] == "body.method", to_a_card.text
    assert await ledger() == before

    headers = {**admin, "Idempotency-Key": "refund-late-chef"}
    body = {"amount_cents": 2500, "reason": "Late chef", "method": "zelle"}
    keyed = await client.post(refunds, headers=headers, json=body)
    retried = await client.post(refunds, headers=headers, json=body)
    other_body = await client.post(refunds, headers=headers, json={**body, "amount_cents": 2600})

    assert keyed.status_code == 201, keyed.text
    assert keyed.json()["method"] == "zelle"
    assert retried.status_code == 201 and retried.json() == keyed.json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422 and other_body.json()["code"] == "idempotency_key_reused"
    detail = await client.get(f"{API}/payments/{payment['id']}", headers=admin)
    assert detail.status_code == 200, detail.text
    assert detail.json()["refunded_cents"] == 6500 and detail.json()["events"] == []
    assert [(r["id"], r["amount_cents"], r["method"]) for r in detail.json()["refunds"]] == [
        (refund["id"], 4000, "cash"), (keyed.json()["id"], 2500, "zelle")]
    assert (await client.get(manage(booking))).json()["paid_cents"] == 3500
    assert (await booking_view(client, admin, booking))["paid_cents"] == 3500
    notices = mails(settings, "Your refund", "dana@example.com")
    assert [m["Subject"] for m in notices] == [f"Your refund — {booking['reference']}"] * 2
    assert "We are refunding $40.00 by cash." in mail_text(notices[0])
    assert "Reason: Two guests fewer" in mail_text(notices[0])
    assert "We are refunding $25.00 by Zelle." in mail_text(notices[1])


@manual_only
@pytest.mark.parametrize("who", ["customer", "staff"])
async def test_cancelling_in_time_after_a_zelle_deposit_tells_the_admins_to_pay_it_back(
        client, station, book, admin, make_user, make_station, login, settings, ledger, who):
    await make_user("manager@example.com", Role.manager, station)
    await make_user("support@example.com", Role.support, station)
    await make_user("admin-sac@example.com", Role.admin, await make_station("SAC"))
    booking = await book(station.id)
    payment = (await pay(client, admin, booking, "zelle", 10000, "ZL-4242")).json()

    if who == "customer":
        cancelled = await client.post(f"{manage(booking)}/cancel", json={})
    else:
        cancelled = await client.post(f"{API}/bookings/{booking['id']}/cancel", headers=admin,
                                      json={"reason": "Family emergency"})

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refund_owed_cents"] == 10000
    assert (await booking_view(client, admin, booking))["refund_owed_cents"] == 10000
    [alert] = mails(settings, "Refund to pay by hand")
    assert alert["Subject"] == f"Refund to pay by hand — {booking['reference']}"
    assert str(alert["To"]) == "admin@example.com"
    assert f"$100.00 of payment #{payment['id']} (Zelle, reference ZL-4242)" in mail_text(alert)
    assert (await ledger())["refunds"] == []  # staff pay it back and record it themselves


@manual_only
@pytest.mark.parametrize(("late_by", "owed", "alerts"), [(timedelta(0), 10000, 1), (timedelta(seconds=1), 0, 0)])
async def test_the_zelle_deposit_is_owed_back_until_exactly_96_hours_before(client, station, book, admin, clock,
                                                                           settings, late_by, owed, alerts):
    booking = await book(station.id)
    assert (await pay(client, admin, booking, "zelle", 10000)).status_code == 201
    clock.move_to(EVENT_START - timedelta(hours=96) + late_by)

    cancelled = await client.post(f"{manage(booking)}/cancel", json={})

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refund_owed_cents"] == owed
    assert len(mails(settings, "Refund to pay by hand")) == alerts


# --- the payments list and detail ---------------------------------------------------------------------------------


async def pay_at(client, login, clock, booking: dict, moment: datetime, method: str, amount: int) -> int:  # noqa: ANN001
    clock.move_to(moment)
    response = await pay(client, await login("admin@example.com"), booking, method, amount, f"{method}-{amount}")
    assert response.status_code == 201, response.text
    return response.json()["id"]


@manual_only
async def test_the_list_filters_by_method_and_local_dates_newest_first_and_pages_by_cursor(
        client, station, book, admin, login, clock):
    booking = await book(station.id)
    ids = {
        "cash": await pay_at(client, login, clock, booking, datetime(2026, 12, 1, 17, 0, tzinfo=UTC), "cash", 1000),
        "check": await pay_at(client, login, clock, booking, datetime(2026, 12, 1, 17, 0, tzinfo=UTC), "check",
                              1500),
        # 23:30 on the 1st in Fremont, though already the 2nd in UTC
        "zelle": await pay_at(client, login, clock, booking, datetime(2026, 12, 2, 7, 30, tzinfo=UTC), "zelle",
                              2000),
        # midnight starting the 2nd in Fremont
        "venmo": await pay_at(client, login, clock, booking, datetime(2026, 12, 2, 8, 0, tzinfo=UTC), "venmo", 3000),
    }
    admin = await login("admin@example.com")
    newest_first = [("venmo", 3000), ("zelle", 2000), ("check", 1500), ("cash", 1000)]

    assert await listed(client, admin) == newest_first
    assert await listed(client, admin, station_id=station.id, status="succeeded") == newest_first
    assert await listed(client, admin, method="zelle") == [("zelle", 2000)]
    assert await listed(client, admin, method="card") == []
    assert await listed(client, admin, **{"from": "2026-12-01", "to": "2026-12-01"}) == newest_first[1:]
    assert await listed(client, admin, **{"from": "2026-12-02"}) == [("venmo", 3000)]
    assert await listed(client, admin, to="2026-11-30") == []
    assert await listed(client, admin, **{"from": "2026-12-03"}) == []
    assert await listed(client, admin, **{"from": "2026-12-01", "method": "check"}) == [("check", 1500)]

    for limit in (1, 3):
        pages, cursor = [], None
        while True:
            params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(f"{API}/payments", params=params, headers=admin)).json()
            pages.append([item["id"] for item in page["items"]])
            if not (cursor := page["next_cursor"]):
                break
        walked = [payment_id for page in pages for payment_id in page]
        assert walked == [ids["venmo"], ids["zelle"], ids["check"], ids["cash"]], (limit, pages)
        assert [len(page) for page in pages] == ([1, 1, 1, 1] if limit == 1 else [3, 1])


async def test_the_list_filters_by_status(client, station, book, admin):
    carded, paid = await book(station.id), await book(station.id, slot="12:00", email="erin@example.com")
    started = await client.post(f"{manage(carded)}/payment-intent", json={"purpose": "deposit"})
    assert started.status_code == 201, started.text
    assert (await pay(client, admin, paid, "zelle", 10000)).status_code == 201

    assert await listed(client, admin, status="pending") == [("card", 10000)]
    assert await listed(client, admin, status="succeeded") == [("zelle", 10000)]
    assert await listed(client, admin, status="failed") == []
    assert await listed(client, admin, method="card", status="succeeded") == []
    assert sorted(await listed(client, admin)) == [("card", 10000), ("zelle", 10000)]


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@manual_only
@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2026-12-02", "to": "2026-12-01"}, "query.to"),
    ({"cursor": "not-a-cursor"}, "query.cursor"),
    ({"cursor": cursor_of({"created": "2026-12-01T17:00:00+00:00"})}, "query.cursor"),
    ({"cursor": cursor_of(["yesterday", 1])}, "query.cursor"),
    ({"method": "bitcoin"}, "query.method"),
    ({"status": "lost"}, "query.status"),
    ({"limit": 0}, "query.limit"),
    ({"from": "2026-13-01"}, "query.from"),
], ids=["to-before-from", "garbage-cursor", "object-cursor", "cursor-without-a-time", "method", "status", "limit",
        "date"])
async def test_bad_list_parameters_are_validation_errors(client, station, book, admin, params, field):
    booking = await book(station.id)
    assert (await pay(client, admin, booking, "cash", 1000)).status_code == 201

    response = await client.get(f"{API}/payments", params=params, headers=admin)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert field in [error["field"] for error in response.json()["errors"]]


@manual_only
async def test_other_stations_payments_do_not_exist_for_you(client, station, book, admin, make_station, add_chefs,
                                                           make_user, login, ledger):
    sac = await make_station("SAC")
    await add_chefs(sac, 2)
    await make_user("admin-sac@example.com", Role.admin, sac)
    await make_user("manager@example.com", Role.manager, station)
    await make_user("chef@example.com", Role.chef, station)
    admin_sac, manager, chef = (await login("admin-sac@example.com"), await login("manager@example.com"),
                                await login("chef@example.com"))
    ours, theirs = await book(station.id), await book(sac.id, email="sam@example.com")
    our_payment = (await pay(client, admin, ours, "cash", 1000, "FRE-1")).json()
    their_payment = (await pay(client, admin_sac, theirs, "venmo", 2000, "SAC-1")).json()
    before = await ledger()

    assert await listed(client, manager) == [("cash", 1000)]
    assert await listed(client, manager, station_id=station.id) == [("cash", 1000)]
    assert await listed(client, admin) == [("cash", 1000)]
    assert await listed(client, admin_sac) == [("venmo", 2000)]
    responses = {
        "manager lists SAC": await client.get(f"{API}/payments", params={"station_id": sac.id}, headers=manager),
        "lists a station that does not exist": await client.get(f"{API}/payments", params={"station_id": 999999},
                                                                 headers=admin),
        "reads SAC's payment": await client.get(f"{API}/payments/{their_payment['id']}", headers=admin),
        "manager reads SAC's payment": await client.get(f"{API}/payments/{their_payment['id']}", headers=manager),
        "refunds SAC's payment": await client.post(f"{API}/payments/{their_payment['id']}/refunds", headers=admin,
                                                   json={"amount_cents": 100, "reason": "x"}),
        "pays on SAC's booking": await pay(client, admin, theirs, "cash", 100, "R-X"),
        "reads a payment that does not exist": await client.get(f"{API}/payments/999999", headers=admin),
    }
    assert {what: r.status_code for what, r in responses.items()} == dict.fromkeys(responses, 404)

    forbidden = {
        "chef lists": await client.get(f"{API}/payments", headers=chef),
        "chef lists the station": await client.get(f"{API}/payments", params={"station_id": station.id},
                                                   headers=chef),
        "chef reads": await client.get(f"{API}/payments/{our_payment['id']}", headers=chef),
        "manager records": await pay(client, manager, ours, "cash", 100, "R-Y"),
        "manager refunds": await client.post(f"{API}/payments/{our_payment['id']}/refunds", headers=manager,
                                             json={"amount_cents": 100, "reason": "x"}),
    }
    assert {what: r.status_code for what, r in forbidden.items()} == dict.fromkeys(forbidden, 403)
    manager_view = await client.get(f"{API}/payments/{our_payment['id']}", headers=manager)
    assert manager_view.status_code == 200 and manager_view.json()["reference"] == "FRE-1"
    anonymous = await client.get(f"{API}/payments")
    assert anonymous.status_code == 401
    assert await ledger() == before


