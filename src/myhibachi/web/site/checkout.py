"""Paying: the deposit step of the booking flow and the balance later, both at `/manage/<token>/pay` — Zelle or
Venmo instructions always, Stripe's Payment Element when card keys are set (Stripe.js only on that page) — and
the confirmation page Stripe returns to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from myhibachi.bookings.commands import booking_for_token
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.queries import manage_view
from myhibachi.core.errors import DomainError, NotFound
from myhibachi.core.web import DbSession, RuntimeDep, discard_changes
from myhibachi.payments.commands import start_card_payment
from myhibachi.payments.gateway import card_gateway
from myhibachi.payments.models import PaymentPurpose
from myhibachi.payments.queries import payment_options
from myhibachi.web.forms import FormRejected, checked_form
from myhibachi.web.site.booking import BOOKING_COOKIE, STEPS
from myhibachi.web.site.common import missing_page, page

router = APIRouter(include_in_schema=False)

# The card page alone may load Stripe.js, talk to Stripe and show its frames.
CARD_CSP = ("default-src 'self'; img-src 'self' data: https://*.stripe.com; script-src 'self' https://js.stripe.com; "
            "style-src 'self'; frame-src https://js.stripe.com https://hooks.stripe.com; "
            "connect-src 'self' https://api.stripe.com; frame-ancestors 'none'; base-uri 'self'; "
            "form-action 'self'; object-src 'none'")


async def _booking(session: Any, token: str) -> Booking | None:
    try:
        return await booking_for_token(session, token) if 20 <= len(token) <= 100 else None
    except NotFound:
        return None


async def _pay_page(request: Request, runtime: Any, session: Any, booking: Booking, *, status: int = 200,
                    message: str | None = None) -> HTMLResponse:
    view = await manage_view(session, booking)
    options = await payment_options(session, runtime.settings, booking)
    deposit = booking.status == BookingStatus.pending_deposit.value
    due = options.due_now_cents
    return page(request, runtime, "pay.html", title=f"Pay for booking {booking.reference} — "
                f"{runtime.settings.brand_name}", description="Pay your deposit or balance.", status=status,
                view=view, options=options, due=due, deposit=deposit, steps=STEPS, message=message,
                token=request.path_params["token"])


@router.get("/manage/{token}/pay", response_class=HTMLResponse)
async def pay(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    booking = await _booking(session, token)
    if booking is None:
        return await missing_page(request, runtime, session)
    return await _pay_page(request, runtime, session, booking)


@router.post("/manage/{token}/pay/card", response_class=HTMLResponse)
async def pay_by_card(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """Starts (or resumes) the card payment of what is due now and shows Stripe's Payment Element for it."""
    booking = await _booking(session, token)
    if booking is None:
        return await missing_page(request, runtime, session)
    try:
        await checked_form(request, runtime)
        purpose = PaymentPurpose.deposit if booking.status == BookingStatus.pending_deposit.value \
            else PaymentPurpose.balance
        started = await start_card_payment(session, runtime.settings, card_gateway(runtime.settings), booking.id,
                                           purpose)
    except FormRejected as rejected:
        return await _pay_page(request, runtime, session, booking, status=rejected.status, message=rejected.message)
    except DomainError as exc:
        await discard_changes(session)
        booking = await booking_for_token(session, token)
        return await _pay_page(request, runtime, session, booking, status=exc.status, message=exc.detail)
    base = runtime.settings.base_url.rstrip("/")
    return page(request, runtime, "card.html", title=f"Pay by card — {runtime.settings.brand_name}",
                description="Pay securely by card.", headers={"Content-Security-Policy": CARD_CSP},
                booking=booking, intent=started.intent, publishable_key=runtime.settings.stripe_publishable_key,
                return_url=f"{base}/bookings/{booking.reference}/confirmed", token=token)


@router.get("/bookings/{reference}/confirmed", response_class=HTMLResponse)
async def confirmed(reference: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """Shows the booking only to the browser that made it (its cookie holds the manage token); anyone else
    learns nothing from a reference."""
    booking = await _booking(session, request.cookies.get(BOOKING_COOKIE, ""))
    view = await manage_view(session, booking) if booking and booking.reference == reference else None
    options = await payment_options(session, runtime.settings, booking) if view and booking else None
    card = request.query_params.get("redirect_status")  # set when Stripe sends the visitor back
    return page(request, runtime, "confirmed.html", title=f"Booking {reference[:20]} — "
                f"{runtime.settings.brand_name}", description="Your booking.", reference=reference[:20], view=view,
                options=options,
                card_status=card if card in ("succeeded", "processing", "requires_payment_method") else None,
                token=request.cookies.get(BOOKING_COOKIE) if view else None)
