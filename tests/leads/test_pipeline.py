"""The lead pipeline through the API (SPEC §7 "Leads"): the public door and staff entry, one open lead per station
and contact, the moves and their refusals, assignment, follow-ups, the timeline, and `won` on the deposit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.bookings import commands as booking_commands
from myhibachi.bookings.commands import SYSTEM_ACTOR
from myhibachi.bookings.models import BookingStatus
from myhibachi.contacts.models import Contact
from myhibachi.leads.models import Lead
from tests.factories import insert_booking

API = "/api/v1"
ASK = {"name": "Dana Reyes", "email": "Dana@Example.com", "phone": "(510) 555-0142", "guests": 14,
       "event_date": "2027-01-16", "zip_code": "94538", "message": "Birthday dinner"}


async def ask(client, station, **fields) -> dict:
    response = await client.post(f"{API}/leads", json={"station_id": station.id, **ASK, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def lead(client, headers, lead_id: int) -> dict:
    response = await client.get(f"{API}/leads/{lead_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_public_door_makes_one_lead_per_person_and_keeps_the_contact(client, db, fremont, support):
    first = await ask(client, fremont)
    assert first["status"] == "new"
    again = await ask(client, fremont, name="Someone Else", email="dana@example.com", phone="+14155550100",
                      guests=20, message="Actually 20 of us")
    assert again["id"] == first["id"]
    detail = await lead(client, support, first["id"])
    assert detail["source"] == "contact_form" and detail["guests"] == 20
    assert [a["kind"] for a in detail["activities"]] == ["inquiry", "inquiry"]
    assert "Actually 20 of us" in detail["activities"][1]["body"]
    async with db.transaction(write=False) as session:
        contacts = list(await session.scalars(select(Contact)))
    assert [(c.name, c.email, c.phone) for c in contacts] == [("Dana Reyes", "dana@example.com", "+15105550142")]


async def test_a_door_needs_an_email_or_a_phone(client, db, fremont):
    response = await client.post(f"{API}/leads", json={"station_id": fremont.id, "name": "Anon"})
    assert response.status_code == 422
    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(Lead))) == []


async def test_staff_entry_is_a_staff_lead(client, fremont, support):
    response = await client.post(f"{API}/leads", json={"station_id": fremont.id, **ASK}, headers=support)
    assert response.status_code == 201
    assert (await lead(client, support, response.json()["id"]))["source"] == "staff"


async def test_the_pipeline_moves_forward_or_to_lost_and_refuses_the_rest(client, db, fremont, support):
    lead_id = (await ask(client, fremont))["id"]

    async def move(**body):
        return await client.patch(f"{API}/leads/{lead_id}", json=body, headers=support)

    for refused in ("qualified", "quoted", "won"):
        response = await move(status=refused)
        assert response.status_code == 409 and response.json()["code"] == "illegal_transition", refused
    for status in ("contacted", "qualified", "quoted"):
        assert (await move(status=status)).json()["status"] == status
    response = await move(status="lost")
    assert response.status_code == 422  # a reason is needed
    assert (await move(status="lost", lost_reason="because")).status_code == 422  # from the station's list
    assert (await move(status="lost", lost_reason="price")).json()["lost_reason"] == "price"
    assert (await move(status="contacted")).status_code == 409  # closed
    history = await lead(client, support, lead_id)
    assert [a["body"] for a in history["activities"] if a["kind"] == "status"][-1] == \
        "Moved from quoted to lost (price)"
    async with db.transaction(write=False) as session:
        audited = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "lead")))
    assert audited == ["leads.create"] + ["leads.update"] * 4


async def test_assignment_goes_to_staff_who_work_leads_and_follow_ups_are_flagged_overdue(
        client, fremont, support, make_user):
    lead_id = (await ask(client, fremont))["id"]
    chef = await make_user("chef@example.com", Role.chef, fremont)
    me = (await client.get(f"{API}/auth/me", headers=support)).json()["id"]
    refused = await client.patch(f"{API}/leads/{lead_id}", json={"assignee_id": chef}, headers=support)
    assert refused.status_code == 422
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    done = await client.patch(f"{API}/leads/{lead_id}", json={"assignee_id": me, "next_follow_up_at": past},
                              headers=support)
    assert done.status_code == 200 and done.json()["assignee_id"] == me and done.json()["overdue"] is True
    listed = (await client.get(f"{API}/leads", params={"overdue": "true"}, headers=support)).json()["items"]
    assert [item["id"] for item in listed] == [lead_id]
    assert (await client.get(f"{API}/leads", params={"q": "reyes"}, headers=support)).json()["items"]
    assert not (await client.get(f"{API}/leads", params={"q": "nobody"}, headers=support)).json()["items"]


async def test_staff_log_activities_on_the_timeline(client, fremont, support):
    lead_id = (await ask(client, fremont))["id"]
    response = await client.post(f"{API}/leads/{lead_id}/activities", json={"kind": "call", "body": "Voicemail"},
                                 headers=support)
    assert response.status_code == 201
    assert response.json()["activities"][-1] == {**response.json()["activities"][-1], "kind": "call",
                                                 "body": "Voicemail", "actor": "Sam Support"}


async def test_another_stations_lead_does_not_exist(client, fremont, make_station, make_user, login):
    other = await make_station("SJC")
    await make_user("elsewhere@example.com", Role.support, other)
    headers = await login("elsewhere@example.com")
    lead_id = (await ask(client, fremont))["id"]
    assert (await client.get(f"{API}/leads/{lead_id}", headers=headers)).status_code == 404
    assert (await client.get(f"{API}/leads", headers=headers)).json()["items"] == []


async def test_the_deposit_wins_the_contacts_open_lead(client, db, runtime, fremont, support):
    lead_id = (await ask(client, fremont, email="guest@example.com"))["id"]
    booking_id = await insert_booking(db, fremont, datetime.now(UTC) + timedelta(days=20),
                                      status=BookingStatus.pending_deposit, email="guest@example.com")
    async with db.transaction() as session:
        await booking_commands.confirm_booking(session, runtime.settings, SYSTEM_ACTOR, booking_id)
    await runtime.jobs.sweep_once(0)
    won = await lead(client, support, lead_id)
    assert (won["status"], won["booking_id"]) == ("won", booking_id)


async def test_a_quoted_lead_refuses_going_back(client, fremont, support):
    lead_id = (await ask(client, fremont))["id"]
    for status in ("contacted", "qualified", "quoted"):
        assert (await client.patch(f"{API}/leads/{lead_id}", json={"status": status}, headers=support)).status_code \
            == 200
    response = await client.patch(f"{API}/leads/{lead_id}", json={"status": "contacted"}, headers=support)
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
