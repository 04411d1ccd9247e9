"""The customer's manage link: view, change, move and cancel with the same commands and policies as staff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from tests.bookings.conftest import API

START = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # 2026-12-10 18:00 in Fremont


def manage(created: dict) -> str:
    return f"{API}/manage/{created['manage_token']}"


async def test_the_customer_sees_price_balance_and_what_each_action_costs_now(client, station, book):
    created = await book(station.id)
    view = (await client.get(manage(created))).json()

    assert view["reference"] == created["reference"] and view["status"] == "pending_deposit"
    assert view["event_start"] == "2026-12-10T18:00:00-08:00" and view["station_name"] == "Station FRE"
    assert view["quote"] == created["quote"]
    assert view["paid_cents"] == 0 and view["balance_due_cents"] == created["quote"]["total_cents"]
    assert view["deposit_due_by"] == created["deposit_due_by"] and view["payments"] == []
    actions = view["actions"]
    assert actions["reschedule"] == {"allowed": True, "fee_cents": 0, "refund_cents": 0,
                                     "until": "2026-12-09T18:00:00-08:00",
                                     "message": "Your first reschedule is free until 24 hours before the event."}
    assert actions["change_guests"]["until"] == "2026-12-09T18:00:00-08:00"
    assert actions["change_menu"]["until"] == "2026-12-10T06:00:00-08:00"
    assert actions["cancel"]["allowed"] and actions["cancel"]["refund_cents"] == 0


async def test_once_confirmed_the_terms_show_the_refund_and_the_fee_later(client, station, book, login, make_user,
                                                                          clock):
    created = await book(station.id)
    await make_user("admin@example.com", "admin", station)
    paid = await client.post(f"{API}/bookings/{created['id']}/payments", headers=await login("admin@example.com"),
                             json={"method": "cash", "amount_cents": 10000, "reference": "R-7"})
    assert paid.status_code == 201, paid.text

    early = (await client.get(manage(created))).json()
    clock.move_to(START - timedelta(hours=30))
    late = (await client.get(manage(created))).json()

    assert early["status"] == "confirmed" and early["paid_cents"] == 10000
    assert [(p["method"], p["amount_cents"]) for p in early["payments"]] == [("cash", 10000)]
    assert early["balance_due_cents"] == created["quote"]["total_cents"] - 10000
    assert early["actions"]["cancel"]["refund_cents"] == 10000
    assert early["actions"]["cancel"]["until"] == "2026-12-06T18:00:00-08:00"
    assert late["actions"]["cancel"] == {"allowed": True, "refund_cents": 0, "fee_cents": 0, "until": None,
                                         "message": "It is less than 96 hours before the event: cancelling now "
                                                    "forfeits the $100.00 deposit."}
    assert late["actions"]["reschedule"]["fee_cents"] == 0  # still ≥ 24 h ahead
    clock.move_to(START - timedelta(hours=20))
    later = (await client.get(manage(created))).json()
    assert later["actions"]["reschedule"]["fee_cents"] == 20000
    assert "$200.00" in later["actions"]["reschedule"]["message"]
    assert later["actions"]["change_guests"]["allowed"] is False


async def test_customer_changes_guests_and_the_booking_is_requoted(client, station, book, db):
    created = await book(station.id)
    changed = await client.patch(manage(created), json={"adults": 14, "addons": {"gyoza": 2, "edamame": 1}})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["party"]["adults"] == 14 and body["party"]["addons"] == {"edamame": 1, "gyoza": 2}
    assert body["quote"]["food_subtotal_cents"] == created["quote"]["food_subtotal_cents"] + 2 * 5500 + 1000 + 500
    async with db.transaction(write=False) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "bookings.change_party"))
    assert entry.actor_user_id is None and entry.after["by"] == "customer"
    assert entry.before["adults"] == 12 and entry.after["adults"] == 14


async def test_changes_outside_the_rules_are_refused_with_a_reason(client, station, book, clock):
    created = await book(station.id)
    too_many = await client.patch(manage(created), json={"adults": 51})
    unknown = await client.patch(manage(created), json={"addons": {"caviar": 1}})
    empty = await client.patch(manage(created), json={})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "body.adults"
    assert unknown.status_code == 422
    assert empty.status_code == 422


async def test_customer_reschedules_then_cancels(client, station, book, settings):
    created = await book(station.id)
    moved = await client.post(f"{manage(created)}/reschedule", json={"event_date": "2026-12-12", "slot_time": "12:00"})
    cancelled = await client.post(f"{manage(created)}/cancel", json={"reason": "Plans changed"})
    again = await client.post(f"{manage(created)}/cancel", json={})

    assert moved.status_code == 200 and moved.json()["event_start"] == "2026-12-12T12:00:00-08:00"
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["actions"]["cancel"]["allowed"] is False
    assert again.status_code == 409 and again.json()["detail"] == "This booking is cancelled."


async def test_a_lapsed_hold_can_no_longer_be_moved(client, station, book, clock):
    created = await book(station.id)
    clock.move_to(datetime(2026, 12, 2, 16, 0, 1, tzinfo=UTC))
    response = await client.post(f"{manage(created)}/reschedule", json={"event_date": "2026-12-12",
                                                                          "slot_time": "12:00"})
    assert response.status_code == 409
    assert response.json()["detail"] in {"The hold on this date has lapsed without a deposit.",
                                         "This booking is expired."}


async def test_unknown_or_malformed_tokens_are_not_found(client, station, book):
    created = await book(station.id)
    forged = created["manage_token"][:-2] + ("AA" if not created["manage_token"].endswith("AA") else "BB")
    assert (await client.get(f"{API}/manage/{forged}")).status_code == 404
    assert (await client.get(f"{API}/manage/short")).status_code == 422
    assert (await client.post(f"{API}/manage/{forged}/cancel", json={})).status_code == 404
    assert (await client.post(f"{API}/manage/{forged}/payment-sent", json={"method": "zelle"})).status_code == 404
