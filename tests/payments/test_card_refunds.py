"""Money going back to cards through the Stripe emulator: staff refunds, the cancellation policy's refund, and a
deposit that arrives too late to hold its date."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import stripe

from myhibachi.core.runtime import Runtime
from tests.conftest import mail_text, read_mails
from tests.payments.conftest import API


def manage(booking: dict) -> str:
    return f"{API}/manage/{booking['manage_token']}"


async def card_payment(client, admin) -> dict:  # noqa: ANN001
    [payment] = (await client.get(f"{API}/payments", headers=admin)).json()["items"]
    return payment


def mails(settings, subject: str) -> list:  # noqa: ANN001
    return [m for m in read_mails(settings) if m["Subject"].startswith(subject)]


async def test_staff_refund_part_of_a_card_payment_never_more_than_was_paid(
        client, station, book, pay_deposit_by_card, admin, stripe_refunds, settings):
    booking = await book(station.id)
    intent_id = await pay_deposit_by_card(booking)
    payment = await card_payment(client, admin)
    refunds = f"{API}/payments/{payment['id']}/refunds"

    part = await client.post(refunds, headers=admin, json={"amount_cents": 4000, "reason": "Smaller party"})
    too_much = await client.post(refunds, headers=admin, json={"amount_cents": 6001, "reason": "Oops"})
    rest = await client.post(refunds, headers=admin, json={"amount_cents": 6000, "reason": "Goodwill"})
    nothing_left = await client.post(refunds, headers=admin, json={"amount_cents": 1, "reason": "Oops"})

    assert part.status_code == 201, part.text
    assert part.json()["method"] == "card" and part.json()["status"] == "succeeded"
    assert part.json()["provider_refund_id"].startswith("re_")
    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_paid"
    assert rest.status_code == 201
    assert nothing_left.status_code == 422 and nothing_left.json()["code"] == "refund_exceeds_paid"
    assert sorted(amount for _, amount, _ in await stripe_refunds(intent_id)) == [4000, 6000]
    detail = (await client.get(f"{API}/payments/{payment['id']}", headers=admin)).json()
    assert detail["refunded_cents"] == 10000 and len(detail["refunds"]) == 2
    assert (await client.get(manage(booking))).json()["paid_cents"] == 0
    notice = mails(settings, "Your refund")
    assert len(notice) == 2 and "We are refunding $40.00 to your card" in mail_text(notice[0])


async def test_a_retried_refund_with_one_key_refunds_once(client, station, book, pay_deposit_by_card, admin,
                                                          stripe_refunds):
    booking = await book(station.id)
    intent_id = await pay_deposit_by_card(booking)
    payment = await card_payment(client, admin)
    refunds = f"{API}/payments/{payment['id']}/refunds"
    body = {"amount_cents": 2500, "reason": "Late chef"}
    key = {**admin, "Idempotency-Key": "refund-late-chef"}

    first = await client.post(refunds, headers=key, json=body)
    retried, raced = await asyncio.gather(client.post(refunds, headers=key, json=body),
                                          client.post(refunds, headers=key, json=body))
    other_body = await client.post(refunds, headers=key, json={**body, "amount_cents": 2600})

    assert first.status_code == 201, first.text
    for replay in (retried, raced):
        assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422 and other_body.json()["code"] == "idempotency_key_reused"
    assert [amount for _, amount, _ in await stripe_refunds(intent_id)] == [2500]
    assert (await client.get(f"{API}/payments/{payment['id']}", headers=admin)).json()["refunded_cents"] == 2500


async def test_a_cancellation_early_enough_refunds_the_card_deposit_by_itself(
        client, station, book, pay_deposit_by_card, admin, stripe_refunds, stripe_emulator, settings):
    booking = await book(station.id)
    intent_id = await pay_deposit_by_card(booking)
    balance = await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "balance"})

    cancelled = await client.post(f"{manage(booking)}/cancel", json={"reason": "Moving away"})

    assert cancelled.status_code == 200 and cancelled.json()["refund_owed_cents"] == 10000
    assert [(amount, status) for _, amount, status in await stripe_refunds(intent_id)] == [(10000, "succeeded")]
    statuses = {p["provider_intent_id"]: p["status"]
                for p in (await client.get(f"{API}/payments", headers=admin)).json()["items"]}
    assert statuses[balance.json()["payment_intent_id"]] == "canceled"  # nobody can pay a cancelled booking
    http = stripe.HTTPXClient()
    try:
        withdrawn = await stripe_emulator.client(http).v1.payment_intents.retrieve_async(
            balance.json()["payment_intent_id"])
    finally:
        await http.close_async()
    assert withdrawn.status == "canceled"
    view = (await client.get(manage(booking))).json()
    assert view["status"] == "cancelled" and view["paid_cents"] == 0
    assert "We are refunding $100.00 to your card" in mail_text(mails(settings, "Your refund")[0])


async def test_a_late_cancellation_forfeits_the_deposit_and_refunds_nothing(
        client, station, book, pay_deposit_by_card, admin, stripe_refunds, clock):
    booking = await book(station.id)
    intent_id = await pay_deposit_by_card(booking)
    clock.shift(timedelta(days=8))  # the event is 9 days after "now": under 96 h to go

    cancelled = await client.post(f"{manage(booking)}/cancel", json={})

    assert cancelled.json()["refund_owed_cents"] == 0
    assert await stripe_refunds(intent_id) == []


async def expire_holds(runtime: Runtime) -> None:
    await runtime.jobs.run_periodic_tasks()


async def test_a_late_deposit_confirms_the_booking_while_a_chef_is_still_free(
        client, station, book, stripe_emulator, receiver, deliver, runtime, clock, settings):
    booking = await book(station.id)
    intent = (await client.post(f"{manage(booking)}/payment-intent", json={"purpose": "deposit"})).json()
    clock.shift(timedelta(hours=25))
    await expire_holds(runtime)
    assert (await client.get(manage(booking))).json()["status"] == "expired"

    await stripe_emulator.browser_pays(intent["payment_intent_id"])
    await deliver(*await receiver.wait_for("payment_intent.succeeded", object_id=intent["payment_intent_id"]))

    view = (await client.get(manage(booking))).json()
    assert view["status"] == "confirmed" and view["paid_cents"] == 10000
    assert len(mails(settings, "Deposit received — you are confirmed")) == 1


async def test_a_late_deposit_whose_date_was_taken_is_refunded_and_everyone_told(
        client, station, book, stripe_emulator, receiver, deliver, runtime, clock, settings, admin, stripe_refunds,
        login):
    booking = await book(station.id)
    intent_id = (await client.post(f"{manage(booking)}/payment-intent",
                                   json={"purpose": "deposit"})).json()["payment_intent_id"]
    clock.shift(timedelta(hours=25))
    await expire_holds(runtime)
    await book(station.id, email="ann@example.com")  # the station's two chefs are taken at that time
    await book(station.id, email="bo@example.com")

    await stripe_emulator.browser_pays(intent_id)
    response = await deliver(*await receiver.wait_for("payment_intent.succeeded", object_id=intent_id))

    assert response.status_code == 200
    view = (await client.get(manage(booking))).json()
    assert view["status"] == "expired" and view["paid_cents"] == 0
    assert [(amount, status) for _, amount, status in await stripe_refunds(intent_id)] == [(10000, "succeeded")]
    [returned] = mails(settings, "Your deposit is on its way back")
    assert returned["To"] == "dana@example.com" and "refunded it in full to your card" in mail_text(returned)
    [alert] = mails(settings, "Late deposit refunded")
    assert alert["To"] == "admin@example.com"
    staff = await login("admin@example.com")  # signed in afresh: a day has passed
    [payment] = (await client.get(f"{API}/payments", headers=staff)).json()["items"]
    assert payment["status"] == "succeeded" and payment["refunded_cents"] == 10000
    detail = (await client.get(f"{API}/payments/{payment['id']}", headers=staff)).json()
    assert detail["events"][0]["outcome"].startswith("deposit refunded")
    assert detail["refunds"][0]["reason"].startswith("Deposit could not confirm the booking")
