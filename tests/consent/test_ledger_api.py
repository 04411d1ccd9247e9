"""`GET /api/v1/contacts/{id}/consents`: the ledger, oldest first, for whoever may see the contact; a merge keeps
both contacts' ledgers."""

from __future__ import annotations

from myhibachi.contacts.commands import Identity, find_contact
from tests.consent.conftest import API, confirmation_mails, link_in


async def lead_contact(client, headers, station, email: str) -> int:  # noqa: ANN001
    response = await client.post(f"{API}/leads", json={"station_id": station.id, "name": "Dana Reyes", "email": email})
    assert response.status_code == 201, response.text
    lead = await client.get(f"{API}/leads/{response.json()['id']}", headers=headers)
    return lead.json()["contact_id"]


async def test_staff_read_the_ledger_oldest_first(client, settings, station, support):
    contact_id = await lead_contact(client, support, station, "dana@example.com")
    await client.post(f"{API}/subscribe", json={"email": "dana@example.com", "station_id": station.id})
    unconfirmed = await client.get(f"{API}/contacts/{contact_id}/consents", headers=support)
    assert unconfirmed.status_code == 200 and unconfirmed.json()["email_marketing"] == "granted"
    await client.get(link_in(confirmation_mails(settings, "dana@example.com")[0]))

    response = await client.get(f"{API}/contacts/{contact_id}/consents", headers=support)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["contact_id"], body["email_marketing"]) == (contact_id, "confirmed")
    fields = ("action", "source", "channel", "purpose", "station_id", "ip")
    assert [tuple(e[name] for name in fields) for e in body["items"]] == [
        ("granted", "api", "email", "marketing", station.id, "203.0.113.7"),
        ("confirmed", "confirmation_link", "email", "marketing", station.id, "203.0.113.7")]
    assert body["items"][0]["id"] < body["items"][1]["id"]


async def test_another_stations_contact_has_no_ledger_for_you(client, db, make_station, station, support):
    other = await make_station("OAK")
    response = await client.post(f"{API}/leads", json={"station_id": other.id, "name": "Ari", "email": "a@example.com"})
    assert response.status_code == 201
    await client.post(f"{API}/subscribe", json={"email": "a@example.com", "station_id": other.id})
    async with db.transaction(write=False) as session:
        theirs = (await find_contact(session, Identity(email="a@example.com"))).id
    ours = await lead_contact(client, support, station, "dana@example.com")

    assert (await client.get(f"{API}/contacts/{theirs}/consents", headers=support)).status_code == 404
    assert (await client.get(f"{API}/contacts/{ours}/consents", headers=support)).status_code == 200
    assert (await client.get(f"{API}/contacts/{ours}/consents")).status_code == 401


async def test_a_merge_keeps_both_ledgers(client, settings, station, support):
    keep = await lead_contact(client, support, station, "dana@example.com")
    other = await lead_contact(client, support, station, "d.reyes@work.com")
    for email in ("dana@example.com", "d.reyes@work.com"):
        await client.post(f"{API}/subscribe", json={"email": email})
    await client.get(link_in(confirmation_mails(settings, "d.reyes@work.com")[0]))

    merged = await client.post(f"{API}/contacts/{keep}/merge", json={"other_id": other}, headers=support)

    assert merged.status_code == 200, merged.text
    body = (await client.get(f"{API}/contacts/{keep}/consents", headers=support)).json()
    assert [(e["contact_id"], e["action"]) for e in body["items"]] == [
        (keep, "granted"), (keep, "granted"), (keep, "confirmed")]
