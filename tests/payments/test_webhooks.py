"""Stripe's webhook: only signed bodies count, each event applies once, and order and repeats change nothing.

The emulator sends payment_intent.* events itself; it sends no charge.* events (refunds, disputes), so those are
built here and signed with the SDK's own signing helper, exactly as Stripe signs them.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
import stripe
from sqlalchemy import func, select

from myhibachi.payments.gateway import InvalidWebhook, verify_webhook
from myhibachi.payments.models import StripeEvent
from myhibachi.settings import Settings
from tests.conftest import read_mails
from tests.payments.conftest import API, WEBHOOK_SECRET
from tests.stripe_emulator import signed_event


def manage(booking: dict) -> str:
    return f"{API}/manage/{booking['manage_token']}"


async def stored_events(db) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(StripeEvent))


def event(event_id: str, event_type: str, obj: dict[str, Any], created: int) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": event_type, "created": created, "data": {"object": obj}}


async def start_intent(client, booking: dict) -> str:  # noqa: ANN001
    response = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})
    assert response.status_code == 201, response.text
    return response.json()["payment_intent_id"]


# --- the signature -------------------------------------------------------------------------------------------------


async def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(client, station, book, deliver, db):
    booking = await book(station.id)
    intent_id = await start_intent(client, booking)
    body = event("evt_forged", "payment_intent.succeeded", {"id": intent_id, "object": "payment_intent"},
                 int(time.time()))

    forged = await deliver(*signed_event(body, "whsec_not_ours"))
    unsigned = await client.post(f"{API}/webhooks/stripe", json=body)
    tampered_body, headers = signed_event(body, WEBHOOK_SECRET)
    tampered = await deliver(tampered_body.replace(b"evt_forged", b"evt_other"), headers)

    for response in (forged, unsigned, tampered):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_signature"
    assert await stored_events(db) == 0
    assert (await client.get(manage(booking))).json()["status"] == "pending_deposit"


def test_an_empty_webhook_secret_means_not_configured_not_the_empty_key(settings, monkeypatch) -> None:
    """`STRIPE_WEBHOOK_SECRET=` left empty in an env file must not make a body signed with "" count."""
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "")
    blank = Settings(_env_file=None, **settings.model_dump(exclude={"stripe_webhook_secret"}))  # type: ignore[call-arg]
    delivery = event("evt_empty_key", "payment_intent.succeeded", {"id": "pi_1"}, int(time.time()))
    body, headers = signed_event(delivery, "")
    assert blank.stripe_webhook_secret is None
    with pytest.raises(InvalidWebhook, match="not configured"):
        verify_webhook(blank, body, headers["Stripe-Signature"])
    body, headers = signed_event(delivery, WEBHOOK_SECRET)  # the configured secret still verifies
    assert verify_webhook(settings, body, headers["Stripe-Signature"])["id"] == "evt_empty_key"


async def test_an_old_signature_is_refused(client, station, book, deliver, db):
    booking = await book(station.id)
    intent_id = await start_intent(client, booking)
    body = event("evt_old", "payment_intent.succeeded", {"id": intent_id, "object": "payment_intent"},
                 int(time.time()))

    replayed = await deliver(*signed_event(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301))
    fresh = await deliver(*signed_event(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 299))

    assert replayed.status_code == 400 and replayed.json()["code"] == "invalid_signature"
    assert fresh.status_code == 200
    assert await stored_events(db) == 1


async def test_a_signed_body_that_is_not_an_event_is_refused(deliver, db):
    for body in ("not json at all", "[1, 2]", '{"id": "evt_1"}'):
        signature = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
        response = await deliver(body.encode(), {"Stripe-Signature": signature})
        assert response.status_code == 400 and response.json()["code"] == "invalid_signature"
    assert await stored_events(db) == 0


async def test_an_event_type_we_do_not_handle_is_acknowledged_and_recorded(deliver, db):
    response = await deliver(*signed_event(event("evt_misc", "customer.created", {"id": "cus_1"}, 1), WEBHOOK_SECRET))
    assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    async with db.transaction(write=False) as session:
        stored = await session.get(StripeEvent, "evt_misc")
    assert stored is not None and stored.handled_at is not None and stored.outcome == "ignored: not handled"


# --- repeats, order and races ----------------------------------------------------------------------------------------


def life_of_a_payment(tag: str, intent_id: str, start: int) -> list[dict[str, Any]]:
    """A declined card, then success, two partial refunds, a dispute: what Stripe sends for one payment."""
    charge = f"ch_{tag}"
    pi = {"id": intent_id, "object": "payment_intent"}
    refund_a = {"id": f"re_{tag}_a", "object": "refund", "amount": 3000, "status": "succeeded"}
    refund_b = {"id": f"re_{tag}_b", "object": "refund", "amount": 2000, "status": "pending"}
    refund_b_done = {**refund_b, "status": "succeeded"}

    def refunded(*refunds: dict[str, Any]) -> dict[str, Any]:
        return {"id": charge, "object": "charge", "payment_intent": intent_id,
                "amount_refunded": sum(r["amount"] for r in refunds), "refunds": {"data": list(refunds)}}

    return [
        event(f"evt_{tag}_1", "payment_intent.payment_failed",
              {**pi, "status": "requires_payment_method",
               "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}, start),
        event(f"evt_{tag}_2", "payment_intent.succeeded", {**pi, "status": "succeeded", "latest_charge": charge},
              start + 60),
        event(f"evt_{tag}_3", "charge.refunded", refunded(refund_a), start + 120),
        event(f"evt_{tag}_4", "charge.refunded", refunded(refund_a, refund_b), start + 180),
        event(f"evt_{tag}_5", "charge.refunded", refunded(refund_a, refund_b_done), start + 240),
        event(f"evt_{tag}_6", "charge.dispute.created",
              {"id": f"dp_{tag}", "object": "dispute", "payment_intent": intent_id, "charge": charge,
               "amount": 5000, "reason": "fraudulent"}, start + 300),
    ]


async def test_every_event_three_times_in_any_order_gives_the_ledger_of_once_in_order(
        client, station, book, add_chefs, deliver, admin):
    start = int(time.time())
    in_order = await book(station.id, slot="12:00")
    shuffled = await book(station.id, slot="18:00")
    events_once = life_of_a_payment("once", await start_intent(client, in_order), start)
    events_thrice = life_of_a_payment("many", await start_intent(client, shuffled), start) * 3
    random.Random(20261130).shuffle(events_thrice)

    for item in events_once:
        assert (await deliver(*signed_event(item, WEBHOOK_SECRET))).status_code == 200
    answers = [await deliver(*signed_event(item, WEBHOOK_SECRET)) for item in events_thrice]

    assert all(a.status_code == 200 for a in answers)
    assert sum(not a.json()["duplicate"] for a in answers) == 6  # each stored once, the rest acknowledged
    payments = (await client.get(f"{API}/payments", headers=admin)).json()["items"]
    by_booking = {p["booking_id"]: p for p in payments}
    once, many = by_booking[in_order["id"]], by_booking[shuffled["id"]]
    for payment in (once, many):
        detail = (await client.get(f"{API}/payments/{payment['id']}", headers=admin)).json()
        payment["refunds"] = sorted((r["amount_cents"], r["status"]) for r in detail["refunds"])
        for key in ("id", "booking_id", "booking_reference", "provider_intent_id", "provider_charge_id",
                    "created_at"):
            payment.pop(key)
    assert once == many
    assert once["status"] == "succeeded" and once["refunded_cents"] == 5000
    assert once["refunds"] == [(2000, "succeeded"), (3000, "succeeded")]
    assert once["dispute_reason"] == "fraudulent" and once["failure_message"] is None
    for booking in (in_order, shuffled):
        view = (await client.get(manage(booking))).json()
        assert view["status"] == "confirmed" and view["paid_cents"] == 10000 - 5000


async def test_two_deliveries_of_one_event_at_once_apply_it_once(client, station, book, deliver, db, settings,
                                                                 stripe_emulator, receiver):
    booking = await book(station.id)
    intent_id = await start_intent(client, booking)
    await stripe_emulator.browser_pays(intent_id)
    delivery = await receiver.wait_for("payment_intent.succeeded", object_id=intent_id)

    first, second = await asyncio.gather(deliver(*delivery), deliver(*delivery))

    assert first.status_code == second.status_code == 200
    assert sorted([first.json()["duplicate"], second.json()["duplicate"]]) == [False, True]
    assert await stored_events(db) == 1
    view = (await client.get(manage(booking))).json()
    assert view["status"] == "confirmed" and [p["amount_cents"] for p in view["payments"]] == [10000]
    confirmations = [m for m in read_mails(settings) if m["Subject"].startswith("Deposit received")]
    assert len(confirmations) == 1


async def test_a_dispute_is_recorded_and_staff_are_told(client, station, book, pay_deposit_by_card, deliver, admin,
                                                       settings):
    booking = await book(station.id)
    intent_id = await pay_deposit_by_card(booking)
    dispute = event("evt_dispute", "charge.dispute.created",
                    {"id": "dp_1", "object": "dispute", "payment_intent": intent_id, "amount": 10000,
                     "reason": "product_not_received"}, int(time.time()))

    await deliver(*signed_event(dispute, WEBHOOK_SECRET))

    [payment] = (await client.get(f"{API}/payments", headers=admin)).json()["items"]
    assert payment["dispute_reason"] == "product_not_received" and payment["disputed_at"] is not None
    [alert] = [m for m in read_mails(settings) if m["Subject"].startswith("Card payment disputed")]
    assert alert["To"] == "admin@example.com"
