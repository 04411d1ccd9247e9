"""Card payments through the official Stripe SDK: intents, refunds and webhook verification.

Every write carries an idempotency key derived from our own ids, so a retried request can never charge or refund
twice at Stripe. `STRIPE_API_BASE` points the SDK at an emulator (tests use localstripe).
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from myhibachi.core.errors import DomainError
from myhibachi.settings import Settings

if TYPE_CHECKING:
    import stripe

log = structlog.get_logger(__name__)


class PaymentProviderError(DomainError):
    status, code = 502, "payment_provider_error"


class InvalidWebhook(DomainError):
    status, code = 400, "invalid_signature"


@dataclass(frozen=True)
class CardIntent:
    id: str
    client_secret: str
    status: str
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class CardRefund:
    id: str
    status: str  # pending | succeeded | failed | canceled


class CardGateway:
    """Stripe, as our commands need it. The async HTTP client is bound to an event loop, so one is made per loop."""

    def __init__(self, api_key: str, api_base: str | None) -> None:
        self._api_key, self._api_base = api_key, api_base
        self._client: stripe.StripeClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _stripe(self) -> stripe.StripeClient:
        import stripe  # here, not at the top: ~29 MB that a process taking no card payments never loads

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            base = {"api": self._api_base} if self._api_base else None
            self._client = stripe.StripeClient(self._api_key, base_addresses=base,  # type: ignore[arg-type]
                                               http_client=stripe.HTTPXClient(), max_network_retries=2)
            self._loop = loop
        return self._client

    async def create_intent(self, *, amount_cents: int, currency: str, metadata: dict[str, str],
                            idempotency_key: str) -> CardIntent:
        params: dict[str, Any] = {"amount": amount_cents, "currency": currency.lower(), "metadata": metadata,
                                  "payment_method_types": ["card"]}
        intent = await self._call(self._stripe().v1.payment_intents.create_async(
            params=params, options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return _intent(intent)

    async def retrieve_intent(self, intent_id: str) -> CardIntent:
        return _intent(await self._call(self._stripe().v1.payment_intents.retrieve_async(intent_id)))

    async def cancel_intent(self, intent_id: str) -> None:
        """Withdraw an intent nobody should pay any more; one that is already final is left as it is."""
        import stripe

        try:
            await self._stripe().v1.payment_intents.cancel_async(intent_id)
        except stripe.StripeError as exc:
            log.info("stripe_cancel_skipped", payment_intent=intent_id, error=type(exc).__name__)

    async def refund(self, *, payment_intent_id: str, amount_cents: int, metadata: dict[str, str],
                     idempotency_key: str) -> CardRefund:
        refund = await self._call(self._stripe().v1.refunds.create_async(
            params={"payment_intent": payment_intent_id, "amount": amount_cents, "metadata": metadata},
            options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return CardRefund(id=refund.id, status=refund.status or "pending")

    @staticmethod
    async def _call(pending: Any) -> Any:
        import stripe

        try:
            return await pending
        except stripe.StripeError as exc:
            log.warning("stripe_error", error=type(exc).__name__, code=getattr(exc, "code", None))
            raise PaymentProviderError("The card processor did not accept the request; try again shortly.") from None


def _intent(intent: Any) -> CardIntent:
    return CardIntent(id=intent.id, client_secret=intent.client_secret, status=intent.status,
                      amount_cents=intent.amount, currency=intent.currency)


def card_gateway(settings: Settings) -> CardGateway | None:
    """The gateway for these settings (one per key and address, so HTTP connections are reused); None without
    a secret key: card payments are off."""
    if not settings.card_payments_enabled:
        return None
    assert settings.stripe_secret_key is not None
    return _gateway(settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base)


@functools.lru_cache(maxsize=8)
def _gateway(api_key: str, api_base: str | None) -> CardGateway:
    return CardGateway(api_key, api_base)


def verify_webhook(settings: Settings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if Stripe signed this exact body recently (5 min tolerance); InvalidWebhook otherwise."""
    if settings.stripe_webhook_secret is None:
        raise InvalidWebhook("Stripe webhooks are not configured here.")
    if not signature:
        raise InvalidWebhook("The Stripe-Signature header is missing.")
    import stripe

    try:
        stripe.WebhookSignature.verify_header(payload, signature, settings.stripe_webhook_secret.get_secret_value(),
                                              tolerance=stripe.Webhook.DEFAULT_TOLERANCE)
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        raise InvalidWebhook("The signature does not match this body, or it is too old.") from None
    except ValueError:  # also a body that is not UTF-8
        raise InvalidWebhook("The body is not a JSON event.") from None
    if not _is_event(event):
        raise InvalidWebhook("The body is not a Stripe event.")
    return event


def _fits(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable() and value.isascii()


def _is_event(event: object) -> bool:
    """The shape every handler relies on: short printable ids, an integer time, `data.object` an object."""
    if not isinstance(event, dict) or not _fits(event.get("id"), 255) or not _fits(event.get("type"), 100):
        return False
    created, data = event.get("created", 0), event.get("data", {})
    return (isinstance(created, int) and 0 <= created < 2**40 and isinstance(data, dict)
            and isinstance(data.get("object", {}), dict))
