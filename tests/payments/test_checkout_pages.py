"""The card checkout pages' server side against the Stripe emulator (Stripe.js itself cannot load offline): the
pay page offers the card, the card page carries the emulator's PaymentIntent for what is due and the only CSP
that lets Stripe.js in, and once Stripe's webhook has confirmed the payment the pages say so."""

from __future__ import annotations

import re

import pytest

from tests.bookings.conftest import API
from tests.payments.conftest import PUBLISHABLE_KEY
from tests.web.browserless import read, submit


async def test_the_card_page_shows_the_payment_element_for_the_deposit(client, station, book, stripe_emulator):
    booking = await book(station.id)
    pay = read(await client.get(f"/manage/{booking['manage_token']}/pay"))
    assert "js.stripe.com" not in pay.text and "js.stripe.com" not in pay.response.headers["content-security-policy"]
    assert "Pay $100.00 by card" in pay.text

    [card_form] = [form for form in pay.forms if form.action.endswith("/pay/card")]
    card = await submit(client, pay, None, form=card_form)
    again = await submit(client, pay, None, form=card_form)

    assert card.response.status_code == 200
    assert '<script src="https://js.stripe.com/v3/" defer>' in card.text
    assert "script-src 'self' https://js.stripe.com" in card.response.headers["content-security-policy"]
    secret = re.search(r'data-client-secret="([^"]+)"', card.text).group(1)
    assert f'data-publishable-key="{PUBLISHABLE_KEY}"' in card.text
    assert re.search(r'data-client-secret="([^"]+)"', again.text).group(1) == secret  # one intent, not two
    intent = await stripe_emulator.client().v1.payment_intents.retrieve_async(secret.split("_secret_")[0])
    assert intent.amount == 10000 and intent.metadata["booking_reference"] == booking["reference"]


async def test_after_the_card_payment_the_pages_say_the_booking_is_confirmed(client, station, book,
                                                                             pay_deposit_by_card):
    booking = await book(station.id)
    await pay_deposit_by_card(booking)

    pay = await client.get(f"/manage/{booking['manage_token']}/pay")
    client.cookies.set("mh_booking", booking["manage_token"], path="/bookings/")
    confirmed = await client.get(f"/bookings/{booking['reference']}/confirmed?redirect_status=succeeded")

    assert "Pay the deposit" not in pay.text and "Pay for booking" in pay.text  # now the balance
    assert "You're booked!" in confirmed.text


@pytest.mark.no_stripe
async def test_without_stripe_keys_there_is_no_card_option(client, station, book):
    booking = await book(station.id)

    pay = await client.get(f"/manage/{booking['manage_token']}/pay")
    forced = await client.post(f"/manage/{booking['manage_token']}/pay/card",
                               data={"csrf_token": pay.cookies.get("mh_csrf") or client.cookies.get("mh_csrf")})

    assert "by card" not in pay.text and "Zelle" in pay.text
    assert forced.status_code == 409 and "Card payments are not available" in forced.text
    assert (await client.get(f"{API}/manage/{booking['manage_token']}")).json()["payments"] == []
