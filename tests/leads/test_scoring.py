"""A lead's scores (SPEC §7): the rule score factor by factor under the station's weights and bands, and the learned
win probability — clamped, explained, the station's own model once it has 50 closed leads, the pooled one before,
retrained by the periodic job — which beats the rule score on a history whose effects are known."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.contacts.models import Contact
from myhibachi.leads import scoring
from myhibachi.leads.models import Lead, LeadActivity, LeadModel
from myhibachi.leads.scoring import (
    EMPTY_MODEL,
    Engagement,
    LeadFacts,
    Model,
    band_of,
    choose_model,
    fit,
    measure,
    predict,
    rule_score,
)
from myhibachi.leads.synthetic import auc, evaluate, generate
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.rules import DEFAULT_RULES, LEAD_FACTORS
from tests.factories import insert_booking

API = "/api/v1"
ALL_DETAILS = frozenset({"email", "phone", "date", "guests", "zip"})
FACTS = LeadFacts(source="contact_form", details=ALL_DETAILS, guests=14, days_ahead=20, miles=Decimal("12.0"),
                  engagement=Engagement(replies=1), free_chefs=2)


def one(facts: LeadFacts, factor: str) -> scoring.Measure:
    return next(m for m in measure(facts, DEFAULT_RULES) if m.factor == factor)


# --- each factor's measurement ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "factor", "fraction", "value", "reason"), [
    ({"source": "staff"}, "source", 1.0, "staff", "entered by staff"),
    ({"source": "abandoned_booking"}, "source", 0.5, "abandoned_booking", "booking flow left unfinished"),
    ({"source": "outside_service_area"}, "source", 0.1, "outside_service_area", "outside the service area"),
    ({}, "completeness", 1.0, "all", "Gave email, phone, date, party size and ZIP code"),
    ({"details": frozenset({"email", "date", "guests", "zip"})}, "completeness", 0.8, "most", "4 of 5; no phone"),
    ({"details": frozenset({"phone"})}, "completeness", 0.2, "few", "no email, date, party size, ZIP code"),
    ({"guests": None}, "party_size", 0.4, "unknown", "Party size not given"),
    ({"guests": 6}, "party_size", 0.3, "small", "fewer than the 10 the party minimum pays for"),
    ({"guests": 14}, "party_size", 0.8, "typical", "14 guests: a typical party"),
    ({"guests": 25}, "party_size", 1.0, "large", "a large party"),
    ({"guests": 101}, "party_size", 0.1, "too_large", "more than the 100 we serve"),
    ({"days_ahead": None}, "timing", 0.4, "unknown", "No date given"),
    ({"days_ahead": -3}, "timing", 0.0, "past", "passed 3 days ago"),
    ({"days_ahead": 1}, "timing", 0.2, "too_close", "less than the 2 days' notice"),
    ({"days_ahead": 20}, "timing", 1.0, "soon", "In 20 days"),
    ({"days_ahead": 200}, "timing", 0.6, "far", "still far off"),
    ({"days_ahead": 400}, "timing", 0.1, "beyond", "beyond the 365 days we book"),
    ({"miles": None, "details": frozenset({"email"})}, "distance", 0.5, "unknown", "No ZIP code given"),
    ({"miles": None}, "distance", 0.5, "unknown", "ZIP code not known to us"),
    ({"miles": Decimal("12.0")}, "distance", 1.0, "free", "inside the 30 free miles"),
    ({"miles": Decimal("90.0")}, "distance", 0.65, "paid", "a travel fee applies"),
    ({"miles": Decimal("150.1")}, "distance", 0.0, "outside", "beyond the 150 we travel"),
    ({"engagement": Engagement()}, "engagement", 0.0, "none", "No reply yet"),
    ({"engagement": Engagement(replies=1)}, "engagement", 0.5, "some", "1 reply"),
    ({"engagement": Engagement(inquiries=2, staff_touches=2)}, "engagement", 0.5, "some",
     "1 repeat inquiry, 2 staff calls, emails or texts"),
    ({"engagement": Engagement(replies=2, quote_views=1)}, "engagement", 1.0, "lots", "2 replies, 1 quote view"),
    ({"free_chefs": None}, "capacity", 0.5, "unknown", "No date to check"),
    ({"free_chefs": 0}, "capacity", 0.0, "none", "No chef free"),
    ({"free_chefs": 1}, "capacity", 0.5, "one", "One more event fits"),
    ({"free_chefs": 3}, "capacity", 1.0, "several", "3 more events fit"),
])
def test_each_factor_is_measured_with_a_reason(change, factor, fraction, value, reason):
    measured = one(LeadFacts(**{**FACTS.__dict__, **change}), factor)
    assert (measured.fraction, measured.value) == (pytest.approx(fraction), value)
    assert reason.split("; ")[-1] in measured.reason and reason.split("; ")[0] in measured.reason


def test_every_value_a_factor_takes_is_one_the_model_knows():
    for facts in (h.facts for h in generate(500, seed=3)):
        assert all(m.value in scoring.FACTOR_VALUES[m.factor] for m in measure(facts, DEFAULT_RULES))


# --- the rule score ---------------------------------------------------------------------------------------------


def test_the_points_add_up_to_the_score_whatever_the_rounding():
    weights = {"source": 13, "completeness": 7, "party_size": 11, "timing": 17, "distance": 3, "engagement": 19,
               "capacity": 5}
    for history in generate(300, seed=5):
        for w in (DEFAULT_RULES.lead_weights, weights):
            score, factors = rule_score(history.measures, w)
            exact = 100 * sum(w[m.factor] * m.fraction for m in history.measures) / sum(w.values())
            assert score == int(exact + 0.5) and sum(f["points"] for f in factors) == score
            assert [f["factor"] for f in factors] == list(LEAD_FACTORS)


def test_the_weights_decide_what_counts():
    measures = measure(FACTS, DEFAULT_RULES)  # party 0.8, engagement 0.5
    only_party = dict.fromkeys(LEAD_FACTORS, 0) | {"party_size": 30}
    assert rule_score(measures, only_party)[0] == 80
    score, factors = rule_score(measures, only_party | {"engagement": 10})
    assert score == 73 and {f["factor"]: f["points"] for f in factors if f["points"]} == {"party_size": 60,
                                                                                          "engagement": 13}


def test_bands_follow_the_station_thresholds():
    rules = DEFAULT_RULES.model_copy(update={"lead_hot_min": 80, "lead_warm_min": 30})
    assert [band_of(s, DEFAULT_RULES) for s in (70, 69, 40, 39)] == ["hot", "warm", "warm", "cold"]
    assert [band_of(s, rules) for s in (79, 80, 30, 29)] == ["warm", "hot", "warm", "cold"]


# --- the learned probability ------------------------------------------------------------------------------------


def test_with_nothing_learned_the_probability_is_even_and_says_so():
    probability, factors = predict(EMPTY_MODEL, measure(FACTS, DEFAULT_RULES))
    assert probability == 0.5 and [f["weight"] for f in factors] == [0.0] * len(LEAD_FACTORS)
    assert all("no closed leads to learn from yet" in f["reason"] for f in factors)


def test_the_probability_is_clamped_and_each_factor_explains_its_push():
    measures = measure(FACTS, DEFAULT_RULES)
    values = {m.factor: m.value for m in measures}
    winners = fit([(values, True)] * 500 + [({"source": "chat"}, False)] * 5)
    losers = fit([(values, False)] * 500 + [({"source": "chat"}, True)] * 5)

    high, pushes = predict(winners, measures)
    low, pulls = predict(losers, measures)

    assert (high, low) == (0.99, 0.01)
    assert all(f["weight"] > 0 for f in pushes) and all(f["weight"] < 0 for f in pulls)
    source = pushes[0]
    assert source["factor"] == "source" and source["reason"] == (
        "Came through the contact form; 500 of 500 such closed leads won (100 %), against 99 % of all 505")


def test_a_station_uses_its_own_model_from_50_closed_leads_and_the_pooled_one_before():
    pooled, young, grown = Model(0, 400, 100, {}), Model(7, 49, 40, {}), Model(8, 50, 40, {})
    models = {0: pooled, 7: young, 8: grown}
    assert choose_model(models, 7) is pooled and choose_model(models, 8) is grown
    assert choose_model(models, 9) is pooled and choose_model({}, 9) is EMPTY_MODEL


def test_the_learned_model_beats_the_rule_score_on_a_history_with_known_effects():
    judged = evaluate(generate(3000, seed=2026))
    assert judged.auc_learned > judged.auc_rule + 0.03, judged
    assert judged.brier_learned < judged.brier_base_rate, judged


def test_auc_counts_pairs_and_ties():
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert auc([1, 1, 1, 1], [False, True, False, True]) == 0.5
    assert auc([4, 3, 2, 1], [False, False, True, True]) == 0.0


# --- through the app ------------------------------------------------------------------------------------------------


def in_days(days: int) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


async def fill_the_day(db, station, day: date) -> None:
    """Three events that day: the only chef's daily limit."""
    for hour in (12, 18, 21):
        await insert_booking(db, station, datetime.combine(day, time(hour), ZoneInfo(station.timezone)))


async def ask(client, station, **fields) -> int:
    body = {"station_id": station.id, "name": "Dana Reyes", "email": "dana@example.com", "phone": "(510) 555-0199",
            "guests": 14, "event_date": in_days(20).isoformat(), "zip_code": "94538", **fields}
    response = await client.post(f"{API}/leads", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def detail(client, headers, lead_id: int) -> dict:
    response = await client.get(f"{API}/leads/{lead_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_new_lead_is_scored_and_explained(client, fremont, support):
    lead = await detail(client, support, await ask(client, fremont))

    reasons = {f["factor"]: f["reason"] for f in lead["score_factors"]}
    assert sum(f["points"] for f in lead["score_factors"]) == lead["score"]
    assert reasons["capacity"] == "One more event fits on the wanted date"  # one chef on duty
    assert "miles: inside the 30 free miles" in reasons["distance"] and reasons["engagement"] == "No reply yet"
    assert reasons["completeness"] == "Gave email, phone, date, party size and ZIP code"
    # source .9×15 + complete 10 + typical .8×15 + soon 15 + free 10 + none 0 + one chef .5×20 = 70.5 of 100
    assert (lead["score"], lead["band"], lead["probability"]) == (71, "hot", 0.5)
    assert [f["factor"] for f in lead["probability_factors"]] == list(LEAD_FACTORS)


async def test_a_full_date_and_replies_change_the_score(client, db, fremont, support):
    lead_id = await ask(client, fremont)
    await fill_the_day(db, fremont, in_days(20))
    response = await client.post(f"{API}/leads/{lead_id}/activities", json={"kind": "call", "body": "Left a message"},
                                 headers=support)
    assert response.status_code == 201, response.text
    async with db.transaction() as session:
        session.add(LeadActivity(lead_id=lead_id, kind="reply", body="Sounds good"))
        session.add(LeadActivity(lead_id=lead_id, kind="quote_viewed", body="Opened the quote"))
    await client.post(f"{API}/leads/{lead_id}/activities", json={"kind": "note", "body": "Likes shrimp"},
                      headers=support)

    lead = await detail(client, support, lead_id)
    reasons = {f["factor"]: f["reason"] for f in lead["score_factors"]}
    assert reasons["capacity"] == "No chef free on the wanted date"
    assert reasons["engagement"] == "1 reply, 1 quote view, 1 staff call, email or text"
    # engagement now full (15 points), the chef gone (−10): 70.5 + 15 − 10
    assert (lead["score"], lead["band"]) == (76, "hot")


async def test_the_station_weights_and_thresholds_are_used(client, db, fremont, support):
    rules = DEFAULT_RULES.model_copy(update={
        "lead_weights": dict.fromkeys(LEAD_FACTORS, 0) | {"engagement": 50, "party_size": 50},
        "lead_hot_min": 90, "lead_warm_min": 45})
    async with db.transaction() as session:
        await update_rules(session, SYSTEM, fremont.id, rules)

    lead = await detail(client, support, await ask(client, fremont))

    assert (lead["score"], lead["band"]) == (40, "cold")  # party .8×50 + no reply 0
    assert {f["factor"]: f["points"] for f in lead["score_factors"]} == dict.fromkeys(LEAD_FACTORS, 0) | {
        "party_size": 40}


async def make_contact(session, n: int) -> int:
    contact = Contact(name=f"Person {n}", email=f"p{n}@example.com")
    session.add(contact)
    await session.flush()
    return contact.id


async def closed_leads(db, station, count: int, *, source: str, won: bool) -> None:
    """Closed leads scored while open (their stored values are what the model learns)."""
    values = {m.factor: m.value for m in measure(LeadFacts(source=source, details=ALL_DETAILS), DEFAULT_RULES)}
    async with db.transaction() as session:
        first = await session.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1)) or 0
        for n in range(count):
            session.add(Lead(station_id=station.id, contact_id=await make_contact(session, first + n + 1),
                             source=source, status="won" if won else "lost", name="X",
                             lost_reason=None if won else "price", closed_at=datetime.now(UTC),
                             score_factors=[{"factor": f, "points": 0, "reason": "", "value": v}
                                            for f, v in values.items()]))


async def probability_of(client, headers, lead_id: int) -> float:
    return (await detail(client, headers, lead_id))["probability"]


async def test_pooled_until_50_closed_then_the_station_own_model(client, db, runtime, make_station, fremont, make_user,
                                                                  login):
    """Across stations the contact form wins; at Oakland it loses. Oakland's lead follows the pool until Oakland
    has 50 closed leads of its own."""
    oakland = await make_station("OAK")
    await make_user("oak@example.com", Role.support, oakland, name="Olly")
    headers = await login("oak@example.com")
    await closed_leads(db, fremont, 100, source="contact_form", won=True)
    await closed_leads(db, fremont, 100, source="chat", won=False)
    await closed_leads(db, oakland, 49, source="contact_form", won=False)
    lead_id = await ask(client, oakland)

    done = await runtime.jobs.run_periodic_tasks()
    assert done["leads.retrain_scores"] == 249
    async with db.transaction(write=False) as session:
        models = {m.station_id: (m.closed, m.won) for m in await session.scalars(select(LeadModel))}
    assert models == {0: (249, 100), fremont.id: (200, 100), oakland.id: (49, 0)}
    pooled = await probability_of(client, headers, lead_id)
    assert pooled > 0.5

    await closed_leads(db, oakland, 1, source="contact_form", won=False)
    assert (await runtime.jobs.run_periodic_tasks())["leads.retrain_scores"] == 250
    own = await probability_of(client, headers, lead_id)
    assert own < 0.1 and own >= 0.01
    [source] = [f for f in (await detail(client, headers, lead_id))["probability_factors"] if f["factor"] == "source"]
    assert source["weight"] < 0 and "0 of 50 such closed leads won" in source["reason"]


def test_a_value_no_closed_lead_had_is_no_evidence():
    model = fit([({"source": "chat", "timing": "soon"}, False)] * 50 + [({"source": "chat"}, True)] * 2)
    _, factors = predict(model, measure(FACTS, DEFAULT_RULES))  # the contact form, in 20 days
    weights = {f["factor"]: f["weight"] for f in factors}
    assert weights["source"] == 0.0 and weights["timing"] < 0
    assert "no closed lead like this yet" in factors[0]["reason"]


async def test_the_job_retrains_only_when_a_lead_closed_or_the_models_are_old(client, db, runtime, fremont,
                                                                            support):
    assert (await runtime.jobs.run_periodic_tasks())["leads.retrain_scores"] == 0  # first: nothing closed yet
    async with db.transaction(write=False) as session:
        first = await session.scalar(select(LeadModel.trained_at).where(LeadModel.station_id == 0))
    assert first is not None
    await runtime.jobs.run_periodic_tasks()
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(LeadModel.trained_at).where(LeadModel.station_id == 0)) == first

    lead_id = await ask(client, fremont)
    response = await client.patch(f"{API}/leads/{lead_id}", json={"status": "lost", "lost_reason": "price"},
                                  headers=support)
    assert response.status_code == 200, response.text
    assert (await runtime.jobs.run_periodic_tasks())["leads.retrain_scores"] == 1

    async with db.transaction() as session:
        model = await session.get_one(LeadModel, 0)
        model.trained_at = datetime.now(UTC) - timedelta(hours=7)
    await runtime.jobs.run_periodic_tasks()
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(LeadModel.trained_at).where(LeadModel.station_id == 0)) > first


async def test_a_closed_lead_keeps_the_scores_it_had_while_open(client, db, fremont, support):
    lead_id = await ask(client, fremont)
    before = await detail(client, support, lead_id)
    await fill_the_day(db, fremont, in_days(20))  # now no chef is free: the closed lead must not learn that
    response = await client.patch(f"{API}/leads/{lead_id}", json={"status": "lost", "lost_reason": "price"},
                                  headers=support)
    assert response.status_code == 200, response.text
    after = await detail(client, support, lead_id)
    assert (after["score"], after["score_factors"]) == (before["score"], before["score_factors"])
    async with db.transaction(write=False) as session:
        stored = (await session.get_one(Lead, lead_id)).score_factors
    assert {f["factor"]: f["value"] for f in stored}["capacity"] == "one"


async def test_rescoring_open_leads_takes_the_same_queries_for_3_or_30(db, fremont, make_station):
    oakland = await make_station("OAK")
    days = [in_days(d) for d in (5, 9, 30, 200)]
    async with db.transaction() as session:
        for n in range(30):
            station = (fremont, oakland)[n % 2]
            session.add(Lead(station_id=station.id, contact_id=await make_contact(session, n), source="chat",
                             name="X", email=f"p{n}@example.com", event_date=days[n % 4], guests=8 + n,
                             zip_code="94538"))

    async def statements(limit: int) -> int:
        seen: list[str] = []

        def count(*args) -> None:  # noqa: ANN002
            seen.append(args[2])

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with db.transaction() as session:
                leads = list(await session.scalars(select(Lead).order_by(Lead.id).limit(limit)))
                seen.clear()
                await scoring._rescore_all(session, leads, datetime.now(UTC))
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    await statements(30)  # the rules' cache filled
    assert await statements(3) == await statements(30)
