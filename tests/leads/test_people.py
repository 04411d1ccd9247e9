"""Contacts as staff see them, and merging a duplicate (SPEC §7 "People"): bookings, leads and handles move to the
kept contact, two open leads at one station become one with both timelines, nothing is lost, and the merge needs
`engagement` at every station the two contacts touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.bookings.models import Booking
from myhibachi.contacts.commands import Identity, find_contact
from myhibachi.contacts.models import Contact
from myhibachi.leads.models import Lead
from tests.factories import insert_booking

API = "/api/v1"


async def ask(client, station, email: str, **fields) -> dict:
    response = await client.post(f"{API}/leads", json={"station_id": station.id, "name": "Dana Reyes",
                                                       "email": email, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def contact_of(client, headers, lead_id: int) -> int:
    return (await client.get(f"{API}/leads/{lead_id}", headers=headers)).json()["contact_id"]


async def merge(client, headers, keep: int, other: int):
    return await client.post(f"{API}/contacts/{keep}/merge", json={"other_id": other}, headers=headers)


async def test_a_merge_moves_bookings_leads_and_handles_and_deletes_the_duplicate(client, db, fremont, support):
    lead_id = (await ask(client, fremont, "dana@example.com", phone="+15105550199"))["id"]
    keep = await contact_of(client, support, lead_id)
    booking_id = await insert_booking(db, fremont, datetime.now(UTC) + timedelta(days=30), email="d.reyes@work.com")
    async with db.transaction(write=False) as session:
        other = (await session.get_one(Booking, booking_id)).customer_id
    assert other != keep

    response = await merge(client, support, keep, other)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == keep and body["name"] == "Dana Reyes"
    assert [b["id"] for b in body["bookings"]] == [booking_id] and [x["id"] for x in body["leads"]] == [lead_id]
    assert {(h["kind"], h["value"]) for h in body["handles"]} == {
        ("email", "dana@example.com"), ("email", "d.reyes@work.com"), ("phone", "+15105550199"),
        ("phone", "+15105550142")}  # the factory's booking phone
    async with db.transaction(write=False) as session:
        assert await session.get(Contact, other) is None
        assert (await find_contact(session, Identity(email="D.Reyes@work.com"))).id == keep
        (entry,) = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "contacts.merge")))
    assert (entry.target_id, entry.station_id) == (str(keep), fremont.id)
    assert entry.before["merged"]["id"] == other and "email:d.reyes@work.com" in entry.before["merged"]["handles"]
    assert "email:d.reyes@work.com" in entry.after["kept"]["handles"]
    assert (await client.get(f"{API}/contacts/{other}", headers=support)).status_code == 404


async def test_two_open_leads_at_one_station_become_one_with_both_timelines(client, db, fremont, support):
    first = (await ask(client, fremont, "dana@example.com", message="Birthday"))["id"]
    second = (await ask(client, fremont, "dana.r@example.org", guests=14, zip_code="94538",
                        message="Anniversary"))["id"]
    assert (await client.patch(f"{API}/leads/{second}", json={"status": "contacted"}, headers=support)).status_code \
        == 200
    keep, other = await contact_of(client, support, first), await contact_of(client, support, second)

    assert (await merge(client, support, keep, other)).status_code == 200

    lead = (await client.get(f"{API}/leads/{first}", headers=support)).json()
    assert (lead["status"], lead["guests"], lead["zip_code"], lead["contact_id"]) == ("contacted", 14, "94538", keep)
    bodies = [a["body"] for a in lead["activities"]]
    assert any("Birthday" in b for b in bodies) and any("Anniversary" in b for b in bodies)
    assert lead["activities"][-1]["kind"] == "merged" and lead["activities"][-1]["actor"] == "Sam Support"
    assert (await client.get(f"{API}/leads/{second}", headers=support)).status_code == 404
    async with db.transaction(write=False) as session:
        assert [x.id for x in await session.scalars(select(Lead))] == [first]
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "contacts.merge"))
    (folded,) = entry.after["folded_leads"]
    assert (folded["id"], folded["status"], folded["message"]) == (second, "contacted", "Anniversary")


async def test_a_merge_needs_engagement_at_every_station_of_both(client, db, fremont, support, make_station,
                                                                 make_user, login):
    san_jose = await make_station("SJC")
    lead_id = (await ask(client, fremont, "dana@example.com"))["id"]
    elsewhere = (await ask(client, san_jose, "dana.r@example.org"))["id"]
    keep = await contact_of(client, support, lead_id)
    await make_user("boss@example.com", Role.super_admin)
    boss = await login("boss@example.com")
    other = await contact_of(client, boss, elsewhere)
    await make_user("chef@example.com", Role.chef, fremont)
    chef = await login("chef@example.com")

    assert (await merge(client, support, keep, other)).status_code == 404  # San Jose's contact is not hers
    assert (await merge(client, chef, keep, other)).status_code == 403
    assert (await client.get(f"{API}/contacts/{keep}", headers=chef)).status_code == 403
    assert (await merge(client, support, keep, keep)).status_code == 422
    async with db.transaction(write=False) as session:
        assert await session.get(Contact, other) is not None
        assert (await session.get_one(Lead, elsewhere)).contact_id == other
    merged = await merge(client, boss, keep, other)
    assert merged.status_code == 200
    assert {x["station_id"] for x in merged.json()["leads"]} == {fremont.id, san_jose.id}
    # Fremont's support sees the contact, with Fremont's lead only.
    seen = (await client.get(f"{API}/contacts/{keep}", headers=support)).json()
    assert [x["id"] for x in seen["leads"]] == [lead_id]
    async with db.transaction(write=False) as session:
        audited = set(await session.scalars(select(AuditEntry.station_id).where(
            AuditEntry.action == "contacts.merge")))
    assert audited == {fremont.id, san_jose.id}
