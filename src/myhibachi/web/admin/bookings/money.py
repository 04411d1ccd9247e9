"""Money on a booking's pages: recording a payment received by staff (cash, Zelle, Venmo, check) and refunding
one. The payments domain's commands authorize, check the amounts and email the customer; a form sent twice (the
same hidden key) records once."""

from __future__ import annotations

import re
import secrets

from fastapi.responses import Response
from pydantic import ValidationError

from myhibachi.bookings.actions import BookingAction
from myhibachi.core.errors import NotFound
from myhibachi.payments import commands as payment_commands
from myhibachi.payments import queries as payment_queries
from myhibachi.payments.gateway import card_gateway
from myhibachi.payments.models import MANUAL_METHODS, PaymentMethod
from myhibachi.payments.schemas import ManualPaymentCreate, PaymentDetail, RefundCreate
from myhibachi.web.admin.bookings.common import Flow, Target, action_page
from myhibachi.web.admin.pages import Trouble, Visit
from myhibachi.web.admin.payments import method_words, planned_refund, refund_request, refund_sentence
from myhibachi.web.fields import dollars, positive_cents, record_id
from myhibachi.web.forms import FormProblem, field_errors

A = BookingAction
KEY = re.compile(r"[A-Za-z0-9_-]{8,100}")
FORM_NAMES = {"amount_cents": "amount"}  # the domain's field -> the form's


def _key(form: dict[str, str]) -> str | None:
    """The form's own idempotency key: sending the same form twice records one payment or refund."""
    key = form.get("key", "")
    return key if KEY.fullmatch(key) else None


def _checked(errors: ValidationError) -> FormProblem:
    return FormProblem(422, "Please check the fields marked below.", field_errors(errors, FORM_NAMES))


# --- recording a payment ------------------------------------------------------------------------------------------


def _deposit_due(t: Target) -> int:
    awaiting = t.detail.status.awaits_deposit
    return max(0, t.detail.quote.deposit_cents - t.detail.paid_cents) if awaiting else 0


async def _payment_render(visit: Visit, t: Target, form: dict[str, str], trouble: Trouble | None) -> Response:
    deposit_due = _deposit_due(t)
    values = {"method": form.get("method", "zelle"), "reference": form.get("reference", "")[:200],
              "amount": form.get("amount", dollars(deposit_due or t.due_cents))[:20],
              "key": _key(form) or secrets.token_urlsafe(16)}
    return await action_page(visit, t, "payment.html", "Record a payment", trouble, values=values,
                             methods=[m.value for m in MANUAL_METHODS], deposit_due=deposit_due,
                             blocked=t.why_not(A.record_payment))


async def _payment_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    try:
        data = ManualPaymentCreate.model_validate({"method": form.get("method"),
                                                   "amount_cents": positive_cents(form, "amount"),
                                                   "reference": form.get("reference", "")})
    except ValidationError as exc:
        raise _checked(exc) from None
    await payment_commands.record_manual_payment(visit.session, visit.runtime.settings, visit.principal,
                                                 t.detail.id, data, idempotency_key=_key(form))


# --- refunding a payment ------------------------------------------------------------------------------------------


async def _chosen_payment(visit: Visit, t: Target, text: str | None) -> PaymentDetail | None:
    """The payment named (it must be this booking's: another is 404), else the only one left to refund."""
    if text:
        payment_id = record_id(text)
        payment = None if payment_id is None else await payment_queries.refundable_payment(
            visit.session, visit.principal, payment_id)
        if payment is None or payment.booking_id != t.detail.id:
            raise NotFound("No such payment.")
        return payment
    refundable = await payment_queries.refundable_payments(visit.session, visit.principal, t.detail.id,
                                                           t.station.id)
    return refundable[0] if len(refundable) == 1 else None


def _refund_method(payment: PaymentDetail, form: dict[str, str]) -> str | None:
    """How the money goes back: a card payment to the card, others as the form says."""
    return None if payment.method is PaymentMethod.card else form.get("method") or None


async def _refund_render(visit: Visit, t: Target, form: dict[str, str], trouble: Trouble | None, *,
                         planned: RefundCreate | None = None) -> Response:
    """Which payment, then the amount and reason (nothing pre-filled), then the refund said in one sentence before
    it is confirmed."""
    payment = await _chosen_payment(visit, t, form.get("payment_id") or visit.request.query_params.get("payment"))
    left = payment.amount_cents - payment.refunded_cents if payment else 0
    values = {"amount": form.get("amount", "")[:20], "reason": form.get("reason", "")[:500],
              "method": form.get("method", payment.method.value if payment else ""),
              "key": _key(form) or secrets.token_urlsafe(16)}
    choices = [] if payment else await payment_queries.refundable_payments(visit.session, visit.principal,
                                                                           t.detail.id, t.station.id)
    return await action_page(visit, t, "refund.html", "Refund a payment", trouble, values=values, payment=payment,
                             left=left, choices=choices, methods=[m.value for m in MANUAL_METHODS],
                             cards_on=visit.runtime.settings.card_payments_enabled, planned=planned,
                             sentence=refund_sentence(payment, planned) if payment and planned else None,
                             method_words=method_words)


async def _refund_steps(visit: Visit, t: Target, form: dict[str, str]) -> Response | None:
    """The preview of the refund (the form's button); None when it is the confirmation."""
    go = form.get("go", "preview")
    if go == "confirm":
        return None
    if go != "preview":
        return await _refund_render(visit, t, form, None)
    payment = await _chosen_payment(visit, t, form.get("payment_id"))
    if payment is None:
        raise FormProblem(422, "Please choose the payment to refund.")
    return await _refund_render(visit, t, form, None,
                                planned=planned_refund(payment, form, _refund_method(payment, form)))


async def _refund_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    payment = await _chosen_payment(visit, t, form.get("payment_id"))
    if payment is None:
        raise FormProblem(422, "Please choose the payment to refund.")
    data = refund_request(form, _refund_method(payment, form))
    await payment_commands.refund_payment(visit.session, visit.runtime.settings, card_gateway(visit.runtime.settings),
                                          visit.principal, payment.id, data, idempotency_key=_key(form))


FLOWS: dict[str, Flow] = {
    A.record_payment.value: Flow(A.record_payment, _payment_render, _payment_act, "payment"),
    # A refund is the payment's: the payments queries and command authorize it, payment by payment.
    "refund": Flow(None, _refund_render, _refund_act, "refund", steps=_refund_steps),
}
