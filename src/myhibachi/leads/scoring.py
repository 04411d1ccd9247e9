"""A lead's rule score and learned win probability, each explained factor by factor (SPEC §7).

Each factor of `LEAD_FACTORS` is measured from what is known of the lead (`LeadFacts`) as a `Measure`: a fraction
0..1 that the rule score weighs with the station's `lead_weights`, a discrete `value` (a band) that the learned model
counts, and the reason in words. The rule score is `round(100 × Σ wᵢ·fᵢ / Σ wᵢ)`, its points split by largest
remainder so that they add up to it.

The probability is a Laplace-smoothed naive Bayes over the factors' values, fitted on closed leads by `retrain`
(the `leads.retrain_scores` periodic task): one `LeadModel` per station and the pooled one (station 0), which a
station uses until it has `OWN_MODEL_MIN_CLOSED` closed leads of its own.

What the model is fitted on: the values stored in each lead's `score_factors` (the key `value`) by its last rescore
while it was open. A closed lead is never re-measured, so training sees what was known while the lead was open —
not the date that has since passed, nor the chef its own booking took. A lead without a stored value for a factor
(e.g. closed before scoring existed) simply does not count for that factor.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.queries import CapacityView, capacity_view
from myhibachi.core.db import utcnow
from myhibachi.leads.models import (
    CLOSED_LEAD_STATUSES,
    OPEN_LEAD_STATUSES,
    ActivityKind,
    Lead,
    LeadActivity,
    LeadModel,
    LeadSource,
    LeadStatus,
)
from myhibachi.pricing.distance import UnknownZip, ZipCentroidDistance
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.rules import LEAD_FACTORS, BusinessRules
from myhibachi.stations.models import Station

FACTOR_LABELS = {"source": "Source", "completeness": "Contact details", "party_size": "Party size",
                 "timing": "Days to the event", "distance": "Distance", "engagement": "Engagement",
                 "capacity": "Chefs free"}
DETAILS = ("email", "phone", "date", "guests", "zip")
DETAIL_WORDS = {"email": "email", "phone": "phone", "date": "date", "guests": "party size", "zip": "ZIP code"}
# The door says how ready the person was: staff met them, a form or chat is a question, a refused booking less so.
SOURCE_FRACTIONS = {LeadSource.staff: 1.0, LeadSource.contact_form: 0.9, LeadSource.chat: 0.8,
                    LeadSource.inbox: 0.8, LeadSource.slot_unavailable: 0.6, LeadSource.abandoned_booking: 0.5,
                    LeadSource.outside_service_area: 0.1}
SOURCE_WORDS = {LeadSource.staff: "entered by staff", LeadSource.contact_form: "the contact form",
                LeadSource.chat: "the website chat", LeadSource.inbox: "a message",
                LeadSource.slot_unavailable: "a booking for a time no chef had free",
                LeadSource.abandoned_booking: "a booking flow left unfinished",
                LeadSource.outside_service_area: "a request from outside the service area"}
# The discrete values each factor takes for the learned model (fixed, so Laplace smoothing knows how many).
FACTOR_VALUES: dict[str, tuple[str, ...]] = {
    "source": tuple(source.value for source in LeadSource),
    "completeness": ("all", "most", "some", "few"),
    "party_size": ("unknown", "small", "typical", "large", "too_large"),
    "timing": ("unknown", "past", "too_close", "soon", "far", "beyond"),
    "distance": ("unknown", "free", "paid", "outside"),
    "engagement": ("none", "some", "lots"),
    "capacity": ("unknown", "none", "one", "several"),
}
SWEET_SPOT_DAYS = 60  # beyond this (but within the horizon) a date is "far": plans are loose
ENGAGED_POINTS = 4  # engagement points (reply 2, quote view 2, repeat inquiry 1, staff touch 0.5) that count as full
OWN_MODEL_MIN_CLOSED = 50
PROBABILITY_BOUNDS = (0.01, 0.99)
POOLED = 0  # LeadModel.station_id of the model over every station
BATCH = 500
_distance = ZipCentroidDistance()


# --- measuring -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engagement:
    replies: int = 0
    quote_views: int = 0
    inquiries: int = 1  # the first door's inquiry; more are the person asking again
    staff_touches: int = 0  # calls, emails and texts staff logged

    @property
    def points(self) -> float:
        return 2 * self.replies + 2 * self.quote_views + max(0, self.inquiries - 1) + 0.5 * self.staff_touches


@dataclass(frozen=True)
class LeadFacts:
    """What is known of a lead when it is scored (pure data: the synthetic history builds these too)."""

    source: str
    details: frozenset[str]  # which of DETAILS were given
    guests: int | None = None
    days_ahead: int | None = None  # station-local days from today to the wanted date
    miles: Decimal | None = None  # driving miles to the ZIP code; None: no ZIP, or one we cannot place
    engagement: Engagement = field(default_factory=Engagement)
    free_chefs: int | None = None  # more events the wanted date can still take; None: no date, or it has passed


@dataclass(frozen=True)
class Measure:
    factor: str
    fraction: float
    value: str
    reason: str


def min_guests(rules: BusinessRules) -> int:
    """The party the food minimum buys at the adult price: fewer guests pay for that many."""
    if rules.adult_price_cents == 0:
        return max(1, rules.adults_min)
    return max(1, rules.adults_min, math.ceil(rules.party_minimum_cents / rules.adult_price_cents))


def measure_source(facts: LeadFacts, _: BusinessRules) -> Measure:
    source = LeadSource(facts.source)
    return Measure("source", SOURCE_FRACTIONS[source], source.value, f"Came through {SOURCE_WORDS[source]}")


def measure_completeness(facts: LeadFacts, _: BusinessRules) -> Measure:
    given = len(facts.details)
    value = "all" if given == 5 else "most" if given == 4 else "some" if given >= 2 else "few"
    missing = [DETAIL_WORDS[d] for d in DETAILS if d not in facts.details]
    reason = "Gave email, phone, date, party size and ZIP code" if not missing else \
        f"Gave {given} of {len(DETAILS)} details; no {', '.join(missing)}"
    return Measure("completeness", given / len(DETAILS), value, reason)


def measure_party_size(facts: LeadFacts, rules: BusinessRules) -> Measure:
    guests, smallest = facts.guests, min_guests(rules)
    if guests is None:
        return Measure("party_size", 0.4, "unknown", "Party size not given")
    if guests > rules.guests_max:
        return Measure("party_size", 0.1, "too_large", f"{guests} guests: more than the {rules.guests_max} we serve")
    if guests >= rules.large_party_min_guests:
        return Measure("party_size", 1.0, "large", f"{guests} guests: a large party")
    if guests >= smallest:
        return Measure("party_size", 0.8, "typical", f"{guests} guests: a typical party")
    return Measure("party_size", 0.3, "small",
                   f"{guests} guests: fewer than the {smallest} the party minimum pays for")


def measure_timing(facts: LeadFacts, rules: BusinessRules) -> Measure:
    days = facts.days_ahead
    notice_days = math.ceil(rules.min_notice_hours / 24)
    if days is None:
        return Measure("timing", 0.4, "unknown", "No date given")
    if days < 0:
        return Measure("timing", 0.0, "past", f"The date passed {-days} day{'s' * (days != -1)} ago")
    if days < notice_days:
        return Measure("timing", 0.2, "too_close", f"In {days} days: less than the {notice_days} days' notice")
    if days > rules.max_days_ahead:
        return Measure("timing", 0.1, "beyond", f"In {days} days: beyond the {rules.max_days_ahead} days we book")
    if days <= SWEET_SPOT_DAYS:
        return Measure("timing", 1.0, "soon", f"In {days} days: soon enough to be planning now")
    return Measure("timing", 0.6, "far", f"In {days} days: still far off")


def measure_distance(facts: LeadFacts, rules: BusinessRules) -> Measure:
    miles = facts.miles
    if miles is None:
        said = "ZIP code not known to us" if "zip" in facts.details else "No ZIP code given"
        return Measure("distance", 0.5, "unknown", said)
    if miles <= rules.travel_free_miles:
        return Measure("distance", 1.0, "free", f"{miles} miles: inside the {rules.travel_free_miles} free miles")
    if miles > rules.max_service_miles:
        return Measure("distance", 0.0, "outside", f"{miles} miles: beyond the {rules.max_service_miles} we travel")
    # From 0.9 just past the free miles down to 0.4 at the farthest we travel: the travel fee grows.
    span = max(1, rules.max_service_miles - rules.travel_free_miles)
    fraction = 0.9 - 0.5 * float(miles - rules.travel_free_miles) / span
    return Measure("distance", round(fraction, 3), "paid", f"{miles} miles: a travel fee applies")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def measure_engagement(facts: LeadFacts, _: BusinessRules) -> Measure:
    e = facts.engagement
    points = e.points
    said = [_count(n, *words) for n, *words in (
        (e.replies, "reply", "replies"), (e.quote_views, "quote view", "quote views"),
        (max(0, e.inquiries - 1), "repeat inquiry", "repeat inquiries"),
        (e.staff_touches, "staff call, email or text", "staff calls, emails or texts")) if n]
    value = "none" if points == 0 else "lots" if points >= ENGAGED_POINTS else "some"
    reason = ", ".join(said) or "no reply yet"
    return Measure("engagement", min(1.0, points / ENGAGED_POINTS), value, reason[:1].upper() + reason[1:])


def measure_capacity(facts: LeadFacts, _: BusinessRules) -> Measure:
    free = facts.free_chefs
    if free is None:
        return Measure("capacity", 0.5, "unknown", "No date to check")
    if free == 0:
        return Measure("capacity", 0.0, "none", "No chef free on the wanted date")
    if free == 1:
        return Measure("capacity", 0.5, "one", "One more event fits on the wanted date")
    return Measure("capacity", 1.0, "several", f"{free} more events fit on the wanted date")


MEASURES = {"source": measure_source, "completeness": measure_completeness, "party_size": measure_party_size,
            "timing": measure_timing, "distance": measure_distance, "engagement": measure_engagement,
            "capacity": measure_capacity}


def measure(facts: LeadFacts, rules: BusinessRules) -> list[Measure]:
    return [MEASURES[factor](facts, rules) for factor in LEAD_FACTORS]


# --- the rule score ------------------------------------------------------------------------------------------------


def rule_score(measures: Sequence[Measure], weights: Mapping[str, int]) -> tuple[int, list[dict[str, object]]]:
    """(score 0..100, score_factors): each factor's points, which add up to the score exactly."""
    total = sum(weights.get(m.factor, 0) for m in measures) or 1
    exact = [100 * weights.get(m.factor, 0) * m.fraction / total for m in measures]
    score = math.floor(sum(exact) + 0.5)
    points = [math.floor(x) for x in exact]
    # Largest remainders get the points that rounding each factor down lost.
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - points[i], reverse=True)[:score - sum(points)]:
        points[i] += 1
    factors = [{"factor": m.factor, "points": p, "reason": m.reason, "value": m.value}
               for m, p in zip(measures, points, strict=True)]
    return score, factors


def band_of(score: int, rules: BusinessRules) -> str:
    return "hot" if score >= rules.lead_hot_min else "warm" if score >= rules.lead_warm_min else "cold"


# --- the learned probability ---------------------------------------------------------------------------------------

Counts = dict[str, dict[str, list[int]]]  # {factor: {value: [won, lost]}}


@dataclass(frozen=True)
class Model:
    station_id: int
    closed: int
    won: int
    counts: Counts

    @property
    def lost(self) -> int:
        return self.closed - self.won


EMPTY_MODEL = Model(POOLED, 0, 0, {})


def fit(samples: Iterable[tuple[Mapping[str, str], bool]], station_id: int = POOLED) -> Model:
    """Count each factor's values among won and lost leads; a value outside FACTOR_VALUES is not counted."""
    counts: Counts = {}
    closed = won = 0
    for values, is_won in samples:
        closed += 1
        won += is_won
        for factor, value in values.items():
            if value in FACTOR_VALUES.get(factor, ()):
                counts.setdefault(factor, {}).setdefault(value, [0, 0])[0 if is_won else 1] += 1
    return Model(station_id, closed, won, counts)


def choose_model(models: Mapping[int, Model], station_id: int) -> Model:
    """The station's own model once it has enough closed leads, else the pooled one."""
    own = models.get(station_id)
    if own is not None and own.closed >= OWN_MODEL_MIN_CLOSED:
        return own
    return models.get(POOLED, EMPTY_MODEL)


def _clamp(p: float) -> float:
    low, high = PROBABILITY_BOUNDS
    return min(high, max(low, p))


def predict(model: Model, measures: Sequence[Measure]) -> tuple[float, list[dict[str, object]]]:
    """(probability, probability_factors): prior log-odds plus each factor's log-likelihood ratio, Laplace-smoothed
    over the factor's values among the leads that recorded it. A value no closed lead had is no evidence either
    way (weight 0): smoothing alone would read it as a sign of the rarer outcome."""
    log_odds = math.log((model.won + 1) / (model.lost + 1))
    factors: list[dict[str, object]] = []
    for m in measures:
        seen = model.counts.get(m.factor, {})
        won, lost = seen.get(m.value, [0, 0])
        weight = 0.0
        if won + lost:
            k = len(FACTOR_VALUES[m.factor])
            all_won, all_lost = sum(c[0] for c in seen.values()), sum(c[1] for c in seen.values())
            weight = math.log((won + 1) / (all_won + k)) - math.log((lost + 1) / (all_lost + k))
        log_odds += weight
        factors.append({"factor": m.factor, "weight": round(weight, 3), "reason": _why(m, model, won, lost)})
    return round(_clamp(1 / (1 + math.exp(-log_odds))), 4), factors


def _why(m: Measure, model: Model, won: int, lost: int) -> str:
    if model.closed == 0:
        return f"{m.reason}; no closed leads to learn from yet"
    alike = won + lost
    overall = f"{round(100 * model.won / model.closed)} % of all {model.closed}"
    if alike == 0:
        return f"{m.reason}; no closed lead like this yet ({overall} won)"
    return f"{m.reason}; {won} of {alike} such closed leads won ({round(100 * won / alike)} %), against {overall}"


# --- reading a lead's facts: a few queries for a whole batch --------------------------------------------------------


async def _engagement(session: AsyncSession, lead_ids: list[int]) -> dict[int, Engagement]:
    kinds = {ActivityKind.reply: "replies", ActivityKind.quote_viewed: "quote_views",
             ActivityKind.inquiry: "inquiries", ActivityKind.call: "staff_touches",
             ActivityKind.email: "staff_touches", ActivityKind.sms: "staff_touches"}
    rows = (await session.execute(
        select(LeadActivity.lead_id, LeadActivity.kind, func.count()).where(
            LeadActivity.lead_id.in_(lead_ids), LeadActivity.kind.in_([k.value for k in kinds]))
        .group_by(LeadActivity.lead_id, LeadActivity.kind))).all()
    tallies: dict[int, dict[str, int]] = defaultdict(dict)
    for lead_id, kind, count in rows:
        name = kinds[ActivityKind(kind)]
        tallies[lead_id][name] = tallies[lead_id].get(name, 0) + count
    return {lead_id: Engagement(**tallies.get(lead_id, {})) for lead_id in lead_ids}


class _Capacity:
    """The station's capacity reading over the batch's wanted dates."""

    def __init__(self, view: CapacityView) -> None:
        self.view = view

    def free_on(self, day: date, guests: int) -> int:
        """More events that fit at the date's best start time (the chefs' roster and holds, not the notice rule:
        timing already weighs a date that is too close)."""
        capacity = self.view.day(day)
        windows = [w for slot in self.view.rules.slot_times if (w := self.view.window(day, slot, guests))]
        return max((capacity.remaining(w) for w in windows), default=0)


def _miles(station: Station, rules: BusinessRules, zip_code: str | None) -> Decimal | None:
    if not zip_code:
        return None
    try:
        return _distance.miles((station.latitude, station.longitude), zip_code, rules.road_factor)
    except UnknownZip:
        return None


async def _facts_of(session: AsyncSession, leads: Sequence[Lead], now: datetime) -> dict[int, LeadFacts]:
    """Each lead's facts: one query for the engagement of them all, and per station its rules (cached) and one
    capacity reading over the wanted dates."""
    engagement = await _engagement(session, [lead.id for lead in leads])
    facts: dict[int, LeadFacts] = {}
    by_station: dict[int, list[Lead]] = defaultdict(list)
    for lead in leads:
        by_station[lead.station_id].append(lead)
    for station_id, group in by_station.items():
        station = await session.get_one(Station, station_id)
        rules = await get_rules(session, station_id)
        today = now.astimezone(ZoneInfo(station.timezone)).date()
        wanted = [lead.event_date for lead in group if lead.event_date and lead.event_date >= today]
        capacity = _Capacity(await capacity_view(session, station, min(wanted), max(wanted), now=now,
                                                 each_event=False)) \
            if wanted else None
        for lead in group:
            details = {"email": lead.email, "phone": lead.phone, "date": lead.event_date, "guests": lead.guests,
                       "zip": lead.zip_code}
            day = lead.event_date if lead.event_date and lead.event_date >= today else None  # None: neutral
            facts[lead.id] = LeadFacts(
                source=lead.source, details=frozenset(k for k, v in details.items() if v),
                guests=lead.guests, days_ahead=(lead.event_date - today).days if lead.event_date else None,
                miles=_miles(station, rules, lead.zip_code), engagement=engagement[lead.id],
                free_chefs=capacity.free_on(day, lead.guests or min_guests(rules)) if capacity and day else None)
    return facts


async def _models(session: AsyncSession, station_ids: Iterable[int]) -> dict[int, Model]:
    rows = await session.scalars(select(LeadModel).where(LeadModel.station_id.in_({POOLED, *station_ids})))
    return {row.station_id: Model(row.station_id, row.closed, row.won, row.counts) for row in rows}


async def _rescore_all(session: AsyncSession, leads: Sequence[Lead], now: datetime) -> None:
    facts = await _facts_of(session, leads, now)
    models = await _models(session, {lead.station_id for lead in leads})
    for lead in leads:
        rules = await get_rules(session, lead.station_id)
        measures = measure(facts[lead.id], rules)
        lead.score, lead.score_factors = rule_score(measures, rules.lead_weights)
        lead.band = band_of(lead.score, rules)
        lead.probability, lead.probability_factors = predict(choose_model(models, lead.station_id), measures)


async def rescore(session: AsyncSession, lead: Lead) -> None:
    """Recompute `score`, `band`, `score_factors`, `probability` and `probability_factors` (called on every change).

    A closed lead keeps what it was last scored while open: that is what the model learns from."""
    await session.flush()
    if LeadStatus(lead.status) in OPEN_LEAD_STATUSES:
        await _rescore_all(session, [lead], utcnow())
        await session.flush()


# --- training ------------------------------------------------------------------------------------------------------


async def _closed_samples(session: AsyncSession) -> list[tuple[int, dict[str, str], bool]]:
    """(station, factor values, won) of every closed lead, read in id order a batch at a time."""
    samples: list[tuple[int, dict[str, str], bool]] = []
    after = 0
    while True:
        rows = (await session.execute(
            select(Lead.id, Lead.station_id, Lead.status, Lead.score_factors)
            .where(Lead.status.in_([s.value for s in CLOSED_LEAD_STATUSES]), Lead.id > after)
            .order_by(Lead.id).limit(BATCH * 4))).all()
        for lead_id, station_id, status, factors in rows:
            values = {f["factor"]: f["value"] for f in factors or [] if "value" in f}
            samples.append((station_id, values, status == LeadStatus.won.value))
            after = lead_id
        if len(rows) < BATCH * 4:
            return samples


async def retrain(session: AsyncSession) -> dict[int, int]:
    """Rebuild every LeadModel row from the closed leads (each station's and the pooled one), then rescore every
    open lead with them. Returns {station_id: closed leads learned from}, station 0 being all of them."""
    samples = await _closed_samples(session)
    by_station: dict[int, list[tuple[dict[str, str], bool]]] = defaultdict(list)
    for station_id, values, won in samples:
        by_station[station_id].append((values, won))
    models = [fit(((v, w) for _, v, w in samples), POOLED)]
    models += [fit(rows, station_id) for station_id, rows in sorted(by_station.items())]
    now = utcnow()
    await session.execute(delete(LeadModel))
    session.add_all(LeadModel(station_id=m.station_id, closed=m.closed, won=m.won, counts=m.counts, trained_at=now)
                    for m in models)
    await session.flush()
    await rescore_open_leads(session, now)
    return {m.station_id: m.closed for m in models}


async def rescore_open_leads(session: AsyncSession, now: datetime | None = None) -> int:
    """Every open lead rescored, a batch at a time (a few queries a batch); leads another transaction is changing
    right now are skipped (PostgreSQL): their own change rescores them."""
    now = now or utcnow()
    done = after = 0
    while True:
        leads = list(await session.scalars(
            select(Lead).where(Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES]), Lead.id > after)
            .order_by(Lead.id).limit(BATCH).with_for_update(skip_locked=True)))
        if not leads:
            return done
        await _rescore_all(session, leads, now)
        await session.flush()
        done += len(leads)
        after = leads[-1].id


async def retrain_due(session: AsyncSession, every: timedelta) -> bool:
    """Whether to retrain: never trained, trained longer than `every` ago, or a lead closed since."""
    trained_at = await session.scalar(select(LeadModel.trained_at).where(LeadModel.station_id == POOLED))
    if trained_at is None:
        return True
    if trained_at < utcnow() - every:
        return True
    return bool(await session.scalar(select(func.count()).select_from(Lead).where(
        Lead.closed_at > trained_at)))
