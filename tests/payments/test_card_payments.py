"""Card payments end to end against the Stripe emulator: intents, the customer's card, webhooks, confirmation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import select

from myhibachi.payments.models import StripeEvent
from tests.conftest import mail_text, read_mails
from tests.payments.conftest import API, PUBLISHABLE_KEY


def manage(booking: dict) -> str:
    return f"{API}/manage/{booking['manage_token']}"


async def test_a_card_deposit_confirms_the_booking_through_the_webhook(
        client, station, book, stripe_emulator, receiver, deliver, settings, admin):
    booking = await book(station.id)

    started = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})
    again = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})

    assert started.status_code == 201, started.text
    intent = started.json()
    assert intent["amount_cents"] == 10000 and intent["currency"] == "usd"
    assert intent["publishable_key"] == PUBLISHABLE_KEY
    assert intent["client_secret"].startswith(intent["payment_intent_id"])
    assert again.status_code == 201 and again.json()["payment_intent_id"] == intent["payment_intent_id"]

    paid = await stripe_emulator.browser_pays(intent["payment_intent_id"])
    assert paid["status"] == "succeeded"
    delivery = await receiver.wait_for("payment_intent.succeeded", object_id=intent["payment_intent_id"])
    response = await deliver(*delivery)

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    view = (await client.get(manage(booking))).json()
    assert view["status"] == "confirmed" and view["paid_cents"] == 10000
    assert view["balance_due_cents"] == booking["quote"]["total_cents"] - 10000
    assert [(p["method"], p["purpose"], p["amount_cents"]) for p in view["payments"]] == [("card", "deposit", 10000)]
    [confirmation] = [m for m in read_mails(settings) if m["Subject"].startswith("Deposit received")]
    assert "We received $100.00 by card for your deposit." in mail_text(confirmation)
    payments = (await client.get(f"{API}/payments", headers=admin)).json()["items"]
    assert [(p["status"], p["provider_intent_id"]) for p in payments] == [
        ("succeeded", intent["payment_intent_id"])]
    assert payments[0]["provider_charge_id"].startswith("ch_")
    detail = (await client.get(f"{API}/payments/{payments[0]['id']}", headers=admin)).json()
    assert [(e["type"], e["outcome"]) for e in detail["events"]] == [
        ("payment_intent.succeeded", "booking confirmed")]


async def test_a_declined_card_leaves_the_hold_and_the_same_intent_takes_another_card(
        client, station, book, stripe_emulator, receiver, deliver, admin):
    booking = await book(station.id)
    intent = (await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})).json()
    intent_id = intent["payment_intent_id"]

    declined = await stripe_emulator.browser_pays(intent_id, "pm_card_chargeCustomerFail")
    assert declined["status"] == "requires_payment_method"
    await deliver(*await receiver.wait_for("payment_intent.payment_failed", object_id=intent_id))

    [payment] = (await client.get(f"{API}/payments", headers=admin)).json()["items"]
    assert payment["status"] == "failed" and payment["failure_message"] == "Your card was declined."
    assert (await client.get(manage(booking))).json()["status"] == "pending_deposit"
    retry = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})
    assert retry.json()["payment_intent_id"] == intent_id  # the customer tries another card on the same intent

    await stripe_emulator.browser_pays(intent_id)
    await deliver(*await receiver.wait_for("payment_intent.succeeded", object_id=intent_id))
    assert (await client.get(manage(booking))).json()["status"] == "confirmed"
    [payment] = (await client.get(f"{API}/payments", headers=admin)).json()["items"]
    assert payment["status"] == "succeeded" and payment["failure_message"] is None


async def test_the_balance_is_paid_online_once_confirmed(client, station, book, stripe_emulator, receiver, deliver):
    booking = await book(station.id)
    before = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "balance"})
    deposit = (await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})).json()
    await stripe_emulator.browser_pays(deposit["payment_intent_id"])
    await deliver(*await receiver.wait_for("payment_intent.succeeded"))

    balance = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "balance"})
    deposit_again = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})

    assert before.status_code == 409 and before.json()["code"] == "illegal_transition"
    assert balance.status_code == 201 and balance.json()["amount_cents"] == booking["quote"]["total_cents"] - 10000
    assert deposit_again.status_code == 409
    await stripe_emulator.browser_pays(balance.json()["payment_intent_id"])
    await deliver(*await receiver.wait_for("payment_intent.succeeded",
                                           object_id=balance.json()["payment_intent_id"]))
    view = (await client.get(manage(booking))).json()
    assert view["paid_cents"] == booking["quote"]["total_cents"] and view["balance_due_cents"] == 0
    nothing = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "balance"})
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_due"


@pytest.mark.no_stripe
async def test_without_stripe_keys_the_card_option_is_hidden_and_manual_instructions_shown(client, station, book,
                                                                                          settings):
    booking = await book(station.id)

    options = (await client.get(f"{manage(booking)}/payment-options")).json()
    card = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})

    assert options["card_enabled"] is False and options["publishable_key"] is None
    assert options["deposit_due_cents"] == options["due_now_cents"] == 10000 and options["due_now"] == "deposit"
    assert [(m["method"], m["handle"]) for m in options["manual"]] == [
        ("zelle", settings.zelle_handle), ("venmo", settings.venmo_handle)]
    assert options["manual"][0]["instructions"] == (
        f"Send $100.00 by Zelle to {settings.zelle_handle} and write {booking['reference']} in the memo.")
    assert card.status_code == 409 and card.json()["code"] == "card_payments_disabled"
    assert settings.zelle_handle in card.json()["detail"] and settings.venmo_handle in card.json()["detail"]


async def test_with_stripe_keys_the_card_option_is_offered(client, station, book):
    booking = await book(station.id)
    options = (await client.get(f"{manage(booking)}/payment-options")).json()
    assert options["card_enabled"] is True and options["publishable_key"] == PUBLISHABLE_KEY


async def test_webhook_events_are_stored_with_the_intent_they_concern(db, client, station, book, stripe_emulator,
                                                                       receiver, deliver):
    booking = await book(station.id)
    intent = (await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})).json()
    await stripe_emulator.browser_pays(intent["payment_intent_id"])
    await deliver(*await receiver.wait_for("payment_intent.succeeded"))
    async with db.transaction(write=False) as session:
        [event] = await session.scalars(select(StripeEvent))
    assert event.payment_intent_id == intent["payment_intent_id"] and event.handled_at is not None


async def test_when_stripe_cannot_be_reached_the_customer_gets_a_502_and_nothing_is_written(
        client, station, book, app, ledger):
    booking = await book(station.id)
    unreachable = app.state.settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})  # closed port
    app.state.runtime.settings = unreachable
    try:
        response = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})
    finally:
        app.state.runtime.settings = app.state.settings

    assert response.status_code == 502 and response.json()["code"] == "payment_provider_error"
    assert await ledger() == {"payments": [], "refunds": []}


async def test_stripe_keys_never_reach_the_logs(client, station, book, stripe_emulator, receiver, deliver, settings,
                                                capsys, caplog):
    booking = await book(station.id)
    intent = (await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})).json()
    await stripe_emulator.browser_pays(intent["payment_intent_id"])
    await deliver(*await receiver.wait_for("payment_intent.succeeded"))

    secrets = [settings.stripe_secret_key.get_secret_value(), settings.stripe_webhook_secret.get_secret_value()]
    written = capsys.readouterr()
    logged = written.out + written.err + caplog.text + repr(settings) + str(settings.model_dump())
    assert not [secret for secret in secrets if secret in logged]
    assert "stripe_event_applied" in written.out + written.err + caplog.text  # the flow did log


async def test_a_new_amount_due_withdraws_the_old_intent(client, station, book, admin, stripe_emulator, ledger):
    booking = await book(station.id)
    first = (await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})).json()
    half = await client.post(f"{API}/bookings/{booking['id']}/payments", headers=admin,
                             json={"method": "cash", "amount_cents": 4000, "reference": "R-1"})
    assert half.status_code == 201, half.text

    second = (await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})).json()

    assert second["payment_intent_id"] != first["payment_intent_id"] and second["amount_cents"] == 6000
    http = stripe.HTTPXClient()
    try:
        old = await stripe_emulator.client(http).v1.payment_intents.retrieve_async(first["payment_intent_id"])
    finally:
        await http.close_async()
    assert old.status == "canceled"
    statuses = {row[5]: row[3] for row in (await ledger())["payments"] if row[5]}
    assert statuses == {first["payment_intent_id"]: "canceled", second["payment_intent_id"]: "pending"}


async def test_two_checkouts_at_once_get_one_intent(client, station, book, ledger):
    booking = await book(station.id)

    answers = await asyncio.gather(*[client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})
                                     for _ in range(3)])

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["payment_intent_id"] for a in answers}) == 1
    assert len((await ledger())["payments"]) == 1


async def test_no_intent_for_a_lapsed_hold_or_a_cancelled_booking(client, station, book, clock):
    lapsed, cancelled = await book(station.id, slot="12:00"), await book(station.id, slot="18:00")
    await client.post(f"{manage(cancelled)}/cancel", json={})
    clock.shift(timedelta(hours=24, seconds=1))

    for booking in (lapsed, cancelled):
        response = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})
        assert response.status_code == 409 and response.json()["code"] == "illegal_transition", response.text
