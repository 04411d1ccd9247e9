"""Payment fixtures: the booking fixtures, an admin, and an app whose card payments go to the Stripe emulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import stripe
from pydantic import SecretStr
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.core.db import Database
from myhibachi.payments.models import Payment, Refund
from myhibachi.settings import Settings
from tests.bookings.conftest import API, add_chefs, book, clock, station  # noqa: F401 - shared fixtures
from tests.stripe_emulator import API_KEY, StripeEmulator, WebhookReceiver

WEBHOOK_SECRET = "whsec_test_payments"
PUBLISHABLE_KEY = "pk_test_payments"


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Card payments on, pointed at the emulator; tests marked `no_stripe` get the embedded default instead."""
    if request.node.get_closest_marker("no_stripe"):
        return settings
    emulator: StripeEmulator = request.getfixturevalue("stripe_emulator")
    return settings.model_copy(update={
        "stripe_secret_key": SecretStr(API_KEY), "stripe_publishable_key": PUBLISHABLE_KEY,
        "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET), "stripe_api_base": emulator.url})


@pytest.fixture
async def admin(station, make_user, login) -> dict[str, str]:  # noqa: F811
    await make_user("admin@example.com", Role.admin, station)
    return await login("admin@example.com")


@pytest.fixture
def receiver(stripe_emulator: StripeEmulator) -> WebhookReceiver:  # noqa: F811
    return stripe_emulator.webhook_receiver(WEBHOOK_SECRET)


@pytest.fixture
def deliver(client) -> Callable[..., Awaitable[Any]]:
    """POST a webhook delivery (body, headers) to our endpoint, as Stripe would."""

    async def post(body: bytes, headers: dict[str, str]) -> Any:
        signature = {k: v for k, v in headers.items() if k.lower() == "stripe-signature"}
        return await client.post(f"{API}/webhooks/stripe", content=body,
                                 headers={"Content-Type": "application/json", **signature})

    return post


@pytest.fixture
def ledger(db: Database) -> Callable[[], Awaitable[dict[str, Any]]]:
    """Every payment and refund row, as comparable tuples (what "the same ledger" means)."""

    async def read() -> dict[str, Any]:
        async with db.transaction(write=False) as session:
            payments = [(p.id, p.purpose, p.method, p.status, p.amount_cents, p.provider_intent_id,
                         p.provider_charge_id, p.succeeded_at, p.disputed_at, p.dispute_reason, p.failure_message)
                        for p in await session.scalars(select(Payment).order_by(Payment.id))]
            refunds = [(r.payment_id, r.amount_cents, r.method, r.status, r.provider_refund_id)
                       for r in await session.scalars(select(Refund).order_by(Refund.provider_refund_id, Refund.id))]
        return {"payments": payments, "refunds": refunds}

    return read


@pytest.fixture
def stripe_refunds(stripe_emulator: StripeEmulator) -> Callable[[str], Awaitable[list[tuple[str, int, str]]]]:  # noqa: F811
    """The refunds the emulator holds for a payment intent: (id, amount, status), what Stripe really paid back."""

    async def list_refunds(payment_intent_id: str) -> list[tuple[str, int, str]]:
        http = stripe.HTTPXClient()
        try:
            refunds = await stripe_emulator.client(http).v1.refunds.list_async(
                params={"payment_intent": payment_intent_id})
            return sorted((r.id, r.amount, r.status) for r in refunds.data)
        finally:
            await http.close_async()

    return list_refunds


@pytest.fixture
def pay_deposit_by_card(client, stripe_emulator: StripeEmulator, receiver: WebhookReceiver,  # noqa: F811
                        deliver) -> Callable[[dict[str, Any]], Awaitable[str]]:
    """The customer pays the booking's deposit by card and Stripe's webhook arrives; returns the intent id."""

    async def pay(booking: dict[str, Any]) -> str:
        started = await client.post(f"{API}/manage/{booking['manage_token']}/payment-intent",
                                    json={"purpose": "deposit"})
        assert started.status_code == 201, started.text
        intent_id = started.json()["payment_intent_id"]
        assert (await stripe_emulator.browser_pays(intent_id))["status"] == "succeeded"
        delivered = await deliver(*await receiver.wait_for("payment_intent.succeeded", object_id=intent_id))
        assert delivered.status_code == 200, delivered.text
        return intent_id

    return pay
