"""The payments API contract: card intents, manual payments, refunds, and the staff's payment views."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.core.text import multi_line, single_line
from myhibachi.payments.models import NoticeMethod, PaymentMethod, PaymentPurpose, PaymentStatus, RefundStatus

Cents = Annotated[int, Field(ge=1, le=10_000_000, strict=True, description="Integer cents.")]


class ManualMethod(StrEnum):
    cash = "cash"
    zelle = "zelle"
    venmo = "venmo"
    check = "check"


class OnlinePurpose(StrEnum):
    deposit = "deposit"
    balance = "balance"


class PaymentIntentCreate(BaseModel):
    purpose: OnlinePurpose

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"purpose": "deposit"}]})


class PaymentIntentRead(BaseModel):
    payment_intent_id: str
    client_secret: str = Field(description="For Stripe's Payment Element in the customer's browser.")
    amount_cents: int
    currency: str
    publishable_key: str | None

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "payment_intent_id": "pi_3Q0abc", "client_secret": "pi_3Q0abc_secret_xyz", "amount_cents": 10000,
        "currency": "usd", "publishable_key": "pk_test_123"}]})


class ManualPaymentOption(BaseModel):
    method: ManualMethod
    label: str = Field(description="The method's name as customers know it.", examples=["Zelle"])
    handle: str | None = Field(description="Where to send the money (an email, phone or @name); null when the "
                                           "configured instructions say it in words of their own.")
    instructions: str = Field(description="How to pay this way, in a sentence.")


_NOTICE_EXAMPLE = {"id": 3, "method": "zelle", "reference": "ZL-88231", "amount_cents": 10000, "currency": "USD",
                   "created_at": "2026-12-01T09:12:00-08:00"}


class NoticeRead(BaseModel):
    """A customer's word that a payment is on its way (`POST /manage/{token}/payment-sent`)."""

    id: int
    method: NoticeMethod
    reference: str | None = Field(description="The transfer's id or memo, as the customer gave it.")
    amount_cents: int = Field(description="What was due when they told us: what they say they sent.")
    currency: str
    created_at: datetime = Field(description="When they told us, in the station's local time with its offset.")

    model_config = ConfigDict(json_schema_extra={"examples": [_NOTICE_EXAMPLE]})


class PaymentOptions(BaseModel):
    """How the customer can pay now: the one answer that the emails, the confirmation page, the manage page and the
    pay page all render (`payments.queries.payment_options`)."""

    reference: str = Field(description="The booking reference to write in the transfer's memo or note.")
    currency: str
    timezone: str = Field(description="The station's IANA time zone, in which `due_by` is given.")
    card_enabled: bool = Field(description="Whether the card form can be offered (Stripe keys configured).")
    publishable_key: str | None
    manual: list[ManualPaymentOption] = Field(description="How to pay without a card.")
    deposit_due_cents: int
    balance_due_cents: int
    due_now: OnlinePurpose | None = Field(description="What is being paid now: the deposit while the hold lasts, "
                                                      "then the balance; null when nothing is.")
    due_now_cents: int = Field(description="How much to send now.")
    due_by: datetime | None = Field(description="The deadline (the hold's expiry) in the station's local time with "
                                                "its offset; null for the balance (due by the event).")
    due_by_text: str | None = Field(description="The deadline as written to the customer, with the zone's name.",
                                    examples=["Wednesday, December 2, 2026 at 8:00 AM PST"])
    can_report_sent: bool = Field(description="Whether `POST /manage/{token}/payment-sent` is taken now (while "
                                              "the deposit is awaited and the hold lasts).")
    sent: list[NoticeRead] = Field(description="What the customer told us they sent, newest first.")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "reference": "MH-7K3Q9D", "currency": "USD", "timezone": "America/Los_Angeles",
        "card_enabled": False, "publishable_key": None, "manual": [
            {"method": "zelle", "label": "Zelle", "handle": "payments@myhibachi.local",
             "instructions": "Send $100.00 by Zelle to payments@myhibachi.local and write MH-7K3Q9D in the memo."},
            {"method": "venmo", "label": "Venmo", "handle": "@MyHibachi",
             "instructions": "Send $100.00 by Venmo to @MyHibachi and write MH-7K3Q9D in the note."}],
        "deposit_due_cents": 10000, "balance_due_cents": 89541, "due_now": "deposit", "due_now_cents": 10000,
        "due_by": "2026-12-02T08:00:00-08:00", "due_by_text": "Wednesday, December 2, 2026 at 8:00 AM PST",
        "can_report_sent": True, "sent": [_NOTICE_EXAMPLE]}]})


class PaymentSent(BaseModel):
    """SPEC §4: the customer says a manual payment is on its way. Nothing is marked paid."""

    method: NoticeMethod
    reference: single_line(200, min_length=0) | None = Field(
        None, description="The transfer's confirmation number or the memo written, if any.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"method": "zelle", "reference": "ZL-88231"}, {"method": "cash"}]})


class ManualPaymentCreate(BaseModel):
    method: ManualMethod
    amount_cents: Cents
    reference: single_line(200) = Field(
        description="Receipt number, transfer id or check number.")
    purpose: PaymentPurpose | None = Field(None, description="Default: deposit until it is covered, then balance.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"method": "zelle", "amount_cents": 10000, "reference": "ZL-88231"}]})


class RefundCreate(BaseModel):
    amount_cents: Cents
    reason: multi_line(500, min_length=1)
    method: PaymentMethod | None = Field(None, description="How the money goes back; card payments always go "
                                                           "back to the card. Default: the payment's method.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount_cents": 5000, "reason": "Two guests fewer than booked"}]})


class RefundRead(BaseModel):
    id: int
    payment_id: int
    amount_cents: int
    method: PaymentMethod
    status: RefundStatus
    reason: str
    provider_refund_id: str | None
    requested_by_user_id: int | None
    created_at: datetime

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 7, "payment_id": 12, "amount_cents": 5000, "method": "card", "status": "succeeded",
        "reason": "Two guests fewer than booked", "provider_refund_id": "re_3Q0abc", "requested_by_user_id": 2,
        "created_at": "2026-12-02T18:00:00Z"}]})


_PAYMENT_EXAMPLE = {
    "id": 12, "booking_id": 42, "booking_reference": "MH-7K3Q9D", "station_id": 1, "purpose": "deposit",
    "method": "card", "status": "succeeded", "amount_cents": 10000, "refunded_cents": 0, "currency": "usd",
    "reference": None, "provider_intent_id": "pi_3Q0abc", "provider_charge_id": "ch_3Q0abc",
    "failure_message": None, "disputed_at": None, "dispute_reason": None, "recorded_by_user_id": None,
    "created_at": "2026-11-25T17:31:00Z", "succeeded_at": "2026-11-25T17:32:10Z",
}


class PaymentRead(BaseModel):
    id: int
    booking_id: int
    booking_reference: str
    station_id: int
    purpose: PaymentPurpose
    method: PaymentMethod
    status: PaymentStatus
    amount_cents: int
    refunded_cents: int = Field(description="Refunded or on its way back.")
    currency: str
    reference: str | None
    provider_intent_id: str | None
    provider_charge_id: str | None
    failure_message: str | None
    disputed_at: datetime | None
    dispute_reason: str | None
    recorded_by_user_id: int | None
    created_at: datetime
    succeeded_at: datetime | None

    model_config = ConfigDict(json_schema_extra={"examples": [_PAYMENT_EXAMPLE]})


class PaymentEventRead(BaseModel):
    id: str
    type: str
    received_at: datetime
    handled_at: datetime | None
    outcome: str | None


class PaymentDetail(PaymentRead):
    refunds: list[RefundRead]
    events: list[PaymentEventRead] = Field(description="Stripe webhook events about this payment, as received.")

    model_config = ConfigDict(json_schema_extra={"examples": [{**_PAYMENT_EXAMPLE, "refunds": [], "events": [
        {"id": "evt_1", "type": "payment_intent.succeeded", "received_at": "2026-11-25T17:32:11Z",
         "handled_at": "2026-11-25T17:32:11Z", "outcome": "booking confirmed"}]}]})


class PaymentPage(BaseModel):
    items: list[PaymentRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_PAYMENT_EXAMPLE], "next_cursor": None}]})


class WebhookReceipt(BaseModel):
    received: bool = True
    duplicate: bool = Field(description="The event was stored before; nothing new happens.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"received": True, "duplicate": False}]})
