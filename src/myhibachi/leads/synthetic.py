"""A made-up history of closed leads whose factor effects are KNOWN, to check that the learned win probability
finds them: the benchmark (benchmarks/lead_scoring.py) and the tests share it.

Each lead's facts are drawn at random and measured by the real `scoring.measure`; it is won with the probability
of a logistic of TRUE_EFFECTS over the measured values. The effects differ on purpose from the default rule
weights (engagement and the door matter most, chefs free hardly at all, a large party is less likely to book
than a typical one), which is what a station's history can teach that fixed weights cannot.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from myhibachi.leads.models import LeadSource
from myhibachi.leads.scoring import Engagement, LeadFacts, Measure, fit, measure, predict, rule_score
from myhibachi.pricing.rules import DEFAULT_RULES, BusinessRules

BASE_LOG_ODDS = -1.0
# Log-odds each measured value adds to winning (unlisted values add nothing).
TRUE_EFFECTS: dict[str, dict[str, float]] = {
    "source": {"staff": 0.8, "contact_form": 0.3, "inbox": -0.2, "slot_unavailable": 0.6,
               "abandoned_booking": 0.4, "outside_service_area": -1.5},
    "completeness": {"all": 0.2, "most": 0.1, "few": -0.3},
    "party_size": {"unknown": -0.2, "small": -0.6, "typical": 0.3, "large": -0.2, "too_large": -1.5},
    "timing": {"unknown": -0.3, "past": -2.0, "too_close": -0.8, "soon": 0.5, "far": -0.2, "beyond": -1.0},
    "distance": {"free": 0.2, "outside": -2.0},
    "engagement": {"none": -1.0, "some": 0.5, "lots": 1.5},
    "capacity": {"none": -0.3, "one": 0.1},
}
SOURCES = [(LeadSource.contact_form, 30), (LeadSource.abandoned_booking, 20), (LeadSource.chat, 15),
           (LeadSource.inbox, 10), (LeadSource.slot_unavailable, 8), (LeadSource.outside_service_area, 7),
           (LeadSource.staff, 10)]
STATION_SHIFT = {1: 0.0, 2: 0.3, 3: -0.4}  # stations differ in how often they win, not in what matters


@dataclass(frozen=True)
class HistoricLead:
    station_id: int
    facts: LeadFacts
    measures: list[Measure]
    won: bool


def _facts(rng: random.Random) -> LeadFacts:
    details = {d for d, p in (("email", 0.85), ("phone", 0.6), ("date", 0.75), ("guests", 0.8), ("zip", 0.7))
               if rng.random() < p} or {"email"}
    guests = (120 if rng.random() < 0.03 else round(rng.triangular(4, 40, 12))) if "guests" in details else None
    days = None
    if "date" in details:
        low, high = rng.choices([(-10, -1), (0, 1), (2, 60), (61, 300), (366, 420)], [5, 8, 55, 27, 5])[0]
        days = rng.randint(low, high)
    miles = None
    if "zip" in details and rng.random() < 0.95:
        miles = Decimal(str(round(rng.triangular(0, 200, 25), 1)))
    engagement = Engagement(replies=rng.choices([0, 1, 2, 3], [50, 25, 15, 10])[0],
                            quote_views=rng.choices([0, 1, 2], [60, 30, 10])[0],
                            inquiries=rng.choices([1, 2], [85, 15])[0],
                            staff_touches=rng.choices([0, 1, 2, 3], [40, 30, 20, 10])[0])
    free = rng.choices([0, 1, 2, 3], [20, 30, 30, 20])[0] if days is not None and days >= 0 else None
    source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
    return LeadFacts(source=source.value, details=frozenset(details), guests=guests, days_ahead=days, miles=miles,
                     engagement=engagement, free_chefs=free)


def true_log_odds(station_id: int, measures: Sequence[Measure]) -> float:
    return BASE_LOG_ODDS + STATION_SHIFT.get(station_id, 0.0) + sum(
        TRUE_EFFECTS.get(m.factor, {}).get(m.value, 0.0) for m in measures)


def generate(count: int, seed: int, rules: BusinessRules = DEFAULT_RULES,
             stations: Sequence[int] = (1, 2, 3)) -> list[HistoricLead]:
    """`count` closed leads, the same ones for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable made-up history, not a secret
    history = []
    for _ in range(count):
        station_id, facts = rng.choice(list(stations)), _facts(rng)
        measures = measure(facts, rules)
        won = rng.random() < 1 / (1 + math.exp(-true_log_odds(station_id, measures)))
        history.append(HistoricLead(station_id, facts, measures, won))
    return history


# --- judging a score against what happened ---------------------------------------------------------------------


def auc(scores: Sequence[float], won: Sequence[bool]) -> float:
    """The chance that a won lead scores above a lost one (ties count half): the Mann–Whitney U over ranks."""
    ranked = sorted(zip(scores, won, strict=True))
    ranks = [0.0] * len(ranked)
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        ranks[i:j] = [(i + j + 1) / 2] * (j - i)  # tied scores share their average rank
        i = j
    positives = sum(w for _, w in ranked)
    negatives = len(ranked) - positives
    rank_sum = sum(rank for rank, (_, w) in zip(ranks, ranked, strict=True) if w)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def brier(probabilities: Sequence[float], won: Sequence[bool]) -> float:
    return sum((p - w) ** 2 for p, w in zip(probabilities, won, strict=True)) / len(won)


@dataclass(frozen=True)
class Evaluation:
    trained_on: int
    tested_on: int
    auc_learned: float
    auc_rule: float
    brier_learned: float
    brier_base_rate: float  # always answering the training win rate


def evaluate(history: Sequence[HistoricLead], rules: BusinessRules = DEFAULT_RULES,
             train_share: float = 0.8) -> Evaluation:
    """Fit the pooled model on the first `train_share` of the history; judge both scores on the rest."""
    cut = int(len(history) * train_share)
    train, test = history[:cut], history[cut:]
    model = fit(({m.factor: m.value for m in h.measures}, h.won) for h in train)
    won = [h.won for h in test]
    learned = [predict(model, h.measures)[0] for h in test]
    rule = [float(rule_score(h.measures, rules.lead_weights)[0]) for h in test]
    base_rate = model.won / model.closed
    return Evaluation(len(train), len(test), auc(learned, won), auc(rule, won), brier(learned, won),
                      brier([base_rate] * len(test), won))
