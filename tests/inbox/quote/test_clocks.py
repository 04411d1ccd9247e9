"""Response clocks: first and next response due in the station's inbox hours (or around the clock), who is late,
and holds lapsing unpaid raised to the top. The clock is frozen at 08:00 in Fremont (16:00 UTC), before the
default inbox hours (09:00–21:00) open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from myhibachi.auth.permissions import Role
from myhibachi.inbox import commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel
from tests.bookings.conftest import NOW
from tests.inbox.quote.conftest import API
from tests.inbox.quote.test_quote import HOLD


async def late(client, login, station) -> list[dict]:  # noqa: ANN001
    """Who is late, as the station's admin sees it now (signed in afresh: the moved clock expires tokens)."""
    headers = await login("admin@example.com")
    response = await client.get(f"{API}/inbox/late", params={"station_id": station.id}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def write(db, sid: str, phone: str = "+15105550142") -> int:  # noqa: ANN001
    async with db.transaction() as session:
        received = await commands.receive(session, Inbound(channel=Channel.sms, provider_message_id=sid,
                                                           body="Are you there?", phone=phone))
    return received.conversation.id


async def test_the_clocks_stand_still_outside_inbox_hours(client, db, clock, station, thread, admin, login):
    """Asked at 08:00: the first answer is due an hour after opening (10:00). Answered, then asked again at 20:00:
    one hour counts that evening, three the next morning (the next-response target is 4 hours)."""
    clock.move_to(NOW + timedelta(hours=1, minutes=59))
    assert await late(client, login, station) == []

    clock.move_to(NOW + timedelta(hours=2, minutes=1))
    [first] = await late(client, login, station)
    assert (first["conversation_id"], first["awaiting"], first["late"]) == (thread.id, "first", True)
    assert utc(first["due_at"]) == NOW + timedelta(hours=2) and utc(first["waiting_since"]) == NOW

    reply = await client.post(f"{API}/conversations/{thread.id}/quote", headers=await login("admin@example.com"),
                              json={"zip_code": "94538", "adults": 10})
    assert reply.status_code == 201 and await late(client, login, station) == []

    evening = NOW + timedelta(hours=12)  # 20:00 in Fremont
    clock.move_to(evening)
    await write(db, "SM-again")
    clock.move_to(evening + timedelta(hours=15, minutes=59))  # 11:59 the next morning
    assert await late(client, login, station) == []
    clock.move_to(evening + timedelta(hours=16, minutes=1))
    [again] = await late(client, login, station)
    assert (again["awaiting"], utc(again["due_at"])) == ("next", evening + timedelta(hours=16))
    assert again["assignee_id"] is not None  # who answered owns it: the admin sees whose it is


async def test_the_same_hours_twice_count_around_the_clock(client, db, clock, station, admin, login,
                                                           change_rules):
    await change_rules(station.id, inbox_hours_start="00:00", inbox_hours_end="00:00", first_response_minutes=30)
    conversation_id = await write(db, "SM-night")

    clock.move_to(NOW + timedelta(minutes=31))
    [row] = await late(client, login, station)

    assert row["conversation_id"] == conversation_id and utc(row["due_at"]) == NOW + timedelta(minutes=30)


async def test_a_hold_lapsing_soon_is_raised_above_late_answers(client, db, clock, station, thread, admin,
                                                                login):
    held = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin, json=HOLD)
    assert held.status_code == 201, held.text
    waiting = await write(db, "SM-other", phone="+15105550199")

    clock.move_to(NOW + timedelta(hours=22))  # the hold lasts 24 hours
    assert [row["conversation_id"] for row in await late(client, login, station)] == [waiting]
    clock.move_to(NOW + timedelta(hours=23, minutes=30))
    rows = await late(client, login, station)

    assert [(row["conversation_id"], row["hold_lapses_soon"], row["late"]) for row in rows] == [
        (thread.id, True, False), (waiting, False, True)]
    assert utc(rows[0]["hold_expires_at"]) == NOW + timedelta(hours=24)


async def test_who_may_see_who_is_late_and_what_the_rules_accept(client, station, staff_of, make_station, make_user,
                                                                 login, admin):
    support, chef = await staff_of(Role.support), await staff_of(Role.chef)
    other = await make_station("SAC")
    await make_user("admin@sac.example.com", Role.admin, other)
    outsider = await login("admin@sac.example.com")
    rules = (await client.get(f"{API}/stations/{station.id}/rules", headers=admin)).json()

    seen = {name: (await client.get(f"{API}/inbox/late", params={"station_id": station.id}, headers=headers))
            .status_code for name, headers in {"support": support, "chef": chef, "outsider": outsider}.items()}
    backwards = await client.put(f"{API}/stations/{station.id}/rules", headers=admin,
                                 json={**rules, "inbox_hours_start": "18:00", "inbox_hours_end": "09:00"})

    assert seen == {"support": 200, "chef": 403, "outsider": 404}
    assert (rules["first_response_minutes"], rules["next_response_minutes"]) == (60, 240)
    assert backwards.status_code == 422


async def test_the_list_flags_and_filters_who_is_late(client, db, clock, station, thread, admin, login):
    """The conversation list carries each thread's clock (`late`, `answer_due_at`, the lapsing hold) and `late`
    keeps only those needing an answer now; an answered thread drops out."""
    answered = await write(db, "SM-answered", phone="+15105550177")
    reply = await client.post(f"{API}/conversations/{answered}/messages", json={"body": "Hello!"}, headers=admin)
    assert reply.status_code == 201
    clock.move_to(NOW + timedelta(hours=2, minutes=1))  # the first answer was due at 10:00
    headers = await login("admin@example.com")

    every = (await client.get(f"{API}/conversations", params={"station_id": station.id}, headers=headers)).json()
    late_only = (await client.get(f"{API}/conversations", params={"station_id": station.id, "late": True},
                                  headers=headers)).json()
    detail = (await client.get(f"{API}/conversations/{thread.id}", headers=headers)).json()

    flags = {row["id"]: (row["late"], row["answer_due_at"] is not None) for row in every["items"]}
    assert flags == {thread.id: (True, True), answered: (False, False)}
    assert [row["id"] for row in late_only["items"]] == [thread.id]
    assert detail["late"] and utc(detail["answer_due_at"]) == NOW + timedelta(hours=2)
