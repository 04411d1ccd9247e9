"""Segments (SPEC §7): the rules pick exactly the people a hand count picks, from a small world of bookings (past,
upcoming, cancelled, held), leads (bands, statuses), zip codes, tags and every consent state, with another station's
people beside them; and the segments API (save, read, change, delete, preview, validation, station scoping)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.bookings.models import BookingStatus
from myhibachi.consent.models import ConsentAction, OptOut, Suppression, SuppressionReason, Topic
from myhibachi.contacts.models import ContactTag
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import LeadSource
from myhibachi.newsletters.models import Campaign, CampaignStatus, Segment
from tests.factories import insert_booking
from tests.newsletters.conftest import API, subscriber

ZONE = ZoneInfo("America/Los_Angeles")  # the stations'; "today" there is 2026-12-01 (the frozen clock)


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(18), ZONE).astimezone(UTC)


async def booking(db, station, email: str, day: str, status: BookingStatus, zip_code: str) -> None:  # noqa: ANN001
    await insert_booking(db, station, at(day), status=status, email=email, venue_zip=zip_code)


async def lead(db, station, email: str, band: str, status: str, zip_code: str) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        made = await capture_lead(session, Inquiry(station_id=station.id, source=LeadSource.contact_form,
                                                   name=email, email=email, zip_code=zip_code))
        made.band, made.status = band, status  # set after scoring: the band is what the rule reads


async def tag(db, contact_id: int, *tags: str) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        session.add_all([ContactTag(contact_id=contact_id, tag=t) for t in tags])


@pytest.fixture
async def world(db, station, make_station, add_chefs) -> dict[str, Any]:  # noqa: ANN001
    """Fifteen people. FRE's reachable ones: ann ben cal dee eve fay mia ned oli pat; gus (unconfirmed), hal
    (withdrawn), ivy (suppressed), jon (opted out of FRE) and kim (opted out of news) are never reached; leo is
    only SAC's."""
    sac = await make_station("SAC")
    await add_chefs(sac, 1)
    fre = station
    ids = {name: await subscriber(db, f"{name}@example.com") for name in
           ("ann", "ben", "cal", "dee", "eve", "fay", "hal", "ivy", "jon", "kim", "leo", "ned", "oli", "pat")}
    ids["gus"] = await subscriber(db, "gus@example.com", action=ConsentAction.granted)
    ids["mia"] = await subscriber(db, "mia@example.com", fre.id)  # subscribed at FRE, nothing else
    await subscriber(db, "hal@example.com", action=ConsentAction.withdrawn)
    past, upcoming, cancelled, held = (BookingStatus.completed, BookingStatus.confirmed, BookingStatus.cancelled,
                                       BookingStatus.pending_deposit)
    for name, day, status, zip_code in (
            ("ann", "2026-06-10", past, "94538"), ("ben", "2026-12-20", upcoming, "94539"),
            ("cal", "2026-03-01", past, "95110"), ("cal", "2027-01-05", upcoming, "95110"),
            ("fay", "2026-11-01", cancelled, "94536"), ("gus", "2026-09-15", past, "94538"),
            ("hal", "2026-08-01", past, "94538"), ("ivy", "2026-05-05", past, "94538"),
            ("jon", "2026-07-07", past, "94538"), ("kim", "2026-04-04", past, "94538"),
            ("oli", "2026-12-12", held, "94538"),
            ("pat", "2026-11-20", BookingStatus.confirmed, "95020")):  # happened, not marked completed yet
        await booking(db, fre, f"{name}@example.com", day, status, zip_code)
    await booking(db, sac, "leo@example.com", "2026-06-06", past, "95814")
    await booking(db, sac, "ned@example.com", "2026-12-15", upcoming, "95814")
    await lead(db, fre, "dee@example.com", "hot", "new", "94555")
    await lead(db, fre, "eve@example.com", "cold", "lost", "95014")
    await lead(db, fre, "ned@example.com", "warm", "contacted", "94538")
    await tag(db, ids["ann"], "vip")
    await tag(db, ids["eve"], "vip", "corporate")
    async with db.transaction() as session:
        session.add(Suppression(email="ivy@example.com", reason=SuppressionReason.hard_bounce.value, source="test"))
        session.add(OptOut(contact_id=ids["jon"], scope="station", value=str(fre.id)))
        session.add(OptOut(contact_id=ids["kim"], scope="topic", value=Topic.news.value))
    return {"ids": ids, "FRE": fre.id, "SAC": sac.id}


CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("FRE", {}, {"ann", "ben", "cal", "dee", "eve", "fay", "mia", "ned", "oli", "pat"}),
    ("FRE", {"customer_status": "past_customer"}, {"ann", "cal", "pat"}),
    ("FRE", {"customer_status": "upcoming"}, {"ben", "cal"}),
    ("FRE", {"customer_status": "never_booked"}, {"dee", "eve", "fay", "mia", "ned", "oli"}),
    ("FRE", {"last_event_before": "2026-07-01"}, {"ann", "cal"}),
    ("FRE", {"last_event_after": "2026-05-01"}, {"ann", "pat"}),
    ("FRE", {"last_event_after": "2026-05-01", "last_event_before": "2026-07-01"}, {"ann"}),
    ("FRE", {"lead_band": ["hot"]}, {"dee"}),
    ("FRE", {"lead_band": ["hot", "warm"]}, {"dee", "ned"}),
    ("FRE", {"lead_band": ["cold"]}, {"eve"}),
    ("FRE", {"lead_status": ["lost"]}, {"eve"}),
    ("FRE", {"lead_status": ["new", "contacted"]}, {"dee", "ned"}),
    ("FRE", {"zip_prefix": ["945"]}, {"ann", "ben", "dee", "fay", "ned", "oli"}),
    ("FRE", {"zip_prefix": ["951", "95014"]}, {"cal", "eve"}),
    ("FRE", {"tags": ["vip"]}, {"ann", "eve"}),
    ("FRE", {"tags": ["corporate", "nobody"]}, {"eve"}),
    ("FRE", {"customer_status": "past_customer", "tags": ["vip"]}, {"ann"}),
    ("FRE", {"customer_status": "never_booked", "zip_prefix": ["945"]}, {"dee", "fay", "ned", "oli"}),
    ("FRE", {"customer_status": "upcoming", "zip_prefix": ["951"]}, {"cal"}),
    ("FRE", {"lead_band": ["warm"], "customer_status": "past_customer"}, set()),
    ("SAC", {}, {"leo", "ned"}),
    ("SAC", {"customer_status": "upcoming"}, {"ned"}),
    ("SAC", {"customer_status": "past_customer"}, {"leo"}),
    ("SAC", {"lead_band": ["warm"]}, set()),  # ned's lead is FRE's
]


async def test_each_rule_picks_exactly_the_hand_counted_people(client, world, make_user, login):
    """Through the unsaved preview (the editor's live count): its count and its sample are exactly the set."""
    await make_user("owner@example.com", Role.super_admin)
    admin = await login("owner@example.com")  # of both stations
    names = {contact_id: name for name, contact_id in world["ids"].items()}
    wrong = []
    for code, rules, expected in CASES:
        response = await client.post(f"{API}/segments/preview", headers=admin,
                                     json={"station_id": world[code], "rules": rules})
        assert response.status_code == 200, response.text
        body = response.json()
        picked = {names[m["contact_id"]] for m in body["sample"]}
        if picked != expected or body["count"] != len(expected):
            wrong.append(f"{code} {rules}: picked {sorted(picked)} (count {body['count']}), "
                         f"expected {sorted(expected)}")
        assert all(m["email"] == f"{names[m['contact_id']]}@example.com" for m in body["sample"])
    assert wrong == [], "\n".join(wrong)


async def test_a_saved_segment_previews_the_same_people(client, world, admin, support):
    created = await client.post(f"{API}/segments", headers=admin, json={
        "station_id": world["FRE"], "name": "Past customers", "rules": {"customer_status": "past_customer"}})
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["rules"] == {"customer_status": "past_customer", "last_event_before": None,
                                "last_event_after": None, "lead_band": None, "lead_status": None,
                                "zip_prefix": None, "tags": None}
    preview = await client.get(f"{API}/segments/{segment['id']}/preview", headers=support)
    assert preview.status_code == 200
    assert preview.json()["count"] == 3
    assert sorted(m["email"] for m in preview.json()["sample"]) == [
        "ann@example.com", "cal@example.com", "pat@example.com"]


async def test_the_sample_is_a_few_of_the_count(db, client, station, admin):
    for n in range(12):
        await subscriber(db, f"s{n:02}@example.com", station.id)
    body = (await client.post(f"{API}/segments/preview", headers=admin,
                              json={"station_id": station.id, "rules": {}})).json()
    assert body["count"] == 12 and len(body["sample"]) == 10
    assert [m["email"] for m in body["sample"]] == [f"s{n:02}@example.com" for n in range(10)]


@pytest.mark.parametrize(("rules", "field"), [
    ({"customer_status": "sometimes"}, "body.rules.customer_status"),
    ({"last_event_after": "2026-07-01", "last_event_before": "2026-06-01"}, "body.rules"),
    ({"lead_band": ["lukewarm"]}, "body.rules.lead_band.0"),
    ({"zip_prefix": ["94a"]}, "body.rules.zip_prefix.0"),
    ({"tags": ["Has Caps"]}, "body.rules.tags.0"),
    ({"favourite_colour": "red"}, "body.rules.favourite_colour"),
])
async def test_bad_rules_are_refused_with_the_field_named(client, db, station, admin, rules, field):
    response = await client.post(f"{API}/segments", headers=admin,
                                 json={"station_id": station.id, "name": "Bad", "rules": rules})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(Segment))) == []


async def test_segments_are_listed_renamed_and_deleted_with_a_reason(client, db, station, admin):
    made = [(await client.post(f"{API}/segments", headers=admin, json={
        "station_id": station.id, "name": name, "rules": {"tags": ["vip"]}})).json() for name in ("Zed", "Alpha")]
    listed = await client.get(f"{API}/segments", params={"station_id": station.id}, headers=admin)
    assert [s["name"] for s in listed.json()["items"]] == ["Alpha", "Zed"]
    changed = await client.patch(f"{API}/segments/{made[0]['id']}", headers=admin,
                                 json={"name": "VIPs", "rules": {"customer_status": "upcoming"}})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["rules"]["customer_status"]) == ("VIPs", "upcoming")
    assert changed.json()["rules"]["tags"] is None
    no_reason = await client.delete(f"{API}/segments/{made[0]['id']}", headers=admin)
    assert no_reason.status_code == 422
    gone = await client.delete(f"{API}/segments/{made[0]['id']}", params={"reason": "Not used any more"},
                               headers=admin)
    assert gone.status_code == 204
    assert (await client.get(f"{API}/segments/{made[0]['id']}", headers=admin)).status_code == 404
    async with db.transaction(write=False) as session:
        actions = [(e.action, e.reason) for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "segment").order_by(AuditEntry.id))]
    assert actions == [("segments.create", None), ("segments.create", None), ("segments.update", None),
                       ("segments.delete", "Not used any more")]


async def test_a_segment_a_campaign_may_still_send_to_is_kept(client, db, station, admin):
    segment = (await client.post(f"{API}/segments", headers=admin, json={
        "station_id": station.id, "name": "All", "rules": {}})).json()
    async with db.transaction() as session:
        campaign = Campaign(station_id=station.id, name="C", subject="S", body_markdown="B", segment_id=segment["id"],
                            status=CampaignStatus.paused.value)
        session.add(campaign)
    refused = await client.delete(f"{API}/segments/{segment['id']}", params={"reason": "Tidy up"}, headers=admin)
    assert refused.status_code == 409 and refused.json()["code"] == "segment_in_use"
    async with db.transaction() as session:
        (await session.get_one(Campaign, campaign.id)).status = CampaignStatus.sent.value
    assert (await client.delete(f"{API}/segments/{segment['id']}", params={"reason": "Tidy up"},
                                headers=admin)).status_code == 204
    async with db.transaction(write=False) as session:
        assert (await session.get_one(Campaign, campaign.id)).segment_id is None


async def test_segments_are_the_stations_own(client, db, station, make_station, make_user, login, admin, support):
    other = await make_station("SAC")
    await make_user("sac@example.com", Role.admin, other)
    sac_admin = await login("sac@example.com")
    segment = (await client.post(f"{API}/segments", headers=admin, json={
        "station_id": station.id, "name": "Mine", "rules": {}})).json()
    for method, path, kwargs in (("GET", f"/segments/{segment['id']}", {}),
                                 ("GET", f"/segments/{segment['id']}/preview", {}),
                                 ("PATCH", f"/segments/{segment['id']}", {"json": {"name": "Theirs"}})):
        response = await client.request(method, API + path, headers=sac_admin, **kwargs)
        assert response.status_code == 404, (method, path)
    listed = await client.get(f"{API}/segments", params={"station_id": station.id}, headers=sac_admin)
    assert listed.status_code == 404
    refused = await client.post(f"{API}/segments", headers=support, json={
        "station_id": station.id, "name": "Support's", "rules": {}})
    assert refused.status_code == 403  # support reads segments, but only who sends newsletters saves them
    assert (await client.get(f"{API}/segments/{segment['id']}", headers=support)).status_code == 200
    async with db.transaction(write=False) as session:
        assert [s.name for s in await session.scalars(select(Segment))] == ["Mine"]

