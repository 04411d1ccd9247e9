"""Availability answers kept in the process: served without SQL, yet never stale — a write to a booking, the roster,
the rules or the station changes the next answer at once, and so does time alone (a hold lapsing, a start time
coming inside the minimum notice, a new local day moving the horizon) with no write at all."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from myhibachi.auth.principal import SYSTEM
from myhibachi.bookings.queries import AVAILABILITY_JSON, availability_document
from myhibachi.chefs.commands import decide_time_off, request_time_off, update_chef
from myhibachi.chefs.models import ChefTimeOff, TimeOffStatus
from myhibachi.chefs.schemas import ChefUpdate, TimeOffCreate
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.rules import CALENDAR_RULES, BusinessRules
from myhibachi.stations.models import Station
from tests.bookings.conftest import API, EVENT_DAY, NOW
from tests.bookings.test_availability import SLOTS, remaining


@pytest.fixture
def statements(db):  # noqa: ANN001, ANN201
    """The SQL statements run from here on (transaction control aside)."""
    run: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001, ANN002
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            run.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    yield run
    event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def change_rules(db, station, **changes: object) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        rules = await get_rules(session, station.id)
        await update_rules(session, SYSTEM, station.id, rules.model_copy(update=changes))


async def test_an_answer_asked_again_is_served_without_sql(client, station, statements, scrape_metrics):
    first = await client.get(f"{API}/stations/{station.id}/availability",
                             params={"start": str(EVENT_DAY), "end": str(EVENT_DAY), "guests": 10})
    statements.clear()
    again = await client.get(f"{API}/stations/{station.id}/availability",
                             params={"start": str(EVENT_DAY), "end": str(EVENT_DAY), "guests": 10})
    other_party = await client.get(f"{API}/stations/{station.id}/availability",
                                   params={"start": str(EVENT_DAY), "end": str(EVENT_DAY), "guests": 30})
    assert again.content == first.content and again.headers["content-type"] == "application/json"
    # The other party size is another answer, computed from its dates' held events as kept: no SQL either.
    assert statements == []
    assert other_party.json()["days"][0]["slots"][0]["remaining"] == 2
    assert availability_lookups(await scrape_metrics()) == {"miss": 2, "near": 1}


async def test_a_hold_and_its_cancellation_change_a_kept_answer_at_once(client, station, book):
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 2)
    held = await book(station.id, slot="18:00")
    assert await remaining(client, station.id) == {**dict.fromkeys(SLOTS, 2), "18:00": 1}
    cancelled = await client.post(f"{API}/manage/{held['manage_token']}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 2)


def availability_lookups(metrics: str) -> dict[str, float]:
    """The kept availability dates served ("near") and computed ("miss") so far."""
    prefix = 'myhibachi_cache_requests_total{namespace="bookings.availability",result="'
    return {line[len(prefix):].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines() if line.startswith(prefix)}


async def test_a_hold_recomputes_only_the_dates_it_can_reach(client, runtime, station, book, scrape_metrics):
    path, eleven_days = f"{API}/stations/{station.id}/availability", {
        "start": str(EVENT_DAY - timedelta(days=5)), "end": str(EVENT_DAY + timedelta(days=5)), "guests": 10}
    await client.get(path, params=eleven_days)
    await book(station.id, slot="18:00")
    after = await client.get(path, params=eleven_days)
    # Its own date and two either side: a late clean-up or an early travel can reach no further.
    assert availability_lookups(await scrape_metrics()) == {"miss": 11 + 5, "near": 6}
    await runtime.cache.invalidate(["epoch"])  # every kept date dropped: the whole answer computed afresh
    fresh = await client.get(path, params=eleven_days)
    assert after.content == fresh.content
    assert after.content == AVAILABILITY_JSON.dump_json(AVAILABILITY_JSON.validate_json(after.content))
    [event_day] = [day for day in after.json()["days"] if day["date"] == str(EVENT_DAY)]
    assert {slot["time"]: slot["remaining"] for slot in event_day["slots"]} == {**dict.fromkeys(SLOTS, 2), "18:00": 1}


async def test_a_moved_booking_frees_its_old_date_in_kept_answers(client, station, book):
    later = EVENT_DAY + timedelta(days=7)
    held = await book(station.id, slot="18:00")
    assert await remaining(client, station.id) == {**dict.fromkeys(SLOTS, 2), "18:00": 1}
    assert await remaining(client, station.id, later) == dict.fromkeys(SLOTS, 2)
    moved = await client.post(f"{API}/manage/{held['manage_token']}/reschedule",
                              json={"event_date": str(later), "slot_time": "18:00"})
    assert moved.status_code == 200, moved.text
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 2)
    assert await remaining(client, station.id, later) == {**dict.fromkeys(SLOTS, 2), "18:00": 1}


async def test_party_sizes_of_one_event_length_share_their_kept_dates(client, station, scrape_metrics):
    assert await remaining(client, station.id, guests=10) == dict.fromkeys(SLOTS, 2)
    assert await remaining(client, station.id, guests=12) == dict.fromkeys(SLOTS, 2)
    assert availability_lookups(await scrape_metrics()) == {"miss": 1, "near": 1}  # one event length: one answer
    assert await remaining(client, station.id, guests=30) == dict.fromkeys(SLOTS, 2)
    assert availability_lookups(await scrape_metrics()) == {"miss": 2, "near": 1}  # a longer event: another


async def test_a_rule_changes_a_kept_answer_at_once(client, db, station):
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 2)
    await change_rules(db, station, chef_max_events_per_day=1)  # two chefs, one event each: still 2 a slot
    await change_rules(db, station, min_notice_hours=24 * 10)  # EVENT_DAY is 9 days ahead: inside the notice now
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 0)


async def test_after_a_rule_change_the_held_events_are_not_read_again(client, db, runtime, station, book,
                                                                     statements):
    """What is held on a date changes only with that date's bookings: a rule change computes every date again
    from the rules read afresh and the held events as kept, and the answer is the same as from a cold cache."""
    await book(station.id, slot="18:00")  # no chef assigned yet: it holds one of the day's two
    assert await remaining(client, station.id) == {**dict.fromkeys(SLOTS, 2), "18:00": 1}
    await change_rules(db, station, chef_max_events_per_day=1)  # two chefs, one event each: one left all day
    statements.clear()
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 1)
    assert statements and not [statement for statement in statements if "FROM bookings" in statement]
    await runtime.cache.invalidate(["epoch"])
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 1)


async def test_a_station_change_shows_in_a_kept_answer_at_once(client, db, station):
    params = {"start": str(EVENT_DAY), "end": str(EVENT_DAY)}
    before = (await client.get(f"{API}/stations/{station.id}/availability", params=params)).json()
    async with db.transaction() as session:
        (await session.get(Station, station.id)).timezone = "America/Chicago"
    after = (await client.get(f"{API}/stations/{station.id}/availability", params=params)).json()
    assert (before["timezone"], after["timezone"]) == ("America/Los_Angeles", "America/Chicago")


async def test_a_lapsing_hold_frees_its_chef_with_no_write(client, db, station, book, clock):
    await change_rules(db, station, hold_hours=2)  # lapses at 10:00, long before the local day ends
    await book(station.id, slot="18:00")
    assert await remaining(client, station.id) == {**dict.fromkeys(SLOTS, 2), "18:00": 1}
    clock.move_to(NOW + timedelta(hours=1, minutes=59))
    assert await remaining(client, station.id) == {**dict.fromkeys(SLOTS, 2), "18:00": 1}
    clock.move_to(NOW + timedelta(hours=2))  # nothing swept it: the hold is simply over
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 2)


async def test_a_start_coming_inside_the_notice_closes_with_no_write(client, station, clock):
    # Now: Tuesday 08:00 local; 48 h notice: Thursday's 12:00 start closes after Tuesday 12:00, its 15:00 one after
    # 15:00 (exactly 48 h ahead is still enough notice).
    thursday = date(2026, 12, 3)
    assert await remaining(client, station.id, thursday) == dict.fromkeys(SLOTS, 2)
    clock.move_to(datetime(2026, 12, 1, 20, 0, tzinfo=UTC))  # 12:00 local
    assert await remaining(client, station.id, thursday) == dict.fromkeys(SLOTS, 2)
    clock.move_to(datetime(2026, 12, 1, 20, 0, 1, tzinfo=UTC))
    assert await remaining(client, station.id, thursday) == {**dict.fromkeys(SLOTS, 2), "12:00": 0}
    clock.move_to(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # 15:00 local
    assert await remaining(client, station.id, thursday) == {**dict.fromkeys(SLOTS, 2), "12:00": 0}
    clock.move_to(datetime(2026, 12, 1, 23, 0, 1, tzinfo=UTC))
    assert await remaining(client, station.id, thursday) == {**dict.fromkeys(SLOTS, 2), "12:00": 0, "15:00": 0}


async def test_a_new_local_day_opens_the_horizon_with_no_write(client, station, clock):
    # 365 days ahead of Tuesday 2026-12-01 (local): 2027-12-01; from local midnight, 2027-12-02 too.
    beyond = date(2027, 12, 2)
    assert await remaining(client, station.id, beyond) == dict.fromkeys(SLOTS, 0)
    clock.move_to(datetime(2026, 12, 2, 7, 59, tzinfo=UTC))  # 23:59 local
    assert await remaining(client, station.id, beyond) == dict.fromkeys(SLOTS, 0)
    clock.move_to(datetime(2026, 12, 2, 8, 0, tzinfo=UTC))  # midnight local
    assert await remaining(client, station.id, beyond) == dict.fromkeys(SLOTS, 2)


async def test_a_roster_change_recomputes_only_its_own_stations_dates(client, db, station, make_station, add_chefs,
                                                                      scrape_metrics):
    """A chef edited, time-off entered and time-off decided at one station leave another station's kept dates kept:
    each roster has its own tag (the time-off's station read from its chef, which the commands load)."""
    other = await make_station("SJC")
    [other_chef] = await add_chefs(other, 1)
    one_day = {"start": str(EVENT_DAY), "end": str(EVENT_DAY), "guests": 10}

    async def ask_both() -> dict[str, float]:
        before = availability_lookups(await scrape_metrics())
        for each in (station, other):
            assert (await client.get(f"{API}/stations/{each.id}/availability", params=one_day)).status_code == 200
        after = availability_lookups(await scrape_metrics())
        return {result: after.get(result, 0) - before.get(result, 0) for result in ("near", "miss")}

    async with db.transaction() as session:
        asked = ChefTimeOff(chef_id=other_chef, first_day=EVENT_DAY, last_day=EVENT_DAY,
                            status=TimeOffStatus.requested.value)
        session.add(asked)
    await ask_both()
    changes = [
        lambda session: update_chef(session, SYSTEM, other.id, other_chef, ChefUpdate(max_events_per_day=1)),
        lambda session: request_time_off(session, SYSTEM, other.id, other_chef, TimeOffCreate(
            first_day=EVENT_DAY + timedelta(days=20), last_day=EVENT_DAY + timedelta(days=20))),
        lambda session: decide_time_off(session, SYSTEM, other.id, asked.id, approve=True)]
    for change in changes:
        async with db.transaction() as session:
            await change(session)
        assert await ask_both() == {"near": 1, "miss": 1}  # the first station's date kept, the other's computed
    assert (await client.get(f"{API}/stations/{other.id}/availability", params=one_day)).json()["days"][0][
        "slots"][0]["remaining"] == 0  # its only chef is off that day


async def test_a_change_to_rules_a_calendar_does_not_read_keeps_its_dates(client, db, station, scrape_metrics):
    params = {"start": str(EVENT_DAY), "end": str(EVENT_DAY + timedelta(days=2)), "guests": 10}
    first = await client.get(f"{API}/stations/{station.id}/availability", params=params)
    looked_up = availability_lookups(await scrape_metrics())
    await change_rules(db, station, deposit_cents=12300, adult_price_cents=6000)  # prices only
    kept = await client.get(f"{API}/stations/{station.id}/availability", params=params)
    assert kept.content == first.content
    assert availability_lookups(await scrape_metrics()) == {**looked_up, "near": looked_up.get("near", 0) + 3}
    await change_rules(db, station, busy_after_minutes=16)  # a calendar rule: every date computed again
    await client.get(f"{API}/stations/{station.id}/availability", params=params)
    assert availability_lookups(await scrape_metrics()) == {"miss": looked_up["miss"] + 3,
                                                            "near": looked_up.get("near", 0) + 3}


async def test_the_calendar_reads_no_rule_but_the_calendar_rules(db, station, book, monkeypatch):
    """Every rule an availability computation reads is one whose change drops the kept dates (`CALENDAR_RULES`)."""
    await book(station.id, slot="18:00")
    read: set[str] = set()
    plain = BusinessRules.__getattribute__

    def reading(rules: BusinessRules, name: str) -> object:
        if name in BusinessRules.model_fields:
            read.add(name)
        return plain(rules, name)

    monkeypatch.setattr(BusinessRules, "__getattribute__", reading)
    async with db.session(write=False) as session:
        session.info.clear()  # no cache: every date computed
        await availability_document(session, station.id, EVENT_DAY - timedelta(days=3), EVENT_DAY + timedelta(days=3),
                                    25)
    assert read and read <= CALENDAR_RULES, read - CALENDAR_RULES
    assert {"slot_times", "min_notice_hours", "busy_before_minutes", "chef_max_events_per_day"} <= read
