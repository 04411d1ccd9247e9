"""quote_event: the one pure function that prices an event (API, pages, emails and the bot all call it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from myhibachi.pricing.rules import BusinessRules


@dataclass(frozen=True)
class PartyOrder:
    adults: int
    children: int = 0
    toddlers: int = 0
    upgrades: dict[str, int] = field(default_factory=dict)  # premium protein swapped in for a base one
    extra_proteins: dict[str, int] = field(default_factory=dict)  # added on top
    addons: dict[str, int] = field(default_factory=dict)

    @property
    def guests(self) -> int:
        return self.adults + self.children + self.toddlers

    @property
    def protein_servings(self) -> int:
        return 2 * (self.adults + self.children) + self.toddlers


@dataclass(frozen=True)
class QuoteLine:
    code: str
    label: str
    quantity: int
    unit_cents: int
    amount_cents: int


@dataclass(frozen=True)
class GratuitySuggestion:
    percent: int
    amount_cents: int


@dataclass(frozen=True)
class Quote:
    lines: list[QuoteLine]
    food_subtotal_cents: int
    minimum_adjustment_cents: int
    travel_miles: Decimal
    travel_fee_cents: int
    tax_cents: int
    total_cents: int
    deposit_cents: int
    balance_cents: int
    suggested_gratuity: list[GratuitySuggestion]
    currency: str


class OrderProblem(ValueError):
    """The order breaks a rule; `field` names the offending input."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def label_of(code: str) -> str:
    return code.replace("_", " ").capitalize().replace("Ny strip", "NY strip")


def percent_of(amount_cents: int, percent: Decimal | int) -> int:
    """`percent` % of an amount, rounded half-up to the cent."""
    exact = Decimal(amount_cents) * Decimal(percent) / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


MENU_GROUPS = ("upgrades", "extra_proteins", "addons")  # the kinds of menu choice an order names


def menu_catalog(rules: BusinessRules) -> dict[str, dict[str, int]]:
    """What `upgrades`, `extra_proteins` and `addons` may name, with each choice's unit price in cents."""
    return {"upgrades": dict(rules.protein_upgrades),
            "extra_proteins": {code: rules.extra_protein_cents + rules.protein_upgrades.get(code, 0)
                               for code in (*rules.base_proteins, *rules.protein_upgrades)},
            "addons": dict(rules.addons)}


def check_order(rules: BusinessRules, order: PartyOrder) -> None:
    limits = (("adults", order.adults, rules.adults_min, rules.adults_max),
              ("children", order.children, 0, rules.children_max),
              ("toddlers", order.toddlers, 0, rules.toddlers_max))
    for name, value, low, high in limits:
        if not low <= value <= high:
            raise OrderProblem(name, f"{name} must be between {low} and {high}")
    if order.guests > rules.guests_max:
        raise OrderProblem("adults", f"a party has at most {rules.guests_max} guests")
    catalog = menu_catalog(rules)
    for name, chosen in (("upgrades", order.upgrades), ("extra_proteins", order.extra_proteins),
                         ("addons", order.addons)):
        for code, quantity in chosen.items():
            if code not in catalog[name]:
                raise OrderProblem(name, f"unknown choice {code!r}; choose from {sorted(catalog[name])}")
            if quantity < 0:
                raise OrderProblem(name, f"quantity of {code!r} must not be negative")
    if sum(order.upgrades.values()) > order.protein_servings:
        raise OrderProblem("upgrades", f"at most {order.protein_servings} proteins can be upgraded for this party")


def _lines(rules: BusinessRules, order: PartyOrder) -> list[QuoteLine]:
    items: list[tuple[str, str, int, int]] = [
        ("adult", "Adult (13+)", order.adults, rules.adult_price_cents),
        ("child", "Child (6–12)", order.children, rules.child_price_cents),
        ("toddler", "Toddler (5 and under)", order.toddlers, rules.toddler_price_cents),
    ]
    items += [(f"upgrade:{code}", f"Upgrade to {label_of(code)}", qty, rules.protein_upgrades[code])
              for code, qty in sorted(order.upgrades.items())]
    extras = menu_catalog(rules)["extra_proteins"]
    items += [(f"extra:{code}", f"Extra {label_of(code)}", qty, extras[code])
              for code, qty in sorted(order.extra_proteins.items())]
    items += [(f"addon:{code}", label_of(code), qty, rules.addons[code]) for code, qty in sorted(order.addons.items())]
    return [QuoteLine(code, label, qty, unit, qty * unit) for code, label, qty, unit in items if qty > 0]


def travel_fee_cents(rules: BusinessRules, miles: Decimal) -> int:
    billable_miles = max(0, math.ceil(miles - rules.travel_free_miles))
    return billable_miles * rules.travel_per_mile_cents


def quote_event(rules: BusinessRules, order: PartyOrder, travel_miles: Decimal) -> Quote:
    """Price an event. Raises OrderProblem for an order the rules do not allow."""
    check_order(rules, order)
    lines = _lines(rules, order)
    food = sum(line.amount_cents for line in lines)
    minimum_adjustment = max(0, rules.party_minimum_cents - food)
    food_after_minimum = food + minimum_adjustment
    tax = percent_of(food_after_minimum, rules.tax_rate_percent)
    travel = travel_fee_cents(rules, travel_miles)
    total = food_after_minimum + tax + travel
    deposit = min(rules.deposit_cents, total)
    return Quote(
        lines=lines, food_subtotal_cents=food, minimum_adjustment_cents=minimum_adjustment,
        travel_miles=travel_miles, travel_fee_cents=travel, tax_cents=tax, total_cents=total,
        deposit_cents=deposit, balance_cents=total - deposit,
        suggested_gratuity=[GratuitySuggestion(p, percent_of(food_after_minimum, p))
                            for p in rules.suggested_gratuity_percents],
        currency=rules.currency,
    )
