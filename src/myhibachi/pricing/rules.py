"""The business rules of SPEC §1: the only place their default values are written.

Each station has its own copy (see `queries.get_rules`); templates, emails and the bot render these values.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

Cents = Annotated[int, Field(ge=0, le=10_000_000, strict=True)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Hours = Annotated[int, Field(ge=0, le=24 * 366, strict=True)]
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# A local wall-clock time written "HH:MM", as the availability API shows slots.


def _hh_mm(value: Any) -> Any:
    """A time of day as "HH:MM" (or a time already): not a number of seconds, which pydantic would read as a time in
    UTC that cannot be compared with the others."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(HHMM, value):
        raise ValueError('a time of day as "HH:MM"')
    return value


SlotTime = Annotated[time, BeforeValidator(_hh_mm), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
                     WithJsonSchema({"type": "string", "pattern": HHMM, "examples": ["18:00"]})]


def _example_is_the_defaults(schema: dict[str, Any]) -> None:
    schema["examples"] = [DEFAULT_RULES.model_dump(mode="json")]


# What a lead's rule score weighs (leads/scoring.py says how each is measured).
LEAD_FACTORS = ("source", "completeness", "party_size", "timing", "distance", "engagement", "capacity")


class ReviewLink(BaseModel):
    """A public page where customers may review the station (Google, Yelp…): shown to every customer alike."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f<>]+$")]
    url: Annotated[str, Field(max_length=500, pattern=r"^https://[^\s<>\"']+$")]


class BusinessRules(BaseModel):
    """Prices in integer cents; times are the station's local times."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_example_is_the_defaults)

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    # Pricing
    adult_price_cents: Cents = 5500
    child_price_cents: Cents = 3000
    toddler_price_cents: Cents = 0
    party_minimum_cents: Cents = 55000
    base_proteins: Annotated[list[Code], Field(min_length=1, max_length=30)] = [
        "chicken", "ny_strip", "shrimp", "calamari", "tofu"]
    protein_upgrades: Annotated[dict[Code, Cents], Field(max_length=30)] = {
        "salmon": 500, "scallops": 500, "filet_mignon": 500, "lobster_tail": 1500}
    extra_protein_cents: Cents = 1000
    addons: Annotated[dict[Code, Cents], Field(max_length=50)] = {
        "yakisoba_noodles": 500, "fried_rice": 500, "vegetables": 500, "edamame": 500, "gyoza": 1000}
    tax_rate_percent: Annotated[Decimal, Field(ge=0, le=30, max_digits=6, decimal_places=3)] = Decimal("8.25")
    # Travel
    travel_free_miles: Annotated[int, Field(ge=0, le=500, strict=True)] = 30
    travel_per_mile_cents: Cents = 200
    max_service_miles: Annotated[int, Field(ge=1, le=1000, strict=True)] = 150
    road_factor: Annotated[Decimal, Field(ge=1, le=3, max_digits=4, decimal_places=2)] = Decimal("1.2")
    # Deposit and gratuity
    deposit_cents: Cents = 10000
    suggested_gratuity_percents: Annotated[list[Annotated[int, Field(ge=0, le=100)]], Field(max_length=6)] = [
        20, 25, 30, 35]
    # Scheduling
    slot_times: Annotated[list[SlotTime], Field(min_length=1, max_length=12)] = [
        time(12), time(15), time(18), time(21)]
    event_minutes: Annotated[int, Field(ge=15, le=600, strict=True)] = 90
    large_party_event_minutes: Annotated[int, Field(ge=15, le=600, strict=True)] = 150
    large_party_min_guests: Annotated[int, Field(ge=1, le=1000, strict=True)] = 20
    busy_before_minutes: Annotated[int, Field(ge=0, le=600, strict=True)] = 60
    busy_after_minutes: Annotated[int, Field(ge=0, le=600, strict=True)] = 15
    chef_max_events_per_day: Annotated[int, Field(ge=1, le=10, strict=True)] = 3
    min_notice_hours: Hours = 48
    max_days_ahead: Annotated[int, Field(ge=1, le=1000, strict=True)] = 365
    # Party size
    adults_min: Annotated[int, Field(ge=0, le=1000, strict=True)] = 1
    adults_max: Annotated[int, Field(ge=1, le=1000, strict=True)] = 50
    children_max: Annotated[int, Field(ge=0, le=1000, strict=True)] = 30
    toddlers_max: Annotated[int, Field(ge=0, le=1000, strict=True)] = 20
    guests_max: Annotated[int, Field(ge=1, le=1000, strict=True)] = 100
    # Policies
    hold_hours: Annotated[int, Field(ge=1, le=24 * 14, strict=True)] = 24
    deposit_reminder_hours_before: Hours = 6  # a reminder with how to pay, before the hold lapses (0: none)
    deposit_refund_min_hours: Hours = 96
    free_reschedule_min_hours: Hours = 24
    reschedule_fee_cents: Cents = 20000
    guest_change_min_hours: Hours = 24
    menu_change_min_hours: Hours = 12
    reminder_hours_before: Hours = 48  # the customer's reminder email
    # Leads (SPEC §7): why a lead was lost, and how its rule score is weighed and banded.
    lead_lost_reasons: Annotated[list[Code], Field(min_length=1, max_length=20)] = [
        "price", "date_unavailable", "no_response", "chose_another_caterer", "plans_changed", "other"]
    lead_weights: Annotated[dict[Code, Annotated[int, Field(ge=0, le=100, strict=True)]], Field(max_length=20)] = {
        "source": 15, "completeness": 10, "party_size": 15, "timing": 15, "distance": 10, "engagement": 15,
        "capacity": 20}
    lead_hot_min: Annotated[int, Field(ge=1, le=100, strict=True)] = 70
    lead_warm_min: Annotated[int, Field(ge=0, le=100, strict=True)] = 40
    # Newsletters: campaign mail carries an open pixel and tracked links (off: neither, and nothing is recorded).
    email_tracking: Annotated[bool, Field(strict=True)] = True
    # Automations and reviews: no automated email inside the quiet hours of the recipient's own clock (start ==
    # end: none); the public review pages every thank-you links to; a private rating at or below
    # `low_rating_max` opens a call-back task (0: never).
    quiet_hours_start: SlotTime = time(21)
    quiet_hours_end: SlotTime = time(9)
    review_links: Annotated[list[ReviewLink], Field(max_length=10)] = []
    low_rating_max: Annotated[int, Field(ge=0, le=5, strict=True)] = 3
    # Inbox response clocks (SPEC §7): how soon staff answer a person's first message and each later one, in
    # minutes counted inside the inbox hours (station time; the same time twice: around the clock).
    first_response_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60, strict=True)] = 60
    next_response_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60, strict=True)] = 240
    inbox_hours_start: SlotTime = time(9)
    inbox_hours_end: SlotTime = time(21)

    @model_validator(mode="after")
    def consistent(self) -> Self:
        if self.adults_min > self.adults_max:
            raise ValueError("adults_min must not exceed adults_max")
        if overlap := set(self.protein_upgrades) & set(self.base_proteins):
            raise ValueError(f"a protein cannot be both base and upgrade: {sorted(overlap)}")
        if len(set(self.slot_times)) != len(self.slot_times):
            raise ValueError("slot_times must not repeat")
        if set(self.lead_weights) != set(LEAD_FACTORS):
            raise ValueError(f"lead_weights must weigh exactly these factors: {', '.join(LEAD_FACTORS)}")
        if not any(self.lead_weights.values()):
            raise ValueError("lead_weights must give at least one factor some weight")
        if self.lead_warm_min >= self.lead_hot_min:
            raise ValueError("lead_warm_min must be below lead_hot_min")
        if self.inbox_hours_end < self.inbox_hours_start:
            raise ValueError("inbox_hours_end must not be before inbox_hours_start (the same time twice: all day)")
        return self

    def event_length_minutes(self, guests: int) -> int:
        return self.large_party_event_minutes if guests >= self.large_party_min_guests else self.event_minutes


DEFAULT_RULES = BusinessRules()
# The rules a calendar (bookings' availability) is computed from: a change to any other (a price, a deposit) leaves
# every kept calendar date as it was. `tests/bookings/test_availability_kept.py` reads which rules a computation
# touches and holds them to this list.
CALENDAR_RULES = frozenset({"slot_times", "event_minutes", "large_party_event_minutes", "large_party_min_guests",
                            "busy_before_minutes", "busy_after_minutes", "chef_max_events_per_day",
                            "min_notice_hours", "max_days_ahead"})
