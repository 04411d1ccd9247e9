"""Canned replies: the station's rules filled in when used (so they follow every change of the rules), unknown
placeholders refused when saved, and who may write which."""

from __future__ import annotations

from sqlalchemy import func, select

from myhibachi.auth.permissions import Role
from myhibachi.inbox.models import CannedReply
from tests.inbox.quote.conftest import API

DEPOSIT_BODY = ("A {deposit} deposit holds {station}'s chef for you for {deposit_hours} hours; the party minimum is "
                "{minimum}, travel is free for {travel_free_miles} miles, then {travel_per_mile} a mile.")


async def stored_replies(db) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(CannedReply))


async def test_a_canned_reply_is_rendered_with_the_stations_current_rules(client, station, thread, admin,
                                                                          change_rules):
    created = await client.post(f"{API}/canned-replies", headers=admin,
                                json={"station_id": station.id, "title": "Deposit", "body": DEPOSIT_BODY})
    assert created.status_code == 201, created.text
    assert created.json()["body"] == DEPOSIT_BODY  # stored with its placeholders, filled in only when used

    before = (await client.get(f"{API}/conversations/{thread.id}/canned-replies", headers=admin)).json()
    await change_rules(station.id, deposit_cents=15000, hold_hours=48)
    after = (await client.get(f"{API}/conversations/{thread.id}/canned-replies", headers=admin)).json()

    assert [reply["rendered"] for reply in before] == [
        "A $100.00 deposit holds Station FRE's chef for you for 24 hours; the party minimum is $550.00, travel is "
        "free for 30 miles, then $2.00 a mile."]
    assert [reply["rendered"] for reply in after] == [
        "A $150.00 deposit holds Station FRE's chef for you for 48 hours; the party minimum is $550.00, travel is "
        "free for 30 miles, then $2.00 a mile."]


async def test_an_unknown_placeholder_is_refused_when_saved_and_nothing_is_stored(client, db, station, admin):
    unknown = await client.post(f"{API}/canned-replies", headers=admin, json={
        "station_id": station.id, "title": "Price", "body": "Only {adult_cost} a head!"})
    formatted = await client.post(f"{API}/canned-replies", headers=admin, json={
        "station_id": station.id, "title": "Price", "body": "Deposit {deposit:>12}"})
    lone_brace = await client.post(f"{API}/canned-replies", headers=admin, json={
        "station_id": station.id, "title": "Price", "body": "Deposit {deposit"})

    assert unknown.status_code == 422 and unknown.headers["content-type"] == "application/problem+json"
    [error] = unknown.json()["errors"]
    assert error["field"] == "body.body" and "{adult_cost}" in error["message"] and "{deposit}" in error["message"]
    assert formatted.status_code == 422 and "{deposit}" in formatted.json()["errors"][0]["message"]
    assert lone_brace.status_code == 422
    assert await stored_replies(db) == 0


async def test_a_change_is_checked_too_and_a_reply_can_be_deleted(client, db, station, admin):
    reply = (await client.post(f"{API}/canned-replies", headers=admin, json={
        "station_id": station.id, "title": "Hello", "body": "Hi from {station}!"})).json()

    refused = await client.patch(f"{API}/canned-replies/{reply['id']}", headers=admin, json={"body": "{nope}"})
    changed = await client.patch(f"{API}/canned-replies/{reply['id']}", headers=admin,
                                 json={"title": "Greeting", "body": "Hi, {{friend}}: {station} here."})
    listed = (await client.get(f"{API}/canned-replies", params={"station_id": station.id}, headers=admin)).json()
    deleted = await client.delete(f"{API}/canned-replies/{reply['id']}", headers=admin)

    assert refused.status_code == 422
    assert changed.status_code == 200 and changed.json()["title"] == "Greeting"
    assert [(r["title"], r["body"]) for r in listed] == [("Greeting", "Hi, {{friend}}: {station} here.")]
    assert deleted.status_code == 204 and await stored_replies(db) == 0


async def test_who_may_write_which_canned_reply(client, db, station, make_station, make_user, login, admin,
                                                staff_of):
    support, chef = await staff_of(Role.support), await staff_of(Role.chef)
    await make_user("root@example.com", Role.super_admin, name="Root")
    root = await login("root@example.com")
    other = await make_station("SAC")
    theirs = (await client.post(f"{API}/canned-replies", headers=root, json={
        "station_id": other.id, "title": "SAC only", "body": "Sacramento"})).json()

    by_support = await client.post(f"{API}/canned-replies", headers=support, json={
        "station_id": station.id, "title": "Support's", "body": "Deposit: {deposit}"})
    every_station_by_admin = await client.post(f"{API}/canned-replies", headers=admin, json={
        "station_id": None, "title": "Everywhere", "body": "Hello"})
    every_station_by_root = await client.post(f"{API}/canned-replies", headers=root, json={
        "station_id": None, "title": "Everywhere", "body": "Hello from {station}"})
    by_chef = await client.post(f"{API}/canned-replies", headers=chef, json={
        "station_id": station.id, "title": "Chef's", "body": "Hi"})
    at_another_station = await client.post(f"{API}/canned-replies", headers=admin, json={
        "station_id": other.id, "title": "Not mine", "body": "Hi"})
    change_theirs = await client.patch(f"{API}/canned-replies/{theirs['id']}", headers=admin, json={"title": "X"})
    support_sees = (await client.get(f"{API}/canned-replies", headers=support)).json()

    assert by_support.status_code == 201  # support works the inbox (`engagement`)
    assert every_station_by_admin.status_code == 403 and every_station_by_root.status_code == 201
    assert by_chef.status_code == 403
    assert at_another_station.status_code == 404 and change_theirs.status_code == 404
    assert sorted(r["title"] for r in support_sees) == ["Everywhere", "Support's"]  # not SAC's
    assert await stored_replies(db) == 3
