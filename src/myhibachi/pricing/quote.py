"""quote_event: the one pure function that prices an event (API, pages, emails and the bot all call it)."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from decimal import Decimal

from myhibachi.core.money import format_money
from myhibachi.pricing.rules import BusinessRules


@dataclass(frozen=True)
class PartyOrder:
    adults: int
    children: int = 0
    toddlers: int = 0
    upgrades: dict[str, int] = field(default_factory=dict)  # premium protein swapped in for a base one
    extra_proteins: dict[str, int] = field(default_factory=dict)  # added on top
    addons: dict[str, int] = field(default_factory=dict)
    proteins: dict[str, int] = field(default_factory=dict)  # the base protein of each serving; {}: not chosen yet

    @property
    def guests(self) -> int:
        return self.adults + self.children + self.toddlers

    @property
    def protein_servings(self) -> int:
        """The party's entitlement of base proteins (PROTEIN_ENTITLEMENT)."""
        return 2 * (self.adults + self.children) + self.toddlers

    @property
    def proteins_chosen(self) -> int:
        return sum(self.proteins.values())


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
    """The order breaks a rule; `field` names the offending input, `code` the problem's stable code."""

    def __init__(self, field_name: str, message: str, code: str = "validation_error") -> None:
        super().__init__(message)
        self.field = field_name
        self.code = code


def label_of(code: str) -> str:
    """A food's name as a heading or a list shows it: "Filet mignon", "NY strip"."""
    return code.replace("_", " ").capitalize().replace("Ny strip", "NY strip")


def in_a_sentence(code: str) -> str:
    """A food's name inside a sentence: "filet mignon", "NY strip"."""
    name = label_of(code)
    return name if name[:2].isupper() else name[:1].lower() + name[1:]


def percent_of(amount_cents: int, percent: Decimal | int) -> int:
    """`percent` % of an amount, rounded half-up (away from zero) to the cent: in exact integers, a tenth of the
    time of Decimal's quantize (a quote takes five)."""
    numerator, denominator = (percent, 1) if isinstance(percent, int) else percent.as_integer_ratio()
    exact, per_cent = amount_cents * numerator, 100 * denominator  # the amount is exact / per_cent
    whole = (2 * abs(exact) + per_cent) // (2 * per_cent)
    return whole if exact >= 0 else -whole


MENU_GROUPS = ("upgrades", "extra_proteins", "addons")  # the kinds of priced menu choice an order names
PROTEINS = "proteins"  # the base protein of each serving: chosen, not priced
ORDER_CHOICES = (PROTEINS, *MENU_GROUPS)  # everything a change of the menu changes
PROTEIN_ENTITLEMENT = "two per adult and child, one per toddler"  # PartyOrder.protein_servings, in words
GUEST_LINES = (("adult", "Adult (13+)", "Two proteins of your choice, fried rice, vegetables and salad."),
               ("child", "Child (6–12)", "Two proteins of your choice, fried rice, vegetables and salad."),
               ("toddler", "Toddler (5 and under)", "One protein of your choice, fried rice, vegetables and salad."))
_LINE_PREFIXES = {"guests": "", "upgrades": "upgrade:", "extra_proteins": "extra:", "addons": "addon:"}


@dataclass(frozen=True)
class MenuChoice:
    """One item of the menu: its one label, price and explanation, shown alike on /menu, in the forms and on the
    quote's line for it."""

    group: str  # "guests" or one of MENU_GROUPS
    code: str
    label: str
    unit_cents: int
    explanation: str

    @property
    def line_code(self) -> str:
        """The code of its quote line: "adult", "upgrade:salmon", "extra:salmon", "addon:gyoza"."""
        return _LINE_PREFIXES[self.group] + self.code


_catalogues: dict[int, dict[str, dict[str, MenuChoice]]] = {}  # by id(rules), while those rules live


def menu_choices(rules: BusinessRules) -> dict[str, dict[str, MenuChoice]]:
    """The catalogue: per group ("guests", then MENU_GROUPS), each item by code, in the rules' order. A premium
    extra says its full price: the extra protein plus the premium (so salmon is an upgrade at one price, swapping
    a guest's protein, and an extra at another, on top).

    Made once per rules object (rules are frozen, and a process keeps its stations' rules near): it was most of a
    quote's time. Do not change what it returns."""
    if (catalogue := _catalogues.get(id(rules))) is None:
        catalogue = _catalogues[id(rules)] = _menu_choices(rules)
        weakref.finalize(rules, _catalogues.pop, id(rules), None)
    return catalogue


def _menu_choices(rules: BusinessRules) -> dict[str, dict[str, MenuChoice]]:
    def money(cents: int) -> str:
        return format_money(cents, rules.currency)

    guests = {"adult": rules.adult_price_cents, "child": rules.child_price_cents,
              "toddler": rules.toddler_price_cents}
    catalogue: dict[str, dict[str, MenuChoice]] = {
        "guests": {code: MenuChoice("guests", code, label, guests[code], explanation)
                   for code, label, explanation in GUEST_LINES}}
    catalogue["upgrades"] = {
        code: MenuChoice("upgrades", code, f"Upgrade to {in_a_sentence(code)}", cents,
                         f"{money(cents)} more than a base protein: swaps one guest's protein for "
                         f"{in_a_sentence(code)}.")
        for code, cents in rules.protein_upgrades.items()}
    extras = {}
    for code in (*rules.base_proteins, *rules.protein_upgrades):
        premium = rules.protein_upgrades.get(code, 0)
        price = money(rules.extra_protein_cents + premium)
        if premium:
            price += f" = {money(rules.extra_protein_cents)} extra protein + {money(premium)} premium"
        extras[code] = MenuChoice("extra_proteins", code, f"Extra {in_a_sentence(code)}",
                                  rules.extra_protein_cents + premium,
                                  f"{price}: one more serving of {in_a_sentence(code)}, on top of the guests' own.")
    catalogue["extra_proteins"] = extras
    catalogue["addons"] = {code: MenuChoice("addons", code, label_of(code), cents, f"{money(cents)} each, for the "
                                                                                    "table.")
                           for code, cents in rules.addons.items()}
    return catalogue


def menu_catalog(rules: BusinessRules) -> dict[str, dict[str, int]]:
    """What `upgrades`, `extra_proteins` and `addons` may name, with each choice's unit price in cents."""
    choices = menu_choices(rules)
    return {group: {code: choice.unit_cents for code, choice in choices[group].items()} for group in MENU_GROUPS}


@dataclass(frozen=True)
class ProteinCheck:
    """How the chosen base proteins compare with the party's entitlement."""

    chosen: int
    servings: int

    @property
    def complete(self) -> bool:
        return self.chosen == self.servings

    @property
    def message(self) -> str:
        if self.chosen == 0:
            return f"Choose {self.servings} proteins ({PROTEIN_ENTITLEMENT}), now or later."
        if self.chosen < self.servings:
            return f"{self.chosen} of {self.servings} proteins chosen: {self.servings - self.chosen} to go."
        if self.chosen > self.servings:
            return (f"{self.chosen} proteins chosen: {self.chosen - self.servings} more than this party's "
                    f"{self.servings} ({PROTEIN_ENTITLEMENT}); extra proteins are added separately.")
        return f"All {self.servings} proteins chosen."


def protein_check(order: PartyOrder) -> ProteinCheck:
    return ProteinCheck(order.proteins_chosen, order.protein_servings)


def check_order(rules: BusinessRules, order: PartyOrder) -> None:
    limits = (("adults", order.adults, rules.adults_min, rules.adults_max),
              ("children", order.children, 0, rules.children_max),
              ("toddlers", order.toddlers, 0, rules.toddlers_max))
    for name, value, low, high in limits:
        if not low <= value <= high:
            raise OrderProblem(name, f"{name} must be between {low} and {high}")
    if order.guests > rules.guests_max:
        raise OrderProblem("adults", f"a party has at most {rules.guests_max} guests")
    catalog = menu_choices(rules)  # by group, by code
    for name, chosen in (("upgrades", order.upgrades), ("extra_proteins", order.extra_proteins),
                         ("addons", order.addons)):
        for code, quantity in chosen.items():
            if code not in catalog[name]:
                raise OrderProblem(name, f"unknown choice {code!r}; choose from {sorted(catalog[name])}")
            if quantity < 0:
                raise OrderProblem(name, f"quantity of {code!r} must not be negative")
    if sum(order.upgrades.values()) > order.protein_servings:
        raise OrderProblem("upgrades", f"at most {order.protein_servings} proteins can be upgraded for this party")
    _check_proteins(rules, order)


def _check_proteins(rules: BusinessRules, order: PartyOrder) -> None:
    """Base proteins are optional; when chosen, from the station's base proteins and as many as the party's
    entitlement (`protein_count`): a guest-count change that breaks the total is refused until they are sent
    again for the new party."""
    for code, quantity in order.proteins.items():
        if code not in rules.base_proteins:
            raise OrderProblem(PROTEINS, f"unknown protein {code!r}; choose from {sorted(rules.base_proteins)}",
                               "protein_count")
        if quantity < 0:
            raise OrderProblem(PROTEINS, f"quantity of {code!r} must not be negative", "protein_count")
    check = protein_check(order)
    if check.chosen and not check.complete:
        raise OrderProblem(PROTEINS, f"The proteins chosen add up to {check.chosen}, but a party of {order.adults} "
                                     f"adult{'s' * (order.adults != 1)}, {order.children} "
                                     f"child{'ren' * (order.children != 1)} and {order.toddlers} "
                                     f"toddler{'s' * (order.toddlers != 1)} has {check.servings} "
                                     f"({PROTEIN_ENTITLEMENT}). Choose them again for this party.", "protein_count")


def _lines(rules: BusinessRules, order: PartyOrder) -> list[QuoteLine]:
    """The priced lines, each labelled and priced by the catalogue (as /menu shows the same item)."""
    choices = menu_choices(rules)
    items = [(choices["guests"][code], qty)
             for code, qty in (("adult", order.adults), ("child", order.children), ("toddler", order.toddlers))]
    for group in MENU_GROUPS:
        items += [(choices[group][code], qty) for code, qty in sorted(getattr(order, group).items())]
    return [QuoteLine(c.line_code, c.label, qty, c.unit_cents, qty * c.unit_cents) for c, qty in items if qty > 0]


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
