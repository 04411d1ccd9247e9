"""The analytics API contract: the payments report by local period, and the KPIs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.bookings.models import BookingStatus
from myhibachi.payments.models import PaymentMethod


class Granularity(StrEnum):
    day = "day"
    week = "week"  # ISO weeks, starting on Monday
    month = "month"


class MethodTotals(BaseModel):
    method: PaymentMethod
    count: int = Field(description="Succeeded payments.")
    gross_cents: int
    refunds_cents: int = Field(description="Refunds paid back by this method.")
    net_cents: int


class PaymentBucket(BaseModel):
    period_start: date = Field(description="The local day, the Monday of the ISO week, or the 1st of the month.")
    gross_cents: int
    refunds_cents: int
    net_cents: int
    count: int
    by_method: list[MethodTotals] = Field(description="Only the methods used in this period.")


class PaymentTotals(BaseModel):
    gross_cents: int
    refunds_cents: int
    net_cents: int
    count: int


_BUCKET = {"period_start": "2026-11-23", "gross_cents": 45000, "refunds_cents": 5000, "net_cents": 40000, "count": 3,
           "by_method": [{"method": "card", "count": 2, "gross_cents": 35000, "refunds_cents": 5000,
                          "net_cents": 30000},
                         {"method": "zelle", "count": 1, "gross_cents": 10000, "refunds_cents": 0,
                          "net_cents": 10000}]}


class PaymentReport(BaseModel):
    station_id: int | None = Field(description="null: every station you may read, each in its own time zone.")
    timezone: str | None
    granularity: Granularity
    start: date
    end: date
    buckets: list[PaymentBucket] = Field(description="Every period from start to end, empty ones included.")
    by_method: list[MethodTotals]
    totals: PaymentTotals
    first_payment_at: datetime | None = Field(description="Local time (the payment's station) of the first payment.")
    last_payment_at: datetime | None

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "station_id": 1, "timezone": "America/Los_Angeles", "granularity": "week", "start": "2026-11-23",
        "end": "2026-11-29", "buckets": [_BUCKET], "by_method": _BUCKET["by_method"],
        "totals": {"gross_cents": 45000, "refunds_cents": 5000, "net_cents": 40000, "count": 3},
        "first_payment_at": "2026-11-23T09:15:00-08:00", "last_payment_at": "2026-11-28T19:02:11-08:00"}]})


class KpiReport(BaseModel):
    station_id: int | None
    timezone: str | None
    start: date
    end: date
    bookings_by_status: dict[BookingStatus, int] = Field(description="Bookings whose event date is in the range.")
    created_this_week: int = Field(description="Bookings made since Monday 00:00, local time.")
    created_this_month: int = Field(description="Bookings made since the 1st, 00:00 local time.")
    upcoming_events: int = Field(description="Confirmed events from now on.")
    guests_served: int = Field(description="Guests of the completed events in the range.")
    revenue_cents: int = Field(description="Net: payments received minus refunds, on local dates in the range.")
    deposits_collected_cents: int = Field(description="Deposit payments received on local dates in the range.")
    outstanding_balance_cents: int = Field(
        description="Still owed on the confirmed and completed events in the range.")
    average_booking_value_cents: int | None = Field(
        description="Mean total of the confirmed and completed events in the range; null when there are none.")
    cancellation_rate: float | None = Field(
        description="Cancelled ÷ (confirmed + completed + no-show + cancelled) in the range; null when none.")
    quote_to_booking_conversion: float | None = Field(
        description="Deposits paid (bookings confirmed) ÷ quotes given on the site in the range; null when no "
                    "quote was given.")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "station_id": 1, "timezone": "America/Los_Angeles", "start": "2026-11-01", "end": "2026-11-30",
        "bookings_by_status": {"pending_deposit": 2, "confirmed": 11, "completed": 20, "no_show": 1,
                               "cancelled": 3, "expired": 4},
        "created_this_week": 5, "created_this_month": 19, "upcoming_events": 14, "guests_served": 310,
        "revenue_cents": 1625000, "deposits_collected_cents": 340000, "outstanding_balance_cents": 512000,
        "average_booking_value_cents": 81250, "cancellation_rate": 0.0857, "quote_to_booking_conversion": None}]})
