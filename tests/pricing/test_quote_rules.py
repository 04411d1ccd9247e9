"""The quote function (SPEC §1): the worked example, rounding, the minimum, travel — and its properties."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myhibachi.pricing.quote import OrderProblem, PartyOrder, percent_of, quote_event, travel_fee_cents
from myhibachi.pricing.rules import DEFAULT_RULES, BusinessRules

R = DEFAULT_RULES


def test_the_spec_worked_example():
    order = PartyOrder(adults=12, children=4, toddlers=1, upgrades={"filet_mignon": 3}, addons={"gyoza": 1})
    quote = quote_event(R, order, Decimal("41.3"))
    assert quote.food_subtotal_cents == 80500
    assert quote.minimum_adjustment_cents == 0
    assert quote.travel_fee_cents == 2400
    assert quote.tax_cents == 6641
    assert (quote.total_cents, quote.deposit_cents, quote.balance_cents) == (89541, 10000, 79541)
    assert [(g.percent, g.amount_cents) for g in quote.suggested_gratuity] == [
        (20, 16100), (25, 20125), (30, 24150), (35, 28175)]
    assert [(line.code, line.quantity, line.amount_cents) for line in quote.lines] == [
        ("adult", 12, 66000), ("child", 4, 12000), ("toddler", 1, 0), ("upgrade:filet_mignon", 3, 1500),
        ("addon:gyoza", 1, 1000)]


def test_small_party_pays_the_minimum_and_tax_applies_after_it():
    quote = quote_event(R, PartyOrder(adults=4), Decimal("10"))
    assert quote.food_subtotal_cents == 22000
    assert quote.minimum_adjustment_cents == 33000
    assert quote.tax_cents == 4538  # 8.25 % of 55000 = 4537.5, half-up
    assert quote.travel_fee_cents == 0
    assert quote.total_cents == 55000 + 4538


@pytest.mark.parametrize(("miles", "fee"), [("0", 0), ("30", 0), ("30.1", 200), ("31", 200), ("41.3", 2400),
                                            ("150", 24000)])
def test_travel_fee_is_per_started_mile_beyond_the_free_miles(miles, fee):
    assert travel_fee_cents(R, Decimal(miles)) == fee


def test_extra_premium_protein_costs_the_extra_plus_the_upgrade():
    quote = quote_event(R, PartyOrder(adults=10, extra_proteins={"lobster_tail": 2, "chicken": 1}), Decimal(0))
    extras = {line.code: line.unit_cents for line in quote.lines if line.code.startswith("extra:")}
    assert extras == {"extra:lobster_tail": 1000 + 1500, "extra:chicken": 1000}


@pytest.mark.parametrize(("order", "field"), [
    (PartyOrder(adults=0), "adults"),
    (PartyOrder(adults=51), "adults"),
    (PartyOrder(adults=10, children=31), "children"),
    (PartyOrder(adults=10, toddlers=21), "toddlers"),
    (PartyOrder(adults=10, upgrades={"wagyu": 1}), "upgrades"),
    (PartyOrder(adults=10, addons={"gyoza": -1}), "addons"),
    (PartyOrder(adults=1, upgrades={"salmon": 3}), "upgrades"),  # one adult has two proteins to swap
])
def test_orders_outside_the_rules_are_refused_with_the_field(order, field):
    with pytest.raises(OrderProblem) as problem:
        quote_event(R, order, Decimal(0))
    assert problem.value.field == field


def test_the_total_guest_limit_applies_across_ages():
    with pytest.raises(OrderProblem, match="at most 12 guests"):
        quote_event(BusinessRules(guests_max=12), PartyOrder(adults=10, children=2, toddlers=1), Decimal(0))


def test_half_up_rounding():
    assert percent_of(5, Decimal("10")) == 1  # 0.5 -> 1
    assert percent_of(4, Decimal("10")) == 0  # 0.4 -> 0
    assert percent_of(55000, Decimal("8.25")) == 4538


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(-10**9, 10**9),
       percent=st.one_of(st.integers(0, 200), st.decimals(0, 200, places=3, allow_nan=False, allow_infinity=False)))
def test_percent_of_is_decimal_half_up_rounding(amount: int, percent: Decimal | int) -> None:
    """The integer arithmetic gives exactly what Decimal's half-up quantize gives (ties away from zero)."""
    exact = Decimal(amount) * Decimal(percent) / 100
    assert percent_of(amount, percent) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_rules_refuse_inconsistent_values():
    with pytest.raises(ValueError, match="both base and upgrade"):
        BusinessRules(protein_upgrades={"chicken": 100})
    with pytest.raises(ValueError):
        BusinessRules(adults_min=10, adults_max=5)


orders = st.builds(
    PartyOrder,
    adults=st.integers(1, 50),
    children=st.integers(0, 30),
    toddlers=st.integers(0, 20),
    upgrades=st.dictionaries(st.sampled_from(sorted(R.protein_upgrades)), st.integers(0, 2), max_size=4),
    extra_proteins=st.dictionaries(st.sampled_from(sorted(R.base_proteins + list(R.protein_upgrades))),
                                   st.integers(0, 5), max_size=4),
    addons=st.dictionaries(st.sampled_from(sorted(R.addons)), st.integers(0, 10), max_size=5),
).filter(lambda o: o.guests <= R.guests_max and sum(o.upgrades.values()) <= o.protein_servings)  # valid parties only
miles = st.decimals(min_value=0, max_value=150, places=1)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)  # money: the same examples every run
@given(order=orders, distance=miles)
def test_quote_properties(order, distance):
    quote = quote_event(R, order, distance)
    assert sum(line.amount_cents for line in quote.lines) == quote.food_subtotal_cents
    assert quote.deposit_cents + quote.balance_cents == quote.total_cents
    assert quote.food_subtotal_cents + quote.minimum_adjustment_cents >= R.party_minimum_cents
    without_minimum = BusinessRules(party_minimum_cents=0)
    assert quote.total_cents >= quote_event(without_minimum, order, distance).total_cents


@settings(max_examples=300, deadline=None, derandomize=True, database=None)  # money: the same examples every run
@given(order=orders, distance=miles, kind=st.sampled_from(["adults", "children", "toddlers"]))
def test_more_guests_never_cost_less(order, distance, kind):
    bigger = PartyOrder(**{**vars(order), kind: getattr(order, kind) + 1})
    limits = {"adults": R.adults_max, "children": R.children_max, "toddlers": R.toddlers_max}
    if getattr(bigger, kind) > limits[kind] or bigger.guests > R.guests_max:
        return  # not a valid party; the refusal itself is tested above
    assert quote_event(R, bigger, distance).total_cents >= quote_event(R, order, distance).total_cents
