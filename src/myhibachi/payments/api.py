"""Payment routes: the customer's card checkout and options, Stripe's webhook, and the staff's payments API."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query, Request, Response, status

from myhibachi.auth.dependencies import CurrentPrincipal
from myhibachi.bookings.api import IdempotencyKey, Token
from myhibachi.bookings.commands import booking_for_token
from myhibachi.core.context import current_request_meta
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId, RuntimeDep
from myhibachi.payments import commands, queries
from myhibachi.payments.gateway import card_gateway, verify_webhook
from myhibachi.payments.models import PaymentMethod, PaymentPurpose, PaymentStatus
from myhibachi.payments.schemas import (
    ManualPaymentCreate,
    NoticeRead,
    PaymentDetail,
    PaymentIntentCreate,
    PaymentIntentRead,
    PaymentOptions,
    PaymentPage,
    PaymentRead,
    PaymentSent,
    RefundCreate,
    RefundRead,
    WebhookReceipt,
)
from myhibachi.payments.webhooks import receive_stripe_event
from myhibachi.stations.queries import get_station

manage = APIRouter(prefix="/manage/{token}", tags=["manage"])
webhooks = APIRouter(prefix="/webhooks", tags=["payments"])
staff = APIRouter(tags=["payments"])
QueryDate = Annotated[date | None, Query(ge=EARLIEST_DAY, le=LATEST_DAY)]


# --- the customer's checkout -------------------------------------------------------------------------------------


@manage.get("/payment-options", summary="How can I pay?", response_model=PaymentOptions,
            responses=problem_responses(404, 422))
async def my_payment_options(token: Token, session: DbSession, runtime: RuntimeDep) -> PaymentOptions:
    """What is due now (deposit, balance) and by when (the hold's expiry, in the station's time), whether the card
    form can be shown, the Zelle / Venmo handles and instructions (from settings) for paying without a card, the
    reference to write in the memo, and what the customer told us they sent (`payment-sent`). The same answer the
    booking emails, the confirmation page and the manage page render."""
    booking = await booking_for_token(session, token)
    return await queries.payment_options(session, runtime.settings, booking)


@manage.post("/payment-intent", summary="Start a card payment", status_code=status.HTTP_201_CREATED,
             response_model=PaymentIntentRead, responses=problem_responses(404, 409, 422, 502))
async def start_card_payment(token: Token, body: PaymentIntentCreate, session: DbSession,
                             runtime: RuntimeDep) -> PaymentIntentRead:
    """A Stripe PaymentIntent for the deposit (while the hold lasts) or the balance (once confirmed), for the
    client secret that Stripe's Payment Element needs. Asking again for the same purpose and amount returns the
    same intent. 409 `card_payments_disabled` without Stripe keys (the detail says how to pay instead),
    `nothing_due`, or `illegal_transition` when the booking is not awaiting that payment."""
    booking = await booking_for_token(session, token)
    started = await commands.start_card_payment(session, runtime.settings, card_gateway(runtime.settings),
                                                booking.id, PaymentPurpose(body.purpose.value))
    return PaymentIntentRead(payment_intent_id=started.intent.id, client_secret=started.intent.client_secret,
                             amount_cents=started.intent.amount_cents, currency=started.intent.currency,
                             publishable_key=runtime.settings.stripe_publishable_key)


@manage.post("/payment-sent", summary="I've sent it", status_code=status.HTTP_202_ACCEPTED,
             response_model=NoticeRead, responses=problem_responses(404, 409, 422, 429))
async def report_payment_sent(token: Token, body: PaymentSent, session: DbSession,
                              runtime: RuntimeDep) -> NoticeRead:
    """The customer says a manual payment (Zelle, Venmo, cash or another way) is on its way: it is stored and the
    station's staff who record payments are emailed; it shows on the booking's admin page and the manage page.
    Nothing is marked paid: staff record the payment when it arrives, which confirms the booking. Each call is
    stored as one notice. 409 `nothing_due` once the booking no longer awaits its deposit (confirmed, cancelled,
    expired, or its hold lapsed); 429 `rate_limited` (with Retry-After) beyond the manage pages' per-address limit
    (`PUBLIC_FORM_POSTS_PER_IP`) or a few notices a day for one booking."""
    await runtime.public_form_posts_by_ip.reserve(current_request_meta().ip or "unknown")  # as the manage forms
    booking = await booking_for_token(session, token)
    notice = await commands.report_payment_sent(session, runtime.settings, booking.id, body)
    station = await get_station(session, booking.station_id)
    return queries.notice_read(notice, ZoneInfo(station.timezone))


# --- Stripe's webhook ---------------------------------------------------------------------------------------------


@webhooks.post("/stripe", summary="Stripe webhook", response_model=WebhookReceipt,
               responses=problem_responses(400, 422))
async def stripe_webhook(request: Request, session: DbSession, runtime: RuntimeDep,
                         stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None
                         ) -> WebhookReceipt:
    """Verifies `Stripe-Signature` on the raw body (400 `invalid_signature` when it is missing, wrong or older
    than 5 minutes; nothing is stored), stores the event once by its id and answers 200; a job applies it.
    Repeated and out-of-order deliveries are harmless."""
    event = verify_webhook(runtime.settings, await request.body(), stripe_signature)
    return WebhookReceipt(duplicate=not await receive_stripe_event(session, event))


# --- staff ----------------------------------------------------------------------------------------------------------


@staff.post("/bookings/{booking_id}/payments", summary="Record a manual payment", status_code=201,
            response_model=PaymentRead, responses=problem_responses(401, 403, 404, 409, 422))
async def record_payment(booking_id: PathId, body: ManualPaymentCreate, principal: CurrentPrincipal,
                         session: DbSession, runtime: RuntimeDep, response: Response,
                         idempotency_key: IdempotencyKey = None) -> PaymentRead:
    """Cash, Zelle, Venmo or check received, with its reference; audited, receipted to the customer, and
    confirming the booking once the deposit is covered (409 `slot_unavailable` if its lapsed hold's date was
    taken meanwhile). 422 `overpayment` above what is due. Needs `payments.record`. An `Idempotency-Key` makes
    a retry return the same payment (`Idempotent-Replayed: true`)."""
    recorded = await commands.record_manual_payment(session, runtime.settings, principal, booking_id, body,
                                                    idempotency_key=idempotency_key)
    if not recorded.created:
        response.headers["Idempotent-Replayed"] = "true"
    (read,) = await queries.read_payments(session, [recorded.payment])
    return read


@staff.get("/payments", summary="List payments", response_model=PaymentPage,
           responses=problem_responses(401, 403, 404, 422))
async def list_payments(
    principal: CurrentPrincipal,
    session: DbSession,
    station_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    method: PaymentMethod | None = None,
    status_: Annotated[PaymentStatus | None, Query(alias="status")] = None,
    from_: Annotated[QueryDate, Query(alias="from", description="First local date (the station's), inclusive.")]
    = None,
    to: Annotated[QueryDate, Query(description="Last local date, inclusive.")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PaymentPage:
    """Payments of the stations you may read, newest first, by when they were started or recorded. Keyset-
    paginated: pass `next_cursor` back as `cursor`. Needs `payments.read`."""
    filters = queries.PaymentFilter(station_id=station_id, method=method, status=status_, date_from=from_,
                                    date_to=to)
    items, next_cursor = await queries.list_payments(session, principal, filters, cursor=cursor, limit=limit)
    return PaymentPage(items=items, next_cursor=next_cursor)


@staff.get("/payments/{payment_id}", summary="Get a payment", response_model=PaymentDetail,
           responses=problem_responses(401, 403, 404, 422))
async def get_payment(payment_id: PathId, principal: CurrentPrincipal, session: DbSession) -> PaymentDetail:
    """The payment with its refunds and the Stripe events received about it."""
    return await queries.payment_detail(session, principal, payment_id)


@staff.post("/payments/{payment_id}/refunds", summary="Refund a payment", status_code=201,
            response_model=RefundRead, responses=problem_responses(401, 403, 404, 409, 422, 502))
async def refund_payment(payment_id: PathId, body: RefundCreate, principal: CurrentPrincipal, session: DbSession,
                         runtime: RuntimeDep, response: Response,
                         idempotency_key: IdempotencyKey = None) -> RefundRead:
    """All or part of what is left of a payment: card payments back to the card through Stripe, others recorded
    with the method used. 422 `refund_exceeds_paid` above what is left. With an `Idempotency-Key`, a retry
    refunds once and returns the same refund (`Idempotent-Replayed: true`). Needs `payments.refund`."""
    refunded = await commands.refund_payment(session, runtime.settings, card_gateway(runtime.settings), principal,
                                             payment_id, body, idempotency_key=idempotency_key)
    if not refunded.created:
        response.headers["Idempotent-Replayed"] = "true"
    return RefundRead.model_validate(refunded.refund)
